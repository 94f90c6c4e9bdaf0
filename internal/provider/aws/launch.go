package aws

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Launch starts one node with one RunInstances built entirely from the
// launch's spec — everything the original sent plus the tags (instance,
// network interface and volumes, at launch), among them TagSpec =
// ls.Spec.Tag() — paced to EC2's RunInstances bucket. It needs nothing
// from an earlier Resolve (the engine leaves out the nodes Resolve found
// blocked). When EC2 refuses the IP as in use, the error is an
// *provider.IPInUseError naming the holder.
func (p *ec2Provider) Launch(ctx context.Context, ls provider.LaunchSpec) (provider.Instance, error) {
	n := ls.Node
	if err := p.Ensure(ctx); err != nil {
		return provider.Instance{}, nodeErr(n.ID, err)
	}
	in := p.runInstancesInput(ls)
	out, err := p.ec2.RunInstances(ctx, in)
	if err != nil {
		if ip := ls.Spec.IP; isCode(err, "InvalidIPAddress.InUse") && ip != "" {
			// Taken since Resolve looked: say by what.
			node := n
			node.IP, node.Subnet = ip, ls.Spec.Subnet
			if h, herr := p.ipHolders(ctx, []config.Node{node}, nil); herr == nil && h[ip] != "" {
				return provider.Instance{}, nodeErr(n.ID, &provider.IPInUseError{IP: ip, Holder: h[ip]})
			}
		}
		return provider.Instance{}, nodeErr(n.ID, wrapErr("", err))
	}
	if len(out.Instances) == 0 {
		return provider.Instance{}, nodeErr(n.ID, fmt.Errorf("ec2 RunInstances returned no instance"))
	}
	inst := toInstance(p.clusterName(), out.Instances[0])
	if inst.NodeID == "" { // tags are not echoed by every endpoint
		inst.NodeID = n.ID
	}
	if inst.Spec == "" {
		inst.Spec = tagValue(in.TagSpecifications, provider.TagSpec)
	}
	return inst, nil
}

// runInstancesInput builds the RunInstances call for a launch from its
// spec alone (the cluster and node name the tags).
func (p *ec2Provider) runInstancesInput(ls provider.LaunchSpec) *ec2.RunInstancesInput {
	s := ls.Spec
	// The primary network interface is spelled out (the same as SubnetId,
	// PrivateIpAddress and SecurityGroupIds at the top level, which EC2
	// turns into it) so that its deletion with the instance is explicit:
	// the node's IP is free again once the instance is terminated.
	nic := ec2types.InstanceNetworkInterfaceSpecification{
		DeviceIndex:         aws.Int32(0),
		Groups:              s.SecurityGroups,
		DeleteOnTermination: aws.Bool(true),
	}
	if s.Subnet != "" {
		nic.SubnetId = aws.String(s.Subnet)
	}
	if s.IP != "" {
		nic.PrivateIpAddress = aws.String(s.IP)
	}
	devices := blockDevices(s.Volumes)
	in := &ec2.RunInstancesInput{
		ImageId:               aws.String(s.Image),
		MinCount:              aws.Int32(1),
		MaxCount:              aws.Int32(1),
		InstanceType:          ec2types.InstanceType(s.InstanceType),
		NetworkInterfaces:     []ec2types.InstanceNetworkInterfaceSpecification{nic},
		BlockDeviceMappings:   devices,
		DisableApiTermination: aws.Bool(s.Flags.TerminateProtection),
		Monitoring:            &ec2types.RunInstancesMonitoringEnabled{Enabled: aws.Bool(s.Flags.Monitoring)},
		EbsOptimized:          aws.Bool(s.Flags.EBSOptimized),
	}
	if s.KeyPair != "" {
		in.KeyName = aws.String(s.KeyPair)
	}
	if s.UserData != "" {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(s.UserData)))
	}
	if s.Profile != "" {
		in.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(s.Profile)}
	}
	tags := p.tags(ls.Cluster, ls.Node.ID, ls.Generation, s.Tag(), s.Tags)
	in.TagSpecifications = []ec2types.TagSpecification{
		{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
		{ResourceType: ec2types.ResourceTypeNetworkInterface, Tags: tags},
	}
	if len(devices) > 0 {
		in.TagSpecifications = append(in.TagSpecifications, ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeVolume, Tags: tags})
	}
	in.ClientToken = aws.String(p.clientToken(ls, s.Hash()))
	return in
}

// tags are the tags put on an instance and its volumes at launch:
// ClusterName and Name as the original, the user's tags (the spec's, from
// aws.tags; ours win on a clash), and the tool's own.
func (p *ec2Provider) tags(cluster provider.ClusterID, node, generation, spec string, user []config.KeyValue) []ec2types.Tag {
	kvs := provider.LaunchTags(provider.ClusterID{Name: p.clusterName(), Env: cluster.Env}, node, generation, spec, user)
	out := make([]ec2types.Tag, len(kvs))
	for i, kv := range kvs {
		out[i] = ec2types.Tag{Key: aws.String(kv.Key), Value: aws.String(kv.Value)}
	}
	return out
}

// clientToken is the RunInstances idempotency token: cluster, node and
// spec, plus a nonce drawn once per provider (one command run). Retries of
// the call — the SDK's, with the same token — never make a second
// instance. The nonce is there because EC2 keeps answering a token with
// the instance it made for at least a day after that instance is
// terminated (see "Ensuring idempotency", RunInstances idempotency,
// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html):
// without it, relaunching a terminated node with an unchanged spec would
// return the dead instance. Across runs, the tags at launch make the
// instance visible to the next run's DescribeInstances instead. EC2 takes
// at most 64 ASCII characters.
func (p *ec2Provider) clientToken(ls provider.LaunchSpec, hash string) string {
	t := provider.SpecHash(ls.Cluster.Name, ls.Cluster.Env, ls.Node.ID, hash, p.nonce)
	return "cc-" + t + "-" + p.nonce
}

func tagValue(specs []ec2types.TagSpecification, key string) string {
	for _, s := range specs {
		for _, t := range s.Tags {
			if aws.ToString(t.Key) == key {
				return aws.ToString(t.Value)
			}
		}
	}
	return ""
}
