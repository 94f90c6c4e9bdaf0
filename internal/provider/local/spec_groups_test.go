package local

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// groupsCluster has one static node and a group of two members with
// hardware and tags of their own (tier overrides local.tags' value).
const groupsCluster = `cluster:
  name: grp
  search_path: [templates]
  local:
    image: empty
    terminate_protection: false
    network: 127.0.5.0/24
    tags: {team: data, tier: db}
    nodes:
      - {id: "1", ip: 127.0.0.11}
  groups:
    web:
      count: 2
      hardware: {min_cores: 2, min_ram: 4G}
      tags: {tier: web, role: frontend}
`

// TestSpecGroupMember: a member's spec carries its hardware (recorded with
// the instance; the boot script sees NODE_CORES and NODE_RAM), local.tags
// with the group's over them in order, and no IP (Launch allocates one);
// a static node's spec is as before. Resolve with pre-launch checks
// blocks no member for its missing IP.
func TestSpecGroupMember(t *testing.T) {
	p, c := openUnit(t, groupsCluster)
	nodes := c.Nodes()
	if len(nodes) != 3 || nodes[1].ID != "web-0" || nodes[2].ID != "web-1" {
		t.Fatalf("nodes = %+v, want 1, web-0, web-1", nodes)
	}
	res := provider.Resolution{Image: provider.Image{ID: "img-1", Name: "base"}}
	member := p.Spec(nodes[1], res, "#!/bin/bash\n", nil)
	wantHW := &provider.Hardware{MinCores: 2, MinRAMMiB: 4096, Arch: provider.ArchX86_64}
	if diff := cmp.Diff(wantHW, member.Hardware); diff != "" {
		t.Errorf("member hardware (-want +got):\n%s", diff)
	}
	wantTags := []config.KeyValue{{Key: "team", Value: "data"}, {Key: "tier", Value: "web"}, {Key: "role", Value: "frontend"}}
	if diff := cmp.Diff(wantTags, member.Tags); diff != "" {
		t.Errorf("member tags (-want +got):\n%s", diff)
	}
	if member.IP != "" || member.InstanceType != "" {
		t.Errorf("member IP %q, instance type %q; want neither", member.IP, member.InstanceType)
	}
	if member.Hardware == nodes[1].Hardware {
		t.Error("the spec shares the config's *Hardware; want a copy")
	}

	static := p.Spec(nodes[0], res, "#!/bin/bash\n", nil)
	if static.Hardware != nil || static.IP != "127.0.0.11" {
		t.Errorf("static node: hardware %v, IP %q; want none, 127.0.0.11", static.Hardware, static.IP)
	}
	if diff := cmp.Diff([]config.KeyValue{{Key: "team", Value: "data"}, {Key: "tier", Value: "db"}}, static.Tags); diff != "" {
		t.Errorf("static node tags (-want +got):\n%s", diff)
	}
	if member.Hash() == static.Hash() {
		t.Error("member and static node hash alike")
	}

	got, err := p.Resolve(context.Background(), provider.ClusterID{Name: c.Name}, nil, provider.ResolveOptions{Launch: nodes[1:], Check: true})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if len(got.Blocked) != 0 {
		t.Errorf("Resolve blocked %v; want no member blocked for having no IP yet", got.Blocked)
	}
}
