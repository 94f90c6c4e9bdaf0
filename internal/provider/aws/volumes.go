package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// blockDevices builds the block device map of a spec's volumes: ephemeral
// volumes by virtual name, EBS volumes with the snapshot they start from.
func blockDevices(vols []provider.VolumeSpec) []ec2types.BlockDeviceMapping {
	var out []ec2types.BlockDeviceMapping
	for _, v := range vols {
		if v.Ephemeral {
			out = append(out, ec2types.BlockDeviceMapping{DeviceName: aws.String(v.Device), VirtualName: aws.String(v.Name)})
			continue
		}
		ebs := &ec2types.EbsBlockDevice{
			VolumeSize:          aws.Int32(int32(v.SizeGB)),
			DeleteOnTermination: aws.Bool(v.DeleteOnTermination),
			VolumeType:          ec2types.VolumeType(v.Type),
		}
		if v.IOPS > 0 {
			ebs.Iops = aws.Int32(int32(v.IOPS))
		}
		if v.Throughput > 0 {
			ebs.Throughput = aws.Int32(int32(v.Throughput))
		}
		if v.Snapshot != "" {
			ebs.SnapshotId = aws.String(v.Snapshot)
		}
		out = append(out, ec2types.BlockDeviceMapping{DeviceName: aws.String(v.Device), Ebs: ebs})
	}
	return out
}

// needsRootDevice reports whether some EBS volume has no `block` and so
// takes the image's root device.
func (p *ec2Provider) needsRootDevice() bool {
	for _, v := range p.aws.Volumes {
		if !v.NFS() && !v.Ephemeral && v.Block == "" {
			return true
		}
	}
	return false
}

// ErrNoNodeSnapshot is returned when --snapshot-node names a node that has
// no snapshot of a volume's device.
var ErrNoNodeSnapshot = provider.ErrNoNodeSnapshot

