package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/health"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// States of a node in a rollout, as progress shows them.
const (
	StateWaiting      = "waiting"      // in the queue, or waiting for quorum
	StateDraining     = "draining"     // being taken out of the load balancer
	StateSnapshotting = "snapshotting" // its data volumes are being snapshotted
	StateTerminating  = "terminating"  // its old instance is being terminated
	StateLaunching    = "launching"    // its new instance is being launched
	StateBooting      = "booting"      // launched, not yet healthy
	StateHealthy      = "healthy"      // passed health; holding for min_healthy_time
	StateDone         = "done"         // on the target spec and healthy
	StateFailed       = "failed"       // did not pass the gate (or a step failed)
	StateRollingBack  = "rolling back" // going back to its previous spec
	StateRolledBack   = "rolled back"  // back on its previous spec and healthy
	StateUnchanged    = "unchanged"    // already on the target spec and healthy
	StateSkipped      = "skipped"      // not selected (--node), or no spec in the generation rolled back to
	StateInterrupted  = "interrupted"  // the run was interrupted (Ctrl-C) in the middle of this node
)

// Errors of a rollout, wrapped.
var (
	// ErrBelowQuorum: fewer nodes are healthy than min_healthy, before
	// the start (refused without --force) or before a batch.
	ErrBelowQuorum = errors.New("the cluster is below min_healthy")
	// ErrRolloutFailed: a node did not pass its gate (or a step failed);
	// the rollout stopped there. Its text is "failed": callers say
	// whose (rollout, rollback).
	ErrRolloutFailed = errors.New("failed")
)

// GatePoll is how often a rollout probes a node it waits for: short, so
// that the tool adds little to a node's boot time.
var GatePoll = 50 * time.Millisecond

// RolloutOptions are `rollout`'s flags.
type RolloutOptions struct {
	provider.UpOptions
	CloudInit bool
	// MaxUnavailable overrides rollout.max_unavailable (0: the config's).
	MaxUnavailable int
	// Nodes, when set, limits the rollout to these node ids.
	Nodes []string
	// NoRollback turns rollout.auto_rollback off.
	NoRollback bool
	// Force starts (and goes on) below min_healthy.
	Force bool
	// Specs, when set, are the specs to roll out instead of the desired
	// ones (rollback: a generation's recorded specs), by node id.
	Specs map[string]provider.Spec
}

// RolloutGenerations is what the coordinator knows: the generation new
// instances are tagged with, and the recorded specs a failed rollout goes
// back to.
type RolloutGenerations struct {
	Target int
	// Recorded are generations' specs by number, then node id: a node
	// rolled back gets the spec of its old instance's generation, or
	// Fallback's when that instance had no (known) generation.
	Recorded map[int]map[string]provider.Spec
	Fallback int
	// Resuming: the cluster's previous run was interrupted (the journal
	// says so). A node that run launched on the target spec is gated
	// again (min_healthy_time) even if it is healthy now, unless its
	// instance is in Passed.
	Resuming bool
	// Passed are the instances the interrupted run saw through their
	// gate (the journal's record of it).
	Passed map[string]bool
}

// NodeTimings are how long one node's steps took.
type NodeTimings struct {
	Hooks     time.Duration `json:"hooks"`
	Drain     time.Duration `json:"drain"`    // deregistering from the load balancer
	Register  time.Duration `json:"register"` // registering with it
	Snapshot  time.Duration `json:"snapshot"`
	Terminate time.Duration `json:"terminate"`
	Launch    time.Duration `json:"launch"`    // the Launch call
	Running   time.Duration `json:"running"`   // launch accepted → running
	Healthy   time.Duration `json:"healthy"`   // running → first passing probe
	Hold      time.Duration `json:"hold"`      // min_healthy_time
	Total     time.Duration `json:"total"`     // the node's whole replacement
	Overhead  time.Duration `json:"overhead"`  // Total minus the waits above
	Completed time.Time     `json:"completed"` // when the node was done
}

// RolloutNode is one node's part in a rollout.
type RolloutNode struct {
	ID    string `json:"id"`
	IP    string `json:"ip,omitempty"`
	State string `json:"state"`
	// Why the node is replaced: spec changes, "unhealthy: …", "dead: …",
	// "missing".
	Reasons []string `json:"reasons,omitempty"`
	// OldInstance is the instance replaced; NewInstance the one launched.
	OldInstance   string `json:"old_instance,omitempty"`
	NewInstance   string `json:"new_instance,omitempty"`
	OldGeneration string `json:"old_generation,omitempty"`
	Generation    string `json:"generation,omitempty"`
	// Snapshots are the snapshots taken before terminating the old
	// instance, which the new one restores.
	Snapshots []string `json:"snapshots,omitempty"`
	URL       string   `json:"url,omitempty"`
	Error     string   `json:"error,omitempty"`
	// LogTail is the end of the boot log of FailedInstance, the instance
	// that failed its gate.
	LogTail        []string     `json:"log_tail,omitempty"`
	FailedInstance string       `json:"failed_instance,omitempty"`
	Timings        *NodeTimings `json:"timings,omitempty"`
}

