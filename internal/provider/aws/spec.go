package aws

import (
	"slices"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Spec computes a node's desired spec from the config and the Resolution,
// purely: no API call. In ASG mode the node is the group's (no id, IP or
// subnet). env is not used: EC2 nodes get their environment through the
// user data.
//
// Volumes are the block devices a launch maps: nfs volumes are mounted by
// the boot script (part of the user data), not mapped, and so are not
// here; a volume without `block` takes the image's root device; each EBS
// volume starts from the snapshot the Resolution chose for it.
func (p *ec2Provider) Spec(node config.Node, res provider.Resolution, userData string, _ []config.KeyValue) provider.Spec {
	a := p.aws
	monitoring := a.DetailedMonitoring
	if p.GroupMode() {
		monitoring = a.Monitoring // the launch template's setting, as the original
	}
	return provider.Spec{
		Image:          res.Image.ID,
		ImageName:      res.Image.Name,
		InstanceType:   a.InstanceType,
		UserData:       userData,
		Volumes:        p.volumeSpecs(node, res),
		Subnet:         node.Subnet,
		IP:             node.IP,
		EIP:            node.EIP,
		SecurityGroups: slices.Clone(a.SecurityGroups),
		Profile:        res.Profile,
		KeyPair:        a.KeyPair,
		Tags:           slices.Clone(a.Tags),
		Flags: provider.Flags{
			EBSOptimized:        a.EBSOptimized,
			Monitoring:          monitoring,
			SourceDestCheck:     a.SourceDestCheck,
			TerminateProtection: a.TerminateProtection,
		},
	}
}

// volumeSpecs are the node's block devices, in config order.
func (p *ec2Provider) volumeSpecs(node config.Node, res provider.Resolution) []provider.VolumeSpec {
	var out []provider.VolumeSpec
	for _, v := range p.aws.Volumes {
		if v.NFS() {
			continue
		}
		if v.Ephemeral {
			out = append(out, provider.VolumeSpec{Name: v.Name, Device: v.Block, Ephemeral: true, Mount: v.Mount})
			continue
		}
		dev := v.Block
		if dev == "" {
			dev = res.Image.RootDevice
		}
		vs := provider.VolumeSpec{
			Name:                v.Name,
			Device:              dev,
			SizeGB:              v.SizeGB,
			Type:                v.Type,
			Throughput:          v.Throughput,
			DeleteOnTermination: v.DeleteOnTermination,
			Mount:               v.Mount,
			Snapshot:            res.Snapshots[v.Index].For(node.ID),
		}
		if config.EBSVolumeLimits[v.Type].MaxIOPS > 0 {
			vs.IOPS = v.EBSIOPS() // EBS takes none for the other types
		}
		out = append(out, vs)
	}
	return out
}
