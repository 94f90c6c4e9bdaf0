package aws

import (
	"context"
	"errors"
	"sync"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Resolve looks up what the specs need and returns it as a value: the
// image (aws.ami as an id, else the newest image with that Name tag, the
// image the cluster runs winning unless --upgrade-image), with its root
// device when a volume takes it; the snapshot each EBS volume starts from;
// the instance profile's name. It keeps nothing and creates nothing (the
// profile and the log group are made by Ensure).
//
// With opts.Check and something to launch (opts.Launch, or the group in
// ASG mode) it also checks what can be checked before the first launch:
// the configured subnets exist, every node IP lies inside its subnet and
// is not reserved, every elastic IP exists and is free, the image exists.
// Wrong config values are one *config.Error with file:line. A node whose
// IP something else holds is not an error of the whole run: it goes into
// Resolution.Blocked as an *provider.IPInUseError, and the others launch.
//
// Without Check (plan) it makes at most two calls — the image and the
// snapshots — and on a converged cluster whose image is an id, or whose
// running image wins, and no volume takes the image's root device, none
// for the image.
func (p *ec2Provider) Resolve(ctx context.Context, cluster provider.ClusterID, observed []provider.Instance, opts provider.ResolveOptions) (provider.Resolution, error) {
	var res provider.Resolution
	// Volume bounds and logging are checked when the config is loaded;
	// what a launch needs (image, security groups, key pair, subnets) is
	// checked here too, before any call, in case the caller did not.
	if opts.Check {
		if err := p.cluster.CheckUp(); err != nil {
			return res, err
		}
	} else if p.aws.AMI == "" {
		return res, &config.Error{Problems: []config.Problem{p.cluster.Problem([]string{"aws", "ami"}, "is required: an image id (ami-…) or the Name tag of images")}}
	}

	launch := map[string]config.Node{}
	if !p.GroupMode() {
		for _, n := range opts.Launch {
			launch[n.ID] = n
		}
	}
	check := opts.Check && (p.GroupMode() || len(launch) > 0)

	// Independent lookups run concurrently: they are latency, not load.
	// Only the snapshots wait for the image (its root device).
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		errs      []error
		image     provider.Image
		how       string
		snapshots map[int]provider.SnapshotChoice
		subnets   map[string]subnet
		eips      map[string]ec2types.Address
		holders   map[string]string
	)
	run := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	if check {
		run(func() (err error) {
			subnets, err = p.lookupSubnets(ctx)
			return err
		})
		if !p.GroupMode() {
			run(func() (err error) {
				holders, err = p.launchIPHolders(ctx, launch, observed)
				return err
			})
			run(func() (err error) {
				eips, err = p.lookupEIPs(ctx, launch)
				return err
			})
		}
	}
	run(func() error {
		var err error
		image, how, err = p.resolveImage(ctx, p.aws.AMI, observed, opts.UpgradeImage)
		if err != nil {
			return err
		}
		if image.Name != "" {
			p.logf("ami %s resolves to %s %s", image.Name, image.ID, how)
		}
		// The root device is part of the spec of a volume without `block`;
		// a launch also needs to know the image exists.
		if p.needsRootDevice() || (check && !hasImageDetails(image)) {
			if err := p.rootDevice(ctx, &image); err != nil {
				return err
			}
		}
		if !opts.UseSnapshots {
			return nil
		}
		// This cluster's own snapshots come from its own network only;
		// --snapshot-cluster names another cluster's on purpose.
		name := opts.SnapshotCluster
		var vpcs func(context.Context) (map[string]bool, error)
		if name == "" {
			name = p.clusterName()
			vpcs = func(ctx context.Context) (map[string]bool, error) { return p.clusterVPCs(ctx, nil) }
		}
		snapshots, err = p.findSnapshots(ctx, image.RootDevice, name, opts.UpOptions, opts.Launch, vpcs)
		return err
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if check {
		probs := p.checkNetwork(subnets)
		eipProbs, eipErrs := p.checkEIPs(launch, eips, observed)
		probs = append(probs, eipProbs...)
		if len(probs) > 0 {
			return res, errors.Join(append([]error{&config.Error{Problems: probs}}, eipErrs...)...)
		}
		if err := errors.Join(eipErrs...); err != nil {
			return res, err
		}
	}
	res.Image, res.ImageHow = image, how
	if len(snapshots) > 0 {
		res.Snapshots = snapshots
	}
	if p.aws.InstancePolicy != "" {
		res.Profile = p.profileName() // made by Ensure
	}
	for _, n := range opts.Launch {
		if h := holders[n.IP]; n.IP != "" && h != "" {
			if res.Blocked == nil {
				res.Blocked = map[string]error{}
			}
			res.Blocked[n.ID] = &provider.IPInUseError{IP: n.IP, Holder: h}
		}
	}
	return res, nil
}

// hasImageDetails reports whether the image was looked up (it has a root
// device), so its existence is known before the launch.
func hasImageDetails(img provider.Image) bool { return img.RootDevice != "" }
