package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/health"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// LogTailLines is how many lines of a dead node's boot log an error shows.
const LogTailLines = 10

// nodeWork is what up does for one configured node, decided before any
// mutating call.
type nodeWork struct {
	idx        int
	node       config.Node
	launch     bool                // no live instance: launch one
	live       *provider.Instance  // the live instance kept
	dead       []provider.Instance // stopped or failed: terminated before the launch
	duplicates []provider.Instance // live beyond the one kept: terminated
	spec       provider.Spec       // the node's desired spec
	// stale is how the kept live instance differs from spec (up leaves
	// it; plan/rollout replace it).
	stale []provider.Change
}

// upRun is the state of one `up`, shared by its steps.
type upRun struct {
	e    *Engine
	opts UpOptions
	res  *UpResult
	work []*nodeWork

	generation string // the value of TagGeneration for new instances

	mu       sync.Mutex
	known    map[string]bool // instance ids observed before any launch
	launched map[string]int  // instance id -> result index, for the waits
	waiting  []provider.Instance
}

// Up launches every configured node that has no live instance, replaces
// dead ones on the same IP and removes duplicates. Every node's boot script
// is rendered, and every check the provider can make is made, before the
// first mutating call: bad input creates nothing. A failed node does not
// stop the others.
func (e *Engine) Up(ctx context.Context, opts UpOptions) (*UpResult, error) {
	p, err := e.PrepareUp(ctx, opts)
	if err != nil {
		return nil, err
	}
	return e.ApplyUp(ctx, p)
}

// UpPlan is what PrepareUp decided, before any change: ApplyUp carries it
// out. Between the two a caller takes the cluster's lock.
type UpPlan struct {
	u     *upRun
	r     provider.Resolution
	group *provider.Spec // group mode: the group's spec
}

