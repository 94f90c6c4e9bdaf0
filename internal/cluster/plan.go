package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aymanbagabas/go-udiff"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/health"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// Plan actions, one per node or instance.
const (
	PlanCreate    = "create"    // a configured node with no instance
	PlanReplace   = "replace"   // its instance runs another spec
	PlanUnchanged = "unchanged" // its instance runs the desired spec
	PlanRemove    = "remove"    // an orphan or a duplicate
	PlanUnhealthy = "unhealthy" // running the desired spec but failing health
	PlanDead      = "dead"      // its instance stopped or failed
	PlanForeign   = "foreign"   // the cluster's name outside its network: never touched
)

// PlanChange is one row of a plan.
type PlanChange struct {
	Node       string            `json:"node"`
	Action     string            `json:"action"`
	InstanceID string            `json:"instance_id,omitempty"`
	Reasons    []provider.Change `json:"reasons,omitempty"`
	// Detail says more where a reason has no field (a health error, whose
	// duplicate an instance is, where a foreign instance is).
	Detail string `json:"detail,omitempty"`
	// Diff is the unified diff of the boot script (plan --diff), secrets
	// masked.
	Diff string `json:"diff,omitempty"`
}

// PlanSummary counts the rows by action.
type PlanSummary struct {
	Create    int `json:"create"`
	Replace   int `json:"replace"`
	Unchanged int `json:"unchanged"`
	Remove    int `json:"remove"`
	Unhealthy int `json:"unhealthy"`
	Dead      int `json:"dead"`
}

// Plan is what `cluster plan` shows: what up and rollout would do.
type Plan struct {
	Cluster string       `json:"cluster"`
	Env     string       `json:"env"`
	Image   string       `json:"image,omitempty"` // the resolved image, with how it was chosen
	Changes []PlanChange `json:"changes"`
	Summary PlanSummary  `json:"summary"`

	// Hardware are the instance types nodes' `hardware:` resolved to (the
	// provider's Resolution.Hardware), by node id.
	Hardware map[string]provider.HardwareChoice `json:"hardware,omitempty"`
}

// Pending reports whether anything would change.
func (p *Plan) Pending() bool {
	s := p.Summary
	return s.Create+s.Replace+s.Remove+s.Unhealthy+s.Dead > 0
}

// DiffReads is how many instances' user data plan --diff reads at once.
const DiffReads = 10

// PlanOptions are `plan`'s flags.
type PlanOptions struct {
	provider.UpOptions
	CloudInit bool
	Diff      bool // read each replaced instance's user data and diff it
}

// Plan compares every configured node's desired spec with what runs. It
// makes no mutating call: the instances, the provider's lookups (image,
// snapshots; no pre-launch checks), a health probe per running node when
// the cluster has a check, and with Diff one user-data read per replaced
// node.
func (e *Engine) Plan(ctx context.Context, opts PlanOptions) (*Plan, error) {
	p, _, err := e.plan(ctx, opts)
	return p, err
}

// plan is Plan, with the instances it observed.
func (e *Engine) plan(ctx context.Context, opts PlanOptions) (*Plan, []provider.Instance, error) {
	// what up would refuse, plan reports first, before any API call
	if err := e.Cluster.CheckUp(); err != nil {
		return nil, nil, err
	}
	observed, r, specs, err := e.desired(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	nodes := e.Cluster.Nodes()
	p := &Plan{Cluster: e.Cluster.Name, Env: e.ID.Env, Hardware: r.Hardware, Changes: []PlanChange{}}
	if r.Image.ID != "" {
		p.Image = strings.TrimSpace(r.Image.ID + " " + imageNote(r))
	}
	chk := e.check()
	probes := probeAll(ctx, chk, observed)
	type diffJob struct {
		row  int
		inst provider.Instance
		spec provider.Spec
	}
	var diffs []diffJob
	owned := map[string]bool{}
	for i, n := range nodes {
		m := provider.MatchNode(observed, n)
		for _, o := range observed {
			if provider.Owns(o, n) {
				owned[o.ID] = true
			}
		}
		row := PlanChange{Node: n.ID}
		switch {
		case m.Live != nil:
			row.InstanceID = m.Live.ID
			row.Reasons = provider.Changes(*m.Live, specs[i])
			switch {
			case len(row.Reasons) > 0:
				row.Action = PlanReplace
				if opts.Diff {
					diffs = append(diffs, diffJob{row: len(p.Changes), inst: *m.Live, spec: specs[i]})
				}
			case probes[m.Live.ID] != nil:
				row.Action, row.Detail = PlanUnhealthy, fmt.Sprintf("%s on %s: %v", chk, m.Live.IP, probes[m.Live.ID])
			default:
				row.Action = PlanUnchanged
			}
		case len(m.Dead) > 0:
			d := m.Dead[len(m.Dead)-1]
			row.Action, row.InstanceID, row.Detail = PlanDead, d.ID, deadReason(m.Dead)
		default:
			row.Action = PlanCreate
		}
		p.Changes = append(p.Changes, row)
		for _, d := range m.Duplicates {
			p.Changes = append(p.Changes, PlanChange{Node: n.ID, Action: PlanRemove, InstanceID: d.ID, Detail: "duplicate of " + m.Live.ID})
		}
	}
	var extra []PlanChange
	for _, o := range observed {
		switch {
		case o.Foreign != "":
			extra = append(extra, PlanChange{Node: o.NodeID, Action: PlanForeign, InstanceID: o.ID, Detail: "in " + o.Foreign + ", outside the cluster's network: never touched"})
		case !owned[o.ID] && (o.State.Live() || o.State == provider.Stopping || o.State == provider.Stopped || o.State == provider.Failed):
			extra = append(extra, PlanChange{Node: o.NodeID, Action: PlanRemove, InstanceID: o.ID, Detail: "orphan: no configured node has this id"})
		}
	}
	sort.SliceStable(extra, func(a, b int) bool { return extra[a].Node < extra[b].Node })
	p.Changes = append(p.Changes, extra...)
	// --diff reads each replaced node's user data, DiffReads at a time
	sem := make(chan struct{}, DiffReads)
	var wg sync.WaitGroup
	for _, d := range diffs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p.Changes[d.row].Diff = e.userDataDiff(ctx, d.inst, d.spec)
		}()
	}
	wg.Wait()
	for _, c := range p.Changes {
		switch c.Action {
		case PlanCreate:
			p.Summary.Create++
		case PlanReplace:
			p.Summary.Replace++
		case PlanUnchanged:
			p.Summary.Unchanged++
		case PlanRemove:
			p.Summary.Remove++
		case PlanUnhealthy:
			p.Summary.Unhealthy++
		case PlanDead:
			p.Summary.Dead++
		}
	}
	return p, observed, nil
}

