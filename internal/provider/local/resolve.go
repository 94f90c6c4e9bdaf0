package local

import (
	"context"
	"fmt"
	"slices"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Resolve looks up what the specs need, in one read of the store: the
// image (resolveImage: an id as is, a name as the image of that name the
// cluster runs unless opts.UpgradeImage, else the newest) and, by volume
// index, the snapshots new volumes start from (a volume's `snapshot:`, or
// with opts.UseSnapshots the newest of the cluster's — of
// opts.SnapshotCluster, when set — in the cluster's environment: each
// node its own newest, else the newest; with opts.SnapshotNode that node's
// newest for every node, ErrNoNodeSnapshot when it has none). With
// opts.Check, each node of opts.Launch that cannot be launched is in
// Resolution.Blocked: an IP outside 127/8, an IP a live instance of
// another node holds, or a health check address another process listens
// on. It creates nothing and keeps nothing: Launch checks again, in the
// transaction that claims the IP.
func (p *localProvider) Resolve(ctx context.Context, cluster provider.ClusterID, observed []provider.Instance, opts provider.ResolveOptions) (provider.Resolution, error) {
	running := make([]string, 0, len(observed))
	for _, in := range observed {
		running = append(running, in.Image)
	}
	var res provider.Resolution
	var recs []instanceRecord
	err := p.store.view(ctx, func(t *txn) error {
		img, how, err := resolveImage(t, p.local.Image, running, opts.UpgradeImage)
		if err != nil {
			return err
		}
		res.Image, res.ImageHow = img.image(), how
		snaps, err := each[snapshotRecord](t, bucketSnapshots)
		if err != nil {
			return err
		}
		from := cluster.Name
		if opts.SnapshotCluster != "" {
			from = opts.SnapshotCluster
		}
		for _, v := range p.local.Volumes {
			var choice provider.SnapshotChoice
			switch {
			case v.Snapshot != "":
				if choice, err = explicitSnapshot(snaps, v.Snapshot); err != nil {
					return fmt.Errorf("volume %s: %w", v.Name, err)
				}
			case opts.UseSnapshots:
				dev := device(v.Name, v.Block)
				var ok bool
				choice, ok = findSnapshots(snaps, from, cluster.Env, dev, opts.SnapshotTime)
				if opts.SnapshotNode != "" {
					if choice, err = nodeSnapshot(choice, opts.SnapshotNode, v.Name, from); err != nil {
						return err
					}
				} else if !ok {
					continue
				}
				p.logRestores(choice, v.Name, from, opts.SnapshotNode, opts.Launch)
			default:
				continue
			}
			if res.Snapshots == nil {
				res.Snapshots = map[int]provider.SnapshotChoice{}
			}
			res.Snapshots[v.Index] = choice
		}
		if opts.Check && len(opts.Launch) > 0 {
			recs, err = t.instances()
		}
		return err
	})
	if err != nil {
		return provider.Resolution{}, err
	}
	if opts.Check {
		res.Blocked = p.blocked(cluster, recs, opts.Launch)
	}
	return res, nil
}

// blocked returns why nodes cannot be launched, by node id (nil when all
// can): the checks Launch makes when it claims a node's IP, made before
// the first launch so that no node is launched for a command that was
// bound to fail. An IP held by a live instance of the same node (which a
// launch returns or waits for) or by one shutting down (which a launch
// waits for) blocks nothing.
func (p *localProvider) blocked(cluster provider.ClusterID, recs []instanceRecord, nodes []config.Node) map[string]error {
	var out map[string]error
	block := func(id string, err error) {
		if out == nil {
			out = map[string]error{}
		}
		out[id] = err
	}
	for _, n := range nodes {
		if n.IP == "" && n.Group != "" {
			continue // a group member: Launch allocates its IP and checks it
		}
		if err := checkIP(n.IP); err != nil {
			block(n.ID, err)
			continue
		}
		held := false
		for i := range recs {
			r := &recs[i]
			if r.State == provider.Terminated || r.IP != n.IP || !r.live() {
				continue
			}
			held = true
			sameNode := r.Cluster == cluster.Name && r.Env == cluster.Env && r.NodeID == n.ID
			if r.State != provider.ShuttingDown && !sameNode {
				block(n.ID, ipHeld(r))
			}
			break
		}
		if held {
			continue
		}
		if err := p.checkHealthAddr(n.ID, n.IP); err != nil {
			block(n.ID, err)
		}
	}
	return out
}

// ipHeld says which live instance holds an IP.
func ipHeld(r *instanceRecord) error {
	return &provider.IPInUseError{IP: r.IP, Holder: fmt.Sprintf("local instance %s (node %s of cluster %s, %s)", r.ID, r.NodeID, r.Cluster, r.State)}
}

// Spec is node's desired spec, computed purely (no store access): the
// resolved image, the boot script, the node's IP, the volumes (each
// starting from the resolved snapshot for the node, else its configured
// `snapshot:`), the user's tags, the `environment:` values and
// termination protection. Local instances have no instance type: the
// node's `hardware:` (a group's) is the spec's Hardware, recorded with the
// instance. Tags are local.tags with the node's own (a group's) over them.
// A group member has no IP in the config (""): its IP is allocated at
// launch.
func (p *localProvider) Spec(node config.Node, res provider.Resolution, userData string, env []config.KeyValue) provider.Spec {
	s := provider.Spec{
		Image:     res.Image.ID,
		ImageName: res.Image.Name,
		UserData:  userData,
		IP:        node.IP,
		Tags:      mergeKV(p.local.Tags, node.Tags),
		Env:       cloneKV(env),
		Flags:     provider.Flags{TerminateProtection: p.local.TerminateProtection},
	}
	if node.Hardware != nil {
		hw := *node.Hardware
		s.Hardware = &hw
	}
	for _, v := range p.local.Volumes {
		snap := v.Snapshot
		if c, ok := res.Snapshots[v.Index]; ok {
			if id := c.For(node.ID); id != "" {
				snap = id
			}
		}
		s.Volumes = append(s.Volumes, provider.VolumeSpec{
			Name: v.Name, Device: v.Block, SizeGB: v.SizeGB, Mount: v.Mount,
			DeleteOnTermination: v.DeleteOnTermination, Snapshot: snap,
		})
	}
	return s
}

// cloneKV copies kvs; empty is nil, so that a spec hashes the same after
// a round trip through the store's JSON (which omits empty lists).
func cloneKV(kvs []config.KeyValue) []config.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	return append([]config.KeyValue(nil), kvs...)
}

// mergeKV is base with over's values over it: a key of both keeps its
// place in base and takes over's value; over's other keys follow, in
// order. Empty is nil, as cloneKV.
func mergeKV(base, over []config.KeyValue) []config.KeyValue {
	if len(over) == 0 {
		return cloneKV(base)
	}
	out := make([]config.KeyValue, 0, len(base)+len(over))
	at := map[string]int{}
	for _, kv := range slices.Concat(base, over) {
		if i, ok := at[kv.Key]; ok {
			out[i] = kv
			continue
		}
		at[kv.Key] = len(out)
		out = append(out, kv)
	}
	return out
}

// device is the name snapshots of a volume are tagged with: its block
// device when the config names one, else its name.
func device(name, block string) string {
	if block != "" {
		return block
	}
	return name
}
