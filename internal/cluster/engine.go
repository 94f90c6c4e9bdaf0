package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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
	// Progress, when set, is told about each step of each node (see
	// Event); it is called from several goroutines, one call at a time per
	// node.
	Progress func(Event)
	// Generation, when set, is asked once every node's desired spec is
	// known and before anything is created: it returns the generation
	// new instances are tagged with (the coordinator's number). Without
	// it, instances are tagged with the time of the run.
	Generation func(ctx context.Context, specs map[string]provider.Spec) (int, error)
	// OnRollout, when set, is told about each transition of each node in
	// a rollout; called from several goroutines.
	OnRollout func(RolloutEvent)
	// Dir is the project directory: health, order and hook commands run
	// there.
	Dir string
}

// New returns an engine for cluster c.
func New(c *config.Cluster, r *render.Renderer, p provider.Provider, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{Cluster: c, Renderer: r, Provider: p, ID: provider.ClusterID{Name: c.Name, Env: c.Env}, Log: log}
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
	// LogTail is the end of the boot log of an instance that died while
	// it was awaited.
	LogTail []string `json:"log_tail,omitempty"`
	// Stale is how a kept instance differs from the node's desired spec:
	// up leaves it running; plan shows it, rollout replaces it.
	Stale []provider.Change `json:"stale,omitempty"`
	// Health is HealthOK or HealthBad when the cluster has a health
	// check and the node has an instance (kept ones included); for a bad
	// one, Error says why.
	Health string `json:"health,omitempty"`
}

// Values of NodeResult.Health.
const (
	HealthOK  = "healthy"
	HealthBad = "unhealthy"
)

// Steps of a node that up reports through Engine.Progress.
const (
	EventUnchanged = "unchanged" // a live instance is kept
	EventLaunched  = "launched"  // the provider accepted the launch
	EventRunning   = "running"   // a launched instance runs
	EventWaiting   = "waiting"   // still waiting for health (every WaitingEvery)
	EventHealthy   = "healthy"   // passed the health check
	EventUnhealthy = "unhealthy" // a kept instance fails its health check
	EventDone      = "done"      // a new node is up (no health check)
	EventFailed    = "failed"    // the node failed; Node.Error says why
)

// WaitingEvery is how often up reports a node whose health it awaits.
var WaitingEvery = 5 * time.Second

// Event is one step of one node in up.
type Event struct {
	Step string
	Node NodeResult
	// For EventWaiting: the check, how long the node has had and how
	// long it gets.
	Check            string
	Elapsed, Timeout time.Duration
}

// UpResult is what `up` did.
type UpResult struct {
	Cluster string `json:"cluster"`
	// Generation is the generation new instances were tagged with (0
	// without a coordinator).
	Generation int                   `json:"generation,omitempty"`
	Nodes      []NodeResult          `json:"nodes"`
	Group      *provider.GroupResult `json:"group,omitempty"`
	// LoadBalancer is the cluster's load balancer after up, with one.
	LoadBalancer *provider.LBStatus `json:"load_balancer,omitempty"`
}

// UpOptions are `up`'s flags.
type UpOptions struct {
	provider.UpOptions
	CloudInit bool // render and send the boot script (the original's --cloud-init)
	Parallel  int
	// Nodes, when set, limits up to these node ids (converge: the members
	// it adds); the others are neither launched nor reported.
	Nodes []string
}

// ErrNodesFailed is returned (wrapped) when some nodes could not be launched.
var ErrNodesFailed = errors.New("some nodes failed")

// ErrUnhealthy is returned (wrapped) when every node runs but some fail
// the cluster's health check (kept nodes included).
var ErrUnhealthy = errors.New("some nodes are unhealthy")

// NodeName is the Name tag of a node's instance, as the original named it
// (<cluster>-<env>-<node> in an environment).
func NodeName(cluster provider.ClusterID, node string) string {
	return provider.NodeName(cluster, node)
}

// check is the cluster's health check, if it has one.
func (e *Engine) check() *health.Check {
	if e.Cluster.Health == nil {
		return nil
	}
	h := e.Cluster.Health
	return &health.Check{Port: h.Port, Path: h.Path, Command: h.Command, Dir: e.Dir,
		Env: []string{"CLUSTER_NAME=" + e.Cluster.Name}}
}

func deadReason(dead []provider.Instance) string {
	d := dead[0]
	if d.ExitCode != nil {
		return fmt.Sprintf("instance %s was %s (exit code %d)", d.ID, d.State, *d.ExitCode)
	}
	return fmt.Sprintf("instance %s was %s", d.ID, d.State)
}

func (e *Engine) progress(step string, r NodeResult) {
	if e.Progress != nil {
		e.Progress(Event{Step: step, Node: r})
	}
}

// healthTimeout is how long a node gets to pass its health check.
func (e *Engine) healthTimeout() time.Duration {
	if e.Cluster.Health != nil && e.Cluster.Health.Timeout > 0 {
		return time.Duration(e.Cluster.Health.Timeout) * time.Second
	}
	return health.DefaultTimeout
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
