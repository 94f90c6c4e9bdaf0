package aws

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Baking EC2 images: cloud-compose-image's `image up` and `image down`,
// with what it lacked — tags at launch and at image creation, the SDK's
// waiters, an instance that never outlives the bake, and a cleanup that
// keeps images something still uses.

// Tags of a bake (cloud-compose-image's): ImageName, ImageVersion and
// Name=<name>:<version>, on the bake instance, its volumes, the image and
// its snapshots.
const (
	TagImageName    = "ImageName"
	TagImageVersion = "ImageVersion"
)

// bakeShutdown ends the bake script, as the original's did: the instance
// stops itself when the script is done, and a stopped instance is what an
// image is made from. UserDataNoCloudInit is the whole user data of
// `image up --no-cloud-init` (the original's).
const (
	bakeShutdown        = "\nshutdown -h now"
	UserDataNoCloudInit = "#!/bin/bash\nshutdown -h now"
)

// BakeUserData is the user data of a bake: the rendered image.sh and the
// original's shutdown line.
func BakeUserData(script string) string { return script + bakeShutdown }

// consoleTailLines is how much of the bake instance's console output a
// failure shows.
const consoleTailLines = 20

// bakePoll bounds the bake waiters' polling (tests shorten it).
var bakePoll = [2]time.Duration{waitMinDelay, waitMaxDelay}

// terminateTimeout bounds the termination of a bake instance after the
// bake ended (also after Ctrl-C).
const terminateTimeout = 2 * time.Minute

func init() {
	provider.RegisterBaker(Name, func(ctx context.Context) (provider.Baker, error) { return NewBaker(ctx) })
}

var _ provider.Baker = (*Baker)(nil)

// Baker bakes images on EC2.
type Baker struct {
	ec2    *ec2.Client
	region string
	// minDelay and maxDelay bound the waiters' polling.
	minDelay, maxDelay time.Duration
}

// NewBaker returns a Baker configured as the provider is (AWS_REGION,
// AWS_PROFILE, AWS_ENDPOINT_URL, …).
func NewBaker(ctx context.Context) (*Baker, error) {
	cfg, err := loadConfig(ctx)
	if err != nil {
		return nil, err
	}
	if h, ok := ctx.Value(hooksKey{}).(*hooks); ok && h != nil {
		cfg.APIOptions = append(cfg.APIOptions, h.apiOptions...)
	}
	return &Baker{ec2: ec2.NewFromConfig(cfg), region: cfg.Region, minDelay: bakePoll[0], maxDelay: bakePoll[1]}, nil
}

// imageTags are the tags of everything a bake makes.
func imageTags(img *config.Image) []ec2types.Tag {
	tags := []ec2types.Tag{
		{Key: aws.String(TagImageName), Value: aws.String(img.Name)},
		{Key: aws.String(TagImageVersion), Value: aws.String(img.Version)},
		{Key: aws.String(provider.TagName), Value: aws.String(img.Tag())},
	}
	if img.AWS != nil {
		for _, kv := range img.AWS.Tags {
			if isToolTag(kv.Key) {
				continue // config warned
			}
			tags = append(tags, ec2types.Tag{Key: aws.String(kv.Key), Value: aws.String(kv.Value)})
		}
	}
	return tags
}

func isToolTag(k string) bool {
	for _, t := range config.ImageToolTags {
		if k == t {
			return true
		}
	}
	return false
}

// BakeStateError is a bake instance that ended in another state than
// stopped: the script did not finish with the shutdown.
type BakeStateError struct {
	Instance string
	State    string
	Reason   string // EC2's StateReason, if any
	Console  string // the console output's last lines
}

func (e *BakeStateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bake instance %s ended %s, not stopped: image.sh did not run to its shutdown; no image was made", e.Instance, e.State)
	if e.Reason != "" {
		fmt.Fprintf(&b, " (EC2: %s)", e.Reason)
	}
	if e.Console != "" {
		fmt.Fprintf(&b, "; console output, last lines:\n%s", e.Console)
	} else {
		b.WriteString("; EC2 has no console output for it yet")
	}
	return b.String()
}

