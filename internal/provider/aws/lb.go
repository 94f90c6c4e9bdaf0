package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// A cluster's static nodes join the user's ELBv2 target groups
// (cluster.load_balancer.target_groups) as instance targets on
// load_balancer.target_port. The target groups, their load balancers and
// listeners are the user's: the provider only registers and deregisters
// targets, and checks the groups before a run uses them.

var _ provider.LoadBalancer = (*ec2Provider)(nil)

// Bounds of the load balancer waits. Variables, so that tests can shorten
// them.
var (
	// RegisterTimeout bounds the wait for a registered node to be in
	// service in every target group (the rollout's healthy deadline is not
	// known to the provider): the group's health checks must pass,
	// healthy_threshold_count times interval_seconds.
	RegisterTimeout = 5 * time.Minute
	// DeregisterMargin is added to load_balancer.drain for the API's own
	// delay in reporting a drained target unused.
	DeregisterMargin = 5 * time.Second
)

// Polling of the target waiters. Registration takes at least two health
// check intervals (5 s or more each); deregistration is polled faster, as
// its bound (drain) is short.
const (
	registerMinDelay   = 2 * time.Second
	registerMaxDelay   = 15 * time.Second
	deregisterMinDelay = 1 * time.Second
	deregisterMaxDelay = 5 * time.Second
)

// LBStateActive is the LBStatus state of target groups (aws).
const LBStateActive = "active"

// ErrTargetGroup is wrapped when a configured target group cannot take the
// cluster's nodes (missing, not of target type instance, in another VPC,
// used by no load balancer).
var ErrTargetGroup = errors.New("target group cannot take the cluster's nodes")

// LoadBalancerEnabled reports whether the cluster's static nodes join
// target groups (cluster.load_balancer.target_groups); the config check
// refuses load_balancer with aws.asg.
func (p *ec2Provider) LoadBalancerEnabled() bool {
	lb := p.cluster.LoadBalancer
	return lb != nil && len(lb.TargetGroups) > 0 && !p.GroupMode()
}

func (p *ec2Provider) targetGroups() []string { return p.cluster.LoadBalancer.TargetGroups }

// target is the node's instance as a target: its id and
// load_balancer.target_port (0: the group's port). Deregistering needs the
// port a target was registered with: without it ELBv2 answers success and
// deregisters nothing.
func (p *ec2Provider) target(id string) elbtypes.TargetDescription {
	t := elbtypes.TargetDescription{Id: aws.String(id)}
	if port := p.cluster.LoadBalancer.TargetPort; port > 0 {
		t.Port = aws.Int32(int32(port))
	}
	return t
}

// EnsureLoadBalancer checks, with one DescribeTargetGroups, that every
// configured target group exists, takes instance targets, lies in the
// cluster's VPC and is used by a load balancer (otherwise its targets
// never come in service: ELBv2 reports them unused, Target.NotInUse), and
// returns the groups' targets. It creates nothing.
func (p *ec2Provider) EnsureLoadBalancer(ctx context.Context, cluster provider.ClusterID) (provider.LBStatus, error) {
	arns := p.targetGroups()
	groups, err := p.describeTargetGroups(ctx, arns)
	if err != nil {
		return provider.LBStatus{}, err
	}
	vpcs, err := p.clusterVPCs(ctx, nil)
	if err != nil {
		return provider.LBStatus{}, err
	}
	var errs []error
	for _, arn := range arns {
		tg := groups[arn]
		if tg == nil {
			errs = append(errs, fmt.Errorf("%w: %s does not exist in region %s", ErrTargetGroup, arn, p.region))
			continue
		}
		if tg.TargetType != elbtypes.TargetTypeEnumInstance {
			errs = append(errs, fmt.Errorf("%w: %s has target type %s; the nodes join as instances (target type instance)", ErrTargetGroup, arn, tg.TargetType))
		}
		vpc := aws.ToString(tg.VpcId)
		var other []string
		for v := range vpcs {
			if v != vpc {
				other = append(other, v)
			}
		}
		if len(other) > 0 {
			sort.Strings(other)
			errs = append(errs, fmt.Errorf("%w: %s is in %s, the cluster's nodes in %s", ErrTargetGroup, arn, vpc, strings.Join(other, ", ")))
		}
		if len(tg.LoadBalancerArns) == 0 {
			errs = append(errs, fmt.Errorf("%w: %s is used by no load balancer (no listener or rule forwards to it), so its targets would never come in service", ErrTargetGroup, arn))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return provider.LBStatus{}, err
	}
	st, err := p.lbStatus(ctx)
	if err != nil {
		return provider.LBStatus{}, err
	}
	return *st, nil
}

// describeTargetGroups describes the groups in one call. ELBv2 fails the
// whole call when one is missing (TargetGroupNotFound, naming none) or
// malformed (ValidationError); then each is described alone to tell which:
// the missing ones are left out of the result, a malformed ARN is an error.
func (p *ec2Provider) describeTargetGroups(ctx context.Context, arns []string) (map[string]*elbtypes.TargetGroup, error) {
	found := map[string]*elbtypes.TargetGroup{}
	out, err := p.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: arns})
	if err == nil {
		for i := range out.TargetGroups {
			found[aws.ToString(out.TargetGroups[i].TargetGroupArn)] = &out.TargetGroups[i]
		}
		return found, nil
	}
	if !isCode(err, "TargetGroupNotFound") && !isCode(err, "ValidationError") {
		return nil, wrapErr("describe the target groups", err)
	}
	var errs []error
	for _, arn := range arns {
		one, err := p.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{arn}})
		switch {
		case isCode(err, "TargetGroupNotFound"):
		case err != nil:
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrTargetGroup, arn, wrapErr("describe target group", err)))
		case len(one.TargetGroups) == 1:
			found[arn] = &one.TargetGroups[0]
		}
	}
	return found, errors.Join(errs...)
}

