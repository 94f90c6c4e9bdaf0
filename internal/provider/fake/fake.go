// Package fake is an in-memory cloud and provider.Provider for the engine's
// tests. It keeps the whole provider contract — providertest runs against
// it as against the local and AWS providers, so it cannot drift from them —
// and adds hooks to inject failures. It talks to nothing outside the
// process and is for tests only.
package fake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// InstanceType is what the fake's specs and instances say as their type.
const InstanceType = "fake.small"

// DefaultImage is what Resolve returns unless Cloud.Image is set.
var DefaultImage = provider.Image{ID: "img-1", Name: "fake-image"}

// Errors of the fake, wrapped with details.
var (
	// ErrNoInstance: a call named an instance the cloud does not have.
	ErrNoInstance = errors.New("no such instance")
	// ErrForeign: Terminate was asked to act on a foreign instance.
	ErrForeign = errors.New("instance outside the cluster's network")
	// ErrNoImage: a launch spec names no image.
	ErrNoImage = errors.New("the launch spec names no image")
)

// Cloud is one in-memory cloud: the instances of every cluster and
// environment, shared by the providers opened on it (like one moto server
// or one local store). The hook fields say what goes wrong; set them
// before the calls they affect (never while calls run).
type Cloud struct {
	// Image is what Resolve returns (DefaultImage when zero).
	Image provider.Image
	// LaunchDelay is how long each Launch takes (so tests can see how many
	// run at once).
	LaunchDelay time.Duration

	// FailLaunch: node id -> error of a launch that makes nothing.
	FailLaunch map[string]error
	// LoseLaunch: node id -> error returned by a launch that did make its
	// instance (the answer was lost on the way back).
	LoseLaunch map[string]error
	// FailAfterLaunch: node id -> error of a post-launch step (an elastic
	// IP that cannot be associated): WaitRunning leaves the instance out
	// and names it in an InstanceErrors; the instance runs.
	FailAfterLaunch map[string]error
	// DieAfterStart: node id -> why the node's instance dies right after
	// WaitRunning saw it run: it is then failed (exit code 1) and
	// Watcher.Alive returns this error.
	DieAfterStart map[string]error
	// BootLog: node id -> lines the instance's log gets after "booting
	// <id>" (LogReader).
	BootLog map[string]string
	// HoldIP: ip -> how many more launches find it still in use after its
	// instance was terminated (EC2 frees a terminated instance's network
	// interface a little later).
	HoldIP map[string]int
	// FailResolve, when set, is Resolve's error.
	FailResolve error

	mu         sync.Mutex
	insts      []*record
	made       int
	memberIPs  int // addresses given to node-group members
	seq        int
	calls      map[string]int
	terminated []string
	active     int
	maxActive  int
}

type record struct {
	inst     provider.Instance
	cluster  provider.ClusterID
	userData string
	dead     error // why it is not alive (Watcher)
	log      string
}

// NewCloud returns an empty cloud.
func NewCloud() *Cloud { return &Cloud{} }

// Provider is a provider.Provider on a Cloud, for one run: launches are
// idempotent per cluster, node and spec for the same Provider (the AWS
// provider's client token per run; the local provider's live instance with
// the same spec).
type Provider struct {
	cloud *Cloud
	opts  Options
	run   string

	mu     sync.Mutex
	tokens map[string]string // launch token -> instance id
}

// Options are what the config would say to a real provider.
type Options struct {
	// TerminateProtection: launched instances have termination
	// protection (the spec's flag).
	TerminateProtection bool
	// Tags are the user's tags, put on every instance.
	Tags []config.KeyValue
}

var (
	_ provider.Provider       = (*Provider)(nil)
	_ provider.UserDataReader = (*Provider)(nil)
	_ provider.Watcher        = (*Provider)(nil)
	_ provider.LogReader      = (*Provider)(nil)
)

// New returns a provider on cloud (one run).
func New(cloud *Cloud, opts Options) *Provider {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Provider{cloud: cloud, opts: opts, run: hex.EncodeToString(b[:]), tokens: map[string]string{}}
}

// Cloud returns the cloud the provider runs on.
func (p *Provider) Cloud() *Cloud { return p.cloud }

// count records a call; c.mu is held.
func (c *Cloud) count(method string) {
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[method]++
}