// Bake runs image.sh on a new instance of image.aws.ami and makes an image
// of the stopped instance:
//
//  1. RunInstances in image.aws.subnet, tagged at launch (instance and
//     volumes), shutdown behaviour stop, user data opts.UserData;
//  2. the SDK's InstanceStopped waiter until it is stopped (pending,
//     running and stopping wait; any other state fails the bake with the
//     console output's tail), at most opts.Timeout;
//  3. CreateImage <name>_<version>_<local time> with the tags on the image
//     and its snapshots, then the ImageAvailable waiter;
//  4. the older images of this name and version that nothing uses are
//     removed (their snapshots too), the newest opts.Keep kept.
//
// The instance is terminated however the bake ends, Ctrl-C included.
func (b *Baker) Bake(ctx context.Context, opts provider.BakeOptions) (res provider.BakeResult, err error) {
	img := opts.Image
	if img == nil || img.AWS == nil {
		return res, errors.New("bake on EC2: the image: section has no aws: section")
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = provider.DefaultBakeTimeout
	}
	keep := opts.Keep
	if keep <= 0 {
		keep = provider.DefaultKeep
	}
	if left, err := b.leftovers(ctx, img.Name); err != nil {
		return res, err
	} else if len(left) > 0 {
		progress(fmt.Sprintf("warning: %s of an earlier bake of %s still there (`cloud-compose image down` terminates them)", strings.Join(left, ", "), img.Name))
	}

	id, err := b.launch(ctx, img, opts.UserData)
	if err != nil {
		return res, err
	}
	res.Instance = id
	progress(fmt.Sprintf("launched bake instance %s (%s, %s in %s)", id, img.Tag(), img.AWS.AMI, img.AWS.Subnet))
	defer func() {
		// the instance goes whatever happened, also after Ctrl-C
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
		defer cancel()
		_, terr := b.ec2.TerminateInstances(tctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		if terr != nil {
			err = errors.Join(err, fmt.Errorf("the bake instance %s is still there: %w; `cloud-compose image down` terminates it", id, wrapErr("terminate "+id, terr)))
			return
		}
		progress("terminated bake instance " + id)
	}()

	if err := b.waitStopped(ctx, id, timeout, progress); err != nil {
		return res, err
	}

	now := time.Now()
	amiName := fmt.Sprintf("%s_%s_%s", img.Name, img.Version, now.Format("2006-01-02-15-04-05"))
	tags := imageTags(img)
	out, err := b.ec2.CreateImage(ctx, &ec2.CreateImageInput{
		InstanceId:  aws.String(id),
		Name:        aws.String(amiName),
		Description: aws.String(amiName + " image created by cloud-compose."),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeImage, Tags: tags},
			{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags},
		},
	})
	if err != nil {
		return res, wrapErr("create image "+amiName+" of "+id, err)
	}
	imageID := aws.ToString(out.ImageId)
	progress(fmt.Sprintf("creating image %s (%s)", imageID, amiName))
	w := ec2.NewImageAvailableWaiter(b.ec2, func(o *ec2.ImageAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = b.minDelay, b.maxDelay
	})
	desc, err := w.WaitForOutput(ctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}}, provider.DefaultImageTimeout)
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("image %s (%s) was registered and is still pending: it becomes usable once available (`cloud-compose image ls` shows it); interrupted: %w", imageID, amiName, ctx.Err())
		}
		return res, wrapErr(fmt.Sprintf("wait until image %s (%s) is available", imageID, amiName), err)
	}
	for _, im := range desc.Images {
		res.Image, res.Snapshots = imageInfo(im), imageSnapshots(im)
	}
	if res.Image.ID == "" {
		res.Image = provider.ImageInfo{ID: imageID, Name: img.Tag(), Image: img.Name, Version: img.Version, AMIName: amiName, Created: now, State: "available"}
	}
	progress(fmt.Sprintf("image %s available", imageID))

	removed, kept, err := b.cleanup(ctx, img.Name, img.Version, imageID, keep, progress)
	res.Removed, res.Kept = removed, kept
	if err != nil {
		return res, fmt.Errorf("image %s is baked; removing older images of %s failed: %w", imageID, img.Tag(), err)
	}
	return res, nil
}