// Register registers the instance in every target group, then waits with
// the SDK's TargetInServiceWaiter until it is healthy in each, at most
// RegisterTimeout. Registering a registered target changes nothing.
func (p *ec2Provider) Register(ctx context.Context, cluster provider.ClusterID, inst provider.Instance) error {
	arns := p.targetGroups()
	target := p.target(inst.ID)
	err := forEach(ctx, len(arns), len(arns), func(ctx context.Context, i int) error {
		if _, err := p.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{
			TargetGroupArn: aws.String(arns[i]), Targets: []elbtypes.TargetDescription{target},
		}); err != nil {
			return wrapErr(fmt.Sprintf("register %s in target group %s", inst.ID, arns[i]), err)
		}
		w := elb.NewTargetInServiceWaiter(p.elb, func(o *elb.TargetInServiceWaiterOptions) {
			o.MinDelay, o.MaxDelay = registerMinDelay, registerMaxDelay
			o.Retryable = notInUseFails(o.Retryable)
		})
		if err := w.Wait(ctx, &elb.DescribeTargetHealthInput{
			TargetGroupArn: aws.String(arns[i]), Targets: []elbtypes.TargetDescription{target},
		}, RegisterTimeout); err != nil {
			return wrapErr(fmt.Sprintf("wait until %s is in service in target group %s (at most %s)", inst.ID, arns[i], RegisterTimeout), err)
		}
		return nil
	})
	if err != nil && inst.NodeID != "" {
		return nodeErr(inst.NodeID, err)
	}
	return err
}

// notInUseFails makes the in-service waiter fail at once on a target that
// cannot come in service, instead of waiting out its bound: ELBv2 reports
// it unused with Target.NotInUse when no load balancer uses the group, or
// none is enabled in the instance's availability zone.
func notInUseFails(next func(context.Context, *elb.DescribeTargetHealthInput, *elb.DescribeTargetHealthOutput, error) (bool, error)) func(context.Context, *elb.DescribeTargetHealthInput, *elb.DescribeTargetHealthOutput, error) (bool, error) {
	return func(ctx context.Context, in *elb.DescribeTargetHealthInput, out *elb.DescribeTargetHealthOutput, err error) (bool, error) {
		if err == nil && out != nil {
			for _, d := range out.TargetHealthDescriptions {
				if h := d.TargetHealth; h != nil && h.Reason == elbtypes.TargetHealthReasonEnumNotInUse {
					return false, fmt.Errorf("%w: target %s cannot come in service in %s: %s", ErrTargetGroup,
						aws.ToString(d.Target.Id), aws.ToString(in.TargetGroupArn), aws.ToString(h.Description))
				}
			}
		}
		return next(ctx, in, out, err)
	}
}