// PrepareUp is up's read-only half: it observes the cluster, resolves,
// makes every check and renders every node's boot script. Bad input fails
// here, with nothing created or changed.
func (e *Engine) PrepareUp(ctx context.Context, opts UpOptions) (*UpPlan, error) {
	// what `up` needs beyond what `build` does (nodes, a key pair)
	if err := e.Cluster.CheckUp(); err != nil {
		return nil, err
	}
	p := &UpPlan{}
	observed, err := e.Provider.Instances(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	if g, ok := e.Provider.(provider.GroupProvider); ok && g.GroupMode() {
		r, err := e.Provider.Resolve(ctx, e.ID, observed, provider.ResolveOptions{UpOptions: opts.UpOptions, Check: true})
		if err != nil {
			return nil, err
		}
		specs, err := e.specs(r, []config.Node{{}}, opts.CloudInit)
		if err != nil {
			return nil, err
		}
		p.r, p.group = r, &specs[0]
		return p, nil
	}
	u := &upRun{e: e, opts: opts, res: &UpResult{Cluster: e.Cluster.Name}, known: map[string]bool{}, launched: map[string]int{}}
	for _, o := range observed {
		u.known[o.ID] = true
	}
	u.classify(ctx, observed)
	var launch []config.Node
	for _, w := range u.work {
		if w.launch {
			launch = append(launch, w.node)
		}
	}
	r, err := e.Provider.Resolve(ctx, e.ID, observed, provider.ResolveOptions{UpOptions: opts.UpOptions, Launch: launch, Check: true})
	if err != nil {
		return nil, err
	}
	if err := u.specAll(r); err != nil {
		return nil, err
	}
	p.u, p.r = u, r
	return p, nil
}

// ApplyUp carries out a plan from PrepareUp: creates what is missing,
// replaces dead nodes, removes duplicates. Run it once per plan.
func (e *Engine) ApplyUp(ctx context.Context, p *UpPlan) (*UpResult, error) {
	if p.group != nil {
		g := e.Provider.(provider.GroupProvider)
		if err := e.ensure(ctx); err != nil {
			return nil, err
		}
		res := &UpResult{Cluster: e.Cluster.Name}
		if e.Generation != nil {
			n, err := e.Generation(ctx, map[string]provider.Spec{"": *p.group})
			if err != nil {
				return nil, err
			}
			res.Generation = n
		}
		gr, err := g.EnsureGroup(ctx, e.ID, *p.group)
		if err != nil {
			return nil, err
		}
		res.Group = &gr
		return res, nil
	}
	u, r := p.u, p.r
	res := u.res
	u.generation = time.Now().UTC().Format("20060102T150405Z")
	if e.Generation != nil {
		specs := map[string]provider.Spec{}
		for _, w := range u.work {
			specs[w.node.ID] = w.spec
		}
		n, err := e.Generation(ctx, specs)
		if err != nil {
			return nil, err
		}
		res.Generation, u.generation = n, strconv.Itoa(n)
	}
	for _, w := range u.work {
		if why := r.Blocked[w.node.ID]; why != nil && w.launch {
			w.launch = false
			u.fail(&res.Nodes[w.idx], why)
		}
	}
	for _, r := range res.Nodes {
		if _, waiting := u.launched[r.InstanceID]; r.Action == ActionUnchanged && !waiting {
			e.progress(EventUnchanged, r)
		}
	}
	if u.mutates() {
		if err := e.ensure(ctx); err != nil {
			return nil, err
		}
	}
	// the load balancer before any launch: one that cannot be made (its
	// address taken, a target group missing) stops up with nothing new
	if err := e.ensureLoadBalancer(ctx); err != nil {
		return nil, err
	}
	u.removeDuplicates(ctx)
	u.launchAll(ctx)
	u.adoptLost(ctx)
	running := u.waitRunning(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); u.waitHealthy(ctx, running) }()
	go func() { defer wg.Done(); u.checkKept(ctx) }()
	wg.Wait()
	u.registerUp(ctx)
	u.finish()

	var failed, unhealthy []string
	for _, r := range res.Nodes {
		switch {
		case r.Action == ActionFailed:
			failed = append(failed, r.ID)
		case r.Health == HealthBad:
			unhealthy = append(unhealthy, r.ID)
		}
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("%w: %d of %d nodes (%s)", ErrNodesFailed, len(failed), len(res.Nodes), strings.Join(failed, ", "))
	}
	if len(unhealthy) > 0 {
		return res, fmt.Errorf("%w: %d of %d nodes (%s)", ErrUnhealthy, len(unhealthy), len(res.Nodes), strings.Join(unhealthy, ", "))
	}
	return res, nil
}

// specs renders the boot script of each node and computes its desired
// spec from the resolution: every node's, before anything is created, so a
// template error that only one node hits stops everything.
func (e *Engine) specs(r provider.Resolution, nodes []config.Node, cloudInit bool) ([]provider.Spec, error) {
	data, err := render.ResolvedData(e.Cluster, r)
	if err != nil {
		return nil, err
	}
	env := render.ClusterEnv(e.Renderer, e.Cluster)
	// the boot script with every snapshot id as a placeholder: what
	// identifies the user data (provider.Spec.UserDataID)
	var keyData *config.Mapping
	if pr, ok := placeholderSnapshots(r); ok && cloudInit {
		if keyData, err = render.ResolvedData(e.Cluster, pr); err != nil {
			return nil, err
		}
	}
	out := make([]provider.Spec, len(nodes))
	for i, n := range nodes {
		id := any(e.Cluster.Name) // group mode: the original rendered the cluster name as _node_id
		if n.ID != "" {
			id = e.Cluster.NodeIDValue(n)
		}
		ud, err := e.userData(data, id, cloudInit)
		if err != nil {
			if n.ID != "" {
				return nil, fmt.Errorf("node %s: %w", n.ID, err)
			}
			return nil, err
		}
		out[i] = e.Provider.Spec(n, r, ud, env)
		if keyData != nil {
			key, err := e.userData(keyData, id, cloudInit)
			if err != nil {
				return nil, err
			}
			if key != ud { // the template prints a snapshot id
				out[i].UserDataID = key
			}
		}
	}
	return out, nil
}

