package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// TestIntegrationSnapshotInstance: rollout's snapshot of one node copies
// each volume of its instance, complete when the call returns, tagged as
// `cluster snapshot` tags them, and returns them by the config index of
// their volume; Resolve then restores that node from exactly those (its
// newest), the other node from its older ones. A foreign instance, one of
// another cluster, an unknown one and a terminated one are refused, and
// nothing is copied for them.
func TestIntegrationSnapshotInstance(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := parseCluster(t, fmt.Sprintf(`cluster:
  name: snapnode
  search_path: [templates]
  local:
    volumes:
      - {name: data, mount: /data, block: /dev/xvdb}
      - {name: logs, mount: /logs}
    nodes:
      - {id: 1, ip: %s}
      - {id: 2, ip: %s}
`, h.ip(0), h.ip(1)))
	p := h.open(c, time.Second)
	id := provider.ClusterID{Name: "snapnode"}
	insts := up(ctx, t, p, c, "#!/bin/bash\nexec sleep 600\n", provider.UpOptions{})
	// write writes content into every volume of inst.
	write := func(inst provider.Instance, content string) {
		t.Helper()
		for _, dir := range volumeDirs(t, p, inst.ID) {
			if err := os.WriteFile(filepath.Join(dir, "who"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, in := range insts {
		write(in, "node "+in.NodeID+" before")
	}
	older, err := p.Snapshot(ctx, id) // `cluster snapshot`: every node's
	if err != nil || len(older) != 4 {
		t.Fatalf("cluster snapshot: %v %+v", err, older)
	}
	node2 := insts[1]
	write(node2, "node 2 after")

	got, err := p.SnapshotInstance(ctx, id, node2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Device != "/dev/xvdb" || got[1].Device != "logs" || got[0].NodeID != "2" || got[1].NodeID != "2" {
		t.Fatalf("SnapshotInstance = %+v, want volume 0 on /dev/xvdb and 1 on logs, of node 2", got)
	}
	recs := snapshotRecords(t, p)
	for idx, s := range got {
		r, ok := recs[s.ID]
		if !ok {
			t.Fatalf("snapshot %s (volume %d) is not in the store", s.ID, idx)
		}
		if r.State != snapshotCompleted || r.Cluster != "snapnode" || r.Env != "" || r.NodeID != "2" || r.Device != s.Device {
			t.Errorf("snapshot %s: %+v, want completed, of cluster snapnode node 2 device %s", s.ID, r, s.Device)
		}
		if b, err := os.ReadFile(p.store.path(r.Dir, "who")); err != nil || string(b) != "node 2 after" {
			t.Errorf("snapshot %s holds %q (%v), want the volume as it was at the call", s.ID, b, err)
		}
	}
	if n := len(recs); n != 6 {
		t.Errorf("%d snapshots in the store, want 6 (4 of the cluster, 2 of node 2)", n)
	}

	// Resolve restores node 2 from exactly these, node 1 from its own older ones
	res := resolve(ctx, t, p, c, provider.UpOptions{UseSnapshots: true})
	olderOf := map[string]string{} // node 1's device -> its snapshot
	for _, s := range older {
		if s.NodeID == "1" {
			olderOf[s.Device] = s.ID
		}
	}
	for idx, s := range got {
		if c := res.Snapshots[idx].For("2"); c != s.ID {
			t.Errorf("volume %d: node 2 would restore %q, want %s", idx, c, s.ID)
		}
		if c := res.Snapshots[idx].For("1"); c != olderOf[s.Device] {
			t.Errorf("volume %d: node 1 would restore %q, want its own %s", idx, c, olderOf[s.Device])
		}
	}

	// refused, and nothing copied: foreign, another cluster's, unknown, terminated
	foreign := node2
	foreign.Foreign = "elsewhere"
	unknown := node2
	unknown.ID = "i-unknown"
	for _, tc := range []struct {
		desc    string
		cluster provider.ClusterID
		inst    provider.Instance
		want    string
	}{
		{"foreign", id, foreign, "elsewhere"},
		{"another cluster's", provider.ClusterID{Name: "other"}, node2, "not an instance of cluster other"},
		{"another environment's", provider.ClusterID{Name: "snapnode", Env: "staging"}, node2, "not an instance of cluster"},
		{"unknown", id, unknown, "no instance i-unknown"},
	} {
		if _, err := p.SnapshotInstance(ctx, tc.cluster, tc.inst); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s instance: %v, want an error saying %q", tc.desc, err, tc.want)
		}
	}
	ids := []string{insts[0].ID, insts[1].ID}
	if err := p.Terminate(ctx, ids, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SnapshotInstance(ctx, id, node2); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("terminated instance: %v, want refused", err)
	}
	if n := len(snapshotRecords(t, p)); n != 6 {
		t.Errorf("%d snapshots in the store after the refusals, want still 6", n)
	}
}

// snapshotRecords returns the store's snapshots by id.
func snapshotRecords(t *testing.T, p *localProvider) map[string]snapshotRecord {
	t.Helper()
	out := map[string]snapshotRecord{}
	err := p.store.view(ctxT(t), func(tx *txn) error {
		snaps, err := each[snapshotRecord](tx, bucketSnapshots)
		for _, s := range snaps {
			out[s.ID] = s
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
