package aws

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// notTerminated are the instance states Instances reports.
var notTerminated = []string{"pending", "running", "shutting-down", "stopping", "stopped"}

// Instances returns the cluster's instances that are not terminated, found
// by the ClusterName tag (never by IP alone) in one filtered, paginated
// DescribeInstances, of the cluster's environment only: the
// cloud-compose:env tag equals it, or, for the default environment, is
// absent (instances of the Python original have none). Instances with the
// tag outside the cluster's own network (see clusterVPCs) are returned
// with Foreign set to their VPC: someone else's, shown but never touched.
func (p *ec2Provider) Instances(ctx context.Context, cluster provider.ClusterID) ([]provider.Instance, error) {
	filters := []ec2types.Filter{
		filter("tag:"+provider.TagCluster, cluster.Name),
		filter("instance-state-name", notTerminated...),
	}
	if cluster.Env != "" {
		filters = append(filters, filter("tag:"+provider.TagEnv, cluster.Env))
	}
	in := &ec2.DescribeInstancesInput{Filters: filters, MaxResults: aws.Int32(1000)}
	var raw []ec2types.Instance
	pages := ec2.NewDescribeInstancesPaginator(p.ec2, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("find the cluster's instances", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				// EC2 cannot filter on a missing tag: the default
				// environment's are told apart here (and the named one's
				// checked again)
				if tagOf(i.Tags, provider.TagEnv) == cluster.Env {
					raw = append(raw, i)
				}
			}
		}
	}
	out := make([]provider.Instance, 0, len(raw))
	if len(raw) > 0 {
		vpcs, err := p.vpcsOf(ctx, raw)
		if err != nil {
			return nil, err
		}
		for _, i := range raw {
			inst := toInstance(cluster.Name, i)
			if v := aws.ToString(i.VpcId); !vpcs[v] {
				inst.Foreign = v
				if v == "" {
					inst.Foreign = "no VPC"
				}
			}
			out = append(out, inst)
		}
	}
	return out, nil
}

// toInstance converts an EC2 instance. Instances launched by the Python
// original have no cloud-compose:node tag; their node id comes from the
// Name tag <cluster>-<id>.
func toInstance(cluster string, i ec2types.Instance) provider.Instance {
	tags := map[string]string{}
	for _, t := range i.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	inst := provider.Instance{
		ID:         aws.ToString(i.InstanceId),
		NodeID:     tags[provider.TagNode],
		IP:         aws.ToString(i.PrivateIpAddress),
		Image:      aws.ToString(i.ImageId),
		Type:       string(i.InstanceType),
		Launched:   aws.ToTime(i.LaunchTime),
		Spec:       tags[provider.TagSpec],
		Tags:       tags,
		Generation: tags[provider.TagGeneration],
	}
	if i.State != nil {
		inst.State = provider.State(i.State.Name)
	}
	if inst.NodeID == "" {
		if name, ok := strings.CutPrefix(tags[provider.TagName], cluster+"-"); ok && tags[provider.TagCluster] == cluster {
			inst.NodeID = name
		}
	}
	return inst
}

// tagOf returns the value of tag key ("" when absent).
func tagOf(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