// RolloutResult is what a rollout did.
type RolloutResult struct {
	Cluster    string        `json:"cluster"`
	Generation int           `json:"generation,omitempty"`
	Nodes      []RolloutNode `json:"nodes"`
	// Complete: every configured node runs the target spec and is
	// healthy (the generation can become active).
	Complete   bool              `json:"complete"`
	RolledBack bool              `json:"rolled_back,omitempty"`
	Refresh    *provider.Refresh `json:"refresh,omitempty"` // group mode
	Duration   time.Duration     `json:"duration"`
	// LoadBalancer is the cluster's load balancer at the end, with one.
	LoadBalancer *provider.LBStatus `json:"load_balancer,omitempty"`
}

// RolloutEvent is one transition of one node.
type RolloutEvent struct {
	Node    RolloutNode
	Elapsed time.Duration // since the node's replacement began
	Detail  string
	// Refresh: the event is of a group's instance refresh (Node.ID is
	// the refresh's id, Node.State its status).
	Refresh bool
}

// rolloutWork is one node in a rollout.
type rolloutWork struct {
	idx    int
	node   config.Node
	spec   provider.Spec // the target spec
	live   *provider.Instance
	dead   []provider.Instance
	action string // replace | await | none
	// healthy: the live instance passed the first probe
	healthy bool
	start   time.Time
	// replaced: the old instance was terminated in this run, so a
	// rollback puts the node back on oldSpec.
	replaced bool
	oldGen   string
	lastNote string // the last note() detail
	// surplus are a group member's other live instances (an interrupted
	// surge's): drained and terminated once the member is healthy.
	surplus []provider.Instance
}

// surges reports whether w's replacement surges: a node-group member
// (no fixed IP, nothing to carry over) with a live instance gets its new
// instance first, healthy and registered, before the old one is drained
// and terminated.
func (w *rolloutWork) surges() bool {
	return w.node.Group != "" && w.live != nil && w.action == workReplace
}

// Actions of rolloutWork.
const (
	workReplace = "replace" // terminate (if any) and launch the target spec
	workAwait   = "await"   // already on the target spec, launched by an interrupted run: gate it
	workNone    = "none"
)

// RolloutPlan is what PrepareRollout found: ApplyRollout carries it out.
type RolloutPlan struct {
	opts  RolloutOptions
	res   provider.Resolution
	specs map[string]provider.Spec
	group *provider.Spec
	// observed at prepare, for classification at apply
	observed []provider.Instance
	probes   map[string]error
}

// Specs are the target specs by node id (for the coordinator).
func (p *RolloutPlan) Specs() map[string]provider.Spec {
	if p.group != nil {
		return map[string]provider.Spec{"": *p.group}
	}
	return p.specs
}

// PrepareRollout observes the cluster, computes every node's target spec
// and probes every node, with no mutating call.
func (e *Engine) PrepareRollout(ctx context.Context, opts RolloutOptions) (*RolloutPlan, error) {
	if err := e.Cluster.CheckUp(); err != nil {
		return nil, err
	}
	observed, err := e.Observe(ctx)
	if err != nil {
		return nil, err
	}
	p := &RolloutPlan{opts: opts, observed: observed, specs: map[string]provider.Spec{}}
	if g, ok := e.Provider.(provider.GroupProvider); ok && g.GroupMode() {
		r, err := e.Provider.Resolve(ctx, e.ID, observed, provider.ResolveOptions{UpOptions: opts.UpOptions, Check: true})
		if err != nil {
			return nil, err
		}
		specs, err := e.specs(r, []config.Node{{}}, opts.CloudInit)
		if err != nil {
			return nil, err
		}
		if s, ok := opts.Specs[""]; ok {
			specs[0] = s
		}
		p.res, p.group = r, &specs[0]
		return p, nil
	}
	nodes := e.Cluster.Nodes()
	var launch []config.Node
	for _, n := range nodes {
		if m := provider.MatchNode(observed, n); m.Live == nil {
			launch = append(launch, n)
		}
	}
	r, err := e.Provider.Resolve(ctx, e.ID, observed, provider.ResolveOptions{UpOptions: opts.UpOptions, Launch: launch, Check: true})
	if err != nil {
		return nil, err
	}
	specs, err := e.specs(r, nodes, opts.CloudInit)
	if err != nil {
		return nil, err
	}
	for i, n := range nodes {
		s := specs[i]
		if opts.Specs != nil {
			rec, ok := opts.Specs[n.ID]
			if !ok {
				continue // the generation has no spec for this node: left alone
			}
			s = rec
		}
		p.specs[n.ID] = s
	}
	p.res = r
	p.probes = probeAll(ctx, e.check(), observed)
	return p, nil
}

// rolloutRun is the state of one rollout.
type rolloutRun struct {
	e    *Engine
	p    *RolloutPlan
	gens RolloutGenerations
	cfg  config.Rollout
	chk  *health.Check
	res  *RolloutResult

	mu   sync.Mutex
	work []*rolloutWork
	// rollbackErr is why the automatic rollback failed, if it did.
	rollbackErr error
}

