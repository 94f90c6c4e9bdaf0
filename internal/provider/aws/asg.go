package aws

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

var _ provider.GroupStatuser = (*ec2Provider)(nil)

// TerminationPolicies are the original's, with launch templates in place
// of the deprecated launch configurations.
var TerminationPolicies = []string{"OldestLaunchTemplate", "OldestInstance", "Default"}

// groupName names the auto scaling group and its launch template: the
// cluster name, as the original.
func (p *ec2Provider) groupName() string { return p.id().Qualified() }

// groupSize is len(subnets) × redundancy.
func (p *ec2Provider) groupSize() int {
	r := p.aws.ASG.Redundancy
	if r <= 0 {
		r = 1
	}
	return len(p.aws.ASG.Subnets) * r
}

// groupTags are the group's tags, propagated to its instances at launch:
// ClusterName and Name, the user's tags (the spec's), the environment.
func (p *ec2Provider) groupTags(cluster provider.ClusterID, user []config.KeyValue) []ec2types.Tag {
	tags := []ec2types.Tag{
		{Key: aws.String(provider.TagCluster), Value: aws.String(p.clusterName())},
		{Key: aws.String(provider.TagName), Value: aws.String(p.id().Qualified())},
	}
	taken := map[string]bool{provider.TagCluster: true, provider.TagName: true, provider.TagEnv: cluster.Env != ""}
	for _, kv := range user {
		if !taken[kv.Key] {
			tags = append(tags, ec2types.Tag{Key: aws.String(kv.Key), Value: aws.String(kv.Value)})
		}
	}
	if cluster.Env != "" {
		tags = append(tags, ec2types.Tag{Key: aws.String(provider.TagEnv), Value: aws.String(cluster.Env)})
	}
	return tags
}

// templateData is the launch template's content, from the group's spec.
func templateData(s provider.Spec, tags []ec2types.Tag) *ec2types.RequestLaunchTemplateData {
	d := &ec2types.RequestLaunchTemplateData{
		ImageId:          aws.String(s.Image),
		InstanceType:     ec2types.InstanceType(s.InstanceType),
		SecurityGroupIds: s.SecurityGroups,
		EbsOptimized:     aws.Bool(s.Flags.EBSOptimized),
		Monitoring:       &ec2types.LaunchTemplatesMonitoringRequest{Enabled: aws.Bool(s.Flags.Monitoring)},
	}
	if s.KeyPair != "" {
		d.KeyName = aws.String(s.KeyPair)
	}
	if s.UserData != "" {
		d.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(s.UserData)))
	}
	if s.Profile != "" {
		d.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String(s.Profile)}
	}
	devices := blockDevices(s.Volumes)
	for _, bd := range devices {
		m := ec2types.LaunchTemplateBlockDeviceMappingRequest{DeviceName: bd.DeviceName, VirtualName: bd.VirtualName}
		if e := bd.Ebs; e != nil {
			m.Ebs = &ec2types.LaunchTemplateEbsBlockDeviceRequest{
				VolumeSize: e.VolumeSize, VolumeType: e.VolumeType, DeleteOnTermination: e.DeleteOnTermination,
				Iops: e.Iops, Throughput: e.Throughput, SnapshotId: e.SnapshotId,
			}
		}
		d.BlockDeviceMappings = append(d.BlockDeviceMappings, m)
	}
	if len(devices) > 0 {
		d.TagSpecifications = []ec2types.LaunchTemplateTagSpecificationRequest{{ResourceType: ec2types.ResourceTypeVolume, Tags: tags}}
	}
	return d
}

// templateHash identifies a template's content — the spec, the snapshots
// its volumes start from (content of a template, though not part of the
// spec) and the tags — and is kept as the version's description, so an
// unchanged re-run makes no new version.
func templateHash(s provider.Spec, tags []ec2types.Tag) string {
	var snaps, ts []string
	for _, v := range s.Volumes {
		snaps = append(snaps, v.Device+"="+v.Snapshot)
	}
	for _, t := range tags {
		ts = append(ts, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return provider.SpecHash(s.Hash(), strings.Join(snaps, ","), strings.Join(ts, ","))
}

// EnsureGroup creates or updates the cluster's launch template from the
// group's spec (a new version only when its content changed) and the auto
// scaling group (min = max = desired = len(subnets) × redundancy on
// creation; a re-run updates the template version, the subnets and the
// tags, not the size, as the original).
func (p *ec2Provider) EnsureGroup(ctx context.Context, cluster provider.ClusterID, spec provider.Spec) (provider.GroupResult, error) {
	name := p.groupName()
	res := provider.GroupResult{Name: name, Action: "unchanged"}
	tmpl, err := p.groupTemplate(ctx, cluster, spec)
	if err != nil {
		return res, err
	}
	res.Version = tmpl.version
	g, err := p.describeGroup(ctx, name)
	if err != nil {
		return res, err
	}
	lt := &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(name), Version: aws.String(res.Version)}
	if g == nil {
		size := int32(p.groupSize())
		in := &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name),
			LaunchTemplate:       lt,
			MinSize:              aws.Int32(size),
			MaxSize:              aws.Int32(size),
			DesiredCapacity:      aws.Int32(size),
			VPCZoneIdentifier:    aws.String(strings.Join(p.aws.ASG.Subnets, ",")),
			TerminationPolicies:  TerminationPolicies,
			Tags:                 groupASGTags(name, tmpl.tags),
		}
		if len(p.aws.ASG.ELBs) > 0 {
			in.LoadBalancerNames = p.aws.ASG.ELBs
		}
		if len(p.aws.ASG.TargetGroups) > 0 {
			in.TargetGroupARNs = p.aws.ASG.TargetGroups
		}
		if _, err := p.asg.CreateAutoScalingGroup(ctx, in); err != nil {
			return res, wrapErr("create auto scaling group "+name, err)
		}
		res.Action, res.Size = "created", int(size)
		p.logf("created auto scaling group %s with size %d (launch template version %s)", name, size, res.Version)
		return res, nil
	}
	res.Size = int(aws.ToInt32(g.DesiredCapacity))
	updated, err := p.updateGroup(ctx, g, tmpl, lt)
	if err != nil {
		return res, err
	}
	if updated {
		res.Action = "updated"
		p.logf("updated auto scaling group %s to launch template version %s", name, res.Version)
	}
	return res, nil
}

