package aws

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

var _ provider.GroupRefresher = (*ec2Provider)(nil)

// ErrNoGroup is wrapped when a group operation finds no auto scaling group.
var ErrNoGroup = errors.New("no auto scaling group")

// ErrNoRefresh is wrapped when RefreshStatus finds no refresh of that id.
var ErrNoRefresh = errors.New("no such instance refresh")

// StartRefresh starts an EC2 Auto Scaling instance refresh of the cluster's
// group to spec. The launch template gets spec's version as EnsureGroup
// makes it (a new version only when the content changed) and the group its
// subnets and tags; the group's launch template is not switched here: the
// refresh's desired configuration names the version, and Auto Scaling
// switches the group to it once the refresh succeeds. That is what makes
// auto rollback possible: a rollback returns the group to the
// configuration it had when the refresh started (and is only available
// with a desired configuration and a numbered version; EnsureGroup always
// sets a number). Instances already on that version are skipped
// (SkipMatching).
//
// A refresh that is already under way (Pending, InProgress, Cancelling,
// RollbackInProgress or Baking) is returned instead of a new one, whether
// DescribeInstanceRefreshes finds it first or StartInstanceRefresh answers
// InstanceRefreshInProgress: a rollout killed while it waits resumes
// waiting for the same refresh. When that refresh goes to another version
// than spec's, the log says so.
func (p *ec2Provider) StartRefresh(ctx context.Context, cluster provider.ClusterID, spec provider.Spec, opts provider.RefreshOptions) (provider.Refresh, error) {
	if !p.GroupMode() {
		return provider.Refresh{}, fmt.Errorf("instance refresh: the cluster has no aws.asg, so no auto scaling group")
	}
	if opts.MinHealthyPercentage < 0 || opts.MinHealthyPercentage > 100 {
		return provider.Refresh{}, fmt.Errorf("instance refresh: minimum healthy percentage %d is not within 0–100", opts.MinHealthyPercentage)
	}
	if opts.WarmUpSeconds < 0 {
		return provider.Refresh{}, fmt.Errorf("instance refresh: warm-up %ds is negative", opts.WarmUpSeconds)
	}
	name := p.groupName()
	tmpl, err := p.groupTemplate(ctx, cluster, spec)
	if err != nil {
		return provider.Refresh{}, err
	}
	g, err := p.describeGroup(ctx, name)
	if err != nil {
		return provider.Refresh{}, err
	}
	if g == nil {
		return provider.Refresh{}, fmt.Errorf("instance refresh: %w %s: run `cloud-compose cluster up` to create it", ErrNoGroup, name)
	}
	if r, ok, err := p.activeRefresh(ctx, name, tmpl.version); err != nil || ok {
		return r, err
	}
	if _, err := p.updateGroup(ctx, g, tmpl, nil); err != nil {
		return provider.Refresh{}, err
	}
	out, err := p.asg.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String(name),
		Strategy:             asgtypes.RefreshStrategyRolling,
		DesiredConfiguration: &asgtypes.DesiredConfiguration{LaunchTemplate: &asgtypes.LaunchTemplateSpecification{
			LaunchTemplateName: aws.String(name), Version: aws.String(tmpl.version),
		}},
		Preferences: &asgtypes.RefreshPreferences{
			MinHealthyPercentage: aws.Int32(int32(opts.MinHealthyPercentage)),
			InstanceWarmup:       aws.Int32(int32(opts.WarmUpSeconds)),
			AutoRollback:         aws.Bool(opts.AutoRollback),
			SkipMatching:         aws.Bool(true),
		},
	})
	if err != nil && isCode(err, "InstanceRefreshInProgress") {
		// started by someone else since we looked
		if r, ok, derr := p.activeRefresh(ctx, name, tmpl.version); derr != nil || ok {
			return r, derr
		}
	}
	if err != nil {
		return provider.Refresh{}, wrapErr("start an instance refresh of auto scaling group "+name, err)
	}
	id := aws.ToString(out.InstanceRefreshId)
	p.logf("started instance refresh %s of auto scaling group %s to launch template version %s (minimum healthy %d%%, warm-up %ds, auto rollback %t)",
		id, name, tmpl.version, opts.MinHealthyPercentage, opts.WarmUpSeconds, opts.AutoRollback)
	return provider.Refresh{ID: id, Status: string(asgtypes.InstanceRefreshStatusPending)}, nil
}