// ApplyRollout replaces, batch by batch, every node whose instance runs
// another spec than its target, is unhealthy, dead or missing: under
// min_healthy never, each new node health-gated; a node that fails its
// gate stops the rollout and, with auto_rollback, every node replaced in
// this run goes back to its previous spec.
func (e *Engine) ApplyRollout(ctx context.Context, p *RolloutPlan, gens RolloutGenerations) (*RolloutResult, error) {
	start := time.Now()
	res := &RolloutResult{Cluster: e.Cluster.Name, Generation: gens.Target, Nodes: []RolloutNode{}}
	defer func() { res.Duration = time.Since(start).Round(time.Millisecond) }()
	if p.group != nil {
		return e.refreshGroup(ctx, p, res)
	}
	u := &rolloutRun{e: e, p: p, gens: gens, cfg: e.Cluster.Rollout, chk: e.check(), res: res}
	if p.opts.MaxUnavailable > 0 {
		u.cfg.MaxUnavailable = p.opts.MaxUnavailable
	}
	if p.opts.NoRollback {
		u.cfg.AutoRollback = false
	}
	u.classify()
	minHealthy := u.minHealthy()
	healthy, unhealthy := u.countHealthy()
	if healthy < minHealthy && !p.opts.Force {
		return res, fmt.Errorf("%w: %d of %d nodes are healthy, min_healthy is %d (unhealthy: %s); fix them first, or run with --force to replace them anyway",
			ErrBelowQuorum, healthy, len(u.work), minHealthy, strings.Join(unhealthy, ", "))
	}
	queue, err := u.order(ctx)
	if err != nil {
		return res, err
	}
	for _, w := range u.work {
		u.event(w, u.res.Nodes[w.idx].State, "")
	}
	if len(queue) > 0 {
		if err := e.ensure(ctx); err != nil {
			return res, err
		}
	}
	if err := u.registerHealthy(ctx); err != nil {
		return res, err
	}
	failed := u.runQueue(ctx, queue, false)
	if failed != nil && ctx.Err() == nil && u.cfg.AutoRollback {
		u.rollback(ctx)
	}
	res.Complete = u.complete()
	res.LoadBalancer = e.finalLoadBalancer(ctx)
	switch {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case failed != nil && u.rollbackErr != nil:
		return res, fmt.Errorf("%w: %w; the automatic rollback failed too: %w", ErrRolloutFailed, failed, u.rollbackErr)
	case failed != nil:
		return res, fmt.Errorf("%w: %w", ErrRolloutFailed, failed)
	}
	return res, nil
}

// minHealthy is how many nodes must stay healthy: rollout.min_healthy, by
// default a majority — but never all of them, so that a default rollout of
// one or two nodes can go one at a time.
func (u *rolloutRun) minHealthy() int { return minHealthyOf(u.cfg.MinHealthy, len(u.work)) }

func minHealthyOf(configured, n int) int {
	if configured > 0 {
		return configured
	}
	return max(0, min(n/2+1, n-1))
}

// classify decides what each node needs, from prepare's observation.
func (u *rolloutRun) classify() {
	e, p := u.e, u.p
	selected := map[string]bool{}
	for _, id := range p.opts.Nodes {
		selected[id] = true
	}
	target := strconv.Itoa(u.gens.Target)
	for i, n := range e.Cluster.Nodes() {
		m := provider.MatchNode(p.observed, n)
		spec, hasSpec := p.specs[n.ID]
		var surplus []provider.Instance
		if n.Group != "" && len(m.Duplicates) > 0 {
			// an interrupted surge left two: go on with the one on the
			// target spec, if any; the others go once it is healthy
			all := append([]provider.Instance{*m.Live}, m.Duplicates...)
			keep := 0
			for j, o := range all {
				if hasSpec && len(provider.Changes(o, spec)) == 0 {
					keep = j
					break
				}
			}
			k := all[keep]
			m.Live = &k
			surplus = append(append([]provider.Instance(nil), all[:keep]...), all[keep+1:]...)
		}
		w := &rolloutWork{idx: i, node: n, spec: spec, live: m.Live, action: workNone, surplus: surplus}
		r := RolloutNode{ID: n.ID, IP: n.IP, State: StateUnchanged}
		if m.Live != nil {
			r.OldInstance, r.OldGeneration, r.IP = m.Live.ID, m.Live.Generation, m.Live.IP
			w.oldGen = m.Live.Generation
			probe := p.probes[m.Live.ID]
			w.healthy = m.Live.State == provider.Running && (u.chk == nil || probe == nil)
			if u.chk != nil && m.Live.State == provider.Running {
				_, probed := p.probes[m.Live.ID]
				w.healthy = probed && probe == nil
			}
			current := hasSpec && (len(provider.Changes(*m.Live, spec)) == 0 || (m.Live.Generation == target && target != "0"))
			switch {
			case !hasSpec:
				r.State = StateSkipped
				r.Reasons = []string{"the generation has no spec for this node"}
			case current && w.healthy && !(u.gens.Resuming && !u.gens.Passed[m.Live.ID] && m.Live.Generation == target && time.Since(m.Live.Launched) < u.cfg.HealthyDeadline+u.cfg.MinHealthyTime):
			case current && time.Since(m.Live.Launched) < u.cfg.HealthyDeadline+u.cfg.MinHealthyTime:
				w.action, w.oldGen = workAwait, ""
				r.Reasons = []string{"launched " + m.Live.Launched.Format(time.RFC3339) + " (by an interrupted run?): waiting for its health"}
				r.NewInstance, r.Generation = m.Live.ID, m.Live.Generation
			case current:
				w.action = workReplace
				r.Reasons = []string{"unhealthy: " + errString(probe, "not running")}
			default:
				w.action = workReplace
				for _, c := range provider.Changes(*m.Live, spec) {
					r.Reasons = append(r.Reasons, c.String())
				}
				if !w.healthy {
					r.Reasons = append(r.Reasons, "unhealthy: "+errString(probe, "not running"))
				}
			}
		} else {
			w.action = workReplace
			for _, o := range p.observed {
				// an interrupted run's terminate: wait for it before the
				// launch, which needs the node's IP free
				if o.State == provider.ShuttingDown && provider.Owns(o, n) {
					w.dead = append(w.dead, o)
				}
			}
			switch {
			case !hasSpec:
				w.action = workNone
				r.State = StateSkipped
				r.Reasons = []string{"the generation has no spec for this node"}
			case len(m.Dead) > 0:
				w.dead = append(w.dead, m.Dead...)
				r.Reasons = []string{"dead: " + deadReason(m.Dead)}
				r.OldInstance, r.OldGeneration = m.Dead[len(m.Dead)-1].ID, m.Dead[len(m.Dead)-1].Generation
				w.oldGen = r.OldGeneration
			default:
				r.Reasons = []string{"missing: no instance (an interrupted rollout terminated it, or it was never launched)"}
			}
		}
		if len(selected) > 0 && !selected[n.ID] && w.action != workNone {
			w.action = workNone
			r.State = StateSkipped
			r.Reasons = append([]string{"not selected with --node"}, r.Reasons...)
		}
		if w.action != workNone {
			r.State = StateWaiting
		}
		u.res.Nodes = append(u.res.Nodes, r)
		u.work = append(u.work, w)
	}
}

