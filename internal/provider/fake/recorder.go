package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Recorder is a Provider that records, in order, its mutating calls
// ("launch <node>", "terminate <id>,…") and every launch spec, so that a
// test can check what was launched and in which order. With Volumes set,
// its specs have those volumes, each restoring the resolution's snapshot
// for the node (as the AWS provider's specs do).
type Recorder struct {
	*Provider
	// Volumes are every spec's volumes, by config index (set before use).
	Volumes []provider.VolumeSpec

	mu       sync.Mutex
	calls    []string
	launches []provider.LaunchSpec
}

var _ provider.Provider = (*Recorder)(nil)

// NewRecorder returns a Recorder on a new provider on cloud.
func NewRecorder(cloud *Cloud, opts Options) *Recorder {
	return &Recorder{Provider: New(cloud, opts)}
}

func (r *Recorder) record(call string) {
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
}

// Calls are the recorded calls, in order.
func (r *Recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Launches are the launch specs Launch was called with, in order.
func (r *Recorder) Launches() []provider.LaunchSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.launches)
}

// Spec is Provider.Spec with the Recorder's volumes.
func (r *Recorder) Spec(node config.Node, res provider.Resolution, userData string, env []config.KeyValue) provider.Spec {
	s := r.Provider.Spec(node, res, userData, env)
	for i, v := range r.Volumes {
		v.Snapshot = res.Snapshots[i].For(node.ID)
		s.Volumes = append(s.Volumes, v)
	}
	return s
}

// Launch records ls, then launches it.
func (r *Recorder) Launch(ctx context.Context, ls provider.LaunchSpec) (provider.Instance, error) {
	ls.Spec.Volumes = slices.Clone(ls.Spec.Volumes)
	r.mu.Lock()
	r.calls = append(r.calls, "launch "+ls.Node.ID)
	r.launches = append(r.launches, ls)
	r.mu.Unlock()
	return r.Provider.Launch(ctx, ls)
}

// Terminate records the call, then terminates.
func (r *Recorder) Terminate(ctx context.Context, ids []string, force bool) error {
	r.record("terminate " + strings.Join(ids, ","))
	return r.Provider.Terminate(ctx, ids, force)
}

// Snapshotter is a Recorder that is also a provider.NodeSnapshotter: it
// "snapshots" every volume of Volumes that is not ephemeral, as
// snap-<instance>-<index>, and records "snapshot <instance>". Like the
// local and AWS providers, its Resolve with UseSnapshots restores each
// node's newest snapshot (the cluster's newest for a node that has none).
type Snapshotter struct {
	*Recorder
	// FailSnapshot, when set, is SnapshotInstance's error.
	FailSnapshot error

	smu    sync.Mutex
	newest map[int]string            // volume index -> newest snapshot
	byNode map[int]map[string]string // volume index -> node -> its newest
}

var _ provider.NodeSnapshotter = (*Snapshotter)(nil)

// NewSnapshotter returns a Snapshotter on a new provider on cloud, whose
// specs have vols.
func NewSnapshotter(cloud *Cloud, opts Options, vols []provider.VolumeSpec) *Snapshotter {
	r := NewRecorder(cloud, opts)
	r.Volumes = vols
	return &Snapshotter{Recorder: r}
}

// SnapshotInstance returns a complete snapshot of each of inst's data
// volumes, by config index.
func (s *Snapshotter) SnapshotInstance(_ context.Context, cluster provider.ClusterID, inst provider.Instance) (map[int]provider.Snapshot, error) {
	s.record("snapshot " + inst.ID)
	if s.FailSnapshot != nil {
		return nil, s.FailSnapshot
	}
	c := s.cloud
	c.mu.Lock()
	c.count("SnapshotInstance")
	r := c.byID(inst.ID)
	c.mu.Unlock()
	if r == nil || r.cluster != cluster {
		return nil, fmt.Errorf("snapshot %s: %w", inst.ID, ErrNoInstance)
	}
	out := map[int]provider.Snapshot{}
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.newest == nil {
		s.newest, s.byNode = map[int]string{}, map[int]map[string]string{}
	}
	for i, v := range s.Volumes {
		if v.Ephemeral {
			continue
		}
		id := fmt.Sprintf("snap-%s-%d", inst.ID, i)
		out[i] = provider.Snapshot{ID: id, NodeID: inst.NodeID, Device: v.Device, Created: time.Now()}
		s.newest[i] = id
		if s.byNode[i] == nil {
			s.byNode[i] = map[string]string{}
		}
		s.byNode[i][inst.NodeID] = id
	}
	return out, nil
}

// Resolve is Provider.Resolve with, when opts.UseSnapshots, the snapshots
// SnapshotInstance took.
func (s *Snapshotter) Resolve(ctx context.Context, cluster provider.ClusterID, observed []provider.Instance, opts provider.ResolveOptions) (provider.Resolution, error) {
	res, err := s.Provider.Resolve(ctx, cluster, observed, opts)
	if err != nil || !opts.UseSnapshots {
		return res, err
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	for i, id := range s.newest {
		if res.Snapshots == nil {
			res.Snapshots = map[int]provider.SnapshotChoice{}
		}
		res.Snapshots[i] = provider.SnapshotChoice{Newest: id, ByNode: maps.Clone(s.byNode[i])}
	}
	return res, nil
}