// Calls returns how often each method was called.
func (c *Cloud) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// TotalCalls is the number of provider calls made on the cloud.
func (c *Cloud) TotalCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// Made is how many instances launches made (Put not counted).
func (c *Cloud) Made() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.made
}

// Terminated lists the instances Terminate terminated, in order.
func (c *Cloud) Terminated() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.terminated)
}

// MaxConcurrentLaunches is the most launches that ran at once.
func (c *Cloud) MaxConcurrentLaunches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxActive
}

// Put adds an instance to the cluster as if someone (an older version, a
// hand, another project when inst.Foreign is set) had made it. An empty
// ID gets one; a zero Launched is now.
func (c *Cloud) Put(cluster provider.ClusterID, inst provider.Instance) provider.Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	if inst.ID == "" {
		inst.ID = c.newID()
	}
	if inst.Launched.IsZero() {
		inst.Launched = time.Now()
	}
	if inst.Tags == nil {
		inst.Tags = map[string]string{provider.TagCluster: cluster.Name}
		if inst.NodeID != "" {
			inst.Tags[provider.TagNode] = inst.NodeID
		}
	}
	c.insts = append(c.insts, &record{inst: inst, cluster: cluster})
	return inst
}

// Kill makes instance id die as a crashed server does: failed with
// exitCode; Watcher.Alive then says so.
func (c *Cloud) Kill(id string, exitCode int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.byID(id)
	if r == nil {
		return fmt.Errorf("kill %s: %w", id, ErrNoInstance)
	}
	r.inst.State, r.inst.ExitCode = provider.Failed, &exitCode
	r.dead = fmt.Errorf("instance %s (node %s) failed (exit code %d)", id, r.inst.NodeID, exitCode)
	return nil
}

func (c *Cloud) newID() string {
	c.seq++
	return fmt.Sprintf("i-%d", c.seq)
}

// byID returns the record of id; c.mu is held.
func (c *Cloud) byID(id string) *record {
	for _, r := range c.insts {
		if r.inst.ID == id {
			return r
		}
	}
	return nil
}

// holder returns the live instance that holds ip in the cloud's network,
// if any; c.mu is held. As on EC2, an instance holds its IP until it is
// terminated, whatever its state; foreign instances live in another
// network.
func (c *Cloud) holder(ip string) *record {
	if ip == "" {
		return nil
	}
	for _, r := range c.insts {
		if r.inst.Foreign == "" && r.inst.State != provider.Terminated && r.inst.IP == ip {
			return r
		}
	}
	return nil
}

func ipInUse(r *record) error {
	return &provider.IPInUseError{IP: r.inst.IP, Holder: fmt.Sprintf("fake instance %s (node %s of cluster %s, %s)", r.inst.ID, r.inst.NodeID, r.cluster.Name, r.inst.State)}
}

// Resolve returns the cloud's image and, with opts.Check, blocks every node
// of opts.Launch whose IP an instance other than the node's own holds (an
// *provider.IPInUseError). It creates nothing.
func (p *Provider) Resolve(_ context.Context, cluster provider.ClusterID, _ []provider.Instance, opts provider.ResolveOptions) (provider.Resolution, error) {
	c := p.cloud
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count("Resolve")
	if c.FailResolve != nil {
		return provider.Resolution{}, c.FailResolve
	}
	res := provider.Resolution{Image: c.Image}
	if res.Image.ID == "" {
		res.Image = DefaultImage
	}
	if !opts.Check {
		return res, nil
	}
	for _, n := range opts.Launch {
		h := c.holder(n.IP)
		if h == nil || (h.cluster == cluster && h.inst.NodeID == n.ID) {
			// free, or the node's own instance: a live one is kept, a dead
			// one terminated before the launch
			continue
		}
		if res.Blocked == nil {
			res.Blocked = map[string]error{}
		}
		res.Blocked[n.ID] = ipInUse(h)
	}
	return res, nil
}

// Spec is node's spec: the resolved image, the user data, the node's
// network, the user's tags, env and termination protection. Pure.
func (p *Provider) Spec(node config.Node, res provider.Resolution, userData string, env []config.KeyValue) provider.Spec {
	return provider.Spec{
		Image:        res.Image.ID,
		ImageName:    res.Image.Name,
		InstanceType: InstanceType,
		UserData:     userData,
		Subnet:       node.Subnet,
		IP:           node.IP,
		EIP:          node.EIP,
		Tags:         slices.Clone(p.opts.Tags),
		Env:          slices.Clone(env),
		Flags:        provider.Flags{TerminateProtection: p.opts.TerminateProtection},
	}
}