func errString(err error, none string) string {
	if err == nil {
		return none
	}
	return err.Error()
}

// countHealthy counts the nodes that are healthy now (from the last
// probes) and names the others.
func (u *rolloutRun) countHealthy() (int, []string) {
	n := 0
	var bad []string
	for _, w := range u.work {
		if w.healthy {
			n++
		} else {
			bad = append(bad, w.node.ID)
		}
	}
	return n, bad
}

// order is the queue: nodes with no healthy instance first (they cost no
// quorum, and an interrupted run's node is finished first), then the rest
// in config order or rollout.order_command's.
func (u *rolloutRun) order(ctx context.Context) ([]*rolloutWork, error) {
	var first, rest []*rolloutWork
	for _, w := range u.work {
		switch {
		case w.action == workNone:
		case w.action == workAwait || !w.healthy:
			first = append(first, w)
		default:
			rest = append(rest, w)
		}
	}
	if u.cfg.OrderCommand != "" && len(rest) > 1 {
		ordered, err := u.e.orderCommand(ctx, u.cfg.OrderCommand, rest)
		if err != nil {
			return nil, err
		}
		rest = ordered
	}
	return append(first, rest...), nil
}

// runQueue replaces the queue's nodes batch by batch; it returns the first
// failure. rollingBack marks the second pass of a failed rollout.
func (u *rolloutRun) runQueue(ctx context.Context, queue []*rolloutWork, rollingBack bool) error {
	minHealthy := u.minHealthy()
	batchMax := max(1, u.cfg.MaxUnavailable)
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := u.nextBatch(ctx, downFirst(queue), batchMax, minHealthy)
		if err != nil {
			return err
		}
		queue = slices.DeleteFunc(queue, func(w *rolloutWork) bool { return slices.Contains(batch, w) })
		var wg sync.WaitGroup
		errs := make([]error, len(batch))
		for i, w := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = u.replace(ctx, w, rollingBack)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// downFirst puts the queued nodes that are not healthy (now: a node can
// die during a rollout) before the others, each part in its order: they
// cost no quorum, and the cluster needs them back first. The probes are
// nextBatch's, made just before.
func downFirst(queue []*rolloutWork) []*rolloutWork {
	out := make([]*rolloutWork, 0, len(queue))
	for _, w := range queue {
		if !w.healthy {
			out = append(out, w)
		}
	}
	for _, w := range queue {
		if w.healthy {
			out = append(out, w)
		}
	}
	return out
}

// nextBatch takes, in queue order, as many nodes as max_unavailable allows
// without the healthy nodes going below min: a node with a healthy
// instance costs one. When not even the first node may go, it waits for
// the cluster to recover (up to healthy_deadline), then fails.
func (u *rolloutRun) nextBatch(ctx context.Context, queue []*rolloutWork, batchMax, minHealthy int) ([]*rolloutWork, error) {
	deadline := time.Now().Add(u.cfg.HealthyDeadline)
	for {
		u.probeAll(ctx)
		healthy, unhealthy := u.countHealthy()
		n := 0
		cost := 0
		for _, w := range queue {
			if n == batchMax {
				break
			}
			c := 0
			if w.healthy {
				c = 1
			}
			if healthy-cost-c < minHealthy && !u.p.opts.Force {
				break
			}
			cost += c
			n++
		}
		if n > 0 {
			return queue[:n], nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: replacing node %s would leave %d healthy nodes, min_healthy is %d (unhealthy: %s); waited %s for them to recover",
				ErrBelowQuorum, queue[0].node.ID, healthy-1, minHealthy, strings.Join(unhealthy, ", "), u.cfg.HealthyDeadline)
		}
		u.note(queue[0], "for quorum: unhealthy "+strings.Join(unhealthy, ", "))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(health.DefaultInterval):
		}
	}
}