// SnapshotPlaceholder stands for every snapshot id in the boot script
// that identifies a spec's user data.
const SnapshotPlaceholder = "snap-placeholder"

// placeholderSnapshots is r with every volume that starts from a snapshot
// starting from SnapshotPlaceholder; false when no volume does.
func placeholderSnapshots(r provider.Resolution) (provider.Resolution, bool) {
	any := false
	snaps := map[int]provider.SnapshotChoice{}
	for i, c := range r.Snapshots {
		if c.Newest != "" || len(c.ByNode) > 0 {
			any = true
			snaps[i] = provider.SnapshotChoice{Newest: SnapshotPlaceholder}
		}
	}
	r.Snapshots = snaps
	return r, any
}

// ensure creates what launches share, where the provider has something to
// create (after every check; see provider.Ensurer).
func (e *Engine) ensure(ctx context.Context) error {
	if en, ok := e.Provider.(provider.Ensurer); ok {
		return en.Ensure(ctx)
	}
	return nil
}

// classify decides, per node, what up does. With a health check, the
// instance kept among a node's duplicates is the oldest healthy one.
func (u *upRun) classify(ctx context.Context, observed []provider.Instance) {
	e := u.e
	chk := e.check()
	only := map[string]bool{}
	for _, id := range u.opts.Nodes {
		only[id] = true
	}
	for _, n := range e.Cluster.Nodes() {
		if len(only) > 0 && !only[n.ID] {
			continue
		}
		i := len(u.res.Nodes)
		r := NodeResult{ID: n.ID, Name: NodeName(e.ID, n.ID), IP: n.IP}
		m := provider.MatchNode(observed, n)
		if len(m.Duplicates) > 0 && chk != nil {
			m = keepHealthy(ctx, chk, m)
		}
		w := &nodeWork{idx: i, node: n, dead: m.Dead, duplicates: m.Duplicates, live: m.Live}
		if m.Live != nil {
			r.Action, r.InstanceID, r.IP = ActionUnchanged, m.Live.ID, m.Live.IP
			if m.Live.State == provider.Pending {
				// launched by an earlier, interrupted up: wait for it
				// (and its health) like for a new one
				u.launched[m.Live.ID] = i
				u.waiting = append(u.waiting, *m.Live)
			}
		} else {
			r.Action = ActionLaunching
			w.launch = true
		}
		u.res.Nodes = append(u.res.Nodes, r)
		u.work = append(u.work, w)
	}
}

// keepHealthy keeps the oldest live instance that passes one health probe
// (MatchNode's order); the others are duplicates. When none passes,
// MatchNode's choice stands.
func keepHealthy(ctx context.Context, chk *health.Check, m provider.Match) provider.Match {
	all := append([]provider.Instance{*m.Live}, m.Duplicates...)
	for i, inst := range all {
		if inst.IP != "" && chk.Probe(ctx, health.Target{IP: inst.IP, Node: inst.NodeID}) == nil {
			keep := inst
			rest := append(append([]provider.Instance{}, all[:i]...), all[i+1:]...)
			return provider.Match{Live: &keep, Duplicates: rest}
		}
	}
	return m
}

// specAll computes every node's desired spec and, for the nodes that
// keep their instance, how that instance differs from it (stale).
func (u *upRun) specAll(r provider.Resolution) error {
	nodes := make([]config.Node, len(u.work))
	for i, w := range u.work {
		nodes[i] = w.node
	}
	specs, err := u.e.specs(r, nodes, u.opts.CloudInit)
	if err != nil {
		return err
	}
	for i, w := range u.work {
		w.spec = specs[i]
		if w.live != nil {
			w.stale = provider.Changes(*w.live, w.spec)
		}
	}
	return nil
}

func (u *upRun) mutates() bool {
	for _, w := range u.work {
		if w.launch || len(w.duplicates) > 0 {
			return true
		}
	}
	return false
}

// removeDuplicates terminates every node's extra live instances (made by
// hand, by an old version, or by a launch whose answer was lost) in one
// call; the node keeps the instance classify chose.
func (u *upRun) removeDuplicates(ctx context.Context) {
	var ids []string
	for _, w := range u.work {
		if len(w.duplicates) == 0 {
			continue
		}
		var mine []string
		for _, d := range w.duplicates {
			mine = append(mine, d.ID)
		}
		ids = append(ids, mine...)
		u.res.Nodes[w.idx].Reason = "removed duplicate " + strings.Join(mine, ", ")
		u.e.Log.Info("removing duplicate instances", "node", w.node.ID, "instances", mine)
	}
	if len(ids) == 0 {
		return
	}
	// They are ours, launched with protection like every node: force.
	if err := u.e.Provider.Terminate(ctx, ids, true); err != nil {
		for _, w := range u.work {
			if len(w.duplicates) > 0 {
				u.fail(&u.res.Nodes[w.idx], fmt.Errorf("terminate duplicate: %w", err))
			}
		}
	}
}

// launchAll launches the nodes that need it, at most opts.Parallel at once,
// after terminating their dead instances. A launch error is kept on the
// row, unreported, until adoptLost has looked for the instance.
func (u *upRun) launchAll(ctx context.Context) {
	e := u.e
	parallel := u.opts.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, w := range u.work {
		if !w.launch {
			continue
		}
		wg.Add(1)
		go func(w *nodeWork) {
			defer wg.Done()
			r := &u.res.Nodes[w.idx]
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				u.fail(r, ctx.Err())
				return
			}
			defer func() { <-sem }()
			action := ActionCreated
			if len(w.dead) > 0 {
				ids := instanceIDs(w.dead)
				e.Log.Info("replacing dead instance", "node", w.node.ID, "instances", ids)
				if err := e.Provider.Terminate(ctx, ids, true); err != nil {
					u.fail(r, fmt.Errorf("terminate %s (%s): %w", strings.Join(ids, ", "), deadReason(w.dead), err))
					return
				}
				if err := e.Provider.WaitTerminated(ctx, ids); err != nil {
					u.fail(r, fmt.Errorf("wait for %s to terminate: %w", strings.Join(ids, ", "), err))
					return
				}
				action = ActionReplaced
				u.mu.Lock()
				r.Reason = deadReason(w.dead)
				u.mu.Unlock()
			}
			inst, err := e.Provider.Launch(ctx, provider.LaunchSpec{
				Cluster:    e.ID,
				Node:       w.node,
				Spec:       w.spec,
				Generation: u.generation,
			})
			u.mu.Lock()
			if err != nil {
				// maybe lost: the instance may exist (adoptLost)
				r.Action, r.Error = ActionLaunching, err.Error()
				u.mu.Unlock()
				return
			}
			r.Action, r.InstanceID = action, inst.ID
			if inst.IP != "" {
				r.IP = inst.IP
			}
			u.launched[inst.ID] = w.idx
			u.waiting = append(u.waiting, inst)
			cp := *r
			u.mu.Unlock()
			e.Log.Debug("launched", "node", w.node.ID, "instance", inst.ID)
			e.progress(EventLaunched, cp)
		}(w)
	}
	wg.Wait()
}