// Instances returns the cluster's instances (its name and environment)
// that are not terminated, foreign ones included (marked).
func (p *Provider) Instances(_ context.Context, cluster provider.ClusterID) ([]provider.Instance, error) {
	c := p.cloud
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count("Instances")
	var out []provider.Instance
	for _, r := range c.insts {
		if r.cluster == cluster && r.inst.State != provider.Terminated {
			out = append(out, r.copy())
		}
	}
	return out, nil
}

func (r *record) copy() provider.Instance {
	in := r.inst
	in.Tags = make(map[string]string, len(r.inst.Tags))
	for k, v := range r.inst.Tags {
		in.Tags[k] = v
	}
	if r.inst.ExitCode != nil {
		code := *r.inst.ExitCode
		in.ExitCode = &code
	}
	return in
}

// Launch makes exactly ls.Spec, tagged with ls.Spec.Tag(). A retry by the
// same Provider with the same cluster, node and spec returns the instance
// the first call made while it is not terminated. A static IP that another
// instance holds is an *provider.IPInUseError.
func (p *Provider) Launch(ctx context.Context, ls provider.LaunchSpec) (provider.Instance, error) {
	c := p.cloud
	c.mu.Lock()
	c.count("Launch")
	c.active++
	c.maxActive = max(c.maxActive, c.active)
	delay := c.LaunchDelay
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.active--
		c.mu.Unlock()
	}()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return provider.Instance{}, ctx.Err()
		}
	}
	fail := func(err error) (provider.Instance, error) {
		return provider.Instance{}, fmt.Errorf("launch node %s: %w", ls.Node.ID, err)
	}
	token := provider.SpecHash(ls.Cluster.Name, ls.Cluster.Env, ls.Node.ID, ls.Spec.Hash(), p.run)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.FailLaunch[ls.Node.ID]; err != nil {
		return provider.Instance{}, err
	}
	p.mu.Lock()
	id, ok := p.tokens[token]
	p.mu.Unlock()
	if ok {
		if r := c.byID(id); r != nil && r.inst.State != provider.Terminated {
			return r.copy(), nil
		}
	}
	if ls.Spec.Image == "" {
		return fail(ErrNoImage)
	}
	if h := c.holder(ls.Spec.IP); h != nil {
		return fail(ipInUse(h))
	}
	if n := c.HoldIP[ls.Spec.IP]; n > 0 {
		c.HoldIP[ls.Spec.IP] = n - 1
		return fail(&provider.IPInUseError{IP: ls.Spec.IP, Holder: "a network interface being deleted"})
	}
	tag := ls.Spec.Tag()
	tags := provider.TagMap(provider.LaunchTags(ls.Cluster, ls.Node.ID, ls.Generation, tag, ls.Spec.Tags))
	ip := ls.Spec.IP
	if ip == "" && ls.Node.Group != "" {
		// a node-group member: the cloud picks an address, as a subnet does
		c.memberIPs++
		ip = fmt.Sprintf("10.99.%d.%d", c.memberIPs/250, c.memberIPs%250+1)
	}
	r := &record{
		inst: provider.Instance{
			ID: c.newID(), NodeID: ls.Node.ID, State: provider.Pending, IP: ip,
			Image: ls.Spec.Image, Type: ls.Spec.InstanceType, Launched: time.Now(), Spec: tag,
			Protected: ls.Spec.Flags.TerminateProtection, Tags: tags, Generation: ls.Generation,
		},
		cluster:  ls.Cluster,
		userData: ls.Spec.UserData,
	}
	r.log = "booting " + r.inst.ID + "\n" + c.BootLog[ls.Node.ID]
	c.insts = append(c.insts, r)
	c.made++
	p.mu.Lock()
	p.tokens[token] = r.inst.ID
	p.mu.Unlock()
	if err := c.LoseLaunch[ls.Node.ID]; err != nil {
		return provider.Instance{}, err
	}
	return r.copy(), nil
}

