package aws

import (
	"context"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

var _ provider.Snapshotter = (*ec2Provider)(nil)

// TagVPC is on every snapshot the tool makes: the VPC of the instance
// whose volume it copies, so that a same-named cluster in another VPC never
// restores it (findSnapshots).
const TagVPC = "cloud-compose:vpc"

// Snapshot snapshots every EBS data volume (not the root device) of the
// cluster's live instances, tagged at creation with ClusterName and
// DeviceName: the tags `up` restores by (findSnapshots). One
// DescribeInstances for the device mappings, one CreateSnapshot per volume.
// The snapshots are returned as started; EC2 completes them in the
// background, and `up` only restores completed ones.
func (p *ec2Provider) Snapshot(ctx context.Context, cluster provider.ClusterID) ([]provider.Snapshot, error) {
	insts, err := p.Instances(ctx, cluster)
	if err != nil {
		return nil, err
	}
	nodeOf := map[string]string{}
	for _, i := range insts {
		if snapshottable(i.State) && i.Foreign == "" {
			nodeOf[i.ID] = i.NodeID
		}
	}
	if len(nodeOf) == 0 {
		return nil, nil
	}
	vols, err := p.dataVolumes(ctx, nodeOf, nil)
	if err != nil {
		return nil, err
	}
	return p.snapshotVolumes(ctx, cluster, vols)
}

// snapshottable reports whether `cluster snapshot` takes the volumes of an
// instance in this state: a live or stopped one.
func snapshottable(s provider.State) bool { return s.Live() || s == provider.Stopped }

// dataVolume is an EBS data volume of an instance: one that is not its
// root device.
type dataVolume struct{ id, device, instance, node, vpc string }

// dataVolumes returns the EBS data volumes of the instances of nodeOf
// (instance id -> node id), in one paginated DescribeInstances, sorted by
// node, then device. check, when set, is asked about each instance
// described and can refuse it.
func (p *ec2Provider) dataVolumes(ctx context.Context, nodeOf map[string]string, check func(ec2types.Instance) error) ([]dataVolume, error) {
	ids := make([]string, 0, len(nodeOf))
	for id := range nodeOf {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var vols []dataVolume
	pages := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{InstanceIds: ids})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("describe the instances' volumes", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				if check != nil {
					if err := check(i); err != nil {
						return nil, err
					}
				}
				id, root := aws.ToString(i.InstanceId), aws.ToString(i.RootDeviceName)
				for _, m := range i.BlockDeviceMappings {
					dev := aws.ToString(m.DeviceName)
					if m.Ebs == nil || dev == root {
						continue
					}
					vols = append(vols, dataVolume{aws.ToString(m.Ebs.VolumeId), dev, id, nodeOf[id], aws.ToString(i.VpcId)})
				}
			}
		}
	}
	sort.Slice(vols, func(a, b int) bool {
		if vols[a].node != vols[b].node {
			return vols[a].node < vols[b].node
		}
		return vols[a].device < vols[b].device
	})
	return vols, nil
}

// snapshotVolumes starts a snapshot of each volume, one CreateSnapshot
// each, tagged at creation as `up` restores them (findSnapshots):
// ClusterName, DeviceName, Name, the node, the environment and the VPC.
// It returns the snapshots started until the first failure.
func (p *ec2Provider) snapshotVolumes(ctx context.Context, cluster provider.ClusterID, vols []dataVolume) ([]provider.Snapshot, error) {
	var out []provider.Snapshot
	for _, v := range vols {
		tags := []ec2types.Tag{
			{Key: aws.String(provider.TagCluster), Value: aws.String(cluster.Name)},
			{Key: aws.String("DeviceName"), Value: aws.String(v.device)},
			{Key: aws.String(provider.TagName), Value: aws.String(cluster.Name + "-" + v.node + v.device)},
			{Key: aws.String(provider.TagNode), Value: aws.String(v.node)},
		}
		if cluster.Env != "" {
			tags = append(tags, ec2types.Tag{Key: aws.String(provider.TagEnv), Value: aws.String(cluster.Env)})
		}
		if v.vpc != "" {
			tags = append(tags, ec2types.Tag{Key: aws.String(TagVPC), Value: aws.String(v.vpc)})
		}
		res, err := p.ec2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
			VolumeId:          aws.String(v.id),
			Description:       aws.String("cloud-compose " + cluster.Name + " node " + v.node + " " + v.device),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags}},
		})
		if err != nil {
			return out, wrapErr("snapshot "+v.id+" of node "+v.node, err)
		}
		started := aws.ToTime(res.StartTime)
		if started.IsZero() {
			started = time.Now()
		}
		out = append(out, provider.Snapshot{ID: aws.ToString(res.SnapshotId), NodeID: v.node, Device: v.device, Created: started})
	}
	return out, nil
}
