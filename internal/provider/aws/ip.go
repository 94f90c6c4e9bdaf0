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

// maxFilterValues is how many values one EC2 filter takes.
const maxFilterValues = 200

// launchIPHolders looks up, in one DescribeNetworkInterfaces, what holds
// the private IPs of the nodes about to be launched (by IP). EC2 gives
// every instance a network interface, so an IP held by an instance of
// another cluster, or by a bare network interface, shows up here before
// any launch. An IP held by one of the node's own dead instances (stopped,
// failed, shutting down) is not held: the engine terminates those before
// it launches the replacement.
func (p *ec2Provider) launchIPHolders(ctx context.Context, launch map[string]config.Node, observed []provider.Instance) (map[string]string, error) {
	var nodes []config.Node
	for _, n := range p.aws.Nodes {
		if _, ok := launch[n.ID]; ok && n.IP != "" {
			nodes = append(nodes, n)
		}
	}
	holders, err := p.ipHolders(ctx, nodes, observed)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		for _, i := range observed {
			if provider.Owns(i, n) && !i.State.Live() && i.State != provider.Stopping && i.IP == n.IP {
				delete(holders, n.IP)
			}
		}
	}
	return holders, nil
}

// ipHolders returns, for each node IP held by a network interface in the
// node's subnet, a description of the holder.
func (p *ec2Provider) ipHolders(ctx context.Context, nodes []config.Node, observed []provider.Instance) (map[string]string, error) {
	holders := map[string]string{}
	if len(nodes) == 0 {
		return holders, nil
	}
	bySubnetIP := map[[2]string]config.Node{}
	var subnets []string
	seenSubnet := map[string]bool{}
	for _, n := range nodes {
		bySubnetIP[[2]string{n.Subnet, n.IP}] = n
		if !seenSubnet[n.Subnet] {
			seenSubnet[n.Subnet] = true
			subnets = append(subnets, n.Subnet)
		}
	}
	ours := map[string]provider.Instance{}
	for _, i := range observed {
		if i.Foreign == "" {
			ours[i.ID] = i
		}
	}
	type held struct{ ip, eni, instance string }
	var found []held
	for start := 0; start < len(nodes); start += maxFilterValues {
		end := min(start+maxFilterValues, len(nodes))
		ips := make([]string, 0, end-start)
		for _, n := range nodes[start:end] {
			ips = append(ips, n.IP)
		}
		filters := []ec2types.Filter{filter("addresses.private-ip-address", ips...)}
		if len(subnets) <= maxFilterValues && subnets[0] != "" {
			filters = append(filters, filter("subnet-id", subnets...))
		}
		pages := ec2.NewDescribeNetworkInterfacesPaginator(p.ec2, &ec2.DescribeNetworkInterfacesInput{Filters: filters, MaxResults: aws.Int32(1000)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, wrapErr("check who holds the nodes' IPs", err)
			}
			for _, eni := range page.NetworkInterfaces {
				addrs := []string{aws.ToString(eni.PrivateIpAddress)}
				for _, a := range eni.PrivateIpAddresses {
					if ip := aws.ToString(a.PrivateIpAddress); ip != addrs[0] {
						addrs = append(addrs, ip)
					}
				}
				for _, ip := range addrs {
					n, ok := bySubnetIP[[2]string{aws.ToString(eni.SubnetId), ip}]
					if !ok {
						if n, ok = bySubnetIP[[2]string{"", ip}]; !ok {
							continue
						}
					}
					h := held{ip: n.IP, eni: aws.ToString(eni.NetworkInterfaceId)}
					if eni.Attachment != nil {
						h.instance = aws.ToString(eni.Attachment.InstanceId)
					}
					found = append(found, h)
				}
			}
		}
	}
	// Instances that are not this cluster's: one DescribeInstances for their tags.
	var others []string
	seen := map[string]bool{}
	for _, h := range found {
		if _, ok := ours[h.instance]; h.instance != "" && !ok && !seen[h.instance] {
			seen[h.instance] = true
			others = append(others, h.instance)
		}
	}
	foreign := map[string]ec2types.Instance{}
	if len(others) > 0 {
		pages := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{InstanceIds: others})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, wrapErr("look up the instances holding the nodes' IPs", err)
			}
			for _, r := range page.Reservations {
				for _, i := range r.Instances {
					foreign[aws.ToString(i.InstanceId)] = i
				}
			}
		}
	}
	for _, h := range found {
		// A terminated instance holds no IP any more, even while its
		// network interface is still listed.
		if fi, ok := foreign[h.instance]; ok && fi.State != nil && fi.State.Name == ec2types.InstanceStateNameTerminated {
			continue
		}
		holders[h.ip] = describeHolder(p.clusterName(), h.eni, h.instance, ours, foreign)
	}
	return holders, nil
}

func describeHolder(cluster, eni, instance string, ours map[string]provider.Instance, foreign map[string]ec2types.Instance) string {
	if instance == "" {
		return "network interface " + eni
	}
	if i, ok := ours[instance]; ok {
		node := i.NodeID
		if node == "" {
			node = "no node"
		}
		return fmt.Sprintf("instance %s of this cluster (node %s, %s)", instance, node, i.State)
	}
	fi, ok := foreign[instance]
	if !ok {
		return fmt.Sprintf("instance %s (network interface %s)", instance, eni)
	}
	tags := map[string]string{}
	for _, t := range fi.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	state := ""
	if fi.State != nil {
		state = string(fi.State.Name)
	}
	switch c := tags[provider.TagCluster]; {
	case c == cluster:
		return fmt.Sprintf("instance %s of this cluster (%s, %s)", instance, tags[provider.TagName], state)
	case c != "":
		return fmt.Sprintf("instance %s of cluster %s (%s, %s)", instance, c, tags[provider.TagName], state)
	case tags[provider.TagName] != "":
		return fmt.Sprintf("instance %s (%s, %s), not part of any cluster", instance, tags[provider.TagName], state)
	}
	return fmt.Sprintf("instance %s (%s), not part of any cluster", instance, state)
}
