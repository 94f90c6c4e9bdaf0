package aws

import (
	"context"
	"net/netip"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// The cluster's own network is the VPCs of its configured subnets (the
// nodes' subnets; in ASG mode aws.asg.subnets). An instance carrying the
// cluster's name in any other VPC belongs to someone else — another project
// that happens to use the same name — and is reported as foreign, never
// touched. A cluster that configures no subnet at all would launch into
// the region's default VPC, so that is its network then.

// subnet is a configured subnet as EC2 reports it.
type subnet struct {
	ID   string
	VPC  string
	CIDR netip.Prefix
	// Zone is its availability zone: where hardware is resolved for the
	// nodes in it.
	Zone string
}

// configuredSubnets are the subnet ids the config names, each once, in
// config order: the static nodes', then the node groups' (or in ASG mode
// aws.asg.subnets).
func (p *ec2Provider) configuredSubnets() []string {
	var ids []string
	if p.GroupMode() {
		ids = p.aws.ASG.Subnets
	} else {
		for _, n := range p.aws.Nodes {
			ids = append(ids, n.Subnet)
		}
		for _, g := range p.cluster.Groups() {
			ids = append(ids, g.Subnets...)
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// lookupSubnets describes the configured subnets, once per provider (one
// command run): one DescribeSubnets filtered by id, which answers for the
// subnets that exist and leaves the others out (asking by SubnetIds would
// fail the whole call on the first missing one).
func (p *ec2Provider) lookupSubnets(ctx context.Context) (map[string]subnet, error) {
	p.netMu.Lock()
	defer p.netMu.Unlock()
	if p.subnets != nil {
		return p.subnets, nil
	}
	ids := p.configuredSubnets()
	found := map[string]subnet{}
	for start := 0; start < len(ids); start += maxFilterValues {
		chunk := ids[start:min(start+maxFilterValues, len(ids))]
		pages := ec2.NewDescribeSubnetsPaginator(p.ec2, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("subnet-id", chunk...)}})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, wrapErr("look up the configured subnets", err)
			}
			for _, s := range page.Subnets {
				sn := subnet{ID: aws.ToString(s.SubnetId), VPC: aws.ToString(s.VpcId), Zone: aws.ToString(s.AvailabilityZone)}
				if pr, err := netip.ParsePrefix(aws.ToString(s.CidrBlock)); err == nil {
					sn.CIDR = pr
				}
				found[sn.ID] = sn
			}
		}
	}
	p.subnets = found
	for id, s := range found {
		p.vpcOf[id] = s.VPC
	}
	return found, nil
}

// clusterVPCs returns the VPCs of the cluster's own network. seen maps
// subnets to VPCs as observed instances report them: an instance in a
// configured subnet tells that subnet's VPC for free, so a cluster whose
// every subnet holds one of its instances costs no call. Otherwise one
// DescribeSubnets (lookupSubnets), or, without configured subnets, one
// DescribeVpcs for the default VPC.
func (p *ec2Provider) clusterVPCs(ctx context.Context, seen map[string]string) (map[string]bool, error) {
	ids := p.configuredSubnets()
	p.netMu.Lock()
	for _, id := range ids {
		if v, ok := seen[id]; ok && v != "" {
			p.vpcOf[id] = v
		}
	}
	missing := false
	vpcs := map[string]bool{}
	for _, id := range ids {
		if v, ok := p.vpcOf[id]; ok {
			vpcs[v] = true
		} else {
			missing = true
		}
	}
	looked := p.subnets != nil
	p.netMu.Unlock()

	if len(ids) == 0 {
		return p.defaultVPC(ctx)
	}
	if missing && !looked {
		subnets, err := p.lookupSubnets(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range subnets {
			vpcs[s.VPC] = true
		}
	}
	return vpcs, nil
}

// vpcsOf is clusterVPCs told what the given instances show about the
// configured subnets' VPCs.
func (p *ec2Provider) vpcsOf(ctx context.Context, raw []ec2types.Instance) (map[string]bool, error) {
	seen := map[string]string{}
	for _, i := range raw {
		seen[aws.ToString(i.SubnetId)] = aws.ToString(i.VpcId)
	}
	return p.clusterVPCs(ctx, seen)
}

// defaultVPC is the network of a cluster without configured subnets.
func (p *ec2Provider) defaultVPC(ctx context.Context) (map[string]bool, error) {
	out, err := p.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{filter("is-default", "true")}})
	if err != nil {
		return nil, wrapErr("look up the default VPC (the cluster configures no subnet)", err)
	}
	vpcs := map[string]bool{}
	for _, v := range out.Vpcs {
		vpcs[aws.ToString(v.VpcId)] = true
	}
	return vpcs, nil
}

