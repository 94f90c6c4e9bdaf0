package aws

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// groupsUnit is unitBase with aws.instance_type and a group of two
// members over two subnets, with an instance type and tags of its own.
var groupsUnit = strings.Replace(unitBase, "    nodes:", "    instance_type: m5.large\n    nodes:", 1) + `  groups:
    web:
      count: 2
      subnets: [subnet-1, subnet-2]
      instance_type: t3.small
      tags: {team: web, role: frontend}
`

// TestSpecGroupMember: a member's spec takes the group's instance type
// over aws.instance_type, aws.tags with the group's over them (a key of
// both keeps its place), its slot's subnet and no IP; a static node's is
// as before. No call is made.
func TestSpecGroupMember(t *testing.T) {
	p, calls := unitProvider(t, groupsUnit, "")
	nodes := p.cluster.Nodes()
	if len(nodes) != 3 || nodes[1].ID != "web-0" || nodes[2].ID != "web-1" {
		t.Fatalf("nodes = %+v, want a, web-0, web-1", nodes)
	}
	res := provider.Resolution{Image: provider.Image{ID: "ami-1"}}
	for i, subnet := range []string{"subnet-1", "subnet-2"} {
		got := p.Spec(nodes[1+i], res, "#!/bin/bash\n", nil)
		if got.InstanceType != "t3.small" || got.Subnet != subnet || got.IP != "" || got.Hardware != nil {
			t.Errorf("%s: type %q, subnet %q, IP %q, hardware %v; want t3.small, %s, no IP, no hardware",
				nodes[1+i].ID, got.InstanceType, got.Subnet, got.IP, got.Hardware, subnet)
		}
		want := []config.KeyValue{{Key: "team", Value: "web"}, {Key: "ClusterName", Value: "wrong"}, {Key: "role", Value: "frontend"}}
		if d := cmp.Diff(want, got.Tags); d != "" {
			t.Errorf("%s tags (-want +got):\n%s", nodes[1+i].ID, d)
		}
	}
	static := p.Spec(nodes[0], res, "#!/bin/bash\n", nil)
	if static.InstanceType != "m5.large" || static.IP != "10.0.1.10" || static.Subnet != "subnet-1" {
		t.Errorf("static node: type %q, IP %q, subnet %q; want m5.large, 10.0.1.10, subnet-1", static.InstanceType, static.IP, static.Subnet)
	}
	if d := cmp.Diff([]config.KeyValue{{Key: "team", Value: "data"}, {Key: "ClusterName", Value: "wrong"}}, static.Tags); d != "" {
		t.Errorf("static tags (-want +got):\n%s", d)
	}
	// the merge does not write into the config
	if p.aws.Tags[0].Value != "data" {
		t.Errorf("the member's tags changed aws.tags: %v", p.aws.Tags)
	}
	if calls.Total() != 0 {
		t.Errorf("Spec made calls: %s", calls)
	}
}

// TestSpecHardware: a node sized by `hardware:` — a static node by
// aws.hardware, a member by its group's — gets the type Resolve chose for
// it, and Spec.Hardware stays nil (the type defines the server: the same
// type whatever the requirement hashes alike); a group that names an
// instance type keeps it under aws.hardware.
func TestSpecHardware(t *testing.T) {
	yml := strings.Replace(unitBase, "    nodes:", "    hardware: {min_cores: 2, min_ram: 4G}\n    nodes:", 1) + `  groups:
    big:
      count: 1
      subnets: [subnet-2]
      hardware: {min_cores: 8}
    small:
      count: 1
      subnets: [subnet-2]
      instance_type: t3.small
`
	p, calls := unitProvider(t, yml, "")
	if p.aws.InstanceType != "" || p.aws.Hardware == nil {
		t.Fatalf("aws.instance_type %q, aws.hardware %v; want none, set", p.aws.InstanceType, p.aws.Hardware)
	}
	res := provider.Resolution{
		Image: provider.Image{ID: "ami-1"},
		Hardware: map[string]provider.HardwareChoice{
			"a":     {Type: "c5a.large", VCPUs: 2, MemoryMiB: 4096, Reason: "smallest"},
			"big-0": {Type: "c5a.2xlarge", VCPUs: 8, MemoryMiB: 16384},
		},
	}
	want := map[string]string{"a": "c5a.large", "big-0": "c5a.2xlarge", "small-0": "t3.small"}
	nodes := p.cluster.Nodes()
	if len(nodes) != 3 {
		t.Fatalf("nodes = %+v, want a, big-0, small-0", nodes)
	}
	for _, n := range nodes {
		got := p.Spec(n, res, "#!/bin/bash\n", nil)
		if got.InstanceType != want[n.ID] || got.Hardware != nil {
			t.Errorf("%s: type %q, hardware %v; want %s and no hardware", n.ID, got.InstanceType, got.Hardware, want[n.ID])
		}
	}
	// another requirement that resolves to the same type: the same spec
	a := p.Spec(nodes[0], res, "#!/bin/bash\n", nil)
	other := *p.aws.Hardware
	other.MinCores = 1
	p.aws.Hardware = &other
	if b := p.Spec(nodes[0], res, "#!/bin/bash\n", nil); a.Hash() != b.Hash() {
		t.Errorf("a new requirement resolving to the same type changed the hash: %s then %s", a.Hash(), b.Hash())
	}
	// which nodes Resolve resolves hardware for
	var ids []string
	for _, n := range p.hardwareNodes(nil) {
		ids = append(ids, n.ID)
	}
	if d := cmp.Diff([]string{"a", "big-0"}, ids); d != "" {
		t.Errorf("nodes sized by hardware (-want +got):\n%s", d)
	}
	if calls.Total() != 0 {
		t.Errorf("Spec made calls: %s", calls)
	}
}