// activeRefresh returns the group's refresh that is under way, if any
// (DescribeInstanceRefreshes lists the newest first), and logs when it goes
// to another version than version.
func (p *ec2Provider) activeRefresh(ctx context.Context, name, version string) (provider.Refresh, bool, error) {
	out, err := p.asg.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(name)})
	if err != nil {
		return provider.Refresh{}, false, wrapErr("look up the instance refreshes of auto scaling group "+name, err)
	}
	for _, r := range out.InstanceRefreshes {
		switch r.Status {
		case asgtypes.InstanceRefreshStatusPending, asgtypes.InstanceRefreshStatusInProgress, asgtypes.InstanceRefreshStatusCancelling,
			asgtypes.InstanceRefreshStatusRollbackInProgress, asgtypes.InstanceRefreshStatusBaking:
		default:
			continue
		}
		to := "the group's launch template"
		if d := r.DesiredConfiguration; d != nil && d.LaunchTemplate != nil {
			to = "launch template version " + aws.ToString(d.LaunchTemplate.Version)
		}
		p.logf("instance refresh %s of auto scaling group %s to %s is already %s: waiting for it instead of starting another", aws.ToString(r.InstanceRefreshId), name, to, r.Status)
		if to != "launch template version "+version {
			p.logf("instance refresh %s does not apply launch template version %s (this spec): run the rollout again once it has ended", aws.ToString(r.InstanceRefreshId), version)
		}
		return toRefresh(r), true, nil
	}
	return provider.Refresh{}, false, nil
}

// RefreshStatus reads the group's instance refresh id.
func (p *ec2Provider) RefreshStatus(ctx context.Context, cluster provider.ClusterID, id string) (provider.Refresh, error) {
	name := p.groupName()
	out, err := p.asg.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(name), InstanceRefreshIds: []string{id},
	})
	if err != nil {
		return provider.Refresh{}, wrapErr("look up instance refresh "+id+" of auto scaling group "+name, err)
	}
	for _, r := range out.InstanceRefreshes {
		if aws.ToString(r.InstanceRefreshId) == id {
			return toRefresh(r), nil
		}
	}
	return provider.Refresh{}, fmt.Errorf("%w: auto scaling group %s has no instance refresh %s", ErrNoRefresh, name, id)
}

// toRefresh maps an instance refresh as Auto Scaling reports it. It is
// done once it ended any way (Successful, Failed, Cancelled,
// RollbackSuccessful, RollbackFailed) and succeeded only when Successful:
// a successful rollback still left the old instances.
func toRefresh(r asgtypes.InstanceRefresh) provider.Refresh {
	out := provider.Refresh{
		ID:                aws.ToString(r.InstanceRefreshId),
		Status:            string(r.Status),
		StatusReason:      aws.ToString(r.StatusReason),
		PercentComplete:   int(aws.ToInt32(r.PercentageComplete)),
		InstancesToUpdate: int(aws.ToInt32(r.InstancesToUpdate)),
	}
	switch r.Status {
	case asgtypes.InstanceRefreshStatusSuccessful:
		out.Done, out.Succeeded = true, true
	case asgtypes.InstanceRefreshStatusFailed, asgtypes.InstanceRefreshStatusCancelled,
		asgtypes.InstanceRefreshStatusRollbackSuccessful, asgtypes.InstanceRefreshStatusRollbackFailed:
		out.Done = true
	}
	return out
}
