package aws

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Waiter bounds and polling. EC2 takes seconds to tens of seconds to start
// or stop an instance; the waiter polls all instances in one call.
const (
	WaitRunningTimeout    = 15 * time.Minute
	WaitTerminatedTimeout = 15 * time.Minute
	waitMinDelay          = 2 * time.Second
	waitMaxDelay          = 15 * time.Second
	maxInstanceIDs        = 1000 // instance ids per DescribeInstances
)

// WaitRunning waits, with one waiter over all instances, until they run,
// then associates elastic IPs and turns the source/destination check off
// where configured, and returns the instances as EC2 now reports them.
func (p *ec2Provider) WaitRunning(ctx context.Context, instances []provider.Instance) ([]provider.Instance, error) {
	if len(instances) == 0 {
		return nil, nil
	}
	ids := make([]string, len(instances))
	for i, in := range instances {
		ids[i] = in.ID
	}
	byID := map[string]provider.Instance{}
	for start := 0; start < len(ids); start += maxInstanceIDs {
		chunk := ids[start:min(start+maxInstanceIDs, len(ids))]
		w := ec2.NewInstanceRunningWaiter(p.ec2, func(o *ec2.InstanceRunningWaiterOptions) {
			o.MinDelay, o.MaxDelay = waitMinDelay, waitMaxDelay
		})
		out, err := w.WaitForOutput(ctx, &ec2.DescribeInstancesInput{InstanceIds: chunk}, WaitRunningTimeout)
		if err != nil {
			return nil, wrapErr("wait until the instances run", err)
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				byID[aws.ToString(i.InstanceId)] = toInstance(p.clusterName(), i)
			}
		}
	}
	result := make([]provider.Instance, len(instances))
	for i, in := range instances {
		got, ok := byID[in.ID]
		if !ok {
			got = in
		}
		if got.NodeID == "" {
			got.NodeID = in.NodeID
		}
		result[i] = got
	}
	nodes := map[string]config.Node{}
	for _, n := range p.aws.Nodes {
		nodes[n.ID] = n
	}
	err := forEach(ctx, len(result), p.parallel(), func(ctx context.Context, i int) error {
		in := result[i]
		n := nodes[in.NodeID]
		if n.EIP != "" {
			if _, err := p.ec2.AssociateAddress(ctx, &ec2.AssociateAddressInput{
				InstanceId: aws.String(in.ID), AllocationId: aws.String(n.EIP), AllowReassociation: aws.Bool(false),
			}); err != nil {
				return nodeErr(in.NodeID, wrapErr("associate elastic IP "+n.EIP+" with "+in.ID, err))
			}
		}
		if !p.aws.SourceDestCheck {
			if _, err := p.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
				InstanceId: aws.String(in.ID), SourceDestCheck: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)},
			}); err != nil {
				return nodeErr(in.NodeID, wrapErr("turn the source/destination check off on "+in.ID, err))
			}
		}
		return nil
	})
	return result, err
}

// WaitTerminated waits, with one waiter, until the instances are terminated.
func (p *ec2Provider) WaitTerminated(ctx context.Context, ids []string) error {
	for start := 0; start < len(ids); start += maxInstanceIDs {
		chunk := ids[start:min(start+maxInstanceIDs, len(ids))]
		w := ec2.NewInstanceTerminatedWaiter(p.ec2, func(o *ec2.InstanceTerminatedWaiterOptions) {
			o.MinDelay, o.MaxDelay = waitMinDelay, waitMaxDelay
		})
		if err := w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: chunk}, WaitTerminatedTimeout); err != nil {
			return wrapErr("wait until the instances are terminated", err)
		}
	}
	return nil
}
