package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// lookupEIPs describes the elastic IPs of the nodes about to be launched,
// in one DescribeAddresses filtered by allocation id (which leaves out the
// ones that do not exist instead of failing the call).
func (p *ec2Provider) lookupEIPs(ctx context.Context, nodes map[string]config.Node) (map[string]ec2types.Address, error) {
	var ids []string
	seen := map[string]bool{}
	for _, n := range p.aws.Nodes {
		if _, ok := nodes[n.ID]; ok && n.EIP != "" && !seen[n.EIP] {
			seen[n.EIP] = true
			ids = append(ids, n.EIP)
		}
	}
	found := map[string]ec2types.Address{}
	for start := 0; start < len(ids); start += maxFilterValues {
		chunk := ids[start:min(start+maxFilterValues, len(ids))]
		out, err := p.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: []ec2types.Filter{filter("allocation-id", chunk...)}})
		if err != nil {
			return nil, wrapErr("look up the nodes' elastic IPs", err)
		}
		for _, a := range out.Addresses {
			found[aws.ToString(a.AllocationId)] = a
		}
	}
	return found, nil
}

// checkEIPs checks the elastic IPs of the nodes about to be launched: each
// must exist (a config error with file:line) and be free, or held by one
// of the node's own dead instances that the launch replaces (else the
// association after the launch would fail: an error naming the holder).
func (p *ec2Provider) checkEIPs(nodes map[string]config.Node, addrs map[string]ec2types.Address, observed []provider.Instance) ([]config.Problem, []error) {
	var probs []config.Problem
	var errs []error
	for _, n := range p.aws.Nodes {
		if _, ok := nodes[n.ID]; !ok || n.EIP == "" {
			continue
		}
		a, ok := addrs[n.EIP]
		if !ok {
			probs = append(probs, p.cluster.Problem(append(n.Path("aws"), "eip"),
				"node %s: elastic IP allocation %s does not exist in region %s (`aws ec2 describe-addresses` lists them)", n.ID, n.EIP, p.region))
			continue
		}
		holder := aws.ToString(a.InstanceId)
		if holder == "" {
			if eni := aws.ToString(a.NetworkInterfaceId); eni != "" {
				errs = append(errs, nodeErr(n.ID, fmt.Errorf("elastic IP %s (%s) is associated with network interface %s: disassociate it, or give the node another eip", n.EIP, aws.ToString(a.PublicIp), eni)))
			}
			continue
		}
		if ownDead(holder, n, observed) {
			continue
		}
		errs = append(errs, nodeErr(n.ID, fmt.Errorf("elastic IP %s (%s) is associated with instance %s, which is not this node's: disassociate it, or give the node another eip", n.EIP, aws.ToString(a.PublicIp), holder)))
	}
	return probs, errs
}

// ownDead reports whether id is one of node n's dead instances (replaced,
// and so terminated, before the launch; termination frees its elastic IP).
func ownDead(id string, n config.Node, observed []provider.Instance) bool {
	for _, d := range provider.MatchNode(observed, n).Dead {
		if d.ID == id {
			return true
		}
	}
	return false
}
