package local

import (
	"context"
	"fmt"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

var _ provider.NodeSnapshotter = (*localProvider)(nil)

// SnapshotInstance copies every volume of one instance into dated
// snapshots, tagged as `cluster snapshot` tags them (so that they are the
// node's newest, which Resolve restores its replacement from). A local
// snapshot is complete when this returns: the copy is made in the call.
// They are returned by the index in the config of the volume on their
// device. A foreign instance, one of another cluster, one not in the store
// and a terminated one are refused before anything is copied; a failed
// copy fails the call.
func (p *localProvider) SnapshotInstance(ctx context.Context, cluster provider.ClusterID, inst provider.Instance) (map[int]provider.Snapshot, error) {
	if inst.Foreign != "" {
		return nil, fmt.Errorf("snapshot instance %s: it is not this cluster's (%s)", inst.ID, inst.Foreign)
	}
	found := false
	snaps, err := p.snapshotVolumes(ctx, func(r *instanceRecord) (bool, error) {
		if r.ID != inst.ID {
			return false, nil
		}
		found = true
		switch {
		case r.Cluster != cluster.Name || r.Env != cluster.Env:
			return false, fmt.Errorf("instance %s is not an instance of cluster %s (it is of %s, environment %q)", r.ID, cluster.Name, r.Cluster, r.Env)
		case r.State == provider.Terminated:
			return false, fmt.Errorf("instance %s is terminated", r.ID)
		}
		return true, nil
	})
	if err == nil && !found {
		err = fmt.Errorf("snapshot: no instance %s", inst.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", inst.NodeID, err)
	}
	out := map[int]provider.Snapshot{}
	for _, s := range snaps {
		for _, v := range p.local.Volumes {
			if device(v.Name, v.Block) == s.Device {
				out[v.Index] = s
			}
		}
	}
	return out, nil
}
