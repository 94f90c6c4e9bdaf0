package aws

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

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

// findSnapshots picks each EBS volume's snapshot: the configured id, or
// else the newest completed snapshot tagged ClusterName=<cluster> (or
// --snapshot-cluster) and DeviceName=<device> started at or before the
// snapshot time — all devices in one paginated DescribeSnapshots. With
// vpcs (the cluster's own network), a snapshot tagged with another VPC
// (TagVPC) is a same-named cluster's elsewhere and never restored; one
// without the tag (made by the Python original or an older version) cannot
// tell and is taken. vpcs is asked only when a snapshot carries the tag,
// so a cluster without such snapshots pays no network lookup.
func (p *ec2Provider) findSnapshots(ctx context.Context, rootDevice, cluster string, at time.Time, vpcs func(context.Context) (map[string]bool, error)) (map[int]string, error) {
	out := map[int]string{}
	want := map[string][]int{} // device -> volume indexes
	var devices []string
	for _, v := range p.aws.Volumes {
		if v.NFS() || v.Ephemeral {
			continue
		}
		if v.Snapshot != "" {
			out[v.Index] = v.Snapshot
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
	type pick struct {
		id    string
		start time.Time
	}
	best := map[string]pick{}
	var own map[string]bool // vpcs' answer, once asked
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
			dev, vpc := "", ""
			for _, t := range s.Tags {
				switch aws.ToString(t.Key) {
				case "DeviceName":
					dev = aws.ToString(t.Value)
				case TagVPC:
					vpc = aws.ToString(t.Value)
				}
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
			if !at.IsZero() && start.After(at) {
				continue
			}
			if b, ok := best[dev]; !ok || start.After(b.start) {
				best[dev] = pick{aws.ToString(s.SnapshotId), start}
			}
		}
	}
	for dev, idx := range want {
		if b, ok := best[dev]; ok {
			for _, i := range idx {
				out[i] = b.id
			}
			p.logf("volume %s starts from snapshot %s of %s (%s)", dev, b.id, start(b.start), cluster)
		}
	}
	return out, nil
}

func start(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }
