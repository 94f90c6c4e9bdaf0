package aws

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

const testPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}]}`

// TestIntegrationStaticLifecycle: fresh up of 3 nodes, re-run, up after a
// node was terminated, down — with the calls each makes.
func TestIntegrationStaticLifecycle(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	name := uniq("lifecycle")
	group := "/cc/" + name
	// No ephemeral or io1/io2 volume here: moto rejects a mapping without
	// Ebs and drops a mapping's Iops, where EC2 takes both
	// (TestRunInstancesInput covers their shape).
	extra := `    instance_policy: '` + testPolicy + `'
    tags:
      team: data
      Name: not-the-name
    volumes:
      - {name: root, size: 20G, volume_type: gp3}
      - {name: data, block: /dev/xvdf, size: 200G, volume_type: st1, delete_on_termination: false}
      - {name: shared, file_system: nfs4, mount: /shared}
`
	top := "  logging:\n    driver: awslogs\n    meta: {group: " + group + ", retention: 7}\n"
	pr := writeProject(t, clusterYAML(w, name, 3, extra, top))
	h := openHarness(t, ctx, pr, provider.Options{})

	// fresh up
	res, err := h.up(ctx, provider.UpOptions{UseSnapshots: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.failed) > 0 || len(res.created) != 3 || len(res.unchanged) != 0 {
		t.Fatalf("fresh up: created %d, unchanged %v, failed %v", len(res.created), res.unchanged, res.failed)
	}
	// One RunInstances per node, tags only at launch; everything else is a
	// handful of lookups: DescribeInstances (observe, wait), DescribeImages,
	// DescribeSnapshots, DescribeNetworkInterfaces, IAM (get, create role,
	// profile, add role, put policy, wait), logs (describe, create, retention).
	h.budget(3+2+4+6+3+1, map[string]int{"ec2:RunInstances": 3, "ec2:CreateTags": 0, "ec2:DescribeNetworkInterfaces": 1, "ec2:DescribeImages": 1})

	out, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:ClusterName"), Values: []string{name}}}})
	if err != nil {
		t.Fatal(err)
	}
	var all []ec2types.Instance
	for _, r := range out.Reservations {
		all = append(all, r.Instances...)
	}
	if len(all) != 3 {
		t.Fatalf("cluster has %d instances, want 3", len(all))
	}
	for _, i := range all {
		tags := map[string]string{}
		for _, tg := range i.Tags {
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		node := tags[provider.TagNode]
		wantIP := map[string]string{"0": w.ip(10), "1": w.ip(11), "2": w.ip(12)}[node]
		if got := aws.ToString(i.PrivateIpAddress); got != wantIP || wantIP == "" {
			t.Errorf("node %q has IP %s, want %s", node, got, wantIP)
		}
		for k, want := range map[string]string{"ClusterName": name, "Name": name + "-" + node, "team": "data", provider.TagGeneration: "1"} {
			if tags[k] != want {
				t.Errorf("node %s tag %s = %q, want %q", node, k, tags[k], want)
			}
		}
		// the launch made exactly the spec: its tag is the spec's
		if want := res.specs[node].Tag(); tags[provider.TagSpec] != want || want == "" {
			t.Errorf("node %s spec tag %q, want the launched spec's %q", node, tags[provider.TagSpec], want)
		}
		if aws.ToString(i.ImageId) != w.ami {
			t.Errorf("node %s image %s, want %s", node, aws.ToString(i.ImageId), w.ami)
		}
		if i.IamInstanceProfile == nil || !strings.HasSuffix(aws.ToString(i.IamInstanceProfile.Arn), "/"+name) {
			t.Errorf("node %s instance profile %+v, want one named %s", node, i.IamInstanceProfile, name)
		}
		ud, err := w.ec2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: i.InstanceId, Attribute: ec2types.InstanceAttributeNameUserData})
		if err != nil {
			t.Fatal(err)
		}
		script, err := base64.StdEncoding.DecodeString(aws.ToString(ud.UserData.Value))
		if err != nil {
			t.Fatal(err)
		}
		if string(script) != res.userData[node] {
			t.Errorf("node %s user data:\n%s\nwant the rendered script:\n%s", node, script, res.userData[node])
		}
		if got, err := h.p.UserData(ctx, aws.ToString(i.InstanceId)); err != nil || got != string(script) {
			t.Errorf("UserData(%s) = %q, %v; want what DescribeInstanceAttribute says", node, got, err)
		}
		if !strings.Contains(string(script), "node "+node+" of "+name+" on "+w.ami+" ("+w.amiName+")") {
			t.Errorf("node %s user data does not show aws.ami/aws.ami_name: %s", node, script)
		}
	}
	vols, err := w.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:ClusterName"), Values: []string{name}}}})
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int32]int{}
	for _, v := range vols.Volumes {
		sizes[aws.ToInt32(v.Size)]++
	}
	if sizes[20] != 3 || sizes[200] != 3 {
		t.Errorf("tagged volumes by size: %v, want 3 of 20 GiB (root) and 3 of 200 GiB (data)", sizes)
	}
	lg, err := cloudwatchlogs.NewFromConfig(mustConfig(t)).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lg.LogGroups) != 1 || aws.ToInt32(lg.LogGroups[0].RetentionInDays) != 7 {
		t.Errorf("log group %s: %+v, want one with 7 days retention", group, lg.LogGroups)
	}

	// re-run: nothing to do, at most 3 calls, no RunInstances
	h.calls.Reset()
	res, err = h.up(ctx, provider.UpOptions{UseSnapshots: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.created) != 0 || len(res.unchanged) != 3 || len(res.failed) != 0 {
		t.Errorf("re-run: created %v, unchanged %v, failed %v", res.created, res.unchanged, res.failed)
	}
	h.budget(3, map[string]int{"ec2:RunInstances": 0})

	// one node terminated: only it comes back, at its IP
	victim := ""
	for _, i := range all {
		if aws.ToString(i.PrivateIpAddress) == w.ip(11) {
			victim = aws.ToString(i.InstanceId)
		}
	}
	if _, err := w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{victim}}); err != nil {
		t.Fatal(err)
	}
	h.calls.Reset()
	res, err = h.up(ctx, provider.UpOptions{UseSnapshots: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.failed) > 0 || len(res.created) != 1 || res.created[0].NodeID != "1" || res.created[0].IP != w.ip(11) || res.created[0].State != provider.Running {
		t.Fatalf("up after node 1 was terminated: created %+v, failed %v", res.created, res.failed)
	}
	if res.created[0].Image != w.ami {
		t.Errorf("replacement runs %s, want the cluster's image %s", res.created[0].Image, w.ami)
	}
	h.budget(1+1+1+1+2+1+2, map[string]int{"ec2:RunInstances": 1})

	// status: one row per node
	got, err := h.p.Instances(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]provider.State{}
	for _, i := range got {
		nodes[i.NodeID] = i.State
	}
	if len(got) != 3 || nodes["0"] != provider.Running || nodes["1"] != provider.Running || nodes["2"] != provider.Running {
		t.Errorf("instances after repair: %+v", got)
	}

	// down
	h.calls.Reset()
	ids, err := h.down(ctx, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 {
		t.Errorf("down terminated %v, want 3 instances", ids)
	}
	h.budget(1+3+1+2, map[string]int{"ec2:TerminateInstances": 1, "ec2:DescribeInstanceAttribute": 3})
	left, err := h.p.Instances(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("after down: %+v", left)
	}
}

// TestIntegrationDownProtection: protected instances stop `down` before
// anything is terminated; --force turns protection off and terminates.
func TestIntegrationDownProtection(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	name := uniq("protect")
	yml := strings.Replace(clusterYAML(w, name, 2, "", ""), "terminate_protection: false", "terminate_protection: true", 1)
	pr := writeProject(t, yml)
	h := openHarness(t, ctx, pr, provider.Options{})
	res, err := h.up(ctx, provider.UpOptions{})
	if err != nil || len(res.created) != 2 {
		t.Fatalf("up: %v %+v", err, res)
	}
	// moto ignores DisableApiTermination in RunInstances (TestRunInstancesInput
	// shows it is sent): set it the way a user would.
	for _, i := range res.created {
		if _, err := w.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(i.ID), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
			t.Fatal(err)
		}
	}
	h.calls.Reset()
	_, err = h.down(ctx, false, true)
	var pe *provider.ProtectedError
	if !errors.As(err, &pe) || !errors.Is(err, provider.ErrProtected) {
		t.Fatalf("down without --force: %v, want a *provider.ProtectedError", err)
	}
	if len(pe.Instances) != 2 || pe.Instances[0].NodeID == "" {
		t.Errorf("protected instances: %+v", pe.Instances)
	}
	// Instances, Terminate's own lookup of the instances (it keeps no
	// earlier answer), one protection read per instance
	h.budget(4, map[string]int{"ec2:TerminateInstances": 0, "ec2:DescribeInstances": 2, "ec2:DescribeInstanceAttribute": 2})
	left, err := h.p.Instances(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range left {
		if !i.State.Live() {
			t.Errorf("instance %s is %s after a refused down", i.ID, i.State)
		}
	}
	if len(left) != 2 {
		t.Errorf("after refused down: %d instances", len(left))
	}

	h.calls.Reset()
	if _, err := h.down(ctx, true, true); err != nil {
		t.Fatal(err)
	}
	h.budget(1+2+1+2, map[string]int{"ec2:ModifyInstanceAttribute": 2, "ec2:TerminateInstances": 1})
	left, err = h.p.Instances(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("after down --force: %+v", left)
	}
}