// probeAll probes every node's current instance once, in parallel.
func (u *rolloutRun) probeAll(ctx context.Context) {
	insts, err := u.e.Observe(ctx)
	if err != nil {
		return // keep the last answers
	}
	probes := probeAll(ctx, u.chk, insts)
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, w := range u.work {
		m := provider.MatchNode(insts, w.node)
		if m.Live == nil || m.Live.State != provider.Running {
			w.healthy = false
			continue
		}
		err, probed := probes[m.Live.ID]
		w.healthy = u.chk == nil || (probed && err == nil)
	}
}

// event reports a transition of w.
func (u *rolloutRun) event(w *rolloutWork, state, detail string) {
	u.mu.Lock()
	r := &u.res.Nodes[w.idx]
	r.State = state
	cp := *r
	u.mu.Unlock()
	if u.e.OnRollout != nil {
		var el time.Duration
		if !w.start.IsZero() {
			el = time.Since(w.start)
		}
		u.e.OnRollout(RolloutEvent{Node: cp, Elapsed: el, Detail: detail})
	}
}

// note reports a detail of w's current state, once per change of detail.
func (u *rolloutRun) note(w *rolloutWork, detail string) {
	u.mu.Lock()
	same := w.lastNote == detail
	w.lastNote = detail
	state := u.res.Nodes[w.idx].State
	u.mu.Unlock()
	if !same {
		u.event(w, state, detail)
	}
}

// set changes w's row under the lock.
func (u *rolloutRun) set(w *rolloutWork, f func(r *RolloutNode)) {
	u.mu.Lock()
	f(&u.res.Nodes[w.idx])
	u.mu.Unlock()
}

// replace takes one node through the steps: hooks, snapshot, terminate,
// launch, running, the health gate. rollingBack: the target is the
// node's previous spec.
func (u *rolloutRun) replace(ctx context.Context, w *rolloutWork, rollingBack bool) (err error) {
	e := u.e
	w.start = time.Now()
	tm := &NodeTimings{}
	u.set(w, func(r *RolloutNode) { r.Timings = tm })
	defer func() {
		tm.Total = time.Since(w.start)
		tm.Overhead = tm.Total - tm.Hooks - tm.Drain - tm.Register - tm.Snapshot - tm.Terminate - tm.Launch - tm.Running - tm.Healthy - tm.Hold
		tm.Completed = time.Now()
		if err != nil && ctx.Err() != nil {
			u.event(w, StateInterrupted, "")
			return
		}
		if err != nil {
			u.set(w, func(r *RolloutNode) {
				if r.Error == "" {
					r.Error = err.Error()
				}
			})
			u.event(w, StateFailed, err.Error())
			err = fmt.Errorf("node %s: %w", w.node.ID, err)
		}
	}()
	spec, gen := w.spec, strconv.Itoa(u.gens.Target)
	if rollingBack {
		spec, gen = u.previousSpec(w)
	}
	env := u.hookEnv(w, gen)
	if w.surges() {
		return u.surge(ctx, w, spec, gen, env, tm, rollingBack)
	}
	var inst provider.Instance
	if w.action == workAwait {
		inst = *w.live
	} else {
		if err := u.hook(ctx, "hooks.before_node", u.cfg.BeforeNode, env, tm); err != nil {
			return err
		}
		if w.live != nil && e.loadBalancer() != nil {
			u.event(w, StateDraining, w.live.ID)
			t := time.Now()
			if err := e.deregister(ctx, *w.live); err != nil {
				return err
			}
			tm.Drain = time.Since(t)
		}
		old := w.live
		if old == nil && len(w.dead) > 0 {
			old = &w.dead[len(w.dead)-1]
		}
		if old != nil && u.snapshotting(spec) {
			u.event(w, StateSnapshotting, "")
			t := time.Now()
			snaps, err := e.Provider.(provider.NodeSnapshotter).SnapshotInstance(ctx, e.ID, *old)
			tm.Snapshot = time.Since(t)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", old.ID, err)
			}
			spec, err = u.withSnapshots(w, spec, snaps, rollingBack)
			if err != nil {
				return err
			}
		}
		var ids []string
		if w.live != nil {
			ids = append(ids, w.live.ID)
		}
		ids = append(ids, instanceIDs(w.dead)...)
		if len(ids) > 0 {
			u.event(w, StateTerminating, strings.Join(ids, ", "))
			t := time.Now()
			// ours, launched with protection: off for these alone
			if err := e.Provider.Terminate(ctx, ids, true); err != nil {
				return fmt.Errorf("terminate %s: %w", strings.Join(ids, ", "), err)
			}
			w.replaced, w.healthy = true, false
			if err := e.Provider.WaitTerminated(ctx, ids); err != nil {
				return fmt.Errorf("wait for %s to terminate: %w", strings.Join(ids, ", "), err)
			}
			tm.Terminate = time.Since(t)
		}
		w.replaced = true
		w.live, w.dead = nil, nil
		u.event(w, StateLaunching, "")
		t := time.Now()
		inst, err = u.launchOnFreeIP(ctx, w, provider.LaunchSpec{Cluster: e.ID, Node: w.node, Spec: spec, Generation: gen})
		tm.Launch = time.Since(t)
		if err != nil {
			return fmt.Errorf("launch: %w", err)
		}
	}
	w.live = &inst
	u.set(w, func(r *RolloutNode) {
		r.NewInstance, r.Generation = inst.ID, gen
		if inst.IP != "" {
			r.IP = inst.IP
		}
	})
	if inst, err = u.boot(ctx, w, inst, tm); err != nil {
		return err
	}
	if err := u.registerNew(ctx, inst, tm); err != nil {
		return err
	}
	// an interrupted surge's old instance goes now
	if err := u.retire(ctx, w, w.surplus, tm); err != nil {
		return err
	}
	w.surplus = nil
	// after_node runs for a node an interrupted run launched too: its
	// before_node ran then
	return u.finish(ctx, w, gen, tm, rollingBack)
}