// launch starts the bake instance.
func (b *Baker) launch(ctx context.Context, img *config.Image, userData string) (string, error) {
	a := img.AWS
	tags := imageTags(img)
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	in := &ec2.RunInstancesInput{
		ImageId:                           aws.String(a.AMI),
		MinCount:                          aws.Int32(1),
		MaxCount:                          aws.Int32(1),
		InstanceType:                      ec2types.InstanceType(a.InstanceType),
		Monitoring:                        &ec2types.RunInstancesMonitoringEnabled{Enabled: aws.Bool(a.DetailedMonitoring)},
		EbsOptimized:                      aws.Bool(a.EBSOptimized),
		InstanceInitiatedShutdownBehavior: ec2types.ShutdownBehaviorStop,
		UserData:                          aws.String(base64.StdEncoding.EncodeToString([]byte(userData))),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
		},
		// retries of this call (the SDK's) never make a second instance
		ClientToken: aws.String("cc-bake-" + hex.EncodeToString(nonce[:])),
	}
	if a.Subnet != "" {
		in.SubnetId = aws.String(a.Subnet)
	}
	if len(a.SecurityGroups) > 0 {
		in.SecurityGroupIds = a.SecurityGroups
	}
	if a.KeyPair != "" {
		in.KeyName = aws.String(a.KeyPair)
	}
	if in.InstanceType == "" {
		in.InstanceType = ec2types.InstanceType(config.DefaultImageInstanceType)
	}
	out, err := b.ec2.RunInstances(ctx, in)
	if err != nil {
		return "", wrapErr(fmt.Sprintf("launch the bake instance of %s from %s", img.Tag(), a.AMI), err)
	}
	if len(out.Instances) == 0 {
		return "", fmt.Errorf("launch the bake instance of %s: EC2 returned no instance", img.Tag())
	}
	return aws.ToString(out.Instances[0].InstanceId), nil
}

// waitStopped waits, with the SDK's InstanceStopped waiter, until the bake
// instance has stopped itself. The SDK's own rule fails on "pending",
// which a just-launched instance is: this one waits through pending,
// running and stopping, and fails on every other state.
func (b *Baker) waitStopped(ctx context.Context, id string, timeout time.Duration, progress func(string)) error {
	var last ec2types.InstanceStateName
	var ended *ec2types.Instance
	w := ec2.NewInstanceStoppedWaiter(b.ec2, func(o *ec2.InstanceStoppedWaiterOptions) {
		o.MinDelay, o.MaxDelay = b.minDelay, b.maxDelay
		o.Retryable = func(_ context.Context, _ *ec2.DescribeInstancesInput, out *ec2.DescribeInstancesOutput, err error) (bool, error) {
			if err != nil {
				if errorCode(err) == "InvalidInstanceID.NotFound" {
					return true, nil // not visible yet
				}
				return false, err
			}
			var inst *ec2types.Instance
			for _, r := range out.Reservations {
				for i := range r.Instances {
					inst = &r.Instances[i]
				}
			}
			if inst == nil || inst.State == nil {
				return true, nil
			}
			st := inst.State.Name
			if st != last {
				progress(fmt.Sprintf("bake instance %s %s", id, st))
				last = st
			}
			switch st {
			case ec2types.InstanceStateNameStopped:
				return false, nil
			case ec2types.InstanceStateNamePending, ec2types.InstanceStateNameRunning, ec2types.InstanceStateNameStopping:
				return true, nil
			}
			ended = inst
			return false, errBakeEnded
		}
	})
	err := w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, timeout)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errBakeEnded):
		e := &BakeStateError{Instance: id, State: string(ended.State.Name), Console: b.consoleTail(ctx, id)}
		if ended.StateReason != nil {
			e.Reason = aws.ToString(ended.StateReason.Message)
		}
		return e
	case ctx.Err() != nil:
		return fmt.Errorf("bake interrupted while instance %s ran image.sh: %w", id, ctx.Err())
	}
	if strings.Contains(err.Error(), "exceeded max wait time") {
		msg := fmt.Sprintf("bake instance %s did not stop within %s: image.sh did not reach its shutdown (a longer bake: --timeout)", id, timeout)
		if tail := b.consoleTail(ctx, id); tail != "" {
			msg += "; console output, last lines:\n" + tail
		}
		return errors.New(msg)
	}
	return wrapErr("wait until bake instance "+id+" stops", err)
}

var errBakeEnded = errors.New("bake instance ended")

// consoleTail is the last lines of an instance's console output, "" when
// there is none (or it cannot be read: the bake's error matters more).
func (b *Baker) consoleTail(ctx context.Context, id string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, err := b.ec2.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id), Latest: aws.Bool(true)})
	if err != nil || out.Output == nil {
		// Latest is not offered on every instance type: try without
		out, err = b.ec2.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
		if err != nil || out.Output == nil {
			return ""
		}
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
	if err != nil {
		raw = []byte(aws.ToString(out.Output))
	}
	return strings.TrimRight(lastLines(string(raw), consoleTailLines), "\n")
}

// bakeStates are the states of a bake instance that `image down` ends.
var bakeStates = []string{"pending", "running", "stopping", "stopped"}