// desired observes the cluster (sorted as Observe sorts), resolves without
// pre-launch checks, and computes every configured node's desired spec:
// what plan and status compare.
func (e *Engine) desired(ctx context.Context, opts PlanOptions) ([]provider.Instance, provider.Resolution, []provider.Spec, error) {
	observed, err := e.Observe(ctx)
	if err != nil {
		return nil, provider.Resolution{}, nil, err
	}
	r, err := e.Provider.Resolve(ctx, e.ID, observed, provider.ResolveOptions{UpOptions: opts.UpOptions})
	if err != nil {
		return nil, provider.Resolution{}, nil, err
	}
	specs, err := e.specs(r, e.Cluster.Nodes(), opts.CloudInit)
	if err != nil {
		return nil, provider.Resolution{}, nil, err
	}
	return observed, r, specs, nil
}

func imageNote(r provider.Resolution) string {
	var parts []string
	if r.Image.Name != "" && r.Image.Name != r.Image.ID {
		parts = append(parts, r.Image.Name)
	}
	if r.ImageHow != "" {
		parts = append(parts, r.ImageHow)
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// userDataDiff is the unified diff of the boot script an instance runs
// against the desired one, with every known secret masked on both sides.
// An instance whose user data cannot be read says why instead.
func (e *Engine) userDataDiff(ctx context.Context, inst provider.Instance, want provider.Spec) string {
	var old string
	switch {
	case inst.LaunchedSpec != nil:
		old = inst.LaunchedSpec.UserData
	default:
		rd, ok := e.Provider.(provider.UserDataReader)
		if !ok {
			return "(this provider cannot read an instance's user data)"
		}
		ud, err := rd.UserData(ctx, inst.ID)
		if err != nil {
			return "(could not read the user data of " + inst.ID + ": " + err.Error() + ")"
		}
		old = ud
	}
	if old == want.UserData {
		return ""
	}
	a, errA := render.Unpack(old)
	b, errB := render.Unpack(want.UserData)
	if err := errors.Join(errA, errB); err != nil {
		return "(could not unpack the user data: " + err.Error() + ")"
	}
	a, b = config.KnownSecrets.Scrub(a), config.KnownSecrets.Scrub(b)
	return udiff.Unified(inst.ID+" (running)", "desired", withNewline(a), withNewline(b))
}

func withNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

// probeAll probes every instance that runs, in parallel, once: instance id
// -> the probe's error (nil: healthy). Without a check it probes nothing.
func probeAll(ctx context.Context, chk *health.Check, insts []provider.Instance) map[string]error {
	out := map[string]error{}
	if chk == nil {
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, i := range insts {
		if i.State != provider.Running || i.IP == "" || i.Foreign != "" {
			continue
		}
		wg.Add(1)
		go func(i provider.Instance) {
			defer wg.Done()
			err := chk.Probe(ctx, health.Target{IP: i.IP, Node: i.NodeID})
			mu.Lock()
			out[i.ID] = err
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return out
}
