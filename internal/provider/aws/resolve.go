package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
// Nodes sized by `hardware:` (their own, or aws.hardware) get, in
// Resolution.Hardware, the instance type ResolveHardware picks in the
// availability zone of their subnet (the one DescribeSubnets of the
// configured subnets tells); a group member whose configured zone is not
// its subnet's is a config error.
//
// Without Check (plan) it makes at most two calls — the image and the
// snapshots — and on a converged cluster whose image is an id, or whose
// running image wins, and no volume takes the image's root device, none
// for the image; with hardware, three more at most (the subnets, the
// region's instance types, each zone's offerings).
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
	sized := p.hardwareNodes(opts.Launch)

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
	if check || len(sized) > 0 {
		run(func() (err error) {
			subnets, err = p.lookupSubnets(ctx)
			return err
		})
	}
	if check {
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
	if len(sized) > 0 {
		hw, err := p.resolveNodeHardware(ctx, sized, subnets)
		if err != nil {
			return res, err
		}
		res.Hardware = hw
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

// hardwareNodes are the nodes sized by `hardware:` whose specs a
// Resolution serves: every configured node and those about to be
// launched, each once; in ASG mode the group's node (no id) when
// aws.hardware is set.
func (p *ec2Provider) hardwareNodes(launch []config.Node) []config.Node {
	if p.GroupMode() {
		if p.aws.Hardware == nil {
			return nil
		}
		return []config.Node{{}}
	}
	var out []config.Node
	seen := map[string]bool{}
	for _, n := range slices.Concat(p.cluster.Nodes(), launch) {
		if seen[n.ID] || p.hardwareOf(n) == nil {
			continue
		}
		seen[n.ID] = true
		out = append(out, n)
	}
	return out
}

// resolveNodeHardware resolves each node's hardware in its zone, by node
// id: once per zone and hardware, so that the nodes of a group in one
// zone share one lookup and one error. A node whose zone cannot be told
// (no subnet, a subnet that does not exist, a group's zone its subnet does
// not lie in) is a config problem with file:line.
func (p *ec2Provider) resolveNodeHardware(ctx context.Context, nodes []config.Node, subnets map[string]subnet) (map[string]provider.HardwareChoice, error) {
	var r provider.Provider = p
	hr, ok := r.(provider.HardwareResolver)
	if !ok {
		return nil, fmt.Errorf("provider %s cannot resolve `hardware:` to an instance type: set instance_type instead", Name)
	}
	if p.GroupMode() {
		return p.resolveASGHardware(ctx, hr, subnets)
	}
	type want struct {
		zone string
		hw   provider.Hardware
		ids  []string
	}
	var (
		probs []config.Problem
		wants []*want
		byKey = map[string]*want{}
	)
	for _, n := range nodes {
		zone, prob := p.nodeZone(n, subnets)
		if prob != nil {
			probs = append(probs, *prob)
			continue
		}
		hw := *p.hardwareOf(n)
		key := zone + "\x00" + hw.String()
		w, ok := byKey[key]
		if !ok {
			w = &want{zone: zone, hw: hw}
			byKey[key] = w
			wants = append(wants, w)
		}
		w.ids = append(w.ids, n.ID)
	}
	if len(probs) > 0 {
		return nil, &config.Error{Problems: probs}
	}
	out := map[string]provider.HardwareChoice{}
	var errs []error
	for _, w := range wants {
		c, err := hr.ResolveHardware(ctx, w.zone, w.hw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", plural(len(w.ids), "node", "nodes"), strings.Join(w.ids, ", "), err))
			continue
		}
		for _, id := range w.ids {
			out[id] = c
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// nodeZone is the availability zone of node n's subnet (or, without a
// subnet, the zone its group places it in), or the config problem that
// keeps it from being known.
func (p *ec2Provider) nodeZone(n config.Node, subnets map[string]subnet) (string, *config.Problem) {
	problem := func(key, format string, args ...any) (string, *config.Problem) {
		pr := p.cluster.Problem(append(n.Path(Name), key), format, args...)
		return "", &pr
	}
	subnetKey := "subnet"
	if n.Group != "" {
		subnetKey = "subnets"
	}
	switch {
	case n.Subnet != "":
		s, ok := subnets[n.Subnet]
		if !ok {
			return problem(subnetKey, "node %s: subnet %s does not exist in region %s (check the id, the region and AWS_REGION)", n.ID, n.Subnet, p.region)
		}
		if n.Zone != "" && s.Zone != "" && n.Zone != s.Zone {
			return problem("zones", "node %s: zone %s is paired with subnet %s, which lies in %s: list the zones in the order of the subnets", n.ID, n.Zone, n.Subnet, s.Zone)
		}
		if s.Zone == "" {
			return problem(subnetKey, "node %s: EC2 reports no availability zone for subnet %s, so `hardware:` cannot be resolved: set instance_type", n.ID, n.Subnet)
		}
		return s.Zone, nil
	case n.Zone != "":
		return n.Zone, nil
	}
	return problem(subnetKey, "node %s: `hardware:` is resolved in the availability zone of the node's subnet: give it a subnet", n.ID)
}

// resolveASGHardware resolves aws.hardware for the auto scaling group: in
// the zone of each of its subnets, which must agree (a launch template
// has one instance type).
func (p *ec2Provider) resolveASGHardware(ctx context.Context, hr provider.HardwareResolver, subnets map[string]subnet) (map[string]provider.HardwareChoice, error) {
	var (
		zones []string
		seen  = map[string]bool{}
		probs []config.Problem
	)
	for i, id := range p.aws.ASG.Subnets {
		s, ok := subnets[id]
		switch {
		case !ok:
			probs = append(probs, p.cluster.Problem([]string{"aws", "asg", "subnets", strconv.Itoa(i)}, "subnet %s does not exist in region %s", id, p.region))
		case s.Zone != "" && !seen[s.Zone]:
			seen[s.Zone] = true
			zones = append(zones, s.Zone)
		}
	}
	if len(probs) > 0 {
		return nil, &config.Error{Problems: probs}
	}
	if len(zones) == 0 {
		return nil, &config.Error{Problems: []config.Problem{p.cluster.Problem([]string{"aws", "hardware"}, "is resolved in the zones of aws.asg.subnets, and none is known: set aws.instance_type")}}
	}
	var first provider.HardwareChoice
	for i, z := range zones {
		c, err := hr.ResolveHardware(ctx, z, *p.aws.Hardware)
		if err != nil {
			return nil, fmt.Errorf("aws.hardware: %w", err)
		}
		if i == 0 {
			first = c
		} else if c.Type != first.Type {
			return nil, &config.Error{Problems: []config.Problem{p.cluster.Problem([]string{"aws", "hardware"},
				"resolves to %s in %s but %s in %s, and an auto scaling group has one instance type: set aws.instance_type", first.Type, zones[0], c.Type, z)}}
		}
	}
	return map[string]provider.HardwareChoice{"": first}, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
