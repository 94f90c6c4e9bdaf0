package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// ErrNoSnapshot is wrapped when a volume's `snapshot:` names no snapshot.
var ErrNoSnapshot = errors.New("no such snapshot")

const (
	snapshotPending   = "pending"
	snapshotCompleted = "completed"
)

// snapshotRecord is a dated copy of a volume, tagged by cluster, node and
// device.
type snapshotRecord struct {
	ID       string    `json:"id"`
	Cluster  string    `json:"cluster"`
	Env      string    `json:"env,omitempty"`
	NodeID   string    `json:"node"`
	Device   string    `json:"device"`
	Volume   string    `json:"volume"`
	VolumeID string    `json:"volume_id"`
	Created  time.Time `json:"created"`
	State    string    `json:"state"`
	Dir      string    `json:"dir"` // relative to the store
}

// findSnapshots finds what new volumes of one config volume are restored
// from: the newest completed snapshots of cluster/env/device taken at or
// before at (zero: now) — the newest of the same node when there is one
// (a snapshot run copies every node's volume at once), else the newest of
// any node, as EC2 restores the newest snapshot of the device.
func findSnapshots(snaps []snapshotRecord, cluster, env, device string, at time.Time) (provider.SnapshotChoice, bool) {
	c := provider.SnapshotChoice{ByNode: map[string]string{}}
	var newest time.Time
	nodeTime := map[string]time.Time{}
	for _, s := range snaps {
		if s.State != snapshotCompleted || s.Cluster != cluster || s.Env != env || s.Device != device {
			continue
		}
		if !at.IsZero() && s.Created.After(at) {
			continue
		}
		if c.Newest == "" || s.Created.After(newest) {
			c.Newest, newest = s.ID, s.Created
		}
		if t, ok := nodeTime[s.NodeID]; !ok || s.Created.After(t) {
			c.ByNode[s.NodeID], nodeTime[s.NodeID] = s.ID, s.Created
		}
	}
	return c, c.Newest != ""
}

// ErrNoNodeSnapshot is returned when --snapshot-node names a node that has
// no snapshot of a volume.
var ErrNoNodeSnapshot = provider.ErrNoNodeSnapshot

// nodeSnapshot is --snapshot-node's choice: every node restores node's
// newest snapshot of the volume, which must exist.
func nodeSnapshot(c provider.SnapshotChoice, node, volume, cluster string) (provider.SnapshotChoice, error) {
	if id, ok := c.ByNode[node]; ok {
		return provider.SnapshotChoice{Newest: id}, nil
	}
	nodes := make([]string, 0, len(c.ByNode))
	for n := range c.ByNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	which := "no node has one"
	if len(nodes) > 0 {
		which = "nodes with one: " + strings.Join(nodes, ", ")
	}
	return provider.SnapshotChoice{}, fmt.Errorf("--snapshot-node %s: %w: node %s has no completed snapshot of volume %s in cluster %s (%s)", node, ErrNoNodeSnapshot, node, volume, cluster, which)
}

// logRestores says, for each node about to be launched, which snapshot
// its volume starts from and why.
func (p *localProvider) logRestores(c provider.SnapshotChoice, volume, cluster, snapshotNode string, launch []config.Node) {
	for _, n := range launch {
		switch id, own := c.ByNode[n.ID]; {
		case snapshotNode != "":
			fmt.Fprintf(p.log, "node %s: volume %s from %s (node %s's newest: --snapshot-node %s)\n", n.ID, volume, c.Newest, snapshotNode, snapshotNode)
		case own:
			fmt.Fprintf(p.log, "node %s: volume %s from %s (node %s's newest)\n", n.ID, volume, id, n.ID)
		default:
			fmt.Fprintf(p.log, "node %s: volume %s from %s (the newest of %s: node %s has none of its own)\n", n.ID, volume, c.Newest, cluster, n.ID)
		}
	}
}

// explicitSnapshot is a volume's configured `snapshot:`, which must be a
// completed snapshot in the store.
func explicitSnapshot(snaps []snapshotRecord, id string) (provider.SnapshotChoice, error) {
	for _, s := range snaps {
		if s.ID == id && s.State == snapshotCompleted {
			return provider.SnapshotChoice{Newest: id}, nil
		}
	}
	return provider.SnapshotChoice{}, fmt.Errorf("%w: %s", ErrNoSnapshot, id)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Snapshot copies every volume of the cluster's instances (all of them are
// data volumes: the root is not a volume) into dated snapshots, all with the
// same time stamp.
func (p *localProvider) Snapshot(ctx context.Context, cluster provider.ClusterID) ([]provider.Snapshot, error) {
	return p.snapshotVolumes(ctx, func(r *instanceRecord) (bool, error) {
		return r.Cluster == cluster.Name && r.Env == cluster.Env && r.State != provider.Terminated, nil
	})
}

// snapshotVolumes copies every volume of the instances pick takes (pick
// may refuse one with an error, which fails the whole run before any copy)
// into dated snapshots, all with the same time stamp, tagged by cluster,
// environment, node and device: what Resolve restores by (findSnapshots).
// The records are made pending in one transaction, then each volume is
// copied and its snapshot completed (or, when the copy fails, removed). It
// returns the completed snapshots, and the failures joined.
func (p *localProvider) snapshotVolumes(ctx context.Context, pick func(*instanceRecord) (bool, error)) ([]provider.Snapshot, error) {
	var pending []snapshotRecord
	now := time.Now().UTC()
	err := p.store.update(ctx, func(t *txn) error {
		recs, err := t.instances()
		if err != nil {
			return err
		}
		for i := range recs {
			r := &recs[i]
			ok, err := pick(r)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			for _, a := range r.Volumes {
				v, err := t.volume(a.VolumeID)
				if err != nil {
					return err
				}
				sn := snapshotRecord{ID: newID("snap"), Cluster: r.Cluster, Env: r.Env, NodeID: r.NodeID, Device: v.Device,
					Volume: v.Name, VolumeID: v.ID, Created: now, State: snapshotPending}
				sn.Dir = filepath.Join("snapshots", unsafeChars.ReplaceAllString(r.Cluster, "_"),
					now.Format("20060102T150405Z")+"-"+unsafeChars.ReplaceAllString(r.NodeID+"-"+v.Device, "_")+"-"+sn.ID)
				if err := t.put(bucketSnapshots, sn.ID, sn); err != nil {
					return err
				}
				pending = append(pending, sn)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var out []provider.Snapshot
	var errs []error
	for _, sn := range pending {
		err := copyTree(ctx, p.store.volumeDir(sn.VolumeID), p.store.path(sn.Dir))
		err2 := p.store.update(context.WithoutCancel(ctx), func(t *txn) error {
			if err != nil {
				return t.del(bucketSnapshots, sn.ID)
			}
			sn.State = snapshotCompleted
			return t.put(bucketSnapshots, sn.ID, sn)
		})
		if err != nil {
			_ = removeTree(p.store.path(sn.Dir))
			errs = append(errs, fmt.Errorf("snapshot volume %s of node %s: %w", sn.Volume, sn.NodeID, err))
			continue
		}
		if err2 != nil {
			errs = append(errs, err2)
			continue
		}
		out = append(out, provider.Snapshot{ID: sn.ID, NodeID: sn.NodeID, Device: sn.Device, Created: sn.Created})
	}
	return out, errors.Join(errs...)
}
