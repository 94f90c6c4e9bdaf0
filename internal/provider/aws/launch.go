package aws

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// ErrNotPrepared is returned by Launch and EnsureGroup before Prepare.
var ErrNotPrepared = errors.New("the provider was not prepared (Prepare must run before Launch)")

// Launch starts one node with one RunInstances that carries everything the
// original sent plus the tags (instance and volumes, at launch), paced to
// EC2's RunInstances bucket. A node IP held by anything but this cluster's
// instance for that node is an *provider.IPInUseError and nothing is
// launched.
func (p *ec2Provider) Launch(ctx context.Context, spec provider.LaunchSpec) (provider.Instance, error) {
	p.mu.Lock()
	prep := p.prepared
	observed := make([]provider.Instance, 0, len(p.observed))
	for _, i := range p.observed {
		observed = append(observed, i)
	}
	p.mu.Unlock()
	if prep == nil {
		return provider.Instance{}, ErrNotPrepared
	}
	n := spec.Node
	if err := p.Ensure(ctx); err != nil {
		return provider.Instance{}, nodeErr(n.ID, err)
	}
	if n.IP != "" {
		holder, checked := prep.holders[n.IP], prep.checkedIPs[n.IP]
		if !checked {
			h, err := p.ipHolders(ctx, []config.Node{n}, observed)
			if err != nil {
				return provider.Instance{}, nodeErr(n.ID, err)
			}
			holder = h[n.IP]
		}
		if holder != "" {
			return provider.Instance{}, nodeErr(n.ID, &provider.IPInUseError{IP: n.IP, Holder: holder})
		}
	}

	in := p.runInstancesInput(spec, prep)
	out, err := p.ec2.RunInstances(ctx, in)
	if err != nil {
		if isCode(err, "InvalidIPAddress.InUse") && n.IP != "" {
			// Taken between the check and the launch: say by what.
			if h, herr := p.ipHolders(ctx, []config.Node{n}, observed); herr == nil && h[n.IP] != "" {
				return provider.Instance{}, nodeErr(n.ID, &provider.IPInUseError{IP: n.IP, Holder: h[n.IP]})
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

// runInstancesInput builds the RunInstances call for a node.
func (p *ec2Provider) runInstancesInput(spec provider.LaunchSpec, prep *prepared) *ec2.RunInstancesInput {
	a, n := p.aws, spec.Node
	// The primary network interface is spelled out (the same as SubnetId,
	// PrivateIpAddress and SecurityGroupIds at the top level, which EC2
	// turns into it) so that its deletion with the instance is explicit:
	// the node's IP is free again once the instance is terminated.
	nic := ec2types.InstanceNetworkInterfaceSpecification{
		DeviceIndex:         aws.Int32(0),
		Groups:              a.SecurityGroups,
		DeleteOnTermination: aws.Bool(true),
	}
	if n.Subnet != "" {
		nic.SubnetId = aws.String(n.Subnet)
	}
	if n.IP != "" {
		nic.PrivateIpAddress = aws.String(n.IP)
	}
	in := &ec2.RunInstancesInput{
		ImageId:               aws.String(prep.image.ID),
		MinCount:              aws.Int32(1),
		MaxCount:              aws.Int32(1),
		InstanceType:          ec2types.InstanceType(a.InstanceType),
		NetworkInterfaces:     []ec2types.InstanceNetworkInterfaceSpecification{nic},
		BlockDeviceMappings:   prep.devices,
		DisableApiTermination: aws.Bool(a.TerminateProtection),
		Monitoring:            &ec2types.RunInstancesMonitoringEnabled{Enabled: aws.Bool(a.DetailedMonitoring)},
		EbsOptimized:          aws.Bool(a.EBSOptimized),
	}
	if a.KeyPair != "" {
		in.KeyName = aws.String(a.KeyPair)
	}
	if spec.UserData != "" {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(spec.UserData)))
	}
	if prep.profile != "" {
		in.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(prep.profile)}
	}
	hash := p.specHash(spec, prep, nodeName(p.clusterName(), n.ID))
	tags := p.tags(spec.Cluster, n.ID, spec.Generation, hash)
	in.TagSpecifications = []ec2types.TagSpecification{
		{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
		{ResourceType: ec2types.ResourceTypeNetworkInterface, Tags: tags},
	}
	if len(prep.devices) > 0 {
		in.TagSpecifications = append(in.TagSpecifications, ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeVolume, Tags: tags})
	}
	in.ClientToken = aws.String(p.clientToken(spec, hash))
	return in
}

func nodeName(cluster, node string) string { return cluster + "-" + node }

// tags are the tags put on an instance and its volumes at launch:
// ClusterName and Name as the original, aws.tags (ours win on a clash),
// and the tool's own.
func (p *ec2Provider) tags(cluster provider.ClusterID, node, generation, spec string) []ec2types.Tag {
	own := []ec2types.Tag{
		{Key: aws.String(provider.TagCluster), Value: aws.String(p.clusterName())},
		{Key: aws.String(provider.TagName), Value: aws.String(nodeName(p.clusterName(), node))},
	}
	var tool []ec2types.Tag
	if node != "" {
		tool = append(tool, ec2types.Tag{Key: aws.String(provider.TagNode), Value: aws.String(node)})
	}
	if cluster.Env != "" {
		tool = append(tool, ec2types.Tag{Key: aws.String(provider.TagEnv), Value: aws.String(cluster.Env)})
	}
	if generation != "" {
		tool = append(tool, ec2types.Tag{Key: aws.String(provider.TagGeneration), Value: aws.String(generation)})
	}
	if spec != "" {
		tool = append(tool, ec2types.Tag{Key: aws.String(provider.TagSpec), Value: aws.String(spec)})
	}
	taken := map[string]bool{}
	for _, t := range append(own, tool...) {
		taken[*t.Key] = true
	}
	out := own
	for _, kv := range p.aws.Tags {
		if !taken[kv.Key] {
			out = append(out, ec2types.Tag{Key: aws.String(kv.Key), Value: aws.String(kv.Value)})
		}
	}
	return append(out, tool...)
}

// specHash hashes what defines a node's server: image, type, user data,
// volumes (without the snapshot they start from: data, not definition),
// network, security groups, profile, key pair, flags and the user's tags.
func (p *ec2Provider) specHash(spec provider.LaunchSpec, prep *prepared, name string) string {
	var vols []string
	for _, d := range prep.devices {
		v := aws.ToString(d.DeviceName) + "=" + aws.ToString(d.VirtualName)
		if e := d.Ebs; e != nil {
			v += fmt.Sprintf(":%d:%s:%d:%d:%t", aws.ToInt32(e.VolumeSize), e.VolumeType, aws.ToInt32(e.Iops), aws.ToInt32(e.Throughput), aws.ToBool(e.DeleteOnTermination))
		}
		vols = append(vols, v)
	}
	userTags, _ := json.Marshal(p.aws.Tags)
	a := p.aws
	return provider.SpecHash(
		prep.image.ID, a.InstanceType, spec.UserData, strings.Join(vols, ","),
		spec.Node.Subnet, spec.Node.IP, strings.Join(a.SecurityGroups, ","), prep.profile, a.KeyPair,
		strconv.FormatBool(a.TerminateProtection), strconv.FormatBool(a.DetailedMonitoring), strconv.FormatBool(a.EBSOptimized),
		string(userTags), name,
	)
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
func (p *ec2Provider) clientToken(spec provider.LaunchSpec, hash string) string {
	t := provider.SpecHash(spec.Cluster.Name, spec.Cluster.Env, spec.Node.ID, hash, p.nonce)
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
