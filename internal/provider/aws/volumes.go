package aws

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// volumeLimits are EBS's current bounds per volume type: size in GiB,
// provisioned IOPS and the IOPS-per-GiB ratio, gp3 throughput in MiB/s.
// Source: "Amazon EBS volume types",
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html,
// and the CreateVolume API reference (Size, Iops, Throughput),
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html
// (gp3 raised to 64 TiB, 80,000 IOPS and 2,000 MiB/s in 2025).
type volumeLimits struct {
	minSize, maxSize int
	minIOPS, maxIOPS int // 0: IOPS cannot be set
	iopsPerGiB       int
	iopsRequired     bool
}

var limits = map[string]volumeLimits{
	"gp2":      {minSize: 1, maxSize: 16384},
	"gp3":      {minSize: 1, maxSize: 65536, minIOPS: 3000, maxIOPS: 80000, iopsPerGiB: 500},
	"io1":      {minSize: 4, maxSize: 16384, minIOPS: 100, maxIOPS: 64000, iopsPerGiB: 50, iopsRequired: true},
	"io2":      {minSize: 4, maxSize: 65536, minIOPS: 100, maxIOPS: 256000, iopsPerGiB: 1000, iopsRequired: true},
	"st1":      {minSize: 125, maxSize: 16384},
	"sc1":      {minSize: 125, maxSize: 16384},
	"standard": {minSize: 1, maxSize: 1024},
}

// gp3 throughput bounds (MiB/s) and its ratio to provisioned IOPS.
const (
	gp3MinThroughput     = 125
	gp3MaxThroughput     = 2000
	gp3ThroughputPerIOPS = 0.25
	gp3BaselineIOPS      = 3000 // a gp3 volume of any size gets 3,000 IOPS
	nfsFileSystems       = "nfs,nfs4"
)

// isNFS reports a volume the original left out of the block device map.
func isNFS(v config.Volume) bool {
	fs := strings.ToLower(v.FileSystem)
	return fs != "" && strings.Contains(","+nfsFileSystems+",", ","+fs+",")
}

// volumeIOPS is the IOPS sent for a volume: the configured value, the
// original's 100 for io1/io2 when unset, none otherwise.
func volumeIOPS(v config.Volume) int {
	if v.IOPS > 0 {
		return v.IOPS
	}
	if l := limits[v.Type]; l.iopsRequired {
		return config.DefaultIOPS
	}
	return 0
}

// checkVolumes checks every volume against EBS's bounds before any call
// and returns all problems at once, located in the config file.
func (p *ec2Provider) checkVolumes() error {
	var probs []config.Problem
	add := func(v config.Volume, key, format string, args ...any) {
		path := []string{"aws", "volumes", strconv.Itoa(v.Index)}
		if key != "" {
			path = append(path, key)
		}
		probs = append(probs, p.cluster.Problem(path, format, args...))
	}
	for _, v := range p.aws.Volumes {
		if isNFS(v) {
			continue
		}
		if v.Ephemeral {
			if v.Block == "" {
				add(v, "block", "an ephemeral volume needs `block` (its device name)")
			}
			if v.Name == "" {
				add(v, "name", "an ephemeral volume needs `name` (its virtual name, e.g. ephemeral0)")
			}
			continue
		}
		l, ok := limits[v.Type]
		if !ok {
			add(v, "volume_type", "unknown volume type %q (one of gp2, gp3, io1, io2, st1, sc1, standard)", v.Type)
			continue
		}
		if v.SizeGB < l.minSize || v.SizeGB > l.maxSize {
			add(v, "size", "%s is %d GiB; a %s volume is %d to %d GiB", v.Size, v.SizeGB, v.Type, l.minSize, l.maxSize)
		}
		iops := volumeIOPS(v)
		switch {
		case l.maxIOPS == 0 && v.IOPS > 0:
			// the original ignored iops for these types; keep doing so, but say it
			p.logf("warning: aws.volumes[%d].iops is ignored for a %s volume", v.Index, v.Type)
		case iops > 0 && (iops < l.minIOPS || iops > l.maxIOPS):
			add(v, "iops", "%d IOPS; a %s volume takes %d to %d", iops, v.Type, l.minIOPS, l.maxIOPS)
		case iops > 0 && v.SizeGB >= l.minSize && iops > l.iopsPerGiB*v.SizeGB && !(v.Type == "gp3" && iops <= gp3BaselineIOPS):
			add(v, "iops", "%d IOPS is more than %d per GiB of a %d GiB %s volume (at most %d)", iops, l.iopsPerGiB, v.SizeGB, v.Type, l.iopsPerGiB*v.SizeGB)
		}
		if v.Throughput > 0 {
			if v.Type != "gp3" {
				add(v, "throughput", "throughput can only be set for gp3 volumes, not %s", v.Type)
			} else {
				base := iops
				if base == 0 {
					base = gp3BaselineIOPS
				}
				maxT := int(float64(base) * gp3ThroughputPerIOPS)
				switch {
				case v.Throughput < gp3MinThroughput || v.Throughput > gp3MaxThroughput:
					add(v, "throughput", "%d MiB/s; a gp3 volume takes %d to %d MiB/s", v.Throughput, gp3MinThroughput, gp3MaxThroughput)
				case v.Throughput > maxT:
					add(v, "throughput", "%d MiB/s is more than %.2f MiB/s per provisioned IOPS (%d IOPS allow %d MiB/s)", v.Throughput, gp3ThroughputPerIOPS, base, maxT)
				}
			}
		}
	}
	if len(probs) > 0 {
		return &config.Error{Problems: probs}
	}
	return nil
}

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
		if !isNFS(v) && !v.Ephemeral && v.Block == "" {
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
		if isNFS(v) || v.Ephemeral {
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
