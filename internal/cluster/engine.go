package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/health"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// DefaultParallel caps concurrent launches when --parallel is not given.
// Providers pace their own API calls (EC2's RunInstances token bucket).
const DefaultParallel = 16

// Engine runs one cluster on one provider.
type Engine struct {
	Cluster  *config.Cluster
	Renderer *render.Renderer
	Provider provider.Provider
	ID       provider.ClusterID
	Log      *slog.Logger
	// Progress, when set, is told about each node as it changes.
	Progress func(NodeResult)
}

// New returns an engine for cluster c.
func New(c *config.Cluster, r *render.Renderer, p provider.Provider, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{Cluster: c, Renderer: r, Provider: p, ID: provider.ClusterID{Name: c.Name}, Log: log}
}

// Actions a node can go through in `up`.
const (
	ActionCreated   = "created"
	ActionUnchanged = "unchanged"
	ActionReplaced  = "replaced"
	ActionFailed    = "failed"
	ActionLaunching = "launching"
)

// NodeResult is what happened to one node.
type NodeResult struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Action     string `json:"action"`
	InstanceID string `json:"instance_id,omitempty"`
	IP         string `json:"ip,omitempty"`
	URL        string `json:"url,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Error      string `json:"error,omitempty"`
}

// UpResult is what `up` did.
type UpResult struct {
	Cluster string                `json:"cluster"`
	Nodes   []NodeResult          `json:"nodes"`
	Group   *provider.GroupResult `json:"group,omitempty"`
}

// UpOptions are `up`'s flags.
type UpOptions struct {
	provider.UpOptions
	CloudInit bool // render and send the boot script (the original's --cloud-init)
	Parallel  int
}

// ErrNodesFailed is returned (wrapped) when some nodes could not be launched.
var ErrNodesFailed = errors.New("some nodes failed")

// NodeName is the Name tag of a node's instance, as the original named it.
func NodeName(cluster, node string) string { return cluster + "-" + node }

// Up launches every configured node that has no live instance. Instances
// that stopped or failed are replaced on the same IP. A failed node does
// not stop the others.
func (e *Engine) Up(ctx context.Context, opts UpOptions) (*UpResult, error) {
	observed, err := e.Provider.Instances(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	data := e.Cluster.Data.Clone()
	if err := e.Provider.Prepare(ctx, data, observed, opts.UpOptions); err != nil {
		return nil, err
	}
	res := &UpResult{Cluster: e.Cluster.Name}
	if g, ok := e.Provider.(provider.GroupProvider); ok && g.GroupMode() {
		ud, err := e.userData(data, e.Cluster.Name, opts.CloudInit)
		if err != nil {
			return nil, err
		}
		gr, err := g.EnsureGroup(ctx, e.ID, ud)
		if err != nil {
			return nil, err
		}
		res.Group = &gr
		return res, nil
	}

	type job struct {
		idx  int
		node config.Node
		dead []provider.Instance
	}
	var jobs []job
	launched := map[string]int{} // instance id -> result index, for the wait
	var instances []provider.Instance
	for i, n := range e.Cluster.Nodes() {
		r := NodeResult{ID: n.ID, Name: NodeName(e.Cluster.Name, n.ID), IP: n.IP}
		live, dead := match(observed, n)
		if live != nil {
			r.Action, r.InstanceID, r.IP = ActionUnchanged, live.ID, live.IP
			if live.State == provider.Pending {
				// launched by an earlier, interrupted up: wait for it
				// (and its health) like for a new one
				launched[live.ID] = i
				instances = append(instances, *live)
			}
		} else {
			r.Action = ActionLaunching
			jobs = append(jobs, job{idx: i, node: n, dead: dead})
		}
		res.Nodes = append(res.Nodes, r)
	}
	for _, r := range res.Nodes {
		if _, waiting := launched[r.InstanceID]; r.Action == ActionUnchanged && !waiting {
			e.progress(r)
		}
	}

	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	var mu sync.Mutex
	var wg sync.WaitGroup
	generation := time.Now().UTC().Format("20060102T150405Z")
	for _, j := range jobs {
		wg.Add(1)
		go func(j job) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				e.fail(&mu, &res.Nodes[j.idx], ctx.Err())
				return
			}
			defer func() { <-sem }()
			r := &res.Nodes[j.idx]
			action := ActionCreated
			if len(j.dead) > 0 {
				ids := make([]string, len(j.dead))
				for i, d := range j.dead {
					ids[i] = d.ID
				}
				e.Log.Info("replacing dead instance", "node", j.node.ID, "instances", ids)
				if err := e.Provider.Terminate(ctx, ids, true); err != nil {
					e.fail(&mu, r, fmt.Errorf("terminate %s (%s): %w", strings.Join(ids, ", "), deadReason(j.dead), err))
					return
				}
				if err := e.Provider.WaitTerminated(ctx, ids); err != nil {
					e.fail(&mu, r, fmt.Errorf("wait for %s to terminate: %w", strings.Join(ids, ", "), err))
					return
				}
				action = ActionReplaced
				mu.Lock()
				r.Reason = deadReason(j.dead)
				mu.Unlock()
			}
			ud, err := e.userData(data, e.Cluster.NodeIDValue(j.node), opts.CloudInit)
			if err != nil {
				e.fail(&mu, r, err)
				return
			}
			inst, err := e.Provider.Launch(ctx, provider.LaunchSpec{
				Cluster:    e.ID,
				Node:       j.node,
				UserData:   ud,
				Env:        render.ClusterEnv(e.Renderer, e.Cluster),
				Generation: generation,
			})
			if err != nil {
				e.fail(&mu, r, err)
				return
			}
			mu.Lock()
			r.Action, r.InstanceID = action, inst.ID
			if inst.IP != "" {
				r.IP = inst.IP
			}
			launched[inst.ID] = j.idx
			instances = append(instances, inst)
			mu.Unlock()
			e.Log.Debug("launched", "node", j.node.ID, "instance", inst.ID)
		}(j)
	}
	wg.Wait()

	if len(instances) > 0 {
		running, err := e.Provider.WaitRunning(ctx, instances)
		for _, inst := range running {
			if idx, ok := launched[inst.ID]; ok && inst.IP != "" {
				res.Nodes[idx].IP = inst.IP
			}
		}
		if err != nil {
			for _, inst := range instances {
				idx := launched[inst.ID]
				if !contains(running, inst.ID) {
					e.fail(&mu, &res.Nodes[idx], fmt.Errorf("wait until running: %w", err))
				}
			}
		}
		e.waitHealthy(ctx, res, running, launched, &mu)
	}
	if chk := e.check(); chk != nil {
		for i := range res.Nodes {
			if res.Nodes[i].IP != "" && res.Nodes[i].Action != ActionFailed {
				res.Nodes[i].URL = chk.URL(res.Nodes[i].IP)
			}
		}
	}
	var failed []string
	for _, r := range res.Nodes {
		if r.Action == ActionFailed {
			failed = append(failed, r.ID)
		}
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("%w: %d of %d nodes (%s)", ErrNodesFailed, len(failed), len(res.Nodes), strings.Join(failed, ", "))
	}
	return res, nil
}

// check is the cluster's health check, if it has one.
func (e *Engine) check() *health.Check {
	if e.Cluster.Health == nil {
		return nil
	}
	return &health.Check{Port: e.Cluster.Health.Port, Path: e.Cluster.Health.Path}
}

// waitHealthy waits, node by node in parallel, until each new instance
// passes the cluster's health check; one that does not in time is failed.
func (e *Engine) waitHealthy(ctx context.Context, res *UpResult, running []provider.Instance, launched map[string]int, mu *sync.Mutex) {
	chk := e.check()
	timeout := health.DefaultTimeout
	if e.Cluster.Health != nil && e.Cluster.Health.Timeout > 0 {
		timeout = time.Duration(e.Cluster.Health.Timeout) * time.Second
	}
	var wg sync.WaitGroup
	for _, inst := range running {
		idx, ok := launched[inst.ID]
		if !ok || res.Nodes[idx].Action == ActionFailed {
			continue
		}
		wg.Add(1)
		go func(r *NodeResult) {
			defer wg.Done()
			if chk != nil && r.IP != "" {
				if err := chk.Wait(ctx, r.IP, timeout); err != nil {
					e.fail(mu, r, err)
					return
				}
				mu.Lock()
				r.URL = chk.URL(r.IP)
				mu.Unlock()
			}
			mu.Lock()
			cp := *r
			mu.Unlock()
			e.progress(cp)
		}(&res.Nodes[idx])
	}
	wg.Wait()
}

func contains(list []provider.Instance, id string) bool {
	for _, i := range list {
		if i.ID == id {
			return true
		}
	}
	return false
}

func deadReason(dead []provider.Instance) string {
	d := dead[0]
	if d.ExitCode != nil {
		return fmt.Sprintf("instance %s was %s (exit code %d)", d.ID, d.State, *d.ExitCode)
	}
	return fmt.Sprintf("instance %s was %s", d.ID, d.State)
}

func (e *Engine) fail(mu *sync.Mutex, r *NodeResult, err error) {
	mu.Lock()
	r.Action, r.Error = ActionFailed, err.Error()
	res := *r
	mu.Unlock()
	e.progress(res)
}

func (e *Engine) progress(r NodeResult) {
	if e.Progress != nil {
		e.Progress(r)
	}
}

// userData renders and packs the boot script for one node.
func (e *Engine) userData(data *config.Mapping, nodeID any, cloudInit bool) (string, error) {
	if !cloudInit {
		return "", nil
	}
	script, err := e.Renderer.Build(e.Cluster, render.Options{Data: data, NodeID: nodeID})
	if err != nil {
		return "", err
	}
	return render.Pack(script)
}

// match finds the instances of node n among the cluster's instances: the
// live one, and the dead ones (stopped or failed) that a launch replaces.
func match(observed []provider.Instance, n config.Node) (live *provider.Instance, dead []provider.Instance) {
	m := provider.MatchNode(observed, n)
	return m.Live, m.Dead
}

// Observe returns the cluster's instances, sorted by node id then launch.
func (e *Engine) Observe(ctx context.Context) ([]provider.Instance, error) {
	insts, err := e.Provider.Instances(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(insts, func(i, j int) bool {
		if insts[i].NodeID != insts[j].NodeID {
			return insts[i].NodeID < insts[j].NodeID
		}
		return insts[i].Launched.Before(insts[j].Launched)
	})
	return insts, nil
}