// checkNetwork checks, before anything is created, that every configured
// subnet exists, every node IP lies inside its subnet and every node
// group's subnets lie in the zones it names: wrong config values, reported
// with file:line.
func (p *ec2Provider) checkNetwork(subnets map[string]subnet) []config.Problem {
	var probs []config.Problem
	if p.GroupMode() {
		for i, id := range p.aws.ASG.Subnets {
			if _, ok := subnets[id]; !ok && id != "" {
				probs = append(probs, p.cluster.Problem([]string{"aws", "asg", "subnets", strconv.Itoa(i)}, "subnet %s does not exist in region %s", id, p.region))
			}
		}
		return probs
	}
	for _, g := range p.cluster.Groups() {
		for i, id := range g.Subnets {
			s, ok := subnets[id]
			switch {
			case !ok && id != "":
				probs = append(probs, p.cluster.Problem([]string{"groups", g.Name, "subnets", strconv.Itoa(i)},
					"group %s: subnet %s does not exist in region %s (check the id, the region and AWS_REGION)", g.Name, id, p.region))
			case ok && i < len(g.Zones) && s.Zone != "" && g.Zones[i] != s.Zone:
				probs = append(probs, p.cluster.Problem([]string{"groups", g.Name, "zones"},
					"group %s: zone %s is paired with subnet %s, which lies in %s: list the zones in the order of the subnets", g.Name, g.Zones[i], id, s.Zone))
			}
		}
	}
	for _, n := range p.aws.Nodes {
		if n.Subnet == "" {
			continue // checkLaunchConfig reports it
		}
		s, ok := subnets[n.Subnet]
		if !ok {
			probs = append(probs, p.cluster.Problem(append(n.Path("aws"), "subnet"),
				"node %s: subnet %s does not exist in region %s (check the id, the region and AWS_REGION)", n.ID, n.Subnet, p.region))
			continue
		}
		if n.IP == "" || !s.CIDR.IsValid() {
			continue
		}
		ip, err := netip.ParseAddr(n.IP)
		switch {
		case err != nil:
			probs = append(probs, p.cluster.Problem(append(n.Path("aws"), "ip"), "node %s: %q is not an IP address", n.ID, n.IP))
		case !s.CIDR.Contains(ip):
			probs = append(probs, p.cluster.Problem(append(n.Path("aws"), "ip"),
				"node %s: IP %s is outside its subnet %s (%s)", n.ID, n.IP, n.Subnet, s.CIDR))
		case reservedIP(s.CIDR, ip):
			probs = append(probs, p.cluster.Problem(append(n.Path("aws"), "ip"),
				"node %s: IP %s is reserved by AWS in subnet %s (%s): the first four addresses and the last one of a subnet cannot be used", n.ID, n.IP, n.Subnet, s.CIDR))
		}
	}
	return probs
}

// reservedIP reports the addresses AWS reserves in every subnet: the
// first four and the last ("Subnet CIDR blocks", Amazon VPC User Guide).
func reservedIP(cidr netip.Prefix, ip netip.Addr) bool {
	if !ip.Is4() || !cidr.Addr().Is4() {
		return false
	}
	base := cidr.Masked().Addr().As4()
	b := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	a4 := ip.As4()
	x := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
	size := uint32(1) << (32 - cidr.Bits())
	off := x - b
	return off < 4 || off == size-1
}
