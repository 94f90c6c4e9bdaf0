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
// The instance type is the node's own (a group member's instance_type),
// else aws.instance_type; a node sized by `hardware:` (its own, or
// aws.hardware when it names no type) gets the type Resolve chose for it
// (Resolution.Hardware). Spec.Hardware stays nil: the type is what defines
// the server, so a requirement that resolves to the same type replaces
// nothing. Tags are aws.tags with the node's own (a group's) over them.
// A group member has a subnet but no IP: EC2 picks one.
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
	itype := a.InstanceType
	if node.InstanceType != "" {
		itype = node.InstanceType
	}
	if p.hardwareOf(node) != nil {
		itype = res.Hardware[node.ID].Type
	}
	return provider.Spec{
		Image:          res.Image.ID,
		ImageName:      res.Image.Name,
		InstanceType:   itype,
		UserData:       userData,
		Volumes:        p.volumeSpecs(node, res),
		Subnet:         node.Subnet,
		IP:             node.IP,
		EIP:            node.EIP,
		SecurityGroups: slices.Clone(a.SecurityGroups),
		Profile:        res.Profile,
		KeyPair:        a.KeyPair,
		Tags:           mergeTags(a.Tags, node.Tags),
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

// hardwareOf is what sizes node by `hardware:`: its own, else, when it
// names no instance type, aws.hardware; nil when its type is named.
func (p *ec2Provider) hardwareOf(node config.Node) *provider.Hardware {
	if node.Hardware != nil {
		return node.Hardware
	}
	if node.InstanceType != "" {
		return nil
	}
	return p.aws.Hardware
}

// mergeTags is base with over's values over it: a key of both keeps its
// place in base and takes over's value; over's other keys follow, in
// order. Without over it is a copy of base (nil for none, so that hashes
// stay as they were).
func mergeTags(base, over []config.KeyValue) []config.KeyValue {
	if len(over) == 0 {
		return slices.Clone(base)
	}
	out := make([]config.KeyValue, 0, len(base)+len(over))
	at := map[string]int{}
	for _, kv := range base {
		if i, ok := at[kv.Key]; ok {
			out[i] = kv
			continue
		}
		at[kv.Key] = len(out)
		out = append(out, kv)
	}
	for _, kv := range over {
		if i, ok := at[kv.Key]; ok {
			out[i] = kv
			continue
		}
		at[kv.Key] = len(out)
		out = append(out, kv)
	}
	return out
}
