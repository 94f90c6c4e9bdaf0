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
	var ids []string
	for _, i := range insts {
		if (i.State.Live() || i.State == provider.Stopped) && i.Foreign == "" {
			ids = append(ids, i.ID)
			nodeOf[i.ID] = i.NodeID
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	type vol struct{ id, device, instance, vpc string }
	var vols []vol
	pages := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{InstanceIds: ids})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("describe the cluster's volumes", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				root := aws.ToString(i.RootDeviceName)
				for _, m := range i.BlockDeviceMappings {
					dev := aws.ToString(m.DeviceName)
					if m.Ebs == nil || dev == root {
						continue
					}
					vols = append(vols, vol{aws.ToString(m.Ebs.VolumeId), dev, aws.ToString(i.InstanceId), aws.ToString(i.VpcId)})
				}
			}
		}
	}
	sort.Slice(vols, func(a, b int) bool {
		if nodeOf[vols[a].instance] != nodeOf[vols[b].instance] {
			return nodeOf[vols[a].instance] < nodeOf[vols[b].instance]
		}
		return vols[a].device < vols[b].device
	})
	var out []provider.Snapshot
	for _, v := range vols {
		node := nodeOf[v.instance]
		tags := []ec2types.Tag{
			{Key: aws.String(provider.TagCluster), Value: aws.String(cluster.Name)},
			{Key: aws.String("DeviceName"), Value: aws.String(v.device)},
			{Key: aws.String(provider.TagName), Value: aws.String(cluster.Name + "-" + node + v.device)},
			{Key: aws.String(provider.TagNode), Value: aws.String(node)},
		}
		if cluster.Env != "" {
			tags = append(tags, ec2types.Tag{Key: aws.String(provider.TagEnv), Value: aws.String(cluster.Env)})
		}
		if v.vpc != "" {
			tags = append(tags, ec2types.Tag{Key: aws.String(TagVPC), Value: aws.String(v.vpc)})
		}
		res, err := p.ec2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
			VolumeId:          aws.String(v.id),
			Description:       aws.String("cloud-compose " + cluster.Name + " node " + node + " " + v.device),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags}},
		})
		if err != nil {
			return out, wrapErr("snapshot "+v.id+" of node "+node, err)
		}
		started := aws.ToTime(res.StartTime)
		if started.IsZero() {
			started = time.Now()
		}
		out = append(out, provider.Snapshot{ID: aws.ToString(res.SnapshotId), NodeID: node, Device: v.device, Created: started})
	}
	return out, nil
}
