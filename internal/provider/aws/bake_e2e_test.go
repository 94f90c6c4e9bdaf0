package aws_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// bakeWorld is a moto world with an image: project, behind the awstest
// proxy (which supplies CreateImage's snapshot tags, see awstest.Options).
type bakeWorld struct {
	w    *awsp.World
	ctx  context.Context
	px   *awstest.Proxy
	dir  string
	name string
}

func newBakeWorld(t *testing.T) *bakeWorld {
	t.Helper()
	awsp.RequireMoto(t)
	awsp.SetBakePoll(t, 50*time.Millisecond)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	px, err := awstest.New(os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{EC2: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(px)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	b := &bakeWorld{w: w, ctx: ctx, px: px, dir: t.TempDir(), name: awsp.Uniq("bake")}
	files := map[string]string{
		"cloud-compose.yml": "image:\n  name: " + b.name + "\n  version: '1.10'\n  search_path: [templates]\n  aws:\n" +
			"    ami: " + w.AMI() + "\n    subnet: " + w.Subnet() + "\n    security_groups: " + w.SG() + "\n    keypair: " + w.Key() +
			"\n    instance_type: t3.micro\n    tags: {team: base}\n",
		"templates/image.sh": "#!/bin/bash\necho baking {{ name }}:{{ version }}\n",
	}
	for f, body := range files {
		p := filepath.Join(b.dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// run runs the binary's code in the project with ctx.
func (b *bakeWorld) run(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := app.Run(ctx, app.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, append([]string{"-C", b.dir}, args...))
	t.Logf("cloud-compose %s\n%s%s", strings.Join(args, " "), errOut.String(), out.String())
	return out.String(), errOut.String(), err
}

// instances are the instances tagged ImageName=name, by id, with state.
func (b *bakeWorld) instances(t *testing.T) map[string]ec2types.Instance {
	t.Helper()
	out, err := b.w.EC2().DescribeInstances(b.ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:ImageName"), Values: []string{b.name}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]ec2types.Instance{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			m[aws.ToString(i.InstanceId)] = i
		}
	}
	return m
}

// script plays image.sh's part on the bake instance, which moto does not
// run: once the instance is running, act (stop it, terminate it, …) with
// it. It returns the instance's user data and tags as seen then.
func (b *bakeWorld) script(t *testing.T, act func(id string)) <-chan ec2types.Instance {
	seen := make(chan ec2types.Instance, 1)
	go func() {
		defer close(seen)
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			out, err := b.w.EC2().DescribeInstances(b.ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
				{Name: aws.String("tag:ImageName"), Values: []string{b.name}},
				{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
			}})
			if err == nil && len(out.Reservations) > 0 {
				inst := out.Reservations[0].Instances[0]
				id := aws.ToString(inst.InstanceId)
				ud, err := b.w.EC2().DescribeInstanceAttribute(b.ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: ec2types.InstanceAttributeNameUserData})
				if err == nil && ud.UserData != nil {
					raw, _ := base64.StdEncoding.DecodeString(aws.ToString(ud.UserData.Value))
					// carried in the (otherwise unused) kernel field
					inst.KernelId = aws.String(string(raw))
				}
				seen <- inst
				act(id)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return seen
}

func tagMap(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// oldImage makes an image of name:1.10 the way an earlier bake did.
func (b *bakeWorld) oldImage(t *testing.T, label string) (string, []string) {
	t.Helper()
	c := b.w.EC2()
	run, err := c.RunInstances(b.ctx, &ec2.RunInstancesInput{ImageId: aws.String(b.w.AMI()), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(b.w.Subnet())})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	img, err := c.CreateImage(b.ctx, &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String(b.name + "_1.10_" + label),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: []ec2types.Tag{
			{Key: aws.String("ImageName"), Value: aws.String(b.name)},
			{Key: aws.String("ImageVersion"), Value: aws.String("1.10")},
			{Key: aws.String("Name"), Value: aws.String(b.name + ":1.10")},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TerminateInstances(b.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	imgID := aws.ToString(img.ImageId)
	d, err := c.DescribeImages(b.ctx, &ec2.DescribeImagesInput{ImageIds: []string{imgID}})
	if err != nil {
		t.Fatal(err)
	}
	var snaps []string
	for _, bd := range d.Images[0].BlockDeviceMappings {
		if bd.Ebs != nil {
			snaps = append(snaps, aws.ToString(bd.Ebs.SnapshotId))
		}
	}
	time.Sleep(1100 * time.Millisecond) // CreationDate has seconds
	return imgID, snaps
}

// TestIntegrationImageBake: `image up` on EC2 (moto) — the bake instance is
// tagged at launch and runs image.sh + shutdown, the image is made once it
// stopped, tagged (and its snapshots) at creation, the instance is
// terminated; the older images of the same name and version are removed
// with their snapshots unless a running or stopped instance or a launch
// template uses them; `image ls` says who uses what; a cluster's
// aws.ami: <name>:<version> resolves to the new image.
func TestIntegrationImageBake(t *testing.T) {
	b := newBakeWorld(t)
	c := b.w.EC2()
	unused, unusedSnaps := b.oldImage(t, "unused")
	running, _ := b.oldImage(t, "running")
	templated, _ := b.oldImage(t, "templated")
	stopped, _ := b.oldImage(t, "stopped")
	// their users: a cluster's running instance, a launch template, a stopped instance
	user, err := c.RunInstances(b.ctx, &ec2.RunInstancesInput{ImageId: aws.String(running), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(b.w.Subnet()),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String(provider.TagCluster), Value: aws.String("web")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.TerminateInstances(context.WithoutCancel(b.ctx), &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(user.Instances[0].InstanceId)}})
	ltName := awsp.Uniq("lt")
	if _, err := c.CreateLaunchTemplate(b.ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(ltName), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(templated)}}); err != nil {
		t.Fatal(err)
	}
	st, err := c.RunInstances(b.ctx, &ec2.RunInstancesInput{ImageId: aws.String(stopped), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(b.w.Subnet())})
	if err != nil {
		t.Fatal(err)
	}
	stoppedUser := aws.ToString(st.Instances[0].InstanceId)
	if _, err := c.StopInstances(b.ctx, &ec2.StopInstancesInput{InstanceIds: []string{stoppedUser}}); err != nil {
		t.Fatal(err)
	}
	defer c.TerminateInstances(context.WithoutCancel(b.ctx), &ec2.TerminateInstancesInput{InstanceIds: []string{stoppedUser}})

	script, _, err := b.run(t, b.ctx, "image", "build")
	if err != nil {
		t.Fatal(err)
	}
	seen := b.script(t, func(id string) {
		if _, err := c.StopInstances(b.ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
			t.Error(err)
		}
	})
	b.px.Reset()
	out, errOut, err := b.run(t, b.ctx, "-o", "json", "image", "up")
	if err != nil {
		t.Fatalf("image up: %v", err)
	}
	calls := b.px.Reset()
	inst, ok := <-seen
	if !ok {
		t.Fatal("no bake instance ran")
	}
	var res struct {
		Image     provider.ImageInfo   `json:"image"`
		Instance  string               `json:"instance"`
		Snapshots []string             `json:"snapshots"`
		Removed   []string             `json:"removed"`
		Kept      []provider.ImageInfo `json:"kept"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("image up -o json: %v\n%s", err, out)
	}

	// the bake instance: tagged at launch (no CreateTags call), the
	// original's user data and launch parameters
	if res.Instance != aws.ToString(inst.InstanceId) {
		t.Errorf("instance %s, the bake ran %s", res.Instance, aws.ToString(inst.InstanceId))
	}
	wantTags := map[string]string{"ImageName": b.name, "ImageVersion": "1.10", "Name": b.name + ":1.10", "team": "base"}
	if got := tagMap(inst.Tags); !mapHas(got, wantTags) {
		t.Errorf("bake instance tags while it ran: %v, want %v", got, wantTags)
	}
	if calls["CreateTags"] != 0 || calls["RunInstances"] != 1 || calls["CreateImage"] != 1 {
		t.Errorf("calls: %s (tags belong in RunInstances and CreateImage)", awstest.Describe(calls))
	}
	if ud := aws.ToString(inst.KernelId); ud != strings.TrimSuffix(script, "\n")+"\nshutdown -h now" {
		t.Errorf("user data %q, want image build's output + the shutdown", ud)
	}
	if string(inst.InstanceType) != "t3.micro" || aws.ToString(inst.SubnetId) != b.w.Subnet() || aws.ToString(inst.KeyName) != b.w.Key() || aws.ToString(inst.ImageId) != b.w.AMI() {
		t.Errorf("bake instance: type %s subnet %s key %s image %s", inst.InstanceType, aws.ToString(inst.SubnetId), aws.ToString(inst.KeyName), aws.ToString(inst.ImageId))
	}
	if got := b.instances(t)[res.Instance]; got.State == nil || got.State.Name != ec2types.InstanceStateNameTerminated {
		t.Errorf("bake instance after the bake: %+v", got.State)
	}

	// the image: named as the original, available, tagged, its snapshots too
	d, err := c.DescribeImages(b.ctx, &ec2.DescribeImagesInput{ImageIds: []string{res.Image.ID}})
	if err != nil || len(d.Images) != 1 {
		t.Fatalf("new image %s: %v", res.Image.ID, err)
	}
	img := d.Images[0]
	if !strings.HasPrefix(aws.ToString(img.Name), b.name+"_1.10_") || len(aws.ToString(img.Name)) != len(b.name+"_1.10_2006-01-02-15-04-05") ||
		aws.ToString(img.Description) != aws.ToString(img.Name)+" image created by cloud-compose." || img.State != ec2types.ImageStateAvailable {
		t.Errorf("image %s: name %q description %q state %s", res.Image.ID, aws.ToString(img.Name), aws.ToString(img.Description), img.State)
	}
	if got := tagMap(img.Tags); !mapHas(got, wantTags) {
		t.Errorf("image tags %v, want %v", got, wantTags)
	}
	if len(res.Snapshots) == 0 {
		t.Fatal("the image has no snapshots")
	}
	snaps, err := c.DescribeSnapshots(b.ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: res.Snapshots})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps.Snapshots {
		if got := tagMap(s.Tags); !mapHas(got, wantTags) {
			t.Errorf("snapshot %s tags %v, want %v", aws.ToString(s.SnapshotId), got, wantTags)
		}
	}

	// cleanup: only the unused old image went, with its snapshots
	if len(res.Removed) != 1 || res.Removed[0] != unused {
		t.Errorf("removed %v, want only %s", res.Removed, unused)
	}
	kept := map[string][]string{}
	for _, k := range res.Kept {
		kept[k.ID] = k.UsedBy
	}
	for id, why := range map[string]string{running: "cluster web (1 instance)", templated: "launch template " + ltName + " version 1", stopped: "stopped instance " + stoppedUser} {
		if u := kept[id]; len(u) != 1 || u[0] != why {
			t.Errorf("kept %s: used by %v, want %q", id, u, why)
		}
	}
	if left, err := c.DescribeImages(b.ctx, &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("image-id"), Values: []string{unused}}}}); err != nil || len(left.Images) != 0 {
		t.Errorf("image %s still registered (%v)", unused, err)
	}
	if left, err := c.DescribeSnapshots(b.ctx, &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: unusedSnaps}}}); err != nil || len(left.Snapshots) != 0 {
		t.Errorf("snapshots %v of the removed image still there (%v)", unusedSnaps, err)
	}
	for _, w := range []string{"launched bake instance " + res.Instance, "bake instance " + res.Instance + " stopped", "image " + res.Image.ID + " available", "deleted unused image " + unused, "terminated bake instance " + res.Instance} {
		if !strings.Contains(errOut, w) {
			t.Errorf("progress lacks %q:\n%s", w, errOut)
		}
	}

	// image ls: every image of the name, who uses which
	out, _, err = b.run(t, b.ctx, "-o", "json", "image", "ls", b.name)
	if err != nil {
		t.Fatal(err)
	}
	var ls []provider.ImageInfo
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range ls {
		ids = append(ids, i.ID)
		if i.Image != b.name || i.Version != "1.10" || i.Name != b.name+":1.10" {
			t.Errorf("image ls: %+v", i)
		}
	}
	want := []string{res.Image.ID, stopped, templated, running}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("image ls: %v, want newest first %v", ids, want)
	}
	out, _, err = b.run(t, b.ctx, "image", "ls", b.name)
	if err != nil || !strings.Contains(out, "NAME") || !strings.Contains(out, "cluster web (1 instance)") || !strings.Contains(out, "launch template "+ltName) {
		t.Errorf("image ls: %v\n%s", err, out)
	}
	sort.Strings(ids)

	// a second bake with --keep 2 keeps the first bake (unused, newest)
	seen = b.script(t, func(id string) { _, _ = c.StopInstances(b.ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}) })
	out, _, err = b.run(t, b.ctx, "-o", "json", "image", "up", "--keep", "2")
	<-seen
	if err != nil {
		t.Fatal(err)
	}
	var res2 struct {
		Removed []string             `json:"removed"`
		Kept    []provider.ImageInfo `json:"kept"`
	}
	if err := json.Unmarshal([]byte(out), &res2); err != nil {
		t.Fatal(err)
	}
	if len(res2.Removed) != 0 || len(res2.Kept) != 4 || res2.Kept[0].ID != res.Image.ID {
		t.Errorf("--keep 2: removed %v kept %+v", res2.Removed, res2.Kept)
	}
}

func mapHas(got, want map[string]string) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestIntegrationImageBakeFails: a bake instance that ends terminated (not
// stopped) fails the bake with exit 1 and its console output; no image is
// made and no instance is left. An interrupted bake (Ctrl-C) terminates
// its instance too. `image down` terminates a bake instance that a killed
// cloud-compose left.
func TestIntegrationImageBakeFails(t *testing.T) {
	b := newBakeWorld(t)
	c := b.w.EC2()
	images := func() int {
		t.Helper()
		d, err := c.DescribeImages(b.ctx, &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:ImageName"), Values: []string{b.name}}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(d.Images)
	}
	alive := func() []string {
		t.Helper()
		var ids []string
		for id, i := range b.instances(t) {
			if i.State.Name != ec2types.InstanceStateNameTerminated {
				ids = append(ids, id+" "+string(i.State.Name))
			}
		}
		return ids
	}

	// the instance ends terminated: the script never reached its shutdown
	seen := b.script(t, func(id string) {
		_, _ = c.TerminateInstances(b.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	})
	_, errOut, err := b.run(t, b.ctx, "image", "up")
	<-seen
	if code := app.ExitCode(err); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	errOut += fmt.Sprint(err)
	for _, w := range []string{"ended", "not stopped: image.sh did not run to its shutdown; no image was made", "console output, last lines:"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("error lacks %q:\n%s", w, errOut)
		}
	}
	if n := images(); n != 0 || len(alive()) != 0 {
		t.Errorf("after a failed bake: %d images, instances %v", n, alive())
	}

	// Ctrl-C while image.sh runs: the instance is terminated all the same
	ctx, cancel := context.WithCancel(b.ctx)
	seen = b.script(t, func(string) { cancel() })
	_, errOut, err = b.run(t, ctx, "image", "up")
	<-seen
	errOut += fmt.Sprint(err)
	if err == nil || !strings.Contains(errOut, "interrupted") || !strings.Contains(errOut, "terminated bake instance") {
		t.Errorf("interrupted bake: %v\n%s", err, errOut)
	}
	if n := images(); n != 0 || len(alive()) != 0 {
		t.Errorf("after an interrupted bake: %d images, instances %v", n, alive())
	}

	// a leftover of a killed bake: image down ends it, image up warned of it
	left, err := c.RunInstances(b.ctx, &ec2.RunInstancesInput{ImageId: aws.String(b.w.AMI()), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(b.w.Subnet()),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("ImageName"), Value: aws.String(b.name)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	leftID := aws.ToString(left.Instances[0].InstanceId)
	out, _, err := b.run(t, b.ctx, "image", "down")
	if err != nil || out != "terminated "+leftID+"\n" {
		t.Errorf("image down: %v %q", err, out)
	}
	if a := alive(); len(a) != 0 {
		t.Errorf("after image down: %v", a)
	}
	out, _, err = b.run(t, b.ctx, "image", "down")
	if err != nil || out != "" {
		t.Errorf("image down again: %v %q", err, out)
	}
}