// leftovers are the bake instances of the image name that are not
// terminated.
func (b *Baker) leftovers(ctx context.Context, name string) ([]string, error) {
	var ids []string
	p := ec2.NewDescribeInstancesPaginator(b.ec2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + TagImageName), Values: []string{name}},
		{Name: aws.String("instance-state-name"), Values: bakeStates},
	}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("find bake instances of "+name, err)
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Down terminates the instances of earlier bakes of the image name (the
// original's `image down`: tag ImageName=name; here also pending and
// stopping ones).
func (b *Baker) Down(ctx context.Context, name string) ([]string, error) {
	ids, err := b.leftovers(ctx, name)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	if _, err := b.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		return nil, wrapErr("terminate bake instances "+strings.Join(ids, ","), err)
	}
	return ids, nil
}

// Images lists this account's baked images (those with an ImageName tag;
// of one image name when name is not ""), with what uses each.
func (b *Baker) Images(ctx context.Context, name string) ([]provider.ImageInfo, error) {
	f := ec2types.Filter{Name: aws.String("tag-key"), Values: []string{TagImageName}}
	if name != "" {
		f = ec2types.Filter{Name: aws.String("tag:" + TagImageName), Values: []string{name}}
	}
	imgs, err := b.describeImages(ctx, f)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(imgs))
	for i, im := range imgs {
		ids[i] = im.ID
	}
	users, err := b.users(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range imgs {
		imgs[i].UsedBy = users[imgs[i].ID]
	}
	provider.SortImages(imgs)
	return imgs, nil
}

func (b *Baker) describeImages(ctx context.Context, filters ...ec2types.Filter) ([]provider.ImageInfo, error) {
	imgs, _, err := b.describeImagesSnapshots(ctx, filters...)
	return imgs, err
}

// describeImagesSnapshots is describeImages with each image's snapshots,
// by image id.
func (b *Baker) describeImagesSnapshots(ctx context.Context, filters ...ec2types.Filter) ([]provider.ImageInfo, map[string][]string, error) {
	out, err := b.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: filters})
	if err != nil {
		return nil, nil, wrapErr("list images", err)
	}
	imgs := make([]provider.ImageInfo, 0, len(out.Images))
	snaps := map[string][]string{}
	for _, im := range out.Images {
		imgs = append(imgs, imageInfo(im))
		snaps[aws.ToString(im.ImageId)] = imageSnapshots(im)
	}
	return imgs, snaps, nil
}

// imageSnapshots are the EBS snapshots an image's block devices start from.
func imageSnapshots(im ec2types.Image) []string {
	var out []string
	for _, bd := range im.BlockDeviceMappings {
		if bd.Ebs != nil && bd.Ebs.SnapshotId != nil {
			out = append(out, aws.ToString(bd.Ebs.SnapshotId))
		}
	}
	return out
}

func imageInfo(im ec2types.Image) provider.ImageInfo {
	i := provider.ImageInfo{
		ID:      aws.ToString(im.ImageId),
		AMIName: aws.ToString(im.Name),
		Created: parseCreationDate(aws.ToString(im.CreationDate)),
		State:   string(im.State),
		UsedBy:  []string{},
	}
	for _, t := range im.Tags {
		switch aws.ToString(t.Key) {
		case provider.TagName:
			i.Name = aws.ToString(t.Value)
		case TagImageName:
			i.Image = aws.ToString(t.Value)
		case TagImageVersion:
			i.Version = aws.ToString(t.Value)
		}
	}
	return i
}