// adoptLost looks, with one Instances call, for the instances of nodes
// whose launch returned an error: a launch can take effect although its
// answer was lost (a dropped connection, a timeout after EC2 accepted it).
// A live instance of the node that did not exist before this up is
// adopted; the others fail with their launch error.
func (u *upRun) adoptLost(ctx context.Context) {
	var lost []*nodeWork
	for _, w := range u.work {
		if w.launch && u.res.Nodes[w.idx].Action == ActionLaunching {
			lost = append(lost, w)
		}
	}
	if len(lost) == 0 {
		return
	}
	var observed []provider.Instance
	if ctx.Err() == nil {
		var err error
		observed, err = u.e.Provider.Instances(ctx, u.e.ID)
		if err != nil {
			u.e.Log.Warn("could not look for instances whose launch answer was lost", "error", err)
		}
	}
	for _, w := range lost {
		r := &u.res.Nodes[w.idx]
		m := provider.MatchNode(observed, w.node)
		if m.Live == nil || u.known[m.Live.ID] {
			u.fail(r, errors.New(r.Error))
			continue
		}
		u.e.Log.Info("adopted an instance whose launch answer was lost", "node", w.node.ID, "instance", m.Live.ID, "launch_error", r.Error)
		r.Action, r.InstanceID, r.Error = ActionCreated, m.Live.ID, ""
		if len(w.dead) > 0 {
			r.Action = ActionReplaced
		}
		if m.Live.IP != "" {
			r.IP = m.Live.IP
		}
		u.launched[m.Live.ID] = w.idx
		u.waiting = append(u.waiting, *m.Live)
		u.e.progress(EventLaunched, *r)
	}
}

// waitRunning waits for every launched (or adopted, or pending) instance
// and fails exactly the nodes whose instance did not come up with every
// post-launch step done.
func (u *upRun) waitRunning(ctx context.Context) []provider.Instance {
	if len(u.waiting) == 0 {
		return nil
	}
	running, err := u.e.Provider.WaitRunning(ctx, u.waiting)
	var per provider.InstanceErrors
	errors.As(err, &per)
	ok := map[string]bool{}
	for _, inst := range running {
		ok[inst.ID] = true
		if idx, found := u.launched[inst.ID]; found {
			if inst.IP != "" {
				u.res.Nodes[idx].IP = inst.IP
			}
			u.e.progress(EventRunning, u.res.Nodes[idx])
		}
	}
	for _, inst := range u.waiting {
		if ok[inst.ID] {
			continue
		}
		r := &u.res.Nodes[u.launched[inst.ID]]
		switch {
		case per[inst.ID] != nil:
			u.fail(r, fmt.Errorf("after launch: %w", per[inst.ID]))
		case err != nil && per == nil:
			u.fail(r, fmt.Errorf("wait until running: %w", err))
		default:
			u.fail(r, fmt.Errorf("instance %s did not reach running", inst.ID))
		}
	}
	return running
}

// waitHealthy waits, node by node in parallel, until each new instance
// passes the cluster's health check while it is alive; a node whose
// instance dies fails at once, with the tail of its log.
func (u *upRun) waitHealthy(ctx context.Context, running []provider.Instance) {
	e := u.e
	chk := e.check()
	timeout := e.healthTimeout()
	var wg sync.WaitGroup
	for _, inst := range running {
		idx, ok := u.launched[inst.ID]
		u.mu.Lock()
		skip := !ok || u.res.Nodes[idx].Action == ActionFailed
		u.mu.Unlock()
		if skip {
			continue
		}
		wg.Add(1)
		go func(r *NodeResult, id string) {
			defer wg.Done()
			step := EventDone
			if chk != nil && r.IP != "" {
				if err := u.awaitHealth(ctx, chk, r, id, time.Now(), timeout, timeout); err != nil {
					u.mu.Lock()
					if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
						r.Health = HealthBad
					}
					u.mu.Unlock()
					u.fail(r, err)
					return
				}
				u.mu.Lock()
				r.URL, r.Health = chk.URL(r.IP), HealthOK
				u.mu.Unlock()
				step = EventHealthy
			}
			u.mu.Lock()
			cp := *r
			u.mu.Unlock()
			e.progress(step, cp)
		}(&u.res.Nodes[idx], inst.ID)
	}
	wg.Wait()
}

// checkKept gives the health of every live instance up keeps and did not
// launch (or wait for): one that was launched less than the health
// timeout ago (by an interrupted up, say) gets the rest of its time, like
// a new one; an older one gets a short look.
func (u *upRun) checkKept(ctx context.Context) {
	chk := u.e.check()
	if chk == nil {
		return
	}
	timeout := u.e.healthTimeout()
	var wg sync.WaitGroup
	for _, w := range u.work {
		if w.live == nil || w.live.IP == "" {
			continue
		}
		if _, waited := u.launched[w.live.ID]; waited {
			continue
		}
		r := &u.res.Nodes[w.idx]
		if r.Action != ActionUnchanged {
			continue
		}
		wg.Add(1)
		go func(r *NodeResult, inst provider.Instance) {
			defer wg.Done()
			left := time.Until(inst.Launched.Add(timeout))
			if inst.Launched.IsZero() || left < keptLook {
				left = keptLook
			}
			err := u.awaitHealth(ctx, chk, r, inst.ID, inst.Launched, timeout, left)
			if ctx.Err() != nil {
				return
			}
			u.mu.Lock()
			step := EventHealthy
			if err != nil {
				r.Health, r.Error, step = HealthBad, err.Error(), EventUnhealthy
			} else {
				r.Health, r.URL = HealthOK, chk.URL(r.IP)
			}
			cp := *r
			u.mu.Unlock()
			u.e.progress(step, cp)
		}(r, *w.live)
	}
	wg.Wait()
}

// keptLook is how long a kept instance that had its full health timeout
// gets to answer.
const keptLook = 2 * time.Second

// awaitHealth waits up to wait for instance id of r to pass chk while it is
// alive, reporting EventWaiting every WaitingEvery (how long since since,
// of timeout). When the instance died, r gets the tail of its log.
func (u *upRun) awaitHealth(ctx context.Context, chk *health.Check, r *NodeResult, id string, since time.Time, timeout, wait time.Duration) error {
	e := u.e
	var alive func(context.Context) error
	if watcher, ok := e.Provider.(provider.Watcher); ok {
		alive = func(ctx context.Context) error { return watcher.Alive(ctx, id) }
	}
	u.mu.Lock()
	cp := *r
	u.mu.Unlock()
	done := make(chan struct{})
	var ticking sync.WaitGroup
	ticking.Add(1)
	go func() {
		defer ticking.Done()
		t := time.NewTicker(WaitingEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if e.Progress != nil {
					e.Progress(Event{Step: EventWaiting, Node: cp, Check: chk.String(), Elapsed: time.Since(since), Timeout: timeout})
				}
			}
		}
	}()
	err := chk.WaitAlive(ctx, health.Target{IP: cp.IP, Node: cp.ID}, wait, alive)
	close(done)
	ticking.Wait()
	if errors.Is(err, health.ErrDied) {
		tail := e.logTail(ctx, id)
		u.mu.Lock()
		r.LogTail = tail
		u.mu.Unlock()
	}
	return err
}

// logTail returns the last lines of an instance's boot log, when the
// provider can read it.
func (e *Engine) logTail(ctx context.Context, id string) []string {
	l, ok := e.Provider.(provider.LogReader)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := l.Logs(ctx, id, &buf, false, LogTailLines); err != nil {
		return nil
	}
	s := strings.TrimRight(buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// finish gives every node that serves its URL and records which kept
// instances run an older spec.
func (u *upRun) finish() {
	for _, w := range u.work {
		r := &u.res.Nodes[w.idx]
		if r.Action == ActionUnchanged && len(w.stale) > 0 {
			r.Stale = w.stale
		}
	}
	if chk := u.e.check(); chk != nil {
		for i := range u.res.Nodes {
			if u.res.Nodes[i].IP != "" && u.res.Nodes[i].Action != ActionFailed {
				u.res.Nodes[i].URL = chk.URL(u.res.Nodes[i].IP)
			}
		}
	}
}

func (u *upRun) fail(r *NodeResult, err error) {
	u.mu.Lock()
	r.Action, r.Error = ActionFailed, err.Error()
	res := *r
	u.mu.Unlock()
	u.e.progress(EventFailed, res)
}

func instanceIDs(insts []provider.Instance) []string {
	ids := make([]string, len(insts))
	for i, d := range insts {
		ids[i] = d.ID
	}
	return ids
}
