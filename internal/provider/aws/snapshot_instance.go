package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

var _ provider.NodeSnapshotter = (*ec2Provider)(nil)

// Snapshot completion bounds. EBS copies a volume's changed blocks since
// its last snapshot; a first snapshot of a large volume takes minutes.
const (
	SnapshotCompleteTimeout = 30 * time.Minute
	snapshotPollMinDelay    = 2 * time.Second
	snapshotPollMaxDelay    = 15 * time.Second
)

// SnapshotInstance snapshots the EBS data volumes of one instance (what
// `cluster snapshot` takes of it: every EBS volume but the root device),
// tagged as `cluster snapshot` tags them, so that `up` restores the node's
// replacement from them (they are the node's newest), waits until every
// snapshot is completed, and returns them by the index in the config of
// the volume on that device. A data volume on a device that no config
// volume names is snapshotted too, but has no index to be returned under.
// A foreign instance, one of another cluster, one without a node id or one
// that is neither live nor stopped is refused.
func (p *ec2Provider) SnapshotInstance(ctx context.Context, cluster provider.ClusterID, inst provider.Instance) (map[int]provider.Snapshot, error) {
	switch {
	case inst.Foreign != "":
		return nil, fmt.Errorf("snapshot instance %s: it is not this cluster's (it lies in %s, outside the cluster's network)", inst.ID, inst.Foreign)
	case inst.NodeID == "":
		return nil, fmt.Errorf("snapshot instance %s: it has no node id (tag %s), so no node would restore its snapshots", inst.ID, provider.TagNode)
	}
	vols, err := p.dataVolumes(ctx, map[string]string{inst.ID: inst.NodeID}, func(i ec2types.Instance) error {
		return checkSnapshotInstance(cluster, i)
	})
	if err != nil {
		return nil, err
	}
	snaps, err := p.snapshotVolumes(ctx, cluster, vols)
	if err != nil {
		return nil, err
	}
	if err := p.waitSnapshots(ctx, snaps); err != nil {
		return nil, fmt.Errorf("snapshot instance %s (node %s): %w", inst.ID, inst.NodeID, err)
	}
	out := map[int]provider.Snapshot{}
	for _, s := range snaps {
		found := false
		for _, v := range p.aws.Volumes {
			if !v.NFS() && !v.Ephemeral && v.Block == s.Device {
				out[v.Index], found = s, true
			}
		}
		if !found {
			p.logf("snapshot %s of node %s: no volume in the config is on %s, so no launch restores it", s.ID, s.NodeID, s.Device)
		}
	}
	return out, nil
}

// checkSnapshotInstance refuses an instance that is not the cluster's (by
// its ClusterName and environment tags) or whose volumes `cluster
// snapshot` would not take (it is neither live nor stopped).
func checkSnapshotInstance(cluster provider.ClusterID, i ec2types.Instance) error {
	id := aws.ToString(i.InstanceId)
	if c, env := tagOf(i.Tags, provider.TagCluster), tagOf(i.Tags, provider.TagEnv); c != cluster.Name || env != cluster.Env {
		return fmt.Errorf("snapshot instance %s: it is not an instance of cluster %s (its %s tag is %q, its %s %q)", id, cluster.Name, provider.TagCluster, c, provider.TagEnv, env)
	}
	if i.State != nil && !snapshottable(provider.State(i.State.Name)) {
		return fmt.Errorf("snapshot instance %s: it is %s", id, i.State.Name)
	}
	return nil
}

// waitSnapshots polls the snapshots, all in one DescribeSnapshots, until
// every one is completed; one in state error fails the wait at once,
// naming it and EC2's reason. A snapshot EC2 does not list yet (its API is
// eventually consistent) counts as pending. The wait ends with ctx or
// after SnapshotCompleteTimeout.
func (p *ec2Provider) waitSnapshots(ctx context.Context, snaps []provider.Snapshot) error {
	left := make([]string, len(snaps))
	for i, s := range snaps {
		left[i] = s.ID
	}
	ctx, cancel := context.WithTimeout(ctx, SnapshotCompleteTimeout)
	defer cancel()
	delay := snapshotPollMinDelay
	progress := map[string]string{}
	for len(left) > 0 {
		out, err := p.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: left})
		if err != nil && !isCode(err, "InvalidSnapshot.NotFound") {
			return wrapErr("wait until the snapshots are completed", err)
		}
		var pending, failed []string
		seen := map[string]bool{}
		if out != nil {
			for _, s := range out.Snapshots {
				id := aws.ToString(s.SnapshotId)
				seen[id] = true
				switch s.State {
				case ec2types.SnapshotStateCompleted:
				case ec2types.SnapshotStateError:
					failed = append(failed, fmt.Sprintf("snapshot %s of volume %s failed: %s", id, aws.ToString(s.VolumeId), aws.ToString(s.StateMessage)))
				default:
					pending = append(pending, id)
					progress[id] = string(s.State) + " " + aws.ToString(s.Progress)
				}
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("%s", strings.Join(failed, "; "))
		}
		for _, id := range left {
			if !seen[id] {
				pending = append(pending, id)
				progress[id] = "not listed yet"
			}
		}
		sort.Strings(pending)
		if left = pending; len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var states []string
			for _, id := range left {
				states = append(states, id+" "+strings.TrimSpace(progress[id]))
			}
			return fmt.Errorf("wait until the snapshots are completed (at most %s): %d not completed (%s): %w", SnapshotCompleteTimeout, len(left), strings.Join(states, ", "), context.Cause(ctx))
		case <-time.After(delay):
		}
		delay = min(delay*2, snapshotPollMaxDelay)
	}
	return nil
}