// users says, per image id, what uses it: instances that are not
// terminated (grouped by cluster; stopped ones too, since they start again
// from it) and launch template versions (an Auto Scaling group launches
// from them).
func (b *Baker) users(ctx context.Context, ids []string) (map[string][]string, error) {
	users := map[string][]string{}
	if len(ids) == 0 {
		return users, nil
	}
	type key struct{ image, what string }
	counts := map[key]int{}
	var order []key
	for start := 0; start < len(ids); start += 200 {
		chunk := ids[start:min(start+200, len(ids))]
		p := ec2.NewDescribeInstancesPaginator(b.ec2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("image-id"), Values: chunk},
			{Name: aws.String("instance-state-name"), Values: bakeStates},
		}})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, wrapErr("find instances that use the images", err)
			}
			for _, r := range out.Reservations {
				for _, in := range r.Instances {
					what := "instance " + aws.ToString(in.InstanceId)
					if c := instanceTag(in, provider.TagCluster); c != "" {
						what = "cluster " + c
					} else if n := instanceTag(in, TagImageName); n != "" {
						what = "bake instance " + aws.ToString(in.InstanceId)
					}
					if in.State != nil && in.State.Name != ec2types.InstanceStateNameRunning && !strings.HasPrefix(what, "cluster ") {
						what = string(in.State.Name) + " " + what
					}
					k := key{aws.ToString(in.ImageId), what}
					if counts[k] == 0 {
						order = append(order, k)
					}
					counts[k]++
				}
			}
		}
	}
	for _, k := range order {
		what := k.what
		if strings.HasPrefix(what, "cluster ") {
			s := ""
			if counts[k] > 1 {
				s = "s"
			}
			what = fmt.Sprintf("%s (%d instance%s)", what, counts[k], s)
		}
		users[k.image] = append(users[k.image], what)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	lts := ec2.NewDescribeLaunchTemplatesPaginator(b.ec2, &ec2.DescribeLaunchTemplatesInput{})
	for lts.HasMorePages() {
		out, err := lts.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("list launch templates (to keep images they use)", err)
		}
		for _, lt := range out.LaunchTemplates {
			vs := ec2.NewDescribeLaunchTemplateVersionsPaginator(b.ec2, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: lt.LaunchTemplateId})
			for vs.HasMorePages() {
				vo, err := vs.NextPage(ctx)
				if err != nil {
					return nil, wrapErr("list the versions of launch template "+aws.ToString(lt.LaunchTemplateName), err)
				}
				for _, v := range vo.LaunchTemplateVersions {
					if v.LaunchTemplateData == nil {
						continue
					}
					img := aws.ToString(v.LaunchTemplateData.ImageId)
					if want[img] {
						users[img] = append(users[img], fmt.Sprintf("launch template %s version %d", aws.ToString(lt.LaunchTemplateName), aws.ToInt64(v.VersionNumber)))
					}
				}
			}
		}
	}
	return users, nil
}

func instanceTag(in ec2types.Instance, key string) string {
	for _, t := range in.Tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// cleanup removes the older available images of name:version that nothing
// uses — the original's rule (same ImageName and ImageVersion, available,
// no pending or running instance on it), also keeping images a stopped
// instance or a launch template uses — and their snapshots, keeping the
// newest keep images (the new one, newID, counts and is never removed).
func (b *Baker) cleanup(ctx context.Context, name, version, newID string, keep int, progress func(string)) (removed []string, kept []provider.ImageInfo, err error) {
	imgs, snapsOf, err := b.describeImagesSnapshots(ctx,
		ec2types.Filter{Name: aws.String("state"), Values: []string{"available"}},
		ec2types.Filter{Name: aws.String("tag:" + TagImageName), Values: []string{name}},
		ec2types.Filter{Name: aws.String("tag:" + TagImageVersion), Values: []string{version}},
	)
	if err != nil {
		return nil, nil, err
	}
	var old []provider.ImageInfo
	for _, im := range imgs {
		if im.ID != newID {
			old = append(old, im)
		}
	}
	if len(old) == 0 {
		return nil, nil, nil
	}
	sort.SliceStable(old, func(i, j int) bool { return old[i].Created.After(old[j].Created) })
	ids := make([]string, len(old))
	for i, im := range old {
		ids[i] = im.ID
	}
	users, err := b.users(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	room := keep - 1 // the new image is one of the kept
	for _, im := range old {
		if u := users[im.ID]; len(u) > 0 {
			im.UsedBy = u
			kept = append(kept, im)
			progress(fmt.Sprintf("kept %s (%s): used by %s", im.ID, im.AMIName, strings.Join(u, ", ")))
			continue
		}
		if room > 0 {
			room--
			kept = append(kept, im)
			progress(fmt.Sprintf("kept %s (%s): one of the newest %d (--keep)", im.ID, im.AMIName, keep))
			continue
		}
		if err := b.removeImage(ctx, im.ID, snapsOf[im.ID], progress); err != nil {
			return removed, kept, err
		}
		removed = append(removed, im.ID)
		progress(fmt.Sprintf("deleted unused image %s (%s)", im.ID, im.AMIName))
	}
	return removed, kept, nil
}

// removeImage deregisters an image and deletes its snapshots (EC2 keeps,
// and bills, the snapshots of a deregistered image).
func (b *Baker) removeImage(ctx context.Context, id string, snaps []string, progress func(string)) error {
	if _, err := b.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)}); err != nil {
		return wrapErr("deregister image "+id, err)
	}
	for _, s := range snaps {
		if _, err := b.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(s)}); err != nil {
			// another image (a copy) may use it: the image is gone either way
			progress(fmt.Sprintf("warning: snapshot %s of deregistered image %s kept: %v", s, id, wrapErr("delete snapshot "+s, err)))
		}
	}
	return nil
}