// hook runs a rollout hook (none when cmd is ""), its time counted.
func (u *rolloutRun) hook(ctx context.Context, name, cmd string, env []string, tm *NodeTimings) error {
	if cmd == "" {
		return nil
	}
	t := time.Now()
	err := u.e.runHook(ctx, name, cmd, env)
	tm.Hooks += time.Since(t)
	return err
}

// boot waits until a node's new instance runs, then for its health gate;
// it returns the instance as it runs (w.live is it from then on).
func (u *rolloutRun) boot(ctx context.Context, w *rolloutWork, inst provider.Instance, tm *NodeTimings) (provider.Instance, error) {
	u.event(w, StateBooting, inst.ID)
	t := time.Now()
	running, err := u.e.Provider.WaitRunning(ctx, []provider.Instance{inst})
	tm.Running = time.Since(t)
	if err == nil && len(running) == 0 {
		err = fmt.Errorf("instance %s did not reach running", inst.ID)
	}
	if err != nil {
		return inst, fmt.Errorf("after launch: %w", err)
	}
	inst = running[0]
	w.live = &inst
	return inst, u.gate(ctx, w, inst, tm)
}

// registerNew puts a node's new, healthy instance behind the load
// balancer, where there is one.
func (u *rolloutRun) registerNew(ctx context.Context, inst provider.Instance, tm *NodeTimings) error {
	if u.e.loadBalancer() == nil {
		return nil
	}
	t := time.Now()
	err := u.e.register(ctx, inst)
	tm.Register = time.Since(t)
	return err
}

// finish ends a node's replacement: after_node, then done (or rolled
// back) with the node's URL.
func (u *rolloutRun) finish(ctx context.Context, w *rolloutWork, gen string, tm *NodeTimings, rollingBack bool) error {
	if err := u.hook(ctx, "hooks.after_node", u.cfg.AfterNode, u.hookEnv(w, gen), tm); err != nil {
		return err
	}
	w.healthy = true
	state := StateDone
	if rollingBack {
		state = StateRolledBack
	}
	u.set(w, func(r *RolloutNode) {
		if u.chk != nil {
			r.URL = u.chk.URL(r.IP)
		}
	})
	u.event(w, state, "")
	return nil
}

// surge replaces a node-group member without a gap: its new instance
// (LaunchSpec.Surge: its own address) is launched, gated and registered
// while the old one serves; then the old one is drained and terminated. A
// new instance that fails its gate is terminated and the old one kept: the
// member runs its old spec, and a rollback has nothing to undo there.
func (u *rolloutRun) surge(ctx context.Context, w *rolloutWork, spec provider.Spec, gen string, env []string, tm *NodeTimings, rollingBack bool) error {
	e := u.e
	if err := u.hook(ctx, "hooks.before_node", u.cfg.BeforeNode, env, tm); err != nil {
		return err
	}
	old := *w.live
	u.event(w, StateLaunching, "surge: "+old.ID+" serves meanwhile")
	t := time.Now()
	inst, err := e.Provider.Launch(ctx, provider.LaunchSpec{Cluster: e.ID, Node: w.node, Spec: spec, Generation: gen, Surge: true})
	tm.Launch = time.Since(t)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	u.set(w, func(r *RolloutNode) { r.NewInstance, r.Generation = inst.ID, gen })
	if inst, err = u.boot(ctx, w, inst, tm); err != nil {
		// the old instance still serves: the new one goes
		if ctx.Err() == nil {
			if terr := e.Provider.Terminate(context.WithoutCancel(ctx), []string{inst.ID}, true); terr != nil {
				err = errors.Join(err, fmt.Errorf("terminate the failed new instance %s: %w", inst.ID, terr))
			}
		}
		w.live = &old
		return err
	}
	if err := u.registerNew(ctx, inst, tm); err != nil {
		return err
	}
	w.replaced = true
	u.set(w, func(r *RolloutNode) {
		if inst.IP != "" {
			r.IP = inst.IP
		}
	})
	if err := u.retire(ctx, w, append(append([]provider.Instance{old}, w.surplus...), w.dead...), tm); err != nil {
		return err
	}
	w.surplus, w.dead = nil, nil
	return u.finish(ctx, w, gen, tm, rollingBack)
}

