package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// Tags every provider puts on what it creates, at creation time.
const (
	TagCluster    = "ClusterName" // as the original
	TagName       = "Name"        // <cluster>-<node id>, as the original
	TagNode       = "cloud-compose:node"
	TagEnv        = "cloud-compose:env"
	TagGeneration = "cloud-compose:generation"
	TagSpec       = "cloud-compose:spec"
)

// ClusterID identifies a cluster in a cloud.
type ClusterID struct {
	Name string
	Env  string // environment name; "" for the default
}

// State is an instance's life-cycle state. Providers map their own states
// onto these (EC2's names; the local provider adds Failed).
type State string

const (
	Pending      State = "pending"
	Running      State = "running"
	ShuttingDown State = "shutting-down"
	Stopping     State = "stopping"
	Stopped      State = "stopped" // local: the boot script exited 0
	Failed       State = "failed"  // local: the boot script exited non-zero or died
	Terminated   State = "terminated"
)

// Live reports whether an instance in this state counts as existing for
// `up`: pending or running. Stopped and failed instances are replaced.
func (s State) Live() bool { return s == Pending || s == Running }

// Instance is one server as the cloud reports it.
type Instance struct {
	ID         string            `json:"instance_id"`
	NodeID     string            `json:"id"` // from TagNode; "" when untagged
	State      State             `json:"state"`
	IP         string            `json:"ip"`
	Image      string            `json:"image"`
	Type       string            `json:"type"`
	Launched   time.Time         `json:"launched"`
	Spec       string            `json:"-"` // TagSpec
	Protected  bool              `json:"-"` // termination protection
	ExitCode   *int              `json:"exit_code,omitempty"`
	Tags       map[string]string `json:"-"`
	Generation string            `json:"-"`
	// Foreign is set on an instance that carries the cluster's name but
	// lies outside the cluster's own network (AWS: another VPC): it says
	// where it is (e.g. "vpc-0abc"). Nothing ever terminates, adopts or
	// replaces a foreign instance; status lists it so the operator knows.
	Foreign string `json:"foreign,omitempty"`
	// LaunchedSpec is the spec the instance was launched with, where the
	// provider keeps it (local: its store); nil otherwise.
	LaunchedSpec *Spec `json:"-"`
}

// Image is a resolved machine image.
type Image struct {
	ID         string
	Name       string
	RootDevice string
	Created    time.Time
}

// UpOptions are the original's `up` flags, for the provider's resolution.
type UpOptions struct {
	UseSnapshots    bool
	UpgradeImage    bool
	SnapshotCluster string    // "" = this cluster
	SnapshotTime    time.Time // zero = now
	SnapshotNode    string    // "" = each node its own newest; else every node restores this node's
}

// ResolveOptions say what Resolve looks up and checks.
type ResolveOptions struct {
	UpOptions
	// Launch are the nodes about to be launched. When Check is set,
	// everything about them that can be checked before the first launch
	// is (subnets exist, IPs lie in them and are free, elastic IPs exist);
	// plan does not check (it makes at most 3 calls for any N).
	Launch []config.Node
	Check  bool
}

// Resolution is what a provider looked up for the specs of a command: the
// image, the snapshots new volumes start from, the instance profile. It is
// a value the engine passes on (to render, for the template data, and to
// Spec); providers keep no state between calls.
type Resolution struct {
	Image Image
	// ImageHow says how the image was chosen, for messages, e.g. "the
	// image the cluster runs" or "newest, created 2026-11-20T10:00:00Z".
	ImageHow string
	// Snapshots are, by volume index in the config, the snapshots new
	// volumes start from.
	Snapshots map[int]SnapshotChoice
	// Profile is the instance profile name ("" for none).
	Profile string
	// Blocked are nodes of ResolveOptions.Launch that a check found cannot
	// be launched (e.g. an *IPInUseError), by node id: those nodes fail,
	// the others launch.
	Blocked map[string]error
	// Hardware are, by node id, the instance types the nodes' `hardware:`
	// resolved to (a HardwareResolver's choices; "" is the group in ASG
	// mode). Spec takes the type from here; plan shows the reason.
	Hardware map[string]HardwareChoice
}

