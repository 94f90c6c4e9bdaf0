// Package providertest is the one conformance suite of the provider
// contract (internal/provider): Run exercises, through a Harness, what
// every provider must do — the local provider (real processes), the AWS
// provider (moto) and the fake the engine tests use. It knows no
// provider's internals; what differs between clouds comes from the Harness.
package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Harness is what the suite needs from one provider.
type Harness struct {
	// NewCloud returns a fresh cloud for one case: the clusters the case
	// opens live side by side in it (local: one store directory and
	// loopback network; AWS: one VPC and subnet; fake: one fake.Cloud).
	// The harness registers its own cleanup on t; the suite terminates
	// what it launched before that runs.
	NewCloud func(t *testing.T) Cloud
	// IPConflict says how the provider reports a node whose static IP a
	// live instance of another cluster holds.
	IPConflict IPConflict
	// Watcher says the provider implements provider.Watcher (local, fake)
	// or not (aws): the suite checks the declaration either way, and
	// Alive's contract where it is implemented.
	Watcher bool
	// Timeout bounds each case (DefaultTimeout when 0).
	Timeout time.Duration
}

// IPConflict says where a provider finds a taken IP; the contract allows
// either, and at least one must be true. The suite holds the provider to
// exactly what its harness declares, so the declaration documents it.
type IPConflict struct {
	// Resolve: Resolve with Check puts the node in Resolution.Blocked, as
	// an error matching *provider.IPInUseError.
	Resolve bool
	// Launch: Launch fails with an error matching *provider.IPInUseError
	// (the IP was taken since Resolve looked). When false, Launch must
	// still fail and make nothing.
	Launch bool
}

// DefaultTimeout bounds each case when Harness.Timeout is 0.
const DefaultTimeout = 3 * time.Minute

// Cloud opens providers for clusters of one cloud.
type Cloud struct {
	// Open opens a provider for cluster c in this cloud.
	Open func(t *testing.T, c Cluster) Opened
	// Kill, when set, makes a running instance die as a crashed server
	// does (local: its processes are killed); the suite then expects
	// Watcher.Alive to say so.
	Kill func(t *testing.T, instanceID string)
	// Protect, when set, turns termination protection on for an instance
	// of a Protected cluster after its launch, where the cloud does not do
	// it at launch (moto ignores RunInstances' DisableApiTermination; EC2
	// honours it). Without it, the launch must protect the instance.
	Protect func(t *testing.T, instanceID string)
}

// Cluster is a cluster the suite asks the harness to open.
type Cluster struct {
	// Name is the cluster's name, unique to the case (the suite makes it).
	Name string
	// Env is the environment ("" for the default).
	Env string
	// Nodes is how many static nodes the cluster has: node i has id
	// strconv.Itoa(i) and the cloud's (FirstIP+i)th static IP in the
	// provider's own address space (local: a 127/8 address; AWS: the test
	// subnet's). Two clusters with overlapping ranges share IPs.
	Nodes   int
	FirstIP int
	// Protected: the cluster's config turns termination protection on.
	Protected bool
}

// Opened is a provider opened for a cluster.
type Opened struct {
	Provider provider.Provider
	// Nodes are the cluster's static nodes, as the config loaded them.
	Nodes []config.Node
	// UserData is a boot script that keeps an instance running until it
	// is terminated.
	UserData string
	// Calls, when set, returns how many API calls the provider has made
	// so far (the suite checks that Spec makes none).
	Calls func() int
}

// Generation is what the suite's launches record in TagGeneration.
const Generation = "g-conformance"

// env is the `environment:` the suite's nodes get.
var env = []config.KeyValue{{Key: "CONFORMANCE", Value: "1"}}

// Run runs the suite, each case a subtest with a fresh cloud.
func Run(t *testing.T, h Harness) {
	if !h.IPConflict.Resolve && !h.IPConflict.Launch {
		t.Fatal("providertest: the harness must say where the provider finds a taken IP (IPConflict.Resolve and/or .Launch)")
	}
	cases := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"ResolveCreatesNothingAndSpecIsPure", testResolveAndSpec},
		{"LaunchShowsInInstances", testLaunch},
		{"LaunchIsIdempotent", testIdempotent},
		{"InstancesFilterClusterAndEnv", testFilter},
		{"TerminateProtection", testProtection},
		{"WaitRunningAndTerminated", testWait},
		{"Watcher", testWatcher},
		{"IPConflict", testIPConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			timeout := h.Timeout
			if timeout <= 0 {
				timeout = DefaultTimeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			s := &suite{h: h, ctx: ctx, cloud: h.NewCloud(t), prefix: "pt" + randomHex(3)}
			c.fn(t, s)
		})
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type suite struct {
	h      Harness
	ctx    context.Context
	cloud  Cloud
	prefix string
}