// findSnapshots picks each EBS volume's snapshots: the configured id, or
// else among the completed snapshots tagged ClusterName=<cluster> (or
// --snapshot-cluster) and DeviceName=<device> started at or before the
// snapshot time — all devices in one paginated DescribeSnapshots — each
// node's own newest (tagged TagNode, as `cluster snapshot` tags them) and,
// for nodes without one (snapshots of the Python original), the newest of
// the device, the original's rule. With opts.SnapshotNode every node
// restores that node's newest, and a device it has none of is an error
// (ErrNoNodeSnapshot). With vpcs (the cluster's own network), a snapshot
// tagged with another VPC (TagVPC) is a same-named cluster's elsewhere and
// never restored; one without the tag (made by the Python original or an
// older version) cannot tell and is taken. vpcs is asked only when a
// snapshot carries the tag, so a cluster without such snapshots pays no
// network lookup. Each node of launch gets a line in the log saying which
// snapshot its volume starts from and why.
func (p *ec2Provider) findSnapshots(ctx context.Context, rootDevice, cluster string, opts provider.UpOptions, launch []config.Node, vpcs func(context.Context) (map[string]bool, error)) (map[int]provider.SnapshotChoice, error) {
	out := map[int]provider.SnapshotChoice{}
	want := map[string][]int{} // device -> volume indexes
	var devices []string
	for _, v := range p.aws.Volumes {
		if v.NFS() || v.Ephemeral {
			continue
		}
		if v.Snapshot != "" {
			out[v.Index] = provider.SnapshotChoice{Newest: v.Snapshot}
			continue
		}
		dev := v.Block
		if dev == "" {
			dev = rootDevice
		}
		if _, ok := want[dev]; !ok {
			devices = append(devices, dev)
		}
		want[dev] = append(want[dev], v.Index)
	}
	if len(devices) == 0 {
		return out, nil
	}
	best := map[string]snapPick{}              // device -> the newest
	byNode := map[string]map[string]snapPick{} // device -> node -> its newest
	var own map[string]bool                    // vpcs' answer, once asked
	asked := false
	pages := ec2.NewDescribeSnapshotsPaginator(p.ec2, &ec2.DescribeSnapshotsInput{
		Filters: []ec2types.Filter{
			filter("status", "completed"),
			filter("tag:"+provider.TagCluster, cluster),
			filter("tag:DeviceName", devices...),
		},
		MaxResults: aws.Int32(1000),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("find snapshots of cluster "+cluster, err)
		}
		for _, s := range page.Snapshots {
			dev, vpc, node, env := "", "", "", ""
			for _, t := range s.Tags {
				switch aws.ToString(t.Key) {
				case provider.TagEnv:
					env = aws.ToString(t.Value)
				case "DeviceName":
					dev = aws.ToString(t.Value)
				case TagVPC:
					vpc = aws.ToString(t.Value)
				case provider.TagNode:
					node = aws.ToString(t.Value)
				}
			}
			// this cluster's own: only its environment's (an untagged
			// snapshot is the default environment's, as the original's)
			if vpcs != nil && env != p.cluster.Env {
				continue
			}
			if vpcs != nil && vpc != "" && !asked {
				v, err := vpcs(ctx)
				if err != nil {
					return nil, err
				}
				own, asked = v, true
			}
			if vpcs != nil && vpc != "" && !own[vpc] {
				p.logf("not restoring snapshot %s: it is of a cluster named %s in %s, outside this cluster's network", aws.ToString(s.SnapshotId), cluster, vpc)
				continue
			}
			start := aws.ToTime(s.StartTime)
			if at := opts.SnapshotTime; !at.IsZero() && start.After(at) {
				continue
			}
			sp := snapPick{aws.ToString(s.SnapshotId), start}
			if b, ok := best[dev]; !ok || sp.newer(b) {
				best[dev] = sp
			}
			if node == "" {
				continue
			}
			if byNode[dev] == nil {
				byNode[dev] = map[string]snapPick{}
			}
			if b, ok := byNode[dev][node]; !ok || sp.newer(b) {
				byNode[dev][node] = sp
			}
		}
	}
	var missing []error
	for _, dev := range devices {
		idx := want[dev]
		if opts.SnapshotNode != "" {
			sp, ok := byNode[dev][opts.SnapshotNode]
			if !ok {
				missing = append(missing, noNodeSnapshot(opts.SnapshotNode, dev, cluster, byNode[dev]))
				continue
			}
			for _, i := range idx {
				out[i] = provider.SnapshotChoice{Newest: sp.id}
			}
			for _, n := range launch {
				p.logf("node %s: volume %s from %s (node %s's newest, %s: --snapshot-node %s)", n.ID, dev, sp.id, opts.SnapshotNode, start(sp.start), opts.SnapshotNode)
			}
			if len(launch) == 0 {
				p.logf("volume %s starts from snapshot %s of %s (node %s's newest, %s: --snapshot-node %s)", dev, sp.id, cluster, opts.SnapshotNode, start(sp.start), opts.SnapshotNode)
			}
			continue
		}
		b, ok := best[dev]
		if !ok {
			continue
		}
		c := provider.SnapshotChoice{Newest: b.id}
		if len(byNode[dev]) > 0 {
			c.ByNode = make(map[string]string, len(byNode[dev]))
			for n, sp := range byNode[dev] {
				c.ByNode[n] = sp.id
			}
		}
		for _, i := range idx {
			out[i] = c
		}
		for _, n := range launch {
			if sp, ok := byNode[dev][n.ID]; ok {
				p.logf("node %s: volume %s from %s (node %s's newest, %s)", n.ID, dev, sp.id, n.ID, start(sp.start))
			} else {
				p.logf("node %s: volume %s from %s (the newest of %s, %s: node %s has none of its own)", n.ID, dev, b.id, cluster, start(b.start), n.ID)
			}
		}
		if len(launch) == 0 {
			if len(byNode[dev]) > 0 {
				p.logf("volume %s starts from each node's newest snapshot of %s, else from %s (the newest, %s)", dev, cluster, b.id, start(b.start))
			} else {
				p.logf("volume %s starts from snapshot %s of %s (%s)", dev, b.id, cluster, start(b.start))
			}
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	return out, nil
}

// snapPick is a snapshot candidate.
type snapPick struct {
	id    string
	start time.Time
}

// newer orders by start time, then id, so that equal times pick the same
// snapshot on every run.
func (a snapPick) newer(b snapPick) bool {
	if !a.start.Equal(b.start) {
		return a.start.After(b.start)
	}
	return a.id > b.id
}

// noNodeSnapshot says that --snapshot-node names a node without a
// snapshot of dev, and which nodes have one.
func noNodeSnapshot(node, dev, cluster string, have map[string]snapPick) error {
	nodes := make([]string, 0, len(have))
	for n := range have {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	which := "no node has one"
	if len(nodes) > 0 {
		which = "nodes with one: " + strings.Join(nodes, ", ")
	}
	return fmt.Errorf("--snapshot-node %s: %w: node %s has no completed snapshot of %s in cluster %s (%s)", node, ErrNoNodeSnapshot, node, dev, cluster, which)
}

func start(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }
