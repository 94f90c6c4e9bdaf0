package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Exports of the load balancer test helpers for package aws_test.
var (
	NewTargetGroup = newTargetGroup
	NewELBClient   = newELBClient
)

// tgOptions say what kind of target group newTargetGroup makes.
type tgOptions struct {
	typ    elbtypes.TargetTypeEnum // default instance
	vpc    string                  // default the world's
	unused bool                    // no load balancer forwards to it
}

// TGOptions is tgOptions for package aws_test.
type TGOptions = tgOptions

func newELBClient(t *testing.T) *elb.Client {
	t.Helper()
	return elb.NewFromConfig(mustConfig(t))
}

// newTargetGroup makes an HTTP target group on port 80 in w's VPC and,
// unless opts.unused, an application load balancer in w's subnets with a
// listener that forwards to it (ELBv2 reports the targets of a group no
// load balancer uses as unused, never healthy). It returns the group's ARN.
func newTargetGroup(t *testing.T, ctx context.Context, w *world, opts tgOptions) string {
	t.Helper()
	c := newELBClient(t)
	if opts.typ == "" {
		opts.typ = elbtypes.TargetTypeEnumInstance
	}
	if opts.vpc == "" {
		opts.vpc = w.vpc
	}
	tg, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String(uniq("tg")), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		VpcId: aws.String(opts.vpc), TargetType: opts.typ,
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if opts.unused {
		return arn
	}
	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String(uniq("alb")), Subnets: []string{w.subnet, w.subnet2},
		SecurityGroups: []string{w.sg}, Type: elbtypes.LoadBalancerTypeEnumApplication,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(arn)}},
	}); err != nil {
		t.Fatal(err)
	}
	return arn
}