// templateVersion is the launch template version of a group's spec, and the
// tags it puts on what it launches.
type templateVersion struct {
	tags    []ec2types.Tag
	version string // a version number
	changed bool   // the version was made by this call
}

// groupTemplate makes what the group's launch template needs (Ensure: the
// instance profile, the log group) and the launch template version of
// spec (ensureTemplate: a new version only when the content changed).
func (p *ec2Provider) groupTemplate(ctx context.Context, cluster provider.ClusterID, spec provider.Spec) (templateVersion, error) {
	if err := p.Ensure(ctx); err != nil {
		return templateVersion{}, err
	}
	tags := p.groupTags(cluster, spec.Tags)
	version, changed, err := p.ensureTemplate(ctx, p.groupName(), templateHash(spec, tags), templateData(spec, tags), tags)
	if err != nil {
		return templateVersion{}, err
	}
	return templateVersion{tags: tags, version: strconv.FormatInt(version, 10), changed: changed}, nil
}

// describeGroup returns the auto scaling group, or nil when there is none.
func (p *ec2Provider) describeGroup(ctx context.Context, name string) (*asgtypes.AutoScalingGroup, error) {
	out, err := p.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, wrapErr("look up auto scaling group "+name, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, nil
	}
	return &out.AutoScalingGroups[0], nil
}

// groupASGTags are the group's tags as Auto Scaling takes them,
// propagated to the instances at launch.
func groupASGTags(name string, tags []ec2types.Tag) []asgtypes.Tag {
	var out []asgtypes.Tag
	for _, t := range tags {
		out = append(out, asgtypes.Tag{
			ResourceId: aws.String(name), ResourceType: aws.String("auto-scaling-group"),
			Key: t.Key, Value: t.Value, PropagateAtLaunch: aws.Bool(true),
		})
	}
	return out
}

// updateGroup brings an existing group to the configured subnets, to the
// template's tags (on the group and its running instances) and, when lt is
// set, to that launch template version. It reports whether it changed
// anything.
func (p *ec2Provider) updateGroup(ctx context.Context, g *asgtypes.AutoScalingGroup, tmpl templateVersion, lt *asgtypes.LaunchTemplateSpecification) (bool, error) {
	name := aws.ToString(g.AutoScalingGroupName)
	subnets := strings.Join(p.aws.ASG.Subnets, ",")
	updated := false
	switchTemplate := lt != nil && (tmpl.changed || g.LaunchTemplate == nil || aws.ToString(g.LaunchTemplate.Version) != aws.ToString(lt.Version))
	if switchTemplate || !sameSet(aws.ToString(g.VPCZoneIdentifier), subnets) {
		if _, err := p.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name),
			LaunchTemplate:       lt,
			VPCZoneIdentifier:    aws.String(subnets),
		}); err != nil {
			return updated, wrapErr("update auto scaling group "+name, err)
		}
		updated = true
	}
	if !sameTags(g.Tags, tmpl.tags) {
		if _, err := p.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: groupASGTags(name, tmpl.tags)}); err != nil {
			return updated, wrapErr("tag auto scaling group "+name, err)
		}
		if err := p.tagGroupInstances(ctx, name, tmpl.tags); err != nil {
			return updated, err
		}
		updated = true
	}
	return updated, nil
}