// Deregister deregisters the instance from every target group, then waits
// with the SDK's TargetDeregisteredWaiter until it is drained, at most
// load_balancer.drain plus DeregisterMargin; when that passes first it
// says so and returns nil (the instance goes anyway). A target that is not
// registered, a terminated instance (InvalidTarget) and a group that no
// longer exists are no-ops.
func (p *ec2Provider) Deregister(ctx context.Context, cluster provider.ClusterID, inst provider.Instance) error {
	arns := p.targetGroups()
	target := p.target(inst.ID)
	bound := p.cluster.LoadBalancer.Drain + DeregisterMargin
	err := forEach(ctx, len(arns), len(arns), func(ctx context.Context, i int) error {
		_, err := p.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{
			TargetGroupArn: aws.String(arns[i]), Targets: []elbtypes.TargetDescription{target},
		})
		switch {
		case isCode(err, "InvalidTarget"):
			return nil // not registered, or no longer an instance that could be
		case isCode(err, "TargetGroupNotFound"):
			p.logf("target group %s no longer exists: nothing to deregister %s from", arns[i], inst.ID)
			return nil
		case err != nil:
			return wrapErr(fmt.Sprintf("deregister %s from target group %s", inst.ID, arns[i]), err)
		}
		w := elb.NewTargetDeregisteredWaiter(p.elb, func(o *elb.TargetDeregisteredWaiterOptions) {
			o.MinDelay, o.MaxDelay = deregisterMinDelay, deregisterMaxDelay
		})
		wctx, cancel := context.WithTimeout(ctx, bound)
		defer cancel()
		err = w.Wait(wctx, &elb.DescribeTargetHealthInput{
			TargetGroupArn: aws.String(arns[i]), Targets: []elbtypes.TargetDescription{target},
		}, bound)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case waitTimedOut(err):
			p.logf("%s: still draining from target group %s after %s; going on (its requests in flight may be cut; the group's deregistration delay is longer than load_balancer.drain)",
				inst.ID, arns[i], bound)
			return nil
		}
		return wrapErr(fmt.Sprintf("wait until %s is deregistered from target group %s", inst.ID, arns[i]), err)
	})
	if err != nil && inst.NodeID != "" {
		return nodeErr(inst.NodeID, err)
	}
	return err
}

// waitTimedOut reports a waiter error that only says its bound passed:
// the waiter's own "exceeded max wait time", or a call cut by the bound.
func waitTimedOut(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "exceeded max wait time")
}

// LoadBalancerStatus lists the targets of every target group, one
// DescribeTargetHealth per group and one DescribeInstances for the
// targets' private IPs.
func (p *ec2Provider) LoadBalancerStatus(ctx context.Context, cluster provider.ClusterID) (*provider.LBStatus, error) {
	return p.lbStatus(ctx)
}

func (p *ec2Provider) lbStatus(ctx context.Context) (*provider.LBStatus, error) {
	arns := p.targetGroups()
	descs := make([][]elbtypes.TargetHealthDescription, len(arns))
	err := forEach(ctx, len(arns), p.parallel(), func(ctx context.Context, i int) error {
		out, err := p.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(arns[i])})
		if err != nil {
			return wrapErr("describe the targets of target group "+arns[i], err)
		}
		descs[i] = out.TargetHealthDescriptions
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, ds := range descs {
		for _, d := range ds {
			if id := aws.ToString(d.Target.Id); strings.HasPrefix(id, "i-") && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	ips := map[string]string{}
	if len(ids) > 0 {
		raw, err := p.describeByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, i := range raw {
			ips[aws.ToString(i.InstanceId)] = aws.ToString(i.PrivateIpAddress)
		}
	}
	st := &provider.LBStatus{Address: strings.Join(arns, ","), State: LBStateActive, Targets: []provider.LBTarget{}}
	for _, ds := range descs {
		var ts []provider.LBTarget
		for _, d := range ds {
			id := aws.ToString(d.Target.Id)
			t := provider.LBTarget{InstanceID: id}
			if ip := ips[id]; ip != "" && d.Target.Port != nil {
				t.Address = ip + ":" + strconv.Itoa(int(*d.Target.Port))
			}
			if d.TargetHealth != nil {
				t.State = string(d.TargetHealth.State)
			}
			ts = append(ts, t)
		}
		sort.Slice(ts, func(a, b int) bool { return ts[a].InstanceID < ts[b].InstanceID })
		st.Targets = append(st.Targets, ts...)
	}
	return st, nil
}

// RemoveLoadBalancer does nothing: the target groups are the user's.
func (p *ec2Provider) RemoveLoadBalancer(ctx context.Context, cluster provider.ClusterID) error {
	return nil
}