// cluster is an opened cluster of a case.
type cluster struct {
	Opened
	t   *testing.T
	ctx context.Context
	id  provider.ClusterID
	c   Cluster
	// res is the Resolution of the last up.
	res provider.Resolution
}

// open opens cluster c (its name made unique) and registers the
// termination of everything it has left at the end of the case.
func (s *suite) open(t *testing.T, c Cluster) *cluster {
	t.Helper()
	c.Name = s.prefix + "-" + c.Name
	o := s.cloud.Open(t, c)
	if len(o.Nodes) != c.Nodes {
		t.Fatalf("harness opened %d nodes, want %d", len(o.Nodes), c.Nodes)
	}
	cl := &cluster{Opened: o, t: t, ctx: s.ctx, id: provider.ClusterID{Name: c.Name, Env: c.Env}, c: c}
	t.Cleanup(cl.terminateAll)
	return cl
}

// terminateAll terminates, with force, every instance the cluster has.
func (c *cluster) terminateAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	insts, err := c.Provider.Instances(ctx, c.id)
	if err != nil {
		c.t.Errorf("cleanup: instances of %s: %v", c.id.Name, err)
		return
	}
	var ids []string
	for _, i := range insts {
		if i.Foreign == "" {
			ids = append(ids, i.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := c.Provider.Terminate(ctx, ids, true); err != nil {
		c.t.Errorf("cleanup: terminate %v: %v", ids, err)
		return
	}
	if err := c.Provider.WaitTerminated(ctx, ids); err != nil {
		c.t.Errorf("cleanup: wait for %v: %v", ids, err)
	}
}

func (c *cluster) resolve(check bool) provider.Resolution {
	c.t.Helper()
	observed := c.instances()
	res, err := c.Provider.Resolve(c.ctx, c.id, observed, provider.ResolveOptions{Launch: c.Nodes, Check: check})
	if err != nil {
		c.t.Fatalf("resolve %s: %v", c.id.Name, err)
	}
	return res
}

func (c *cluster) launchSpec(n config.Node, res provider.Resolution) provider.LaunchSpec {
	return provider.LaunchSpec{Cluster: c.id, Node: n, Spec: c.Provider.Spec(n, res, c.UserData, env), Generation: Generation}
}

// up resolves with the checks and launches every node at once, as the
// engine does, then waits until they run. It returns the launch specs and
// the running instances, by node index.
func (c *cluster) up() ([]provider.LaunchSpec, []provider.Instance) {
	c.t.Helper()
	res := c.resolve(true)
	if len(res.Blocked) > 0 {
		c.t.Fatalf("resolve %s blocked nodes: %v", c.id.Name, res.Blocked)
	}
	c.res = res
	specs := make([]provider.LaunchSpec, len(c.Nodes))
	launched := make([]provider.Instance, len(c.Nodes))
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		specs[i] = c.launchSpec(n, res)
		wg.Add(1)
		go func() {
			defer wg.Done()
			launched[i], errs[i] = c.Provider.Launch(c.ctx, specs[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.t.Fatalf("launch %s: %v", c.id.Name, err)
	}
	for i, in := range launched {
		if in.ID == "" || in.NodeID != c.Nodes[i].ID {
			c.t.Fatalf("launch of node %s returned instance %q of node %q", c.Nodes[i].ID, in.ID, in.NodeID)
		}
	}
	running, err := c.Provider.WaitRunning(c.ctx, launched)
	if err != nil {
		c.t.Fatalf("wait until %s runs: %v", c.id.Name, err)
	}
	if len(running) != len(launched) {
		c.t.Fatalf("WaitRunning returned %d of %d instances", len(running), len(launched))
	}
	byID := map[string]provider.Instance{}
	for _, in := range running {
		byID[in.ID] = in
	}
	out := make([]provider.Instance, len(launched))
	for i, in := range launched {
		r, ok := byID[in.ID]
		if !ok {
			c.t.Fatalf("WaitRunning left out %s (node %s) without an error", in.ID, in.NodeID)
		}
		if r.State != provider.Running {
			c.t.Errorf("WaitRunning returned %s in state %s", r.ID, r.State)
		}
		out[i] = r
	}
	return specs, out
}

func (c *cluster) instances() []provider.Instance {
	c.t.Helper()
	insts, err := c.Provider.Instances(c.ctx, c.id)
	if err != nil {
		c.t.Fatalf("instances of %s: %v", c.id.Name, err)
	}
	return insts
}

// ids returns the sorted ids of insts.
func ids(insts []provider.Instance) string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Resolve creates nothing; Spec is pure (no API call) and deterministic;
// the spec tag tells the fields apart.
func testResolveAndSpec(t *testing.T, s *suite) {
	a := s.open(t, Cluster{Name: "a", Nodes: 2})
	res1 := a.resolve(true)
	res2 := a.resolve(true)
	if len(res1.Blocked) > 0 {
		t.Fatalf("a fresh cluster has blocked nodes: %v", res1.Blocked)
	}
	if !reflect.DeepEqual(res1, res2) {
		t.Errorf("two Resolves differ:\n%+v\n%+v", res1, res2)
	}
	if res1.Image.ID == "" {
		t.Errorf("Resolve returned no image: %+v", res1)
	}
	if got := a.instances(); len(got) != 0 {
		t.Fatalf("Resolve created instances: %s", ids(got))
	}
	var before int
	if a.Calls != nil {
		before = a.Calls()
	}
	n0, n1 := a.Nodes[0], a.Nodes[1]
	s0 := a.Provider.Spec(n0, res1, a.UserData, env)
	again := a.Provider.Spec(n0, res2, a.UserData, env)
	s1 := a.Provider.Spec(n1, res1, a.UserData, env)
	other := a.Provider.Spec(n0, res1, a.UserData+"\n# another boot script\n", env)
	if a.Calls != nil {
		if n := a.Calls() - before; n != 0 {
			t.Errorf("Spec made %d API calls, want 0", n)
		}
	}
	if !reflect.DeepEqual(s0, again) || s0.Tag() != again.Tag() || s0.Hash() != again.Hash() {
		t.Errorf("Spec is not deterministic:\n%+v\n%+v", s0, again)
	}
	if s0.Image != res1.Image.ID || s0.UserData != a.UserData || s0.IP != n0.IP || s1.IP != n1.IP {
		t.Errorf("spec does not carry the image %s, the user data and the node's IP %s: %+v", res1.Image.ID, n0.IP, s0)
	}
	if s0.Flags.TerminateProtection != a.c.Protected {
		t.Errorf("spec's termination protection %v, the config says %v", s0.Flags.TerminateProtection, a.c.Protected)
	}
	if s0.Tag() == s1.Tag() {
		t.Errorf("nodes 0 and 1 (IPs %s, %s) have the same spec tag %s", n0.IP, n1.IP, s0.Tag())
	}
	changes, ok := provider.TagChanges(provider.Instance{Spec: s0.Tag()}, other)
	if !ok || len(changes) != 1 || changes[0].Field != provider.FieldUserData {
		t.Errorf("another boot script: tag changes %v (ok %v), want user_data only", changes, ok)
	}
	changes, ok = provider.TagChanges(provider.Instance{Spec: s0.Tag(), IP: n0.IP}, s1)
	if !ok || len(changes) != 1 || changes[0].Field != "ip" {
		t.Errorf("another node: tag changes %v (ok %v), want ip only", changes, ok)
	}
}

// Launch → Instances shows the instance with its node, IP and spec tag,
// and the spec round-trips through the tag (and, where kept, the launched
// spec and the user data).
func testLaunch(t *testing.T, s *suite) {
	a := s.open(t, Cluster{Name: "a", Nodes: 2})
	specs, running := a.up()
	observed := a.instances()
	if len(observed) != 2 {
		t.Fatalf("Instances shows %d instances (%s), want 2", len(observed), ids(observed))
	}
	for i, n := range a.Nodes {
		ls := specs[i]
		m := provider.MatchNode(observed, n)
		if m.Live == nil || m.Live.ID != running[i].ID || len(m.Duplicates) > 0 {
			t.Errorf("node %s: matched %+v, want live %s", n.ID, m, running[i].ID)
			continue
		}
		in := *m.Live
		if in.NodeID != n.ID || in.IP != n.IP || in.State != provider.Running || in.Foreign != "" {
			t.Errorf("node %s: instance %s shows node %q, IP %q (want %s), state %s, foreign %q", n.ID, in.ID, in.NodeID, in.IP, n.IP, in.State, in.Foreign)
		}
		if in.Spec != ls.Spec.Tag() {
			t.Errorf("node %s: spec tag %q, want %q", n.ID, in.Spec, ls.Spec.Tag())
		}
		if in.Image != ls.Spec.Image || in.Launched.IsZero() || in.Generation != Generation {
			t.Errorf("node %s: image %q (want %q), launched %v, generation %q (want %q)", n.ID, in.Image, ls.Spec.Image, in.Launched, in.Generation, Generation)
		}
		if in.Tags[provider.TagCluster] != a.id.Name || in.Tags[provider.TagNode] != n.ID || in.Tags[provider.TagSpec] != ls.Spec.Tag() {
			t.Errorf("node %s: tags %v", n.ID, in.Tags)
		}
		if c, ok := provider.TagChanges(in, ls.Spec); !ok || len(c) != 0 {
			t.Errorf("node %s: the spec tag does not round-trip: %v (ok %v)", n.ID, c, ok)
		}
		if c := provider.Changes(in, ls.Spec); len(c) != 0 {
			t.Errorf("node %s: changes against its own spec: %v", n.ID, c)
		}
		changed := a.Provider.Spec(n, a.res, a.UserData+"\n# v2\n", env)
		if c := provider.Changes(in, changed); len(c) != 1 || c[0].Field != provider.FieldUserData {
			t.Errorf("node %s: changes against another boot script: %v, want user_data", n.ID, c)
		}
		if in.LaunchedSpec != nil && (in.LaunchedSpec.Hash() != ls.Spec.Hash() || len(provider.Diff(*in.LaunchedSpec, ls.Spec)) != 0) {
			t.Errorf("node %s: the launched spec differs: %v", n.ID, provider.Diff(*in.LaunchedSpec, ls.Spec))
		}
		if rd, ok := a.Provider.(provider.UserDataReader); ok {
			ud, err := rd.UserData(s.ctx, in.ID)
			if err != nil || ud != ls.Spec.UserData {
				t.Errorf("node %s: UserData = %q, %v; want %q", n.ID, ud, err, ls.Spec.UserData)
			}
		}
	}
}

// A retried Launch with the same LaunchSpec returns the same instance,
// never a second one.
func testIdempotent(t *testing.T, s *suite) {
	a := s.open(t, Cluster{Name: "a", Nodes: 1})
	ls := a.launchSpec(a.Nodes[0], a.resolve(true))
	first, err := a.Provider.Launch(s.ctx, ls)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := a.Provider.Launch(s.ctx, ls)
	if err != nil || retry.ID != first.ID {
		t.Fatalf("retried launch: %s, %v; want %s", retry.ID, err, first.ID)
	}
	if _, err := a.Provider.WaitRunning(s.ctx, []provider.Instance{first}); err != nil {
		t.Fatal(err)
	}
	late, err := a.Provider.Launch(s.ctx, ls)
	if err != nil || late.ID != first.ID {
		t.Fatalf("launch retried once running: %s, %v; want %s", late.ID, err, first.ID)
	}
	if got := a.instances(); len(got) != 1 || got[0].ID != first.ID {
		t.Fatalf("after three launches of one spec: %s, want %s alone", ids(got), first.ID)
	}
}

// Instances of cluster A never shows cluster B's, nor another
// environment's, and the other way round.
func testFilter(t *testing.T, s *suite) {
	a := s.open(t, Cluster{Name: "a", Nodes: 1, FirstIP: 0})
	b := s.open(t, Cluster{Name: "b", Nodes: 1, FirstIP: 1})
	ax := s.open(t, Cluster{Name: "a", Env: "x", Nodes: 1, FirstIP: 2})
	if ax.id.Name != a.id.Name {
		t.Fatalf("the harness renamed the cluster: %s, %s", a.id.Name, ax.id.Name)
	}
	var want [3]string
	for i, c := range []*cluster{a, b, ax} {
		_, running := c.up()
		want[i] = running[0].ID
	}
	for i, c := range []*cluster{a, b, ax} {
		got := c.instances()
		if ids(got) != want[i] {
			t.Errorf("Instances of %s (env %q): %s, want %s only (a %s, b %s, a/x %s)", c.id.Name, c.id.Env, ids(got), want[i], want[0], want[1], want[2])
		}
		for _, in := range got {
			if in.Foreign != "" {
				t.Errorf("%s of %s is marked foreign: %s", in.ID, c.id.Name, in.Foreign)
			}
		}
	}
}

// Terminate without force on a protected instance is an ErrProtected and
// terminates nothing (also not the unprotected instance of the same
// call); with force it terminates.
func testProtection(t *testing.T, s *suite) {
	p := s.open(t, Cluster{Name: "p", Nodes: 1, FirstIP: 0, Protected: true})
	u := s.open(t, Cluster{Name: "u", Nodes: 1, FirstIP: 1})
	_, pr := p.up()
	_, ur := u.up()
	pid, uid := pr[0].ID, ur[0].ID
	if s.cloud.Protect != nil {
		s.cloud.Protect(t, pid)
	}
	for _, batch := range [][]string{{pid}, {uid, pid}} {
		err := p.Provider.Terminate(s.ctx, batch, false)
		var pe *provider.ProtectedError
		if !errors.Is(err, provider.ErrProtected) || !errors.As(err, &pe) {
			t.Fatalf("terminate %v without force: %v, want a *ProtectedError", batch, err)
		}
		if len(pe.Instances) != 1 || pe.Instances[0].ID != pid {
			t.Errorf("terminate %v: protected %+v, want %s alone", batch, pe.Instances, pid)
		}
		for _, c := range []*cluster{p, u} {
			got := c.instances()
			if len(got) != 1 || got[0].State != provider.Running {
				t.Fatalf("terminate %v without force changed %s: %+v", batch, c.id.Name, got)
			}
		}
	}
	if err := u.Provider.Terminate(s.ctx, []string{uid}, false); err != nil {
		t.Fatalf("terminate the unprotected %s: %v", uid, err)
	}
	if err := p.Provider.Terminate(s.ctx, []string{pid}, true); err != nil {
		t.Fatalf("terminate %s with force: %v", pid, err)
	}
	if err := p.Provider.WaitTerminated(s.ctx, []string{pid, uid}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*cluster{p, u} {
		if got := c.instances(); len(got) != 0 {
			t.Errorf("%s after termination: %s", c.id.Name, ids(got))
		}
	}
}

// WaitRunning and WaitTerminated take nothing as well as instances; a
// terminated instance is gone from Instances.
func testWait(t *testing.T, s *suite) {
	a := s.open(t, Cluster{Name: "a", Nodes: 2})
	if got, err := a.Provider.WaitRunning(s.ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("WaitRunning(nil) = %v, %v", got, err)
	}
	if err := a.Provider.WaitTerminated(s.ctx, nil); err != nil {
		t.Errorf("WaitTerminated(nil) = %v", err)
	}
	if err := a.Provider.Terminate(s.ctx, nil, false); err != nil {
		t.Errorf("Terminate(nil) = %v", err)
	}
	_, running := a.up()
	again, err := a.Provider.WaitRunning(s.ctx, running)
	if err != nil || ids(again) != ids(running) {
		t.Errorf("WaitRunning of running instances: %s, %v", ids(again), err)
	}
	gone := running[0].ID
	if err := a.Provider.Terminate(s.ctx, []string{gone}, false); err != nil {
		t.Fatal(err)
	}
	if err := a.Provider.WaitTerminated(s.ctx, []string{gone}); err != nil {
		t.Fatal(err)
	}
	if err := a.Provider.WaitTerminated(s.ctx, []string{gone}); err != nil {
		t.Errorf("WaitTerminated of a terminated instance: %v", err)
	}
	if err := a.Provider.Terminate(s.ctx, []string{gone}, false); err != nil {
		t.Errorf("terminating a terminated instance again: %v", err)
	}
	if got := a.instances(); ids(got) != running[1].ID {
		t.Errorf("after terminating %s: %s, want %s", gone, ids(got), running[1].ID)
	}
}

// Watcher.Alive, where implemented: nil while the instance runs, an error
// once it died or was terminated.
func testWatcher(t *testing.T, s *suite) {
	a := s.open(t, Cluster{Name: "a", Nodes: 2})
	w, ok := a.Provider.(provider.Watcher)
	if ok != s.h.Watcher {
		t.Fatalf("the provider implements provider.Watcher: %v; its harness declares Watcher: %v", ok, s.h.Watcher)
	}
	if !ok {
		return // declared and checked: nothing of Alive's to test
	}
	_, running := a.up()
	for _, in := range running {
		if err := w.Alive(s.ctx, in.ID); err != nil {
			t.Errorf("Alive(%s) of a running instance: %v", in.ID, err)
		}
	}
	if s.cloud.Kill != nil {
		dead := running[1].ID
		s.cloud.Kill(t, dead)
		deadline := time.Now().Add(30 * time.Second)
		for w.Alive(s.ctx, dead) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("Alive(%s) is nil 30s after it was killed", dead)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, in := range a.instances() {
			if in.ID == dead && in.State.Live() {
				t.Errorf("a killed instance shows as %s", in.State)
			}
		}
	}
	gone := running[0].ID
	if err := a.Provider.Terminate(s.ctx, []string{gone}, true); err != nil {
		t.Fatal(err)
	}
	if err := a.Provider.WaitTerminated(s.ctx, []string{gone}); err != nil {
		t.Fatal(err)
	}
	if err := w.Alive(s.ctx, gone); err == nil {
		t.Errorf("Alive(%s) of a terminated instance is nil", gone)
	}
}

// A node whose IP another cluster's live instance holds is refused before
// or at launch with an *IPInUseError, and nothing is made. (Whether the
// node's own live instance blocks a launch of the node is not part of the
// contract — the engine never launches a node that has one: local returns
// it, AWS reports the IP in use.)
func testIPConflict(t *testing.T, s *suite) {
	a := s.open(t, Cluster{Name: "a", Nodes: 1, FirstIP: 0})
	b := s.open(t, Cluster{Name: "b", Nodes: 1, FirstIP: 0})
	_, ar := a.up()
	ip := a.Nodes[0].IP
	if b.Nodes[0].IP != ip {
		t.Fatalf("the harness gave the clusters IPs %s and %s for the same number", ip, b.Nodes[0].IP)
	}
	res := b.resolve(true)
	blocked := res.Blocked[b.Nodes[0].ID]
	if s.h.IPConflict.Resolve {
		checkIPInUse(t, "Resolve with Check", blocked, ip)
	} else if blocked != nil {
		t.Errorf("Resolve blocked the node (%v), but the harness says the provider finds taken IPs only at launch: fix the harness's IPConflict", blocked)
	}
	ls := b.launchSpec(b.Nodes[0], res)
	in, err := b.Provider.Launch(s.ctx, ls)
	if err == nil {
		t.Fatalf("launch on %s, held by %s, made %s", ip, ar[0].ID, in.ID)
	}
	if s.h.IPConflict.Launch {
		checkIPInUse(t, "Launch", err, ip)
	}
	t.Logf("resolve: %v; launch: %v", blocked, err)
	if got := b.instances(); len(got) != 0 {
		t.Errorf("a refused launch left instances: %s", ids(got))
	}
	if got := a.instances(); ids(got) != ar[0].ID || got[0].State != provider.Running {
		t.Errorf("the holder of the IP: %+v", got)
	}
}

func checkIPInUse(t *testing.T, what string, err error, ip string) {
	t.Helper()
	var iu *provider.IPInUseError
	if !errors.As(err, &iu) {
		t.Errorf("%s: %v, want an *provider.IPInUseError", what, err)
		return
	}
	if iu.IP != ip || iu.Holder == "" {
		t.Errorf("%s: IP %q held by %q, want %s and a holder", what, iu.IP, iu.Holder, ip)
	}
	if !strings.Contains(err.Error(), ip) {
		t.Errorf("%s: %q does not name the IP", what, err)
	}
}
