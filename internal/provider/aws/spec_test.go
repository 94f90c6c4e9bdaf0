package aws

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// TestSpecIsPure: Spec makes no call (the endpoint is unreachable and the
// counter stays at zero) and says everything that defines the server.
func TestSpecIsPure(t *testing.T) {
	yml := strings.Replace(unitBase, "    nodes:", `    instance_type: m5.large
    detailed_monitoring: true
    monitoring: false
    ebs_optimized: true
    source_dest_check: true
    terminate_protection: true
    instance_policy: '{}'
    volumes:
      - {name: root, size: 30G, volume_type: gp3}
      - {name: data, block: /dev/xvdf, size: 100G, volume_type: io1, delete_on_termination: false, mount: /data}
      - {name: ephemeral0, block: /dev/xvdb, ephemeral: true}
      - {name: shared, file_system: nfs4, mount: /shared}
      - {name: logs, block: /dev/xvdg, size: 20G, snapshot: snap-configured}
    nodes:`, 1)
	p, calls := unitProvider(t, yml, "")
	res := provider.Resolution{
		Image:     provider.Image{ID: "ami-1", Name: "base", RootDevice: "/dev/sda1"},
		Snapshots: map[int]provider.SnapshotChoice{1: {Newest: "snap-new", ByNode: map[string]string{"b": "snap-b"}}, 4: {Newest: "snap-configured"}},
		Profile:   "unit",
	}
	n := p.aws.Nodes[0]
	got := p.Spec(n, res, "#!/bin/bash\n", []config.KeyValue{{Key: "SECRET", Value: "s3cr3t"}})
	if calls.Total() != 0 {
		t.Errorf("Spec made calls: %s", calls)
	}
	want := provider.Spec{
		Image: "ami-1", ImageName: "base", InstanceType: "m5.large", UserData: "#!/bin/bash\n",
		Volumes: []provider.VolumeSpec{
			{Name: "root", Device: "/dev/sda1", SizeGB: 30, Type: "gp3", DeleteOnTermination: true},
			{Name: "data", Device: "/dev/xvdf", SizeGB: 100, Type: "io1", IOPS: config.DefaultIOPS, Mount: "/data", Snapshot: "snap-new"},
			{Name: "ephemeral0", Device: "/dev/xvdb", Ephemeral: true},
			{Name: "logs", Device: "/dev/xvdg", SizeGB: 20, Type: "gp2", DeleteOnTermination: true, Snapshot: "snap-configured"},
		},
		Subnet: "subnet-1", IP: "10.0.1.10",
		SecurityGroups: []string{"sg-1", "sg-2"}, Profile: "unit", KeyPair: "key",
		Tags:  []config.KeyValue{{Key: "team", Value: "data"}, {Key: "ClusterName", Value: "wrong"}},
		Flags: provider.Flags{EBSOptimized: true, Monitoring: true, SourceDestCheck: true, TerminateProtection: true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spec (-want +got):\n%s", d)
	}
	// another node takes its own snapshot where the resolution has one
	other := n
	other.ID = "b"
	if s := p.Spec(other, res, "", nil); s.Volumes[1].Snapshot != "snap-b" {
		t.Errorf("node b's data volume starts from %q, want snap-b", s.Volumes[1].Snapshot)
	}
	// the same inputs give the same spec; the Spec does not alias the config
	again := p.Spec(n, res, "#!/bin/bash\n", nil)
	if again.Hash() != got.Hash() {
		t.Errorf("the same inputs hashed %s then %s", got.Hash(), again.Hash())
	}
	again.SecurityGroups[0] = "sg-changed"
	if p.aws.SecurityGroups[0] != "sg-1" {
		t.Errorf("changing a spec changed the config")
	}
	if calls.Total() != 0 {
		t.Errorf("Spec made calls: %s", calls)
	}
}

// TestSpecGroupMonitoring: the group's launch template takes `monitoring`,
// a static node `detailed_monitoring`, as the original.
func TestSpecGroupMonitoring(t *testing.T) {
	yml := strings.Replace(unitBase, "    nodes:\n      - {id: a, ip: 10.0.1.10, subnet: subnet-1}\n",
		"    monitoring: true\n    asg: {subnets: [subnet-1]}\n", 1)
	p, calls := unitProvider(t, yml, "")
	if !p.GroupMode() {
		t.Fatal("not in group mode")
	}
	s := p.Spec(config.Node{}, provider.Resolution{Image: provider.Image{ID: "ami-1"}}, "", nil)
	if !s.Flags.Monitoring || s.IP != "" || s.Subnet != "" {
		t.Errorf("group spec %+v", s)
	}
	d := templateData(s, p.groupTags(provider.ClusterID{Name: "unit"}, s.Tags))
	if d.Monitoring == nil || d.Monitoring.Enabled == nil || !*d.Monitoring.Enabled || *d.ImageId != "ami-1" {
		t.Errorf("launch template data %+v", d)
	}
	if calls.Total() != 0 {
		t.Errorf("calls: %s", calls)
	}
}

// TestIntegrationPlanCalls: on a converged cluster of 30 nodes, what plan
// asks the provider — Instances, then Resolve without checks — takes at
// most 3 calls (instances, image, snapshots), and every instance's spec
// tag matches its desired spec. An image given by id with no volume on
// its root device takes fewer: the instances alone.
func TestIntegrationPlanCalls(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	const n = 30
	name := uniq("plan")
	extra := "    volumes:\n      - {name: root, size: 20G, volume_type: gp3}\n      - {name: data, block: /dev/xvdf, size: 50G}\n"
	pr := writeProject(t, clusterYAML(w, name, n, extra, ""))
	up := openHarness(t, ctx, pr, provider.Options{Parallel: n})
	if res, err := up.up(ctx, provider.UpOptions{UseSnapshots: true}); err != nil || len(res.created) != n {
		t.Fatalf("up: %v (%d created, failed %v)", err, len(res.created), res.failed)
	}

	// a new run (a fresh provider, as `cloud-compose cluster plan` opens)
	h := openHarness(t, ctx, pr, provider.Options{})
	observed, err := h.p.Instances(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.resolve(ctx, observed, provider.UpOptions{UseSnapshots: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.budget(3, map[string]int{"ec2:DescribeInstances": 1, "ec2:RunInstances": 0})
	if len(observed) != n || res.Image.ID != w.ami || len(res.Blocked) != 0 {
		t.Fatalf("%d instances, image %+v, blocked %v", len(observed), res.Image, res.Blocked)
	}
	data, err := render.ResolvedData(pr.cluster, res)
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.New(pr.dir, pr.cluster, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.calls.Reset()
	for _, node := range pr.cluster.Nodes() {
		script, err := r.Build(pr.cluster, render.Options{Data: data, NodeID: pr.cluster.NodeIDValue(node)})
		if err != nil {
			t.Fatal(err)
		}
		ud, err := render.Pack(script)
		if err != nil {
			t.Fatal(err)
		}
		live := provider.MatchNode(observed, node).Live
		if live == nil {
			t.Fatalf("node %s has no live instance", node.ID)
		}
		if c := provider.Changes(*live, h.p.Spec(node, res, ud, nil)); len(c) != 0 {
			t.Errorf("node %s: converged, yet changes %v", node.ID, c)
		}
	}
	h.budget(0, nil)

	byID := writeProject(t, strings.Replace(clusterYAML(w, name, n, "", ""), "ami: "+w.amiName, "ami: "+w.ami, 1))
	h2 := openHarness(t, ctx, byID, provider.Options{})
	observed, err = h2.p.Instances(ctx, h2.id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h2.resolve(ctx, observed, provider.UpOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	h2.budget(1, map[string]int{"ec2:DescribeInstances": 1})

	if _, err := up.down(ctx, true, false); err != nil {
		t.Fatal(err)
	}
}