// SnapshotChoice is the snapshot a volume starts from: the newest of the
// cluster's, or the node's own where the provider keeps them per node.
type SnapshotChoice struct {
	Newest string
	ByNode map[string]string
}

// For returns the snapshot node's volume starts from.
func (c SnapshotChoice) For(node string) string {
	if id, ok := c.ByNode[node]; ok {
		return id
	}
	return c.Newest
}

// LaunchSpec is everything needed to launch one node.
type LaunchSpec struct {
	Cluster ClusterID
	Node    config.Node
	// Spec is the node's desired spec (Provider.Spec): the launch makes
	// exactly this server, and tags it with Spec.Tag().
	Spec Spec
	// Generation is recorded in TagGeneration.
	Generation string
	// Surge launches a node-group member's replacement while its old
	// instance still runs (a rollout's surge): the provider does not
	// refuse a second live instance of the node, and gives it an address
	// of its own.
	Surge bool
}

// Provider is a cloud the engine can run a cluster on.
type Provider interface {
	// Resolve looks up what the specs need (image, snapshots, profile)
	// and, with opts.Check, checks what can be checked before a launch.
	// It creates nothing (see Ensurer) and keeps nothing.
	Resolve(ctx context.Context, cluster ClusterID, observed []Instance, opts ResolveOptions) (Resolution, error)
	// Spec computes node's desired spec, purely: no API call. userData is
	// the packed boot script; env the `environment:` values.
	Spec(node config.Node, res Resolution, userData string, env []config.KeyValue) Spec
	// Instances returns the cluster's instances that are not terminated
	// (of the cluster's environment; foreign ones marked).
	Instances(ctx context.Context, cluster ClusterID) ([]Instance, error)
	// Launch starts one node. It is idempotent for the same spec: a retried
	// call never makes a second instance.
	Launch(ctx context.Context, spec LaunchSpec) (Instance, error)
	// WaitRunning waits until the instances run, then applies what must
	// follow a launch (elastic IPs, source/dest check), and returns the
	// instances that run with every step done. An instance for which any
	// step failed is left out of the result, and the error says why: an
	// InstanceErrors names each such instance; any other error fails every
	// instance not returned.
	WaitRunning(ctx context.Context, instances []Instance) ([]Instance, error)
	// Terminate terminates instances. With force, termination protection
	// is turned off first; without it, protected instances are an
	// *ProtectedError and nothing is terminated.
	Terminate(ctx context.Context, ids []string, force bool) error
	// WaitTerminated waits until the instances are gone.
	WaitTerminated(ctx context.Context, ids []string) error
}

// UserDataReader reads the user data an instance was launched with (for
// `plan --diff`).
type UserDataReader interface {
	UserData(ctx context.Context, instanceID string) (string, error)
}

// Optional capabilities, found by type assertion.

// Cleaner removes what a cluster leaves behind once it has no instances
// (AWS: the auto scaling group and its launch template).
type Cleaner interface {
	Cleanup(ctx context.Context, cluster ClusterID) ([]string, error)
}

// GroupProvider runs the cluster as a group of identical instances (AWS
// auto scaling) instead of static nodes. The spec's user data is rendered
// with the cluster name as `_node_id`, as the original did; the spec is
// Provider.Spec of a node with no id, IP or subnet.
type GroupProvider interface {
	GroupMode() bool
	EnsureGroup(ctx context.Context, cluster ClusterID, spec Spec) (GroupResult, error)
	ScaleGroupToZero(ctx context.Context, cluster ClusterID) error
}

// GroupResult says what EnsureGroup did.
type GroupResult struct {
	Name    string `json:"name"`
	Action  string `json:"action"`  // created | updated | unchanged
	Version string `json:"version"` // launch template version
	Size    int    `json:"size"`
}

// Watcher tells whether an instance is still alive, cheaply enough to ask
// on every health probe (local: its process tree). The engine stops
// waiting for a node's health the moment its instance dies, instead of
// waiting out the timeout or trusting an answer from someone else.
type Watcher interface {
	// Alive returns nil while the instance runs; otherwise an error that
	// says why it is not (e.g. "instance i-3 failed (exit code 1)").
	Alive(ctx context.Context, instanceID string) error
}