// retire drains insts from the load balancer and terminates them (a
// member's old instances, once its new one serves).
func (u *rolloutRun) retire(ctx context.Context, w *rolloutWork, insts []provider.Instance, tm *NodeTimings) error {
	e := u.e
	if len(insts) == 0 {
		return nil
	}
	ids := instanceIDs(insts)
	if e.loadBalancer() != nil {
		u.event(w, StateDraining, strings.Join(ids, ", "))
		t := time.Now()
		if err := e.deregisterEach(ctx, insts, true); err != nil {
			return err
		}
		tm.Drain += time.Since(t)
	}
	u.event(w, StateTerminating, strings.Join(ids, ", "))
	t := time.Now()
	if err := e.Provider.Terminate(ctx, ids, true); err != nil {
		return fmt.Errorf("terminate %s: %w", strings.Join(ids, ", "), err)
	}
	if err := e.Provider.WaitTerminated(ctx, ids); err != nil {
		return fmt.Errorf("wait for %s to terminate: %w", strings.Join(ids, ", "), err)
	}
	tm.Terminate += time.Since(t)
	return nil
}

// registerHealthy makes the load balancer ready, where there is one, and
// registers every node that is healthy now (a no-op for the registered
// ones): a load balancer added to the config gets the nodes the rollout
// leaves as they are.
func (u *rolloutRun) registerHealthy(ctx context.Context) error {
	e := u.e
	if e.loadBalancer() == nil {
		return nil
	}
	if err := e.ensureLoadBalancer(ctx); err != nil {
		return err
	}
	var errs []error
	for _, w := range u.work {
		if w.healthy && w.live != nil {
			if err := e.register(ctx, *w.live); err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", w.node.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// IPFreeWait is how long a launch waits for the node's IP to be released
// by the instance just terminated (EC2 frees a terminated instance's
// network interface shortly after the instance is terminated).
var IPFreeWait = 2 * time.Minute

// launchOnFreeIP launches ls, trying again while the node's IP is still
// held (an *provider.IPInUseError) for up to IPFreeWait.
func (u *rolloutRun) launchOnFreeIP(ctx context.Context, w *rolloutWork, ls provider.LaunchSpec) (provider.Instance, error) {
	deadline := time.Now().Add(IPFreeWait)
	delay := 250 * time.Millisecond
	for {
		inst, err := u.e.Provider.Launch(ctx, ls)
		var inUse *provider.IPInUseError
		if err == nil || !errors.As(err, &inUse) || time.Now().Add(delay).After(deadline) {
			return inst, err
		}
		u.event(w, StateLaunching, "waiting for "+inUse.IP+" to be released: "+inUse.Holder)
		select {
		case <-ctx.Done():
			return inst, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// gate waits for the new instance to pass health within healthy_deadline
// (from its launch), then to stay healthy for min_healthy_time; a failed
// hold starts the wait again while the deadline lasts. Without a health
// check, running is enough.
func (u *rolloutRun) gate(ctx context.Context, w *rolloutWork, inst provider.Instance, tm *NodeTimings) error {
	if u.chk == nil || inst.IP == "" {
		return nil
	}
	e := u.e
	chk := *u.chk
	var alive func(context.Context) error
	if watcher, ok := e.Provider.(provider.Watcher); ok {
		alive = func(ctx context.Context) error { return watcher.Alive(ctx, inst.ID) }
	}
	since := inst.Launched
	if since.IsZero() || time.Since(since) > u.cfg.HealthyDeadline {
		since = time.Now()
	}
	deadline := since.Add(u.cfg.HealthyDeadline)
	target := health.Target{IP: inst.IP, Node: w.node.ID}
	t := time.Now()
	for {
		err := waitPoll(ctx, chk, target, time.Until(deadline), alive)
		if err == nil {
			tm.Healthy += time.Since(t)
			u.event(w, StateHealthy, "holding "+u.cfg.MinHealthyTime.String())
			t = time.Now()
			err = chk.Hold(ctx, target, u.cfg.MinHealthyTime, alive)
			tm.Hold += time.Since(t)
			if err == nil {
				return nil
			}
			t = time.Now()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, health.ErrDied) || time.Now().After(deadline) {
			tail := e.logTail(ctx, inst.ID)
			u.set(w, func(r *RolloutNode) { r.LogTail, r.FailedInstance = tail, inst.ID })
			return fmt.Errorf("health gate (healthy_deadline %s, min_healthy_time %s): %w", u.cfg.HealthyDeadline, u.cfg.MinHealthyTime, err)
		}
	}
}

// waitPoll is WaitAlive probing every GatePoll.
func waitPoll(ctx context.Context, chk health.Check, t health.Target, wait time.Duration, alive func(context.Context) error) error {
	if wait <= 0 {
		wait = time.Millisecond
	}
	chk.Interval = GatePoll
	return chk.WaitAlive(ctx, t, wait, alive)
}

// snapshotting reports whether the node's data is snapshotted before its
// instance is terminated: rollout.data snapshot, or by default on a
// provider whose volumes do not outlive instances (not local) when the
// spec has data volumes.
func (u *rolloutRun) snapshotting(spec provider.Spec) bool {
	if _, ok := u.e.Provider.(provider.NodeSnapshotter); !ok {
		return false
	}
	switch u.cfg.Data {
	case config.RolloutDataSnapshot:
		return true
	case "":
		if u.e.Cluster.Provider == "local" {
			return false
		}
		for _, v := range spec.Volumes {
			if !v.Ephemeral {
				return true
			}
		}
	}
	return false
}

// withSnapshots makes spec restore exactly snaps: rolling forward, the
// node's spec is computed again from the resolution with these snapshots
// (templates see them as volumes[].snapshot); rolling back, the recorded
// spec (its user data as recorded) gets them on its volumes.
func (u *rolloutRun) withSnapshots(w *rolloutWork, spec provider.Spec, snaps map[int]provider.Snapshot, rollingBack bool) (provider.Spec, error) {
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	u.set(w, func(r *RolloutNode) { r.Snapshots = ids })
	if len(snaps) == 0 {
		return spec, nil
	}
	if rollingBack || u.p.opts.Specs != nil {
		byDevice := map[string]string{}
		for _, s := range snaps {
			byDevice[s.Device] = s.ID
		}
		vols := append([]provider.VolumeSpec(nil), spec.Volumes...)
		for i, v := range vols {
			if id, ok := byDevice[v.Device]; ok && v.Device != "" {
				vols[i].Snapshot = id
			} else if id, ok := byDevice[v.Name]; ok {
				vols[i].Snapshot = id
			}
		}
		spec.Volumes = vols
		return spec, nil
	}
	r := u.p.res
	choices := map[int]provider.SnapshotChoice{}
	for k, v := range r.Snapshots {
		choices[k] = v
	}
	for idx, s := range snaps {
		c := choices[idx]
		byNode := map[string]string{}
		for k, v := range c.ByNode {
			byNode[k] = v
		}
		byNode[w.node.ID] = s.ID
		// templates see the snapshot this node restores from
		c.ByNode, c.Newest = byNode, s.ID
		choices[idx] = c
	}
	r.Snapshots = choices
	specs, err := u.e.specs(r, []config.Node{w.node}, u.p.opts.CloudInit)
	if err != nil {
		return spec, err
	}
	return specs[0], nil
}

// previousSpec is the spec (and generation) a node goes back to: its old
// instance's generation's, else the active generation's (Fallback).
func (u *rolloutRun) previousSpec(w *rolloutWork) (provider.Spec, string) {
	if n, err := strconv.Atoi(w.oldGen); err == nil && n != u.gens.Target {
		if s, ok := u.gens.Recorded[n][w.node.ID]; ok {
			return s, w.oldGen
		}
	}
	s := u.gens.Recorded[u.gens.Fallback][w.node.ID]
	return s, strconv.Itoa(u.gens.Fallback)
}

// rollback puts the rollout's nodes back on their previous spec, one
// batch at a time, with the same gates: every node replaced in this run,
// and every node an interrupted run of the same rollout left on the
// target generation. A node whose previous spec is the target spec, or
// unknown, stays.
func (u *rolloutRun) rollback(ctx context.Context) {
	var queue []*rolloutWork
	target := strconv.Itoa(u.gens.Target)
	for _, w := range u.work {
		onTarget := w.live != nil && w.live.Generation == target
		if !w.replaced && !onTarget {
			continue
		}
		s, _ := u.previousSpec(w)
		if s.Image == "" && s.UserData == "" && s.InstanceType == "" {
			u.set(w, func(r *RolloutNode) { r.Error = strings.TrimPrefix(r.Error+"; no recorded spec to roll back to", "; ") })
			continue
		}
		if s.Hash() == w.spec.Hash() {
			continue // its previous spec is the one that failed: nothing to go back to
		}
		w.action = workReplace
		queue = append(queue, w)
	}
	if len(queue) == 0 {
		return
	}
	u.res.RolledBack = true
	u.probeAll(ctx)
	// the failed nodes first: they are down
	var down, up []*rolloutWork
	for _, w := range queue {
		if w.healthy {
			up = append(up, w)
		} else {
			down = append(down, w)
		}
	}
	for _, w := range append(down, up...) {
		u.event(w, StateRollingBack, "")
	}
	if err := u.runQueue(ctx, append(down, up...), true); err != nil {
		u.rollbackErr = err
	}
}

// complete reports whether every configured node runs its target spec
// (launched in this run or found so) and is healthy.
func (u *rolloutRun) complete() bool {
	for _, r := range u.res.Nodes {
		if r.State != StateDone && r.State != StateUnchanged {
			return false
		}
	}
	return true
}
