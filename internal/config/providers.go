package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file checks the provider sections against the limits of what they
// become (EBS volumes, CloudWatch Logs, loopback addresses) at load, so
// `config`, `plan` and every other command report them with file:line
// before any API call. The limits are exported for the providers, which
// must not keep copies of them.

// VolumeLimits are EBS's bounds for one volume type: size in GiB,
// provisioned IOPS and the IOPS-per-GiB ratio.
type VolumeLimits struct {
	MinSize, MaxSize int
	MinIOPS, MaxIOPS int // 0: IOPS cannot be set for the type
	IOPSPerGiB       int
	// IOPSRequired: EBS needs IOPS for the type; the tool sends
	// DefaultIOPS when the config sets none (as the original did).
	IOPSRequired bool
}

// EBSVolumeLimits are EBS's current bounds per volume type.
// Source: "Amazon EBS volume types",
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html,
// and the CreateVolume API reference (Size, Iops, Throughput),
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html
// (gp3 raised to 64 TiB, 80,000 IOPS and 2,000 MiB/s in 2025).
// Do not modify: it is shared by config checks and the aws provider.
var EBSVolumeLimits = map[string]VolumeLimits{
	"gp2":      {MinSize: 1, MaxSize: 16384},
	"gp3":      {MinSize: 1, MaxSize: 65536, MinIOPS: 3000, MaxIOPS: 80000, IOPSPerGiB: 500},
	"io1":      {MinSize: 4, MaxSize: 16384, MinIOPS: 100, MaxIOPS: 64000, IOPSPerGiB: 50, IOPSRequired: true},
	"io2":      {MinSize: 4, MaxSize: 65536, MinIOPS: 100, MaxIOPS: 256000, IOPSPerGiB: 1000, IOPSRequired: true},
	"st1":      {MinSize: 125, MaxSize: 16384},
	"sc1":      {MinSize: 125, MaxSize: 16384},
	"standard": {MinSize: 1, MaxSize: 1024},
}

// gp3 throughput bounds (MiB/s), its ratio to provisioned IOPS, and the
// IOPS every gp3 volume gets (same sources as EBSVolumeLimits).
const (
	GP3MinThroughput     = 125
	GP3MaxThroughput     = 2000
	GP3ThroughputPerIOPS = 0.25
	GP3BaselineIOPS      = 3000 // a gp3 volume of any size gets 3,000 IOPS
)

// NFSFileSystems are the file systems of volumes that are mounts, not
// block devices: the original left them out of the block device map.
const NFSFileSystems = "nfs,nfs4"

// LogRetentionDays are the values CloudWatch Logs accepts for
// retentionInDays (PutRetentionPolicy API reference,
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// LoopbackPrefix is where the local provider's node IPs live: Linux routes
// the whole of 127.0.0.0/8 to the loopback interface, so every node can
// listen on the same port.
var LoopbackPrefix = netip.MustParsePrefix("127.0.0.0/8")

// NFS reports a volume the original left out of the block device map.
func (v Volume) NFS() bool {
	fs := strings.ToLower(v.FileSystem)
	return fs != "" && strings.Contains(","+NFSFileSystems+",", ","+fs+",")
}

// EBSIOPS is the IOPS sent for an EBS volume: the configured value, the
// original's DefaultIOPS for types that need IOPS when unset, 0 otherwise.
func (v Volume) EBSIOPS() int {
	if v.IOPS > 0 {
		return v.IOPS
	}
	if EBSVolumeLimits[v.Type].IOPSRequired {
		return DefaultIOPS
	}
	return 0
}

// SuggestLoopbackIP proposes a loopback address for the local node at
// index, for messages.
func SuggestLoopbackIP(index int) string {
	return fmt.Sprintf("127.0.%d.%d", index/200, 11+index%200)
}

// IsLoopback reports whether ip is an IPv4 address in LoopbackPrefix.
func IsLoopback(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.Is4() && LoopbackPrefix.Contains(a)
}

// checkProviders checks every provider section present (a section other
// than the cluster's provider may be selected by an environment) and the
// logging settings; what only a launch needs is CheckUp's.
func (c *Cluster) checkProviders(p *problems) {
	if c.AWS != nil {
		c.checkAWSVolumes(p)
	}
	if c.Local != nil {
		c.checkLocalNodes(p)
	}
	c.checkLogging(p)
}

