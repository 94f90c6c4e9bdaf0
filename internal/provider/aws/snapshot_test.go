package aws

import (
	"context"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// `cluster snapshot` on EC2: a snapshot per data volume (not the root),
// tagged so that the next `up` restores it.
func TestIntegrationSnapshotCreate(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	name := uniq("snap")
	pr := writeProject(t, clusterYAML(w, name, 2, "    volumes:\n      - {name: data, block: /dev/xvdf, size: 20G, delete_on_termination: true}\n", ""))
	h := openHarness(t, ctx, pr, provider.Options{})
	if _, err := h.up(ctx, provider.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.calls.Reset()
	snaps, err := h.p.Snapshot(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	h.budget(4, map[string]int{"ec2:CreateSnapshot": 2})
	if len(snaps) != 2 || snaps[0].NodeID != "0" || snaps[1].NodeID != "1" || snaps[0].Device != "/dev/xvdf" {
		t.Fatalf("snapshots: %+v", snaps)
	}
	// The tags are the ones up restores by, in the cluster's own VPC.
	at := snaps[1].Created.Add(1e9)
	found, err := h.p.findSnapshots(ctx, "/dev/sda1", name, provider.UpOptions{SnapshotTime: at}, nil, vpcs(w.vpc))
	if err != nil {
		t.Fatal(err)
	}
	if found[0].For("0") != snaps[0].ID || found[0].For("1") != snaps[1].ID {
		t.Errorf("up would not restore each node's new snapshot: %+v (made %v)", found, snaps)
	}
	// A same-named cluster in another VPC never restores them.
	found, err = h.p.findSnapshots(ctx, "/dev/sda1", name, provider.UpOptions{SnapshotTime: at}, nil, vpcs("vpc-elsewhere"))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 0 {
		t.Errorf("a cluster in another VPC would restore these snapshots: %v", found)
	}
}

// vpcs is a cluster network of these VPCs, for findSnapshots.
func vpcs(ids ...string) func(context.Context) (map[string]bool, error) {
	return func(context.Context) (map[string]bool, error) {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m, nil
	}
}