// WaitRunning makes pending instances run and returns those that run with
// every post-launch step done; the others are named in an InstanceErrors.
func (p *Provider) WaitRunning(_ context.Context, instances []provider.Instance) ([]provider.Instance, error) {
	c := p.cloud
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count("WaitRunning")
	var out []provider.Instance
	failed := provider.InstanceErrors{}
	for _, w := range instances {
		r := c.byID(w.ID)
		switch {
		case r == nil:
			failed[w.ID] = fmt.Errorf("wait for %s: %w", w.ID, ErrNoInstance)
			continue
		case r.inst.State == provider.Pending:
			r.inst.State = provider.Running
		case r.inst.State != provider.Running:
			failed[w.ID] = fmt.Errorf("instance %s (node %s) is %s", w.ID, r.inst.NodeID, r.inst.State)
			continue
		}
		if err := c.FailAfterLaunch[r.inst.NodeID]; err != nil {
			failed[w.ID] = err
			continue
		}
		out = append(out, r.copy())
		if err := c.DieAfterStart[r.inst.NodeID]; err != nil && r.dead == nil {
			code := 1
			r.inst.State, r.inst.ExitCode, r.dead = provider.Failed, &code, err
		}
	}
	if len(failed) > 0 {
		return out, failed
	}
	return out, nil
}

// Terminate terminates instances at once. Without force, protected
// instances are a *provider.ProtectedError and nothing is terminated; a
// foreign or unknown instance is an error and nothing is terminated.
func (p *Provider) Terminate(_ context.Context, ids []string, force bool) error {
	c := p.cloud
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count("Terminate")
	var protected []provider.Instance
	var recs []*record
	for _, id := range ids {
		r := c.byID(id)
		switch {
		case r == nil:
			return fmt.Errorf("terminate %s: %w", id, ErrNoInstance)
		case r.inst.Foreign != "":
			return fmt.Errorf("%w: refusing to terminate %s (%s); nothing was terminated", ErrForeign, id, r.inst.Foreign)
		case r.inst.State == provider.Terminated:
			continue
		case r.inst.Protected && !force:
			protected = append(protected, r.copy())
		}
		recs = append(recs, r)
	}
	if len(protected) > 0 {
		return &provider.ProtectedError{Instances: protected}
	}
	for _, r := range recs {
		r.inst.State, r.inst.Protected = provider.Terminated, false
		if r.dead == nil {
			r.dead = fmt.Errorf("instance %s (node %s) is terminated", r.inst.ID, r.inst.NodeID)
		}
		c.terminated = append(c.terminated, r.inst.ID)
	}
	return nil
}

// WaitTerminated returns once the instances are terminated (Terminate
// terminates at once); an instance that is not being terminated is an
// error.
func (p *Provider) WaitTerminated(_ context.Context, ids []string) error {
	c := p.cloud
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count("WaitTerminated")
	for _, id := range ids {
		if r := c.byID(id); r != nil && r.inst.State != provider.Terminated {
			return fmt.Errorf("instance %s (node %s) is %s, not terminating", id, r.inst.NodeID, r.inst.State)
		}
	}
	return nil
}

// UserData returns the user data instance id was launched with.
func (p *Provider) UserData(_ context.Context, id string) (string, error) {
	c := p.cloud
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count("UserData")
	r := c.byID(id)
	if r == nil {
		return "", fmt.Errorf("user data of %s: %w", id, ErrNoInstance)
	}
	return r.userData, nil
}

// Alive is nil while the instance is pending or running and not dead.
func (p *Provider) Alive(_ context.Context, id string) error {
	c := p.cloud
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count("Alive")
	r := c.byID(id)
	switch {
	case r == nil:
		return fmt.Errorf("instance %s: %w", id, ErrNoInstance)
	case r.dead != nil:
		return r.dead
	case !r.inst.State.Live():
		return fmt.Errorf("instance %s (node %s) is %s", id, r.inst.NodeID, r.inst.State)
	}
	return nil
}

// Logs writes the last tail lines (all when tail <= 0) of the instance's
// log: "booting <id>" and the node's BootLog.
func (p *Provider) Logs(_ context.Context, id string, w io.Writer, _ bool, tail int) error {
	c := p.cloud
	c.mu.Lock()
	r := c.byID(id)
	var log string
	if r != nil {
		log = r.log
	}
	c.count("Logs")
	c.mu.Unlock()
	if r == nil {
		return fmt.Errorf("logs of %s: %w", id, ErrNoInstance)
	}
	lines := strings.SplitAfter(log, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	_, err := io.WriteString(w, strings.Join(lines, ""))
	return err
}