// checkAWSVolumes checks every aws volume against EBS's bounds. A volume
// type outside EBSVolumeLimits is the schema's to report.
func (c *Cluster) checkAWSVolumes(p *problems) {
	for _, v := range c.AWS.Volumes {
		add := func(key, format string, args ...any) {
			c.problem(p, []string{"aws", "volumes", strconv.Itoa(v.Index), key}, format, args...)
		}
		if v.NFS() {
			continue
		}
		if v.Ephemeral {
			if v.Block == "" {
				add("block", "an ephemeral volume needs `block` (its device name)")
			}
			if v.Name == "" {
				add("name", "an ephemeral volume needs `name` (its virtual name, e.g. ephemeral0)")
			}
			continue
		}
		l, ok := EBSVolumeLimits[v.Type]
		if !ok {
			continue
		}
		if v.SizeGB < l.MinSize || v.SizeGB > l.MaxSize {
			add("size", "%s is %d GiB; a %s volume is %d to %d GiB", v.Size, v.SizeGB, v.Type, l.MinSize, l.MaxSize)
		}
		iops := v.EBSIOPS()
		switch {
		case l.MaxIOPS == 0 && v.IOPS > 0:
			// the original ignored iops for these types; keep doing so, but say it
			p.warnings = append(p.warnings, c.Problem([]string{"aws", "volumes", strconv.Itoa(v.Index), "iops"},
				"is ignored for a %s volume (only gp3, io1 and io2 take provisioned IOPS)", v.Type))
		case iops > 0 && (iops < l.MinIOPS || iops > l.MaxIOPS):
			add("iops", "%d IOPS; a %s volume takes %d to %d", iops, v.Type, l.MinIOPS, l.MaxIOPS)
		case iops > 0 && v.SizeGB >= l.MinSize && iops > l.IOPSPerGiB*v.SizeGB && !(v.Type == "gp3" && iops <= GP3BaselineIOPS):
			add("iops", "%d IOPS is more than %d per GiB of a %d GiB %s volume (at most %d)", iops, l.IOPSPerGiB, v.SizeGB, v.Type, l.IOPSPerGiB*v.SizeGB)
		}
		if v.Throughput <= 0 {
			continue
		}
		if v.Type != "gp3" {
			add("throughput", "throughput can only be set for gp3 volumes, not %s", v.Type)
			continue
		}
		base := iops
		if base == 0 {
			base = GP3BaselineIOPS
		}
		maxT := int(float64(base) * GP3ThroughputPerIOPS)
		switch {
		case v.Throughput < GP3MinThroughput || v.Throughput > GP3MaxThroughput:
			add("throughput", "%d MiB/s; a gp3 volume takes %d to %d MiB/s", v.Throughput, GP3MinThroughput, GP3MaxThroughput)
		case v.Throughput > maxT:
			add("throughput", "%d MiB/s is more than %.2f MiB/s per provisioned IOPS (%d IOPS allow %d MiB/s)", v.Throughput, GP3ThroughputPerIOPS, base, maxT)
		}
	}
}

// checkLocalNodes checks that every local node has an IP in
// LoopbackPrefix: the local provider runs each node on its own loopback
// address. A malformed IP is the schema's to report.
func (c *Cluster) checkLocalNodes(p *problems) {
	for _, n := range c.Local.Nodes {
		path := []string{"local", "nodes", strconv.Itoa(n.Index), "ip"}
		switch {
		case n.IP == "":
			c.problem(p, path, "node %q needs an ip: the local provider runs each node on its own loopback address in 127.0.0.0/8, e.g. %s", n.ID, SuggestLoopbackIP(n.Index))
		case !IsLoopback(n.IP):
			c.problem(p, path, "%s is outside 127.0.0.0/8: the local provider runs nodes on loopback addresses (Linux routes all of 127.0.0.0/8 to lo); use one inside, e.g. %s", n.IP, SuggestLoopbackIP(n.Index))
		}
	}
}

// checkLogging checks `logging` with the awslogs driver on aws, where the
// provider creates the log group with its retention.
func (c *Cluster) checkLogging(p *problems) {
	if c.Logging.Driver != "awslogs" || c.Provider != "aws" {
		return
	}
	if c.Logging.Group == "" {
		c.problem(p, []string{"logging", "meta", "group"}, "logging.driver is awslogs but logging.meta.group names no log group")
	}
	if r := c.Logging.Retention; !slices.Contains(LogRetentionDays, r) {
		c.problem(p, []string{"logging", "meta", "retention"}, "%d days is not a CloudWatch Logs retention; use one of %v", r, LogRetentionDays)
	}
}

// launchProblems are what a launch on the cluster's provider needs beyond
// what every command needs: on aws an image, security groups, a key pair,
// and a subnet per node (or asg.subnets). The Python original's own
// fixtures lack them and `cluster build` renders them, so they are not
// load errors.
func (c *Cluster) launchProblems() []Problem {
	if c.Provider != "aws" || c.AWS == nil {
		return nil
	}
	a := c.AWS
	var probs []Problem
	// a missing key is located at its nearest parent and named in full
	required := func(path []string, format string, args ...any) {
		probs = append(probs, c.Problem(path, format, args...))
	}
	if a.AMI == "" {
		required([]string{"aws", "ami"}, "is required to launch instances: an image id (ami-…) or the Name tag of images")
	}
	if len(a.SecurityGroups) == 0 {
		required([]string{"aws", "security_groups"}, "is required to launch instances: the security group ids for the instances")
	}
	if a.KeyPair == "" {
		required([]string{"aws", "keypair"}, "is required to launch instances: the name of the EC2 key pair (as in the original)")
	}
	if a.ASG != nil {
		// asg.subnets is required by the schema; an empty list is not
		if len(a.ASG.Subnets) == 0 {
			required([]string{"aws", "asg", "subnets"}, "is required to launch instances: at least one subnet")
		}
		return probs
	}
	for _, n := range a.Nodes {
		if n.Subnet == "" {
			required([]string{"aws", "nodes", strconv.Itoa(n.Index), "subnet"}, "node %s needs a subnet", n.ID)
		}
	}
	return probs
}