// TestNodeZone: hardware is resolved in the zone of the node's subnet; a
// group's zone that is not its subnet's, or a subnet that does not exist,
// is a config problem naming both, at the group's key.
func TestNodeZone(t *testing.T) {
	p, _ := unitProvider(t, groupsUnit, "")
	subnets := map[string]subnet{
		"subnet-1": {ID: "subnet-1", Zone: "us-east-1a"},
		"subnet-2": {ID: "subnet-2", Zone: "us-east-1b"},
	}
	for _, tc := range []struct {
		desc string
		node config.Node
		zone string
		want []string // substrings of the problem
	}{
		{"static", config.Node{ID: "a", Subnet: "subnet-1", IP: "10.0.1.10"}, "us-east-1a", nil},
		{"member", config.Node{ID: "web-1", Group: "web", Index: -1, Subnet: "subnet-2", Zone: "us-east-1b"}, "us-east-1b", nil},
		{"member without zone", config.Node{ID: "web-1", Group: "web", Index: -1, Subnet: "subnet-2"}, "us-east-1b", nil},
		{"zone of another subnet", config.Node{ID: "web-1", Group: "web", Index: -1, Subnet: "subnet-2", Zone: "us-east-1a"}, "",
			[]string{"cluster.groups.web", "zone us-east-1a", "subnet-2", "lies in us-east-1b"}},
		{"no such subnet", config.Node{ID: "web-0", Group: "web", Index: -1, Subnet: "subnet-9"}, "",
			[]string{"cluster.groups.web", "subnet subnet-9 does not exist"}},
		{"static without subnet", config.Node{ID: "a", IP: "10.0.1.10"}, "", []string{"cluster.aws.nodes[0]", "give it a subnet"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			zone, prob := p.nodeZone(tc.node, subnets)
			if zone != tc.zone {
				t.Errorf("zone %q, want %q", zone, tc.zone)
			}
			if (prob != nil) != (tc.want != nil) {
				t.Fatalf("problem %v, want one with %q", prob, tc.want)
			}
			if prob == nil {
				return
			}
			msg := prob.String()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("problem %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "nodes[-1]") {
				t.Errorf("problem %q names nodes[-1]", msg)
			}
		})
	}
}

// zoneResolver answers ResolveHardware with a type per zone.
type zoneResolver map[string]string

func (z zoneResolver) ResolveHardware(_ context.Context, zone string, _ provider.Hardware) (provider.HardwareChoice, error) {
	return provider.HardwareChoice{Type: z[zone], Reason: "in " + zone}, nil
}

// TestASGHardware: in ASG mode aws.hardware is resolved in the zone of
// each of the group's subnets; one type for all is the group's (node id
// ""), and the launch template's spec takes it; zones that disagree are a
// config problem (a launch template has one type).
func TestASGHardware(t *testing.T) {
	yml := strings.Replace(unitBase, "    nodes:\n      - {id: a, ip: 10.0.1.10, subnet: subnet-1}\n",
		"    hardware: {min_cores: 2}\n    asg:\n      subnets: [subnet-1, subnet-2]\n", 1)
	p, _ := unitProvider(t, yml, "")
	if !p.GroupMode() {
		t.Fatal("not in ASG mode")
	}
	subnets := map[string]subnet{"subnet-1": {ID: "subnet-1", Zone: "us-east-1a"}, "subnet-2": {ID: "subnet-2", Zone: "us-east-1b"}}
	nodes := p.hardwareNodes(nil)
	if len(nodes) != 1 || nodes[0].ID != "" {
		t.Fatalf("nodes sized = %+v, want the group's", nodes)
	}
	got, err := p.resolveASGHardware(context.Background(), zoneResolver{"us-east-1a": "c5a.large", "us-east-1b": "c5a.large"}, subnets)
	if err != nil || got[""].Type != "c5a.large" {
		t.Fatalf("resolve: %v, %v; want c5a.large for the group", got, err)
	}
	if s := p.Spec(config.Node{}, provider.Resolution{Hardware: got}, "", nil); s.InstanceType != "c5a.large" || s.Hardware != nil {
		t.Errorf("group spec: type %q, hardware %v; want c5a.large, none", s.InstanceType, s.Hardware)
	}
	_, err = p.resolveASGHardware(context.Background(), zoneResolver{"us-east-1a": "c5a.large", "us-east-1b": "m5a.large"}, subnets)
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "cluster.aws.hardware: resolves to c5a.large in us-east-1a but m5a.large in us-east-1b") {
		t.Errorf("zones that disagree: %v; want a config error naming both", err)
	}
}