// ensureTemplate makes the launch template's latest version hold content
// hash, creating the template or a new version when needed.
func (p *ec2Provider) ensureTemplate(ctx context.Context, name, hash string, data *ec2types.RequestLaunchTemplateData, tags []ec2types.Tag) (version int64, changed bool, err error) {
	out, err := p.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String(name), Versions: []string{"$Latest"},
	})
	switch {
	case err != nil && strings.HasPrefix(errorCode(err), "InvalidLaunchTemplateName.NotFound"):
		created, err := p.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
			LaunchTemplateName: aws.String(name), LaunchTemplateData: data, VersionDescription: aws.String(hash),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tags[:1]}},
		})
		if err != nil {
			return 0, false, wrapErr("create launch template "+name, err)
		}
		return aws.ToInt64(created.LaunchTemplate.LatestVersionNumber), true, nil
	case err != nil:
		return 0, false, wrapErr("look up launch template "+name, err)
	}
	if len(out.LaunchTemplateVersions) > 0 {
		latest := out.LaunchTemplateVersions[0]
		if aws.ToString(latest.VersionDescription) == hash {
			return aws.ToInt64(latest.VersionNumber), false, nil
		}
	}
	v, err := p.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String(name), LaunchTemplateData: data, VersionDescription: aws.String(hash),
	})
	if err != nil {
		return 0, false, wrapErr("create a version of launch template "+name, err)
	}
	return aws.ToInt64(v.LaunchTemplateVersion.VersionNumber), true, nil
}

// tagGroupInstances tags the group's running instances with changed tags,
// as the original did after updating the group's tags.
func (p *ec2Provider) tagGroupInstances(ctx context.Context, name string, tags []ec2types.Tag) error {
	var ids []string
	pages := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		filter("tag:aws:autoscaling:groupName", name),
		filter("instance-state-name", "pending", "running"),
	}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return wrapErr("find the group's instances", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := p.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: tags}); err != nil {
		return wrapErr("tag the group's instances", err)
	}
	return nil
}

// ScaleGroupToZero sets the group's size to 0 (`down` in ASG mode). A
// missing group is not an error.
func (p *ec2Provider) ScaleGroupToZero(ctx context.Context, cluster provider.ClusterID) error {
	name := p.groupName()
	_, err := p.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(0), DesiredCapacity: aws.Int32(0),
	})
	if err != nil && isCode(err, "ValidationError") {
		p.logf("auto scaling group %s does not exist", name)
		return nil
	}
	if err != nil {
		return wrapErr("scale auto scaling group "+name+" to 0", err)
	}
	p.logf("auto scaling group %s size is now 0", name)
	return nil
}

// Cleanup deletes the cluster's auto scaling group once it has no
// instances, then its launch template, and returns what it deleted.
func (p *ec2Provider) Cleanup(ctx context.Context, cluster provider.ClusterID) ([]string, error) {
	if !p.GroupMode() {
		p.logf("cleanup has no effect for clusters without aws.asg; use `cluster down` to remove instances")
		return nil, nil
	}
	name := p.groupName()
	var deleted []string
	g, err := p.describeGroup(ctx, name)
	if err != nil {
		return nil, err
	}
	if g != nil {
		if n := len(g.Instances); n > 0 {
			return nil, fmt.Errorf("%w: %s has %d; run `cloud-compose cluster down` first or wait for them to terminate", ErrGroupHasInstances, name, n)
		}
		if _, err := p.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(name)}); err != nil {
			return nil, wrapErr("delete auto scaling group "+name, err)
		}
		deleted = append(deleted, "auto scaling group "+name)
	}
	if _, err := p.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String(name)}); err != nil {
		if !strings.HasPrefix(errorCode(err), "InvalidLaunchTemplateName.NotFound") {
			return deleted, wrapErr("delete launch template "+name, err)
		}
	} else {
		deleted = append(deleted, "launch template "+name)
	}
	return deleted, nil
}

func sameSet(a, b string) bool {
	split := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(split(a), split(b))
}

func sameTags(have []asgtypes.TagDescription, want []ec2types.Tag) bool {
	got := map[string]string{}
	for _, t := range have {
		got[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	for _, t := range want {
		if v, ok := got[aws.ToString(t.Key)]; !ok || v != aws.ToString(t.Value) {
			return false
		}
	}
	return true
}

// GroupStatus reads the cluster's auto scaling group: its size, launch
// template version and instances (zone, life-cycle state, health). A
// missing group is nil, not an error.
func (p *ec2Provider) GroupStatus(ctx context.Context, cluster provider.ClusterID) (*provider.GroupInfo, error) {
	if !p.GroupMode() {
		return nil, nil
	}
	name := p.groupName()
	g, err := p.describeGroup(ctx, name)
	if err != nil || g == nil {
		return nil, err
	}
	info := &provider.GroupInfo{
		Name:      name,
		Desired:   int(aws.ToInt32(g.DesiredCapacity)),
		Min:       int(aws.ToInt32(g.MinSize)),
		Max:       int(aws.ToInt32(g.MaxSize)),
		Instances: []provider.GroupInstance{},
	}
	if g.LaunchTemplate != nil {
		info.LaunchTemplateVersion = aws.ToString(g.LaunchTemplate.Version)
	}
	for _, i := range g.Instances {
		info.Instances = append(info.Instances, provider.GroupInstance{
			InstanceID:     aws.ToString(i.InstanceId),
			Zone:           aws.ToString(i.AvailabilityZone),
			LifecycleState: string(i.LifecycleState),
			Health:         strings.ToLower(aws.ToString(i.HealthStatus)),
		})
	}
	sort.Slice(info.Instances, func(a, b int) bool { return info.Instances[a].InstanceID < info.Instances[b].InstanceID })
	return info, nil
}