// Snapshotter snapshots the cluster's data volumes.
type Snapshotter interface {
	Snapshot(ctx context.Context, cluster ClusterID) ([]Snapshot, error)
}

// NodeSnapshotter snapshots one instance's data volumes (what `cluster
// snapshot` takes of it) and waits until every snapshot is complete, so
// that rollout can terminate the instance and restore its replacement
// from exactly those snapshots: the result is keyed like
// Resolution.Snapshots, by the volume's index in the config. It takes the
// volumes `cluster snapshot` takes of the instance (AWS: every EBS data
// volume; local: every volume that is not ephemeral).
type NodeSnapshotter interface {
	SnapshotInstance(ctx context.Context, cluster ClusterID, inst Instance) (map[int]Snapshot, error)
}

// Snapshot is one volume snapshot.
type Snapshot struct {
	ID      string    `json:"id"`
	NodeID  string    `json:"node"`
	Device  string    `json:"device"`
	Created time.Time `json:"created"`
}

// LogReader reads an instance's boot log.
type LogReader interface {
	Logs(ctx context.Context, instanceID string, w io.Writer, follow bool, tail int) error
}

// ProtectedError lists instances whose termination protection stopped a
// termination.
type ProtectedError struct {
	Instances []Instance
}

func (e *ProtectedError) Error() string {
	return fmt.Sprintf("%d instance(s) have termination protection on", len(e.Instances))
}

// ErrProtected is matched by *ProtectedError.
var ErrProtected = errors.New("termination protection is on")

func (e *ProtectedError) Is(target error) bool { return target == ErrProtected }

// IPInUseError says a node's IP is held by something that is not this
// cluster's instance for that node.
type IPInUseError struct {
	IP     string
	Holder string // e.g. "instance i-0abc of cluster other", "network interface eni-0123"
}

func (e *IPInUseError) Error() string {
	return fmt.Sprintf("IP %s is in use by %s", e.IP, e.Holder)
}

// InstanceErrors are per-instance failures, keyed by instance id (e.g. an
// elastic IP that could not be associated after launch).
type InstanceErrors map[string]error

func (e InstanceErrors) Error() string {
	ids := make([]string, 0, len(e))
	for id := range e {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b []byte
	for i, id := range ids {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = append(b, id+": "+e[id].Error()...)
	}
	return string(b)
}

// Factory opens a provider for a cluster.
type Factory func(ctx context.Context, c *config.Cluster, opts Options) (Provider, error)

// Options are what every provider may need from the command line.
type Options struct {
	// Parallel caps concurrent launches (0: the provider's default).
	Parallel int
	// Grace is how long a terminated instance may take to stop (local).
	Grace time.Duration
	// Log receives progress (stderr); may be nil.
	Log io.Writer
}

var (
	mu        sync.Mutex
	factories = map[string]Factory{}
)

// Register makes a provider available by name; providers call it in init.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	factories[name] = f
}

// Names returns the registered provider names.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(factories))
	for n := range factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ErrNoNodeSnapshot is wrapped when --snapshot-node names a node that has
// no snapshot to restore from (a usage error).
var ErrNoNodeSnapshot = errors.New("no snapshot of that node")

// ErrNoProvider is wrapped when a cluster names no known provider.
var ErrNoProvider = errors.New("no provider")

// Open returns the provider the cluster selects.
func Open(ctx context.Context, c *config.Cluster, opts Options) (Provider, error) {
	if c.Provider == "" {
		return nil, fmt.Errorf("%w: the cluster has neither an `aws:` nor a `local:` section (or set `provider:`)", ErrNoProvider)
	}
	mu.Lock()
	f, ok := factories[c.Provider]
	mu.Unlock()
	if !ok {
		hint := ""
		if c.Provider == "aws" {
			hint = "; this binary was built with -tags noaws: build it again without that tag (go build ./cmd/cloud-compose)"
		}
		return nil, fmt.Errorf("%w: provider %q is not built into this binary (it has: %v)%s", ErrNoProvider, c.Provider, Names(), hint)
	}
	return f(ctx, c, opts)
}
