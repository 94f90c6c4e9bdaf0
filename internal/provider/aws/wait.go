package aws

import (
	"context"
	"fmt"
	"strings"
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
// where configured, and returns the instances as EC2 now reports them. An
// instance for which a step failed is left out of the result and named in
// a provider.InstanceErrors; a failed wait is one error for all.
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
	errs := make([]error, len(result))
	_ = forEach(ctx, len(result), p.parallel(), func(ctx context.Context, i int) error {
		errs[i] = p.afterLaunch(ctx, result[i], nodes[result[i].NodeID])
		return nil
	})
	ok := make([]provider.Instance, 0, len(result))
	failed := provider.InstanceErrors{}
	for i, in := range result {
		if errs[i] != nil {
			failed[in.ID] = errs[i]
			continue
		}
		ok = append(ok, in)
	}
	if len(failed) > 0 {
		return ok, failed
	}
	return ok, nil
}

// afterLaunch applies what follows a launch: the node's elastic IP and the
// source/destination check.
func (p *ec2Provider) afterLaunch(ctx context.Context, in provider.Instance, n config.Node) error {
	if n.EIP != "" {
		if err := p.associate(ctx, in.ID, n.EIP); err != nil {
			return nodeErr(in.NodeID, err)
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
}

// associate associates an elastic IP with an instance. An answer that the
// address is already associated is success when it is associated with
// this instance: a retry of a call whose first answer was lost.
func (p *ec2Provider) associate(ctx context.Context, instance, eip string) error {
	_, err := p.ec2.AssociateAddress(ctx, &ec2.AssociateAddressInput{
		InstanceId: aws.String(instance), AllocationId: aws.String(eip), AllowReassociation: aws.Bool(false),
	})
	if err != nil && isCode(err, "Resource.AlreadyAssociated") {
		out, derr := p.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: []ec2types.Filter{filter("allocation-id", eip)}})
		if derr == nil && len(out.Addresses) == 1 && aws.ToString(out.Addresses[0].InstanceId) == instance {
			return nil
		}
	}
	return wrapErr("associate elastic IP "+eip+" with "+instance, err)
}

// WaitTerminated waits until the instances are terminated, polling them
// all with one DescribeInstances filtered by id: an instance EC2 no longer
// lists is gone, which counts as terminated (the SDK's waiter would fail
// on it instead).
func (p *ec2Provider) WaitTerminated(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, WaitTerminatedTimeout)
	defer cancel()
	delay := waitMinDelay
	for {
		states, err := p.states(ctx, ids)
		if err != nil {
			return wrapErr("wait until the instances are terminated", err)
		}
		var left []string
		for _, id := range ids {
			if s, ok := states[id]; ok && s != ec2types.InstanceStateNameTerminated {
				left = append(left, id)
			}
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait until the instances are terminated: %d still not terminated after %s (%s): %w", len(left), WaitTerminatedTimeout, strings.Join(left, ", "), ctx.Err())
		case <-time.After(delay):
		}
		ids = left
		delay = min(delay*2, waitMaxDelay)
	}
}
