package aws

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

func asgYAML(w *world, name string, extraTags string) string {
	return fmt.Sprintf(`cluster:
  name: %s
  search_path: [templates]
  aws:
    ami: %s
    keypair: %s
    security_groups: [%s]
    tags: {team: web%s}
    volumes:
      - {name: root, size: 20G}
    asg:
      subnets: [%s, %s]
      redundancy: 2
`, name, w.amiName, w.key, w.sg, extraTags, w.subnet, w.subnet2)
}

// TestIntegrationGroup: ASG mode creates a launch template and a group of
// len(subnets) × redundancy; an unchanged re-run changes nothing; a new
// boot script makes a new template version; down scales to 0; cleanup
// deletes the group once it is empty, then the template.
func TestIntegrationGroup(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	name := uniq("group")
	pr := writeProject(t, asgYAML(w, name, ""))
	h := openHarness(t, ctx, pr, provider.Options{})
	if !h.p.GroupMode() {
		t.Fatal("not in group mode")
	}
	asg := autoscaling.NewFromConfig(mustConfig(t))
	ensure := func(userData string) provider.GroupResult {
		t.Helper()
		resolved, err := h.p.Resolve(ctx, h.id, nil, provider.ResolveOptions{UpOptions: provider.UpOptions{UseSnapshots: true}, Check: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.p.EnsureGroup(ctx, h.id, h.p.Spec(config.Node{}, resolved, userData, nil))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	describe := func() (version string, subnets string, size int32, tags map[string]string) {
		t.Helper()
		out, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
		if err != nil || len(out.AutoScalingGroups) != 1 {
			t.Fatalf("describe group: %v %+v", err, out)
		}
		g := out.AutoScalingGroups[0]
		tags = map[string]string{}
		for _, tg := range g.Tags {
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			if !aws.ToBool(tg.PropagateAtLaunch) {
				t.Errorf("tag %s is not propagated at launch", aws.ToString(tg.Key))
			}
		}
		sn := strings.Split(aws.ToString(g.VPCZoneIdentifier), ",")
		sort.Strings(sn)
		if g.LaunchTemplate == nil {
			t.Fatalf("group has no launch template: %+v", g)
		}
		return aws.ToString(g.LaunchTemplate.Version), strings.Join(sn, ","), aws.ToInt32(g.DesiredCapacity), tags
	}
	wantSubnets := []string{w.subnet, w.subnet2}
	sort.Strings(wantSubnets)

	h.calls.Reset()
	res := ensure("#!/bin/bash\necho v1\n")
	if res.Action != "created" || res.Size != 4 || res.Version != "1" {
		t.Errorf("create: %+v", res)
	}
	h.budget(8, map[string]int{"ec2:CreateLaunchTemplate": 1, "autoscaling:CreateAutoScalingGroup": 1, "ec2:RunInstances": 0})
	v, sn, size, tags := describe()
	if v != "1" || sn != strings.Join(wantSubnets, ",") || size != 4 || tags["ClusterName"] != name || tags["Name"] != name || tags["team"] != "web" {
		t.Errorf("group: version %s, subnets %s, size %d, tags %v", v, sn, size, tags)
	}
	insts, err := h.p.Instances(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 4 {
		t.Errorf("the group's instances found by tag: %d, want 4", len(insts))
	}

	h.calls.Reset()
	if res := ensure("#!/bin/bash\necho v1\n"); res.Action != "unchanged" || res.Version != "1" {
		t.Errorf("re-run: %+v", res)
	}
	h.budget(6, map[string]int{"ec2:CreateLaunchTemplateVersion": 0, "autoscaling:UpdateAutoScalingGroup": 0})

	// a new boot script and a new tag: a new version, the group follows
	pr2 := writeProject(t, asgYAML(w, name, ", tier: front"))
	h2 := openHarness(t, ctx, pr2, provider.Options{})
	resolved, err := h2.p.Resolve(ctx, h.id, nil, provider.ResolveOptions{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err = h2.p.EnsureGroup(ctx, h.id, h2.p.Spec(config.Node{}, resolved, "#!/bin/bash\necho v2\n", nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "updated" || res.Version != "2" || res.Size != 4 {
		t.Errorf("update: %+v", res)
	}
	if v, _, size, tags := describe(); v != "2" || size != 4 || tags["tier"] != "front" {
		t.Errorf("after update: version %s, size %d, tags %v", v, size, tags)
	}

	// cleanup refuses while the group has instances
	if _, err := h.p.Cleanup(ctx, h.id); !errors.Is(err, ErrGroupHasInstances) {
		t.Errorf("cleanup of a running group: %v, want ErrGroupHasInstances", err)
	}
	if err := h.p.ScaleGroupToZero(ctx, h.id); err != nil {
		t.Fatal(err)
	}
	if _, _, size, _ := describe(); size != 0 {
		t.Errorf("size after down: %d", size)
	}
	deleted, err := h.p.Cleanup(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(deleted, "; ") != "auto scaling group "+name+"; launch template "+name {
		t.Errorf("cleanup deleted %q", deleted)
	}
	out, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 0 {
		t.Errorf("group after cleanup: %v %+v", err, out.AutoScalingGroups)
	}
	// down of a group that is gone is not an error
	if err := h.p.ScaleGroupToZero(ctx, h.id); err != nil {
		t.Errorf("down without a group: %v", err)
	}
}
