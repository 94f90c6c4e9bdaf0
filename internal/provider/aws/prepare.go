package aws

import (
	"context"
	"errors"
	"strconv"
	"sync"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Prepare resolves the image (writing aws.ami and aws.ami_name into data)
// and, when something is to be launched, checks everything that can be
// checked before the first launch — the configured subnets exist, every
// node IP lies inside its subnet, every elastic IP exists and is free, the
// image exists — and looks up the block device map with its snapshots (ids
// written back into data) and who holds the nodes' IPs. It creates
// nothing: the instance profile and the log group are made by Ensure, once
// every check and every node's rendering has passed. On a converged
// cluster it makes at most one call (the image lookup with
// --upgrade-image).
func (p *ec2Provider) Prepare(ctx context.Context, data *config.Mapping, observed []provider.Instance, opts provider.UpOptions) error {
	// Everything that can be checked without AWS, before any call.
	var probs []config.Problem
	if err := p.checkVolumes(); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			probs = append(probs, ce.Problems...)
		}
	}
	probs = append(probs, p.checkLogging()...)
	probs = append(probs, p.checkLaunchConfig()...)
	if len(probs) > 0 {
		return &config.Error{Problems: probs}
	}

	prep := &prepared{holders: map[string]string{}, checkedIPs: map[string]bool{}, launchNodes: map[string]config.Node{}}
	launch := p.GroupMode()
	if !launch {
		for _, n := range nodesToLaunch(p.aws.Nodes, observed) {
			prep.launchNodes[n.ID] = n
		}
		launch = len(prep.launchNodes) > 0
	}
	resolve := func() error {
		img, how, err := p.resolveImage(ctx, p.aws.AMI, observed, opts.UpgradeImage)
		if err != nil {
			return err
		}
		prep.image = img
		awsData := subMapping(data, "aws")
		awsData.Set("ami", img.ID)
		if img.Name != "" {
			awsData.Set("ami_name", img.Name)
			p.logf("ami %s resolves to %s %s", img.Name, img.ID, how)
		}
		return nil
	}
	if !launch {
		if err := resolve(); err != nil {
			return err
		}
		p.mu.Lock()
		p.prepared = prep
		p.mu.Unlock()
		return nil
	}

	// Independent lookups run concurrently: they are latency, not load.
	// Only the snapshots wait for the image (its root device).
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		errs      []error
		snapshots map[int]string
		subnets   map[string]subnet
		eips      map[string]ec2types.Address
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
	run(func() (err error) {
		subnets, err = p.lookupSubnets(ctx)
		return err
	})
	if !p.GroupMode() {
		run(func() error { return p.findIPHolders(ctx, prep, observed) })
		run(func() (err error) {
			eips, err = p.lookupEIPs(ctx, prep.launchNodes)
			return err
		})
	}
	run(func() error {
		if err := resolve(); err != nil {
			return err
		}
		if p.needsRootDevice() || !p.hasImageDetails(prep.image) {
			if err := p.rootDevice(ctx, &prep.image); err != nil {
				return err
			}
		}
		if !opts.UseSnapshots {
			return nil
		}
		// This cluster's own snapshots come from its own network only;
		// --snapshot-cluster names another cluster's on purpose.
		cluster := opts.SnapshotCluster
		var vpcs map[string]bool
		if cluster == "" {
			cluster = p.clusterName()
			v, err := p.clusterVPCs(ctx, nil)
			if err != nil {
				return err
			}
			vpcs = v
		}
		s, err := p.findSnapshots(ctx, prep.image.RootDevice, cluster, opts.SnapshotTime, vpcs)
		snapshots = s
		return err
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	probs = p.checkNetwork(subnets)
	eipProbs, eipErrs := p.checkEIPs(prep.launchNodes, eips, observed)
	probs = append(probs, eipProbs...)
	if len(probs) > 0 {
		return errors.Join(append([]error{&config.Error{Problems: probs}}, eipErrs...)...)
	}
	if err := errors.Join(eipErrs...); err != nil {
		return err
	}
	if p.aws.InstancePolicy != "" {
		prep.profile = p.profileName() // made by Ensure
	}
	prep.devices = p.blockDevices(prep.image.RootDevice, snapshots)
	if err := writeSnapshots(data, snapshots); err != nil {
		return err
	}
	p.mu.Lock()
	p.prepared = prep
	p.mu.Unlock()
	return nil
}

// hasImageDetails reports whether the image was looked up (it has a root
// device), so its existence is known before the launch.
func (p *ec2Provider) hasImageDetails(img provider.Image) bool { return img.RootDevice != "" }

// checkLaunchConfig checks the keys a launch needs.
func (p *ec2Provider) checkLaunchConfig() []config.Problem {
	var probs []config.Problem
	if p.aws.AMI == "" {
		probs = append(probs, p.cluster.Problem([]string{"aws", "ami"}, "is required: an image id (ami-…) or the Name tag of images"))
	}
	if len(p.aws.SecurityGroups) == 0 {
		probs = append(probs, p.cluster.Problem([]string{"aws", "security_groups"}, "is required: the security group ids for the instances"))
	}
	if p.GroupMode() {
		if len(p.aws.ASG.Subnets) == 0 {
			probs = append(probs, p.cluster.Problem([]string{"aws", "asg", "subnets"}, "is required: at least one subnet"))
		}
		return probs
	}
	for _, n := range p.aws.Nodes {
		if n.Subnet == "" {
			probs = append(probs, p.cluster.Problem([]string{"aws", "nodes", strconv.Itoa(n.Index), "subnet"}, "node %s needs a subnet", n.ID))
		}
	}
	return probs
}
