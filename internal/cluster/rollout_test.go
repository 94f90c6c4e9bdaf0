package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/health"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/fake"
)

// The rollout engine's tests run on the fake provider. A node's health is
// a health.command (tests/health.sh in a temporary directory) that passes
// while the file ok-<node> exists; when a node's new instance boots
// (StateBooting), the test creates or removes that file, so that an
// instance of a "bad" generation never gets healthy. A file flap-<node>
// holding a pattern such as "pffp" makes the node's successive probes
// pass (p) or fail (f), the last letter repeating.

const healthScript = `d=%q
[ -f "$d/ok-$NODE_ID" ] || { echo "node $NODE_ID is down"; exit 1; }
if [ -f "$d/flap-$NODE_ID" ]; then
  n=$(( $(cat "$d/count-$NODE_ID" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$d/count-$NODE_ID"
  pat=$(cat "$d/flap-$NODE_ID")
  c=$(printf %%s "$pat" | cut -c"$n")
  [ -n "$c" ] || c=$(printf %%s "$pat" | tail -c 1)
  [ "$c" = p ] || { echo "probe $n of node $NODE_ID fails"; exit 1; }
fi
exit 0
`

// rolloutEnv is one cluster on a fake cloud, launched as generation 1.
type rolloutEnv struct {
	t     *testing.T
	cloud *fake.Cloud
	p     *fake.Recorder
	e     *Engine
	hdir  string // the health files
	gen1  map[string]provider.Spec

	mu     sync.Mutex
	events []RolloutEvent
	// bad: node id -> the generation whose instances never get healthy
	bad map[string]string
	// flap: node id -> the probe pattern of its new instance
	flap map[string]string
	// after, when set, is called with every event (after the above)
	after func(RolloutEvent)
}

type envOpts struct {
	n     int
	snaps []provider.VolumeSpec // with a Snapshotter
	tmpl  string                // cluster.sh, when not the default
	// timeGen: up tags instances with the time (no coordinator), not 1
	timeGen bool
	// group: the n nodes are the members web-0… of a node group (no IPs)
	// instead of static nodes 0…
	group bool
}

// newRolloutEnv starts a cluster of n nodes (ids 0…n-1, IPs 127.0.0.10…)
// with the health command, up as generation 1, rollout healthy_deadline
// 5s and min_healthy_time 100ms (tests change e.Cluster.Rollout).
func newRolloutEnv(t *testing.T, o envOpts) *rolloutEnv {
	t.Helper()
	h := &rolloutEnv{t: t, cloud: fake.NewCloud(), hdir: t.TempDir(), bad: map[string]string{}, flap: map[string]string{}}
	h.cloud.LaunchDelay = 20 * time.Millisecond
	var prov provider.Provider
	if o.snaps != nil {
		s := fake.NewSnapshotter(h.cloud, fake.Options{TerminateProtection: true}, o.snaps)
		h.p, prov = s.Recorder, s
	} else {
		h.p = fake.NewRecorder(h.cloud, fake.Options{TerminateProtection: true})
		prov = h.p
	}
	script := filepath.Join(h.hdir, "health.sh")
	if err := os.WriteFile(script, fmt.Appendf(nil, healthScript, h.hdir), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := nodesConfig(o.n, "  health: {command: \"sh "+script+"\"}\n")
	ids := make([]string, o.n)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	if o.group {
		cfg = fmt.Sprintf("cluster:\n  name: c\n  search_path: [t]\n  health: {command: \"sh %s\"}\n  groups:\n    web: {count: %d}\n  local:\n    network: 127.0.5.0/24\n", script, o.n)
		for i := range ids {
			ids[i] = fmt.Sprintf("web-%d", i)
		}
	}
	tmpl := "node {{ _node_id }} of {{ name }}\n"
	if o.snaps != nil {
		// the config's volumes, which templates see with the snapshot each
		// restores
		cfg = strings.Replace(cfg, "  local:\n", "  local:\n    volumes:\n"+
			"      - {name: data, block: /dev/xvdb, size: 10, delete_on_termination: false}\n"+
			"      - {name: scratch, block: /dev/xvdc, ephemeral: true}\n"+
			"      - {name: logs, block: /dev/xvdd, size: 5, delete_on_termination: false}\n", 1)
		tmpl = "node {{ _node_id }}{% for v in local.volumes %} {{ v.name }}={{ v.snapshot|default('-') }}{% endfor %}\n"
	}
	if o.tmpl != "" {
		tmpl = o.tmpl
	}
	h.e = newEngineTemplate(t, cfg, tmpl, prov)
	h.e.Dir = t.TempDir()
	h.e.Cluster.Rollout.HealthyDeadline = 5 * time.Second
	h.e.Cluster.Rollout.MinHealthyTime = 100 * time.Millisecond
	h.e.OnRollout = h.onRollout
	for _, id := range ids {
		h.setHealthy(id, true)
	}
	if !o.timeGen {
		h.e.Generation = func(context.Context, map[string]provider.Spec) (int, error) { return 1, nil }
	}
	up := UpOptions{CloudInit: true}
	up.UseSnapshots = true
	if _, err := h.e.Up(context.Background(), up); err != nil {
		t.Fatalf("up: %v", err)
	}
	h.e.Generation = nil
	h.gen1 = h.plan(RolloutOptions{}).Specs()
	if len(h.gen1) != o.n {
		t.Fatalf("generation 1 specs: %v", h.gen1)
	}
	return h
}

func (h *rolloutEnv) setHealthy(node string, ok bool) {
	h.t.Helper()
	f := filepath.Join(h.hdir, "ok-"+node)
	var err error
	if ok {
		err = os.WriteFile(f, nil, 0o644)
	} else if err = os.Remove(f); errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		h.t.Error(err)
	}
}

// onRollout records ev and, when a new instance boots, makes it healthy or
// not, before the gate probes it.
func (h *rolloutEnv) onRollout(ev RolloutEvent) {
	h.mu.Lock()
	h.events = append(h.events, ev)
	bad, flap, after := h.bad[ev.Node.ID], h.flap[ev.Node.ID], h.after
	h.mu.Unlock()
	if after != nil {
		defer after(ev)
	}
	if ev.Node.State != StateBooting {
		return
	}
	h.setHealthy(ev.Node.ID, bad == "" || ev.Node.Generation != bad)
	if flap != "" && ev.Node.Generation == "2" {
		_ = os.Remove(filepath.Join(h.hdir, "count-"+ev.Node.ID))
		if err := os.WriteFile(filepath.Join(h.hdir, "flap-"+ev.Node.ID), []byte(flap), 0o644); err != nil {
			h.t.Error(err)
		}
	}
}

func (h *rolloutEnv) setBad(node, gen string) {
	h.mu.Lock()
	h.bad[node] = gen
	h.mu.Unlock()
}

// newImage makes every node stale: the cloud resolves another image.
func (h *rolloutEnv) newImage() {
	h.cloud.Image = provider.Image{ID: "img-2", Name: "fake-image-2"}
}

// plan prepares a rollout as the command does: with the boot script,
// restoring snapshots.
func (h *rolloutEnv) plan(opts RolloutOptions) *RolloutPlan {
	h.t.Helper()
	opts.CloudInit, opts.UseSnapshots = true, true
	p, err := h.e.PrepareRollout(context.Background(), opts)
	if err != nil {
		h.t.Fatalf("prepare: %v", err)
	}
	return p
}

// rollout prepares and applies a rollout to generation 2 (previous: 1).
func (h *rolloutEnv) rollout(opts RolloutOptions) (*RolloutResult, error) {
	h.t.Helper()
	return h.rolloutCtx(context.Background(), opts, RolloutGenerations{Target: 2, Recorded: map[int]map[string]provider.Spec{1: h.gen1}, Fallback: 1})
}

// rolloutCtx prepares and applies a rollout with gens.
func (h *rolloutEnv) rolloutCtx(ctx context.Context, opts RolloutOptions, gens RolloutGenerations) (*RolloutResult, error) {
	h.t.Helper()
	p := h.plan(opts)
	h.mu.Lock()
	h.events = nil
	h.mu.Unlock()
	return h.e.ApplyRollout(ctx, p, gens)
}

func (h *rolloutEnv) recorded() []RolloutEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// live is node's live instance.
func (h *rolloutEnv) live(node string) provider.Instance {
	h.t.Helper()
	insts, err := h.p.Instances(context.Background(), cid)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []provider.Instance
	for _, i := range insts {
		if i.NodeID == node && i.State.Live() {
			out = append(out, i)
		}
	}
	if len(out) != 1 {
		h.t.Fatalf("node %s has %d live instances: %+v", node, len(out), out)
	}
	return out[0]
}

// lives are the live instance ids by node.
func (h *rolloutEnv) lives() map[string]string {
	insts, _ := h.p.Instances(context.Background(), cid)
	out := map[string]string{}
	for _, i := range insts {
		if i.State.Live() {
			out[i.NodeID] = i.ID
		}
	}
	return out
}

// checkOn checks that node runs spec, tagged with generation gen.
func (h *rolloutEnv) checkOn(node string, spec provider.Spec, gen string) {
	h.t.Helper()
	i := h.live(node)
	ud, err := h.p.UserData(context.Background(), i.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	if i.Generation != gen || i.Spec != spec.Tag() || i.Image != spec.Image || ud != spec.UserData || i.State != provider.Running {
		h.t.Errorf("node %s: instance %s gen %q image %s spec %s %s, want gen %s image %s spec %s", node, i.ID, i.Generation, i.Image, i.Spec, i.State, gen, spec.Image, spec.Tag())
	}
}

func states(res *RolloutResult) string {
	var s []string
	for _, n := range res.Nodes {
		s = append(s, n.ID+"="+n.State)
	}
	return strings.Join(s, " ")
}

// nodesIn lists, in order, the nodes of the events in state.
func nodesIn(evs []RolloutEvent, state string) []string {
	var out []string
	for _, ev := range evs {
		if ev.Node.State == state {
			out = append(out, ev.Node.ID)
		}
	}
	return out
}

// maxDown is the most nodes at once between terminating (or launching, for
// a node with no instance) and a final state.
func maxDown(evs []RolloutEvent) int {
	down := map[string]bool{}
	most := 0
	for _, ev := range evs {
		switch ev.Node.State {
		case StateTerminating, StateLaunching:
			down[ev.Node.ID] = true
		case StateDone, StateRolledBack, StateFailed, StateUnchanged:
			delete(down, ev.Node.ID)
		}
		most = max(most, len(down))
	}
	return most
}

// index is the position of the first event of node in state, or -1.
func index(evs []RolloutEvent, node, state string) int {
	for i, ev := range evs {
		if ev.Node.ID == node && ev.Node.State == state {
			return i
		}
	}
	return -1
}

// 1. Batches of at most max_unavailable, min_healthy held; every node ends
// on the target generation.
func TestRolloutBatchesWithinMaxUnavailable(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 5})
	h.e.Cluster.Rollout.MaxUnavailable, h.e.Cluster.Rollout.MinHealthy = 2, 3
	old := h.lives()
	h.newImage()
	res, err := h.rollout(RolloutOptions{})
	if err != nil {
		t.Fatalf("%v (%s)", err, states(res))
	}
	if got := states(res); got != "0=done 1=done 2=done 3=done 4=done" || !res.Complete || res.RolledBack || res.Generation != 2 {
		t.Fatalf("states %s complete %v rolled back %v", got, res.Complete, res.RolledBack)
	}
	evs := h.recorded()
	if n := maxDown(evs); n != 2 {
		t.Errorf("%d nodes down at once, want 2 (max_unavailable 2, min_healthy 3 of 5)", n)
	}
	// batches: {0,1} then {2,3} then {4}: a batch starts when the one
	// before is done
	if i, j := index(evs, "1", StateDone), index(evs, "2", StateTerminating); i < 0 || j < i || index(evs, "0", StateDone) > j {
		t.Errorf("node 2 terminated before the first batch was done: %v", nodesIn(evs, StateTerminating))
	}
	if i, j := index(evs, "3", StateDone), index(evs, "4", StateTerminating); j < i || index(evs, "2", StateDone) > j {
		t.Errorf("node 4 terminated before the second batch was done")
	}
	for _, n := range res.Nodes {
		h.checkOn(n.ID, h.plan(RolloutOptions{}).Specs()[n.ID], "2")
		if n.OldInstance != old[n.ID] || n.NewInstance != h.live(n.ID).ID || n.Generation != "2" || n.OldGeneration != "1" {
			t.Errorf("row %+v, old instance %s", n, old[n.ID])
		}
		if n.Timings == nil || n.Timings.Hold < 100*time.Millisecond {
			t.Errorf("node %s held %v", n.ID, n.Timings)
		}
	}
	if got := len(h.cloud.Terminated()); got != 5 {
		t.Errorf("%d instances terminated", got)
	}
	// run again: nothing to do
	res, err = h.rollout(RolloutOptions{})
	if err != nil || states(res) != "0=unchanged 1=unchanged 2=unchanged 3=unchanged 4=unchanged" || !res.Complete || h.cloud.Made() != 10 {
		t.Errorf("re-run: %v %s complete %v, %d launches", err, states(res), res.Complete, h.cloud.Made())
	}
}

// 2. The default min_healthy is a majority but never every node.
func TestRolloutMinHealthyDefault(t *testing.T) {
	for _, c := range []struct{ configured, n, want int }{
		{0, 1, 0}, {0, 2, 1}, {0, 3, 2}, {0, 4, 3}, {0, 5, 3}, {3, 5, 3}, {1, 3, 1},
	} {
		if got := minHealthyOf(c.configured, c.n); got != c.want {
			t.Errorf("minHealthyOf(%d, %d) = %d, want %d", c.configured, c.n, got, c.want)
		}
	}
	t.Run("one node rolls", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 1})
		h.newImage()
		res, err := h.rollout(RolloutOptions{})
		if err != nil || states(res) != "0=done" || !res.Complete {
			t.Fatalf("%v %s", err, states(res))
		}
		h.checkOn("0", h.plan(RolloutOptions{}).Specs()["0"], "2")
	})
	t.Run("two nodes one at a time", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 2})
		h.e.Cluster.Rollout.MaxUnavailable = 2
		h.newImage()
		res, err := h.rollout(RolloutOptions{})
		if err != nil || states(res) != "0=done 1=done" {
			t.Fatalf("%v %s", err, states(res))
		}
		if n := maxDown(h.recorded()); n != 1 {
			t.Errorf("%d of 2 nodes down at once; min_healthy defaults to 1", n)
		}
	})
}

// 3. Below min_healthy at the start: refused, nothing touched; --force
// replaces the unhealthy nodes first.
func TestRolloutBelowQuorum(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3})
	h.newImage()
	h.setHealthy("1", false)
	h.setHealthy("2", false)
	res, err := h.rollout(RolloutOptions{})
	if !errors.Is(err, ErrBelowQuorum) || !strings.Contains(err.Error(), "unhealthy: 1, 2") || !strings.Contains(err.Error(), "1 of 3 nodes are healthy, min_healthy is 2") {
		t.Fatalf("want ErrBelowQuorum naming 1, 2: %v", err)
	}
	if res.Complete || len(h.cloud.Terminated()) != 0 || h.cloud.Made() != 3 || len(h.recorded()) != 0 {
		t.Fatalf("refused rollout touched the cluster: terminated %v, %d launches, events %v", h.cloud.Terminated(), h.cloud.Made(), h.recorded())
	}
	res, err = h.rollout(RolloutOptions{Force: true})
	if err != nil || states(res) != "0=done 1=done 2=done" || !res.Complete {
		t.Fatalf("forced: %v %s", err, states(res))
	}
	if got := nodesIn(h.recorded(), StateTerminating); fmt.Sprint(got) != "[1 2 0]" {
		t.Errorf("forced order %v, want the unhealthy nodes first: [1 2 0]", got)
	}
}

// 4. rollout.order_command orders the nodes; its environment; a bad
// answer stops the rollout before anything is touched.
func TestRolloutOrderCommand(t *testing.T) {
	for _, c := range []struct {
		name, out string
		order     string // nodes terminated, or "" for an error
	}{
		{"named then config order", "2 0", "[2 0 1]"},
		{"one per line", "1\n2\n0\n", "[1 2 0]"},
		{"nothing printed", "", "[0 1 2]"},
		{"unknown id", "2 7", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newRolloutEnv(t, envOpts{n: 3})
			script := "env | grep -E '^(CLUSTER_NAME|NODE_IDS|NODE_IPS|ROLLOUT_NODES)=' | sort > order.env\nprintf '" + strings.ReplaceAll(c.out, "\n", `\n`) + "'\n"
			if err := os.WriteFile(filepath.Join(h.e.Dir, "order.sh"), []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			h.e.Cluster.Rollout.OrderCommand = "sh order.sh"
			h.newImage()
			res, err := h.rollout(RolloutOptions{})
			env, rerr := os.ReadFile(filepath.Join(h.e.Dir, "order.env"))
			if rerr != nil {
				t.Fatalf("the order command did not run in the project directory: %v", rerr)
			}
			want := "CLUSTER_NAME=c\nNODE_IDS=0 1 2\nNODE_IPS=127.0.0.10 127.0.0.11 127.0.0.12\nROLLOUT_NODES=0 1 2\n"
			if string(env) != want {
				t.Errorf("order command env:\n%s\nwant:\n%s", env, want)
			}
			if c.order == "" {
				if !errors.Is(err, ErrCommand) || !strings.Contains(err.Error(), `"7"`) {
					t.Fatalf("want ErrCommand naming 7: %v", err)
				}
				if len(h.cloud.Terminated()) != 0 || h.cloud.Made() != 3 {
					t.Fatalf("terminated %v, %d launches", h.cloud.Terminated(), h.cloud.Made())
				}
				return
			}
			if err != nil || states(res) != "0=done 1=done 2=done" {
				t.Fatalf("%v %s", err, states(res))
			}
			if got := fmt.Sprint(nodesIn(h.recorded(), StateTerminating)); got != c.order {
				t.Errorf("order %s, want %s", got, c.order)
			}
		})
	}
	t.Run("failing command", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 3})
		h.e.Cluster.Rollout.OrderCommand = "echo no primary >&2; exit 3"
		h.newImage()
		_, err := h.rollout(RolloutOptions{})
		if !errors.Is(err, ErrCommand) || !strings.Contains(err.Error(), "no primary") || len(h.cloud.Terminated()) != 0 {
			t.Fatalf("want ErrCommand with the command's output, nothing terminated: %v %v", err, h.cloud.Terminated())
		}
	})
}

// hookScript writes the hook's environment to <name>-<node>-<generation>
// and fails when fail (a shell condition) holds.
func hookScript(t *testing.T, dir, name, fail string) string {
	t.Helper()
	s := "env | grep -E '^(CLUSTER_NAME|NODE_ID|NODE_IP|INSTANCE_ID|GENERATION)=' | sort > " + name + "-$NODE_ID-$GENERATION.env\n"
	if fail != "" {
		s += "if " + fail + "; then echo " + name + " says no; exit 1; fi\n"
	}
	if err := os.WriteFile(filepath.Join(dir, name+".sh"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return "sh " + name + ".sh"
}

func hookEnvOf(t *testing.T, dir, name, node, gen string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+"-"+node+"-"+gen+".env"))
	if err != nil {
		t.Errorf("%s did not run for node %s, generation %s", name, node, gen)
	}
	return string(b)
}

// 5. before_node and after_node: their environment; a failing before_node
// stops the rollout before its node is touched; a failing after_node fails
// its node, which is rolled back.
func TestRolloutHooks(t *testing.T) {
	t.Run("environment", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 3})
		h.e.Cluster.Rollout.BeforeNode = hookScript(t, h.e.Dir, "before", "")
		h.e.Cluster.Rollout.AfterNode = hookScript(t, h.e.Dir, "after", "")
		old := h.lives()
		h.newImage()
		res, err := h.rollout(RolloutOptions{})
		if err != nil || states(res) != "0=done 1=done 2=done" {
			t.Fatalf("%v %s", err, states(res))
		}
		for i, n := range res.Nodes {
			ip := fmt.Sprintf("127.0.0.%d", 10+i)
			if got, want := hookEnvOf(t, h.e.Dir, "before", n.ID, "2"), "CLUSTER_NAME=c\nGENERATION=2\nINSTANCE_ID="+old[n.ID]+"\nNODE_ID="+n.ID+"\nNODE_IP="+ip+"\n"; got != want {
				t.Errorf("before_node env:\n%s\nwant:\n%s", got, want)
			}
			if got, want := hookEnvOf(t, h.e.Dir, "after", n.ID, "2"), "CLUSTER_NAME=c\nGENERATION=2\nINSTANCE_ID="+n.NewInstance+"\nNODE_ID="+n.ID+"\nNODE_IP="+ip+"\n"; got != want {
				t.Errorf("after_node env:\n%s\nwant:\n%s", got, want)
			}
		}
		// before_node runs before the terminate, after_node after the gate
		for _, n := range res.Nodes {
			if n.Timings == nil || n.Timings.Hooks <= 0 {
				t.Errorf("node %s: hooks not timed: %+v", n.ID, n.Timings)
			}
		}
	})
	t.Run("before_node fails", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 3})
		h.e.Cluster.Rollout.BeforeNode = hookScript(t, h.e.Dir, "before", `[ "$NODE_ID" = 1 ]`)
		old := h.lives()
		h.newImage()
		res, err := h.rollout(RolloutOptions{NoRollback: true})
		if !errors.Is(err, ErrRolloutFailed) || !errors.Is(err, ErrCommand) || !strings.Contains(err.Error(), "before says no") {
			t.Fatalf("want ErrRolloutFailed and ErrCommand: %v", err)
		}
		if got := states(res); got != "0=done 1=failed 2=waiting" || res.Complete {
			t.Fatalf("states %s complete %v", got, res.Complete)
		}
		if got := h.cloud.Terminated(); fmt.Sprint(got) != "["+old["0"]+"]" || h.live("1").ID != old["1"] || h.live("2").ID != old["2"] {
			t.Errorf("node 1 was touched: terminated %v", got)
		}
		if !strings.Contains(res.Nodes[1].Error, "hooks.before_node") {
			t.Errorf("node 1 error %q", res.Nodes[1].Error)
		}
	})
	t.Run("before_node fails, auto rollback", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 3})
		h.e.Cluster.Rollout.BeforeNode = hookScript(t, h.e.Dir, "before", `[ "$NODE_ID" = 1 ]`)
		old := h.lives()
		h.newImage()
		res, err := h.rollout(RolloutOptions{})
		if !errors.Is(err, ErrRolloutFailed) || !errors.Is(err, ErrCommand) {
			t.Fatalf("want ErrRolloutFailed and ErrCommand: %v", err)
		}
		if got := states(res); got != "0=rolled back 1=failed 2=waiting" || !res.RolledBack {
			t.Fatalf("states %s rolled back %v", got, res.RolledBack)
		}
		h.checkOn("0", h.gen1["0"], "1")
		if h.live("1").ID != old["1"] || h.live("2").ID != old["2"] {
			t.Errorf("nodes 1 and 2 were touched: %v", h.lives())
		}
	})
	t.Run("after_node fails", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 3})
		h.e.Cluster.Rollout.AfterNode = hookScript(t, h.e.Dir, "after", `[ "$NODE_ID" = 0 ] && [ "$GENERATION" = 2 ]`)
		old := h.lives()
		h.newImage()
		res, err := h.rollout(RolloutOptions{})
		if !errors.Is(err, ErrRolloutFailed) || !errors.Is(err, ErrCommand) {
			t.Fatalf("want ErrRolloutFailed and ErrCommand: %v", err)
		}
		if got := states(res); got != "0=rolled back 1=waiting 2=waiting" || !res.RolledBack || res.Complete {
			t.Fatalf("states %s rolled back %v", got, res.RolledBack)
		}
		h.checkOn("0", h.gen1["0"], "1")
		hookEnvOf(t, h.e.Dir, "after", "0", "1") // the rollback ran it too
		if h.live("1").ID != old["1"] || h.live("2").ID != old["2"] {
			t.Errorf("nodes 1 and 2 were touched: %v", h.lives())
		}
	})
}

// 6. --node limits the rollout; the rest are skipped, and the rollout is
// complete only when no skipped node is stale.
func TestRolloutSelectedNodes(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3})
	old := h.lives()
	h.newImage()
	res, err := h.rollout(RolloutOptions{Nodes: []string{"1"}})
	if err != nil || states(res) != "0=skipped 1=done 2=skipped" || res.Complete {
		t.Fatalf("%v %s complete %v", err, states(res), res.Complete)
	}
	if got := h.cloud.Terminated(); fmt.Sprint(got) != "["+old["1"]+"]" {
		t.Errorf("terminated %v, want only node 1's %s", got, old["1"])
	}
	if h.live("0").ID != old["0"] || h.live("2").ID != old["2"] {
		t.Errorf("skipped nodes touched: %v", h.lives())
	}
	res, err = h.rollout(RolloutOptions{Nodes: []string{"0", "2"}})
	if err != nil || states(res) != "0=done 1=unchanged 2=done" || !res.Complete {
		t.Fatalf("the rest: %v %s complete %v", err, states(res), res.Complete)
	}
}

// 7. A new instance that never gets healthy: the rollout stops there and
// every node it replaced goes back to its recorded spec; the nodes after it
// are untouched. With --no-rollback the node stays failed.
func TestRolloutFailedGateRollsBack(t *testing.T) {
	setup := failingSecondNode
	t.Run("first node", func(t *testing.T) {
		h, old := setup(t)
		h.setBad("0", "2")
		h.setBad("1", "")
		res, err := h.rollout(RolloutOptions{})
		if !errors.Is(err, ErrRolloutFailed) || !errors.Is(err, health.ErrUnhealthy) || !strings.Contains(err.Error(), "node 0") {
			t.Fatalf("want ErrRolloutFailed for node 0: %v", err)
		}
		if got := states(res); got != "0=rolled back 1=waiting 2=waiting" || !res.RolledBack || res.Complete {
			t.Fatalf("states %s rolled back %v", got, res.RolledBack)
		}
		h.checkOn("0", h.gen1["0"], "1")
		if h.live("1").ID != old["1"] || h.live("2").ID != old["2"] {
			t.Errorf("nodes after the failed one were touched: %v", h.lives())
		}
	})
	t.Run("no rollback", func(t *testing.T) {
		h, old := setup(t)
		res, err := h.rollout(RolloutOptions{NoRollback: true})
		if !errors.Is(err, ErrRolloutFailed) {
			t.Fatalf("want ErrRolloutFailed: %v", err)
		}
		if got := states(res); got != "0=done 1=failed 2=waiting" || res.RolledBack {
			t.Fatalf("states %s rolled back %v", got, res.RolledBack)
		}
		if i := h.live("1"); i.Generation != "2" || i.ID == old["1"] {
			t.Errorf("node 1 should stay on its failed new instance: %+v", i)
		}
		if h.live("2").ID != old["2"] {
			t.Errorf("node 2 was touched")
		}
	})
}

// failingSecondNode is 3 nodes whose node 1 never gets healthy on
// generation 2 (healthy_deadline 1s).
func failingSecondNode(t *testing.T) (*rolloutEnv, map[string]string) {
	h := newRolloutEnv(t, envOpts{n: 3})
	h.e.Cluster.Rollout.HealthyDeadline = time.Second
	h.cloud.BootLog = map[string]string{"1": "starting service\nservice: config error\n"}
	h.setBad("1", "2")
	old := h.lives()
	h.newImage()
	return h, old
}

// The second node fails its gate: both nodes replaced go back, the failed
// one first (it is down: the healthy one cannot go before it without
// breaking min_healthy).
func TestRolloutFailedGateRollsBackEveryReplacedNode(t *testing.T) {
	h, old := failingSecondNode(t)
	start, launched := time.Now(), len(h.p.Launches())
	res, err := h.rollout(RolloutOptions{})
	if !errors.Is(err, ErrRolloutFailed) || !errors.Is(err, health.ErrUnhealthy) || !strings.Contains(err.Error(), "node 1") {
		t.Fatalf("want ErrRolloutFailed for node 1: %v", err)
	}
	if got := states(res); got != "0=rolled back 1=rolled back 2=waiting" || !res.RolledBack || res.Complete {
		t.Fatalf("states %s rolled back %v (%v); events %v", got, res.RolledBack, err, evStrings(h.recorded()))
	}
	for _, n := range []string{"0", "1"} {
		h.checkOn(n, h.gen1[n], "1")
	}
	// the launch spec of each rollback is the recorded one, exactly
	var back []provider.LaunchSpec
	for _, ls := range h.p.Launches()[launched:] {
		if ls.Generation == "1" {
			back = append(back, ls)
		}
	}
	if len(back) != 2 {
		t.Fatalf("%d rollback launches", len(back))
	}
	for _, ls := range back {
		if rec := h.gen1[ls.Node.ID]; ls.Spec.Hash() != rec.Hash() || ls.Spec.UserData != rec.UserData || ls.Spec.Image != "img-1" {
			t.Errorf("node %s rolled back to %+v, want %+v", ls.Node.ID, ls.Spec, rec)
		}
	}
	if h.live("2").ID != old["2"] {
		t.Errorf("node 2 was touched")
	}
	r := res.Nodes[1]
	if !strings.Contains(strings.Join(r.LogTail, "\n"), "service: config error") || !strings.Contains(r.Error, "health gate") {
		t.Errorf("node 1 report: error %q, log tail %q", r.Error, r.LogTail)
	}
	if el := time.Since(start); el > 6*time.Second {
		t.Errorf("took %v", el)
	}
}

func evStrings(evs []RolloutEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Node.ID+":"+ev.Node.State+":"+ev.Detail)
	}
	return out
}

// 8. Resume: a node an interrupted run left without an instance is
// launched first; a node already on the target spec and healthy is left
// alone; one launched on it and still booting is awaited, not relaunched.
func TestRolloutResume(t *testing.T) {
	ctx := context.Background()
	h := newRolloutEnv(t, envOpts{n: 3})
	old := h.lives()
	h.newImage()
	target := h.plan(RolloutOptions{}).Specs()
	node := func(id string) config.Node {
		for _, n := range h.e.Cluster.Nodes() {
			if n.ID == id {
				return n
			}
		}
		t.Fatalf("no node %s", id)
		return config.Node{}
	}
	// node 2: replaced by the interrupted run; node 1: terminated by it
	if err := h.p.Terminate(ctx, []string{old["2"], old["1"]}, true); err != nil {
		t.Fatal(err)
	}
	inst, err := h.p.Launch(ctx, provider.LaunchSpec{Cluster: cid, Node: node("2"), Spec: target["2"], Generation: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.WaitRunning(ctx, []provider.Instance{inst}); err != nil {
		t.Fatal(err)
	}
	made := h.cloud.Made()
	res, err := h.rollout(RolloutOptions{})
	if err != nil || states(res) != "0=done 1=done 2=unchanged" || !res.Complete {
		t.Fatalf("%v %s", err, states(res))
	}
	if !strings.HasPrefix(strings.Join(res.Nodes[1].Reasons, ";"), "missing") {
		t.Errorf("node 1 reasons %v", res.Nodes[1].Reasons)
	}
	evs := h.recorded()
	if l, term := index(evs, "1", StateLaunching), index(evs, "0", StateTerminating); l < 0 || term < l || index(evs, "1", StateDone) > term {
		t.Errorf("the missing node must be launched (and done) before a healthy node is replaced: %v", evStrings(evs))
	}
	if h.cloud.Made() != made+2 || h.live("2").ID != inst.ID {
		t.Errorf("%d launches, node 2 on %s", h.cloud.Made()-made, h.live("2").ID)
	}
	for _, n := range []string{"0", "1", "2"} {
		h.checkOn(n, target[n], "2")
	}
}

func TestRolloutResumeAwaitsBootingTarget(t *testing.T) {
	ctx := context.Background()
	h := newRolloutEnv(t, envOpts{n: 3})
	old := h.lives()
	h.newImage()
	target := h.plan(RolloutOptions{}).Specs()
	if err := h.p.Terminate(ctx, []string{old["0"]}, true); err != nil {
		t.Fatal(err)
	}
	// launched by the interrupted run, not yet running
	inst, err := h.p.Launch(ctx, provider.LaunchSpec{Cluster: cid, Node: h.e.Cluster.Nodes()[0], Spec: target["0"], Generation: "2"})
	if err != nil {
		t.Fatal(err)
	}
	made := h.cloud.Made()
	res, err := h.rollout(RolloutOptions{})
	if err != nil || states(res) != "0=done 1=done 2=done" {
		t.Fatalf("%v %s", err, states(res))
	}
	if res.Nodes[0].NewInstance != inst.ID || h.live("0").ID != inst.ID || h.cloud.Made() != made+2 {
		t.Errorf("node 0's booting instance %s was not adopted: row %+v, %d launches", inst.ID, res.Nodes[0], h.cloud.Made()-made)
	}
	if got := nodesIn(h.recorded(), StateTerminating); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("terminated %v", got)
	}
}

var dataVolumes = []provider.VolumeSpec{
	{Name: "data", Device: "/dev/xvdb", SizeGB: 10},
	{Name: "scratch", Device: "/dev/xvdc", Ephemeral: true},
	{Name: "logs", Device: "/dev/xvdd", SizeGB: 5},
}

// 9. rollout.data snapshot: each node's data volumes are snapshotted
// before its instance is terminated, and the new instance restores exactly
// those snapshots.
func TestRolloutDataSnapshot(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3, snaps: dataVolumes})
	h.e.Cluster.Rollout.Data = config.RolloutDataSnapshot
	h.e.Cluster.Rollout.MaxUnavailable, h.e.Cluster.Rollout.MinHealthy = 2, 1
	old := h.lives()
	h.newImage()
	before := len(h.p.Calls())
	res, err := h.rollout(RolloutOptions{})
	if err != nil || states(res) != "0=done 1=done 2=done" {
		t.Fatalf("%v %s", err, states(res))
	}
	calls := h.p.Calls()[before:]
	pos := func(call string) int { return slices.Index(calls, call) }
	launches := map[string]provider.LaunchSpec{}
	for _, ls := range h.p.Launches() {
		if ls.Generation == "2" {
			launches[ls.Node.ID] = ls
		}
	}
	for _, n := range res.Nodes {
		id := old[n.ID]
		s, term, launch := pos("snapshot "+id), pos("terminate "+id), pos("launch "+n.ID)
		if s < 0 || term < s || launch < term {
			t.Errorf("node %s: want snapshot < terminate < launch, calls %v", n.ID, calls)
		}
		want := []string{"snap-" + id + "-0", "snap-" + id + "-2"}
		got := slices.Clone(n.Snapshots)
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("node %s snapshots %v, want %v", n.ID, got, want)
		}
		vols := launches[n.ID].Spec.Volumes
		if len(vols) != 3 || vols[0].Snapshot != want[0] || vols[1].Snapshot != "" || vols[2].Snapshot != want[1] {
			t.Errorf("node %s launched with volumes %+v", n.ID, vols)
		}
		// templates see the snapshot each volume restores
		if ud, want := launches[n.ID].Spec.UserData, "node "+n.ID+" data="+want[0]+" scratch=- logs="+want[1]; !strings.Contains(ud, want) {
			t.Errorf("node %s user data %q, want %q", n.ID, ud, want)
		}
	}
}

// A node restored from the snapshot its rollout took is on its desired
// spec: a later plan does not find it stale, and a rollout to the next
// generation with nothing changed replaces nothing.
func TestRolloutDataSnapshotKeepsNodesCurrent(t *testing.T) {
	for _, tmpl := range []string{"node {{ _node_id }}\n", ""} {
		name := "template without snapshots"
		if tmpl == "" {
			name = "template printing volumes[].snapshot"
		}
		t.Run(name, func(t *testing.T) {
			h := newRolloutEnv(t, envOpts{n: 2, snaps: dataVolumes, tmpl: tmpl})
			h.e.Cluster.Rollout.Data = config.RolloutDataSnapshot
			h.newImage()
			res, err := h.rollout(RolloutOptions{})
			if err != nil || states(res) != "0=done 1=done" {
				t.Fatalf("%v %s", err, states(res))
			}
			p := h.plan(RolloutOptions{})
			for _, n := range []string{"0", "1"} {
				if c := provider.Changes(h.live(n), p.Specs()[n]); len(c) != 0 {
					t.Errorf("node %s is stale right after its rollout: %v", n, c)
				}
			}
			res, err = h.e.ApplyRollout(context.Background(), p, RolloutGenerations{Target: 3, Recorded: map[int]map[string]provider.Spec{1: h.gen1}, Fallback: 1})
			if err != nil || states(res) != "0=unchanged 1=unchanged" {
				t.Errorf("a rollout with nothing changed: %v %s, reasons %v", err, states(res), res.Nodes[0].Reasons)
			}
		})
	}
}

func TestRolloutDataSnapshotOnRollback(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3, snaps: dataVolumes})
	h.e.Cluster.Rollout.Data = config.RolloutDataSnapshot
	h.e.Cluster.Rollout.HealthyDeadline = time.Second
	h.setBad("0", "2")
	h.newImage()
	res, err := h.rollout(RolloutOptions{})
	if !errors.Is(err, ErrRolloutFailed) || states(res) != "0=rolled back 1=waiting 2=waiting" {
		t.Fatalf("%v %s", err, states(res))
	}
	ls := h.p.Launches()
	last := ls[len(ls)-1]
	failed := "" // node 0's generation 2 instance
	for _, ev := range h.recorded() {
		if ev.Node.ID == "0" && ev.Node.State == StateBooting && ev.Node.Generation == "2" {
			failed = ev.Detail
		}
	}
	if last.Node.ID != "0" || last.Generation != "1" || last.Spec.Hash() != h.gen1["0"].Hash() {
		t.Fatalf("last launch %+v", last)
	}
	// the rollback restores what the failed instance had
	if v := last.Spec.Volumes; len(v) != 3 || v[0].Snapshot != "snap-"+failed+"-0" || v[1].Snapshot != "" || v[2].Snapshot != "snap-"+failed+"-2" {
		t.Errorf("rollback volumes %+v (failed instance %s)", v, failed)
	}
}

func TestRolloutDataNoneTakesNoSnapshot(t *testing.T) {
	for _, data := range []string{config.RolloutDataNone, ""} {
		t.Run("data="+data, func(t *testing.T) {
			h := newRolloutEnv(t, envOpts{n: 2, snaps: dataVolumes})
			h.e.Cluster.Rollout.Data = data // "": local keeps volumes, no snapshot
			h.newImage()
			res, err := h.rollout(RolloutOptions{})
			if err != nil || states(res) != "0=done 1=done" {
				t.Fatalf("%v %s", err, states(res))
			}
			for _, c := range h.p.Calls() {
				if strings.HasPrefix(c, "snapshot") {
					t.Errorf("snapshot taken: %v", h.p.Calls())
				}
			}
		})
	}
}

func TestRolloutDataSnapshotFails(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3, snaps: dataVolumes})
	h.e.Cluster.Rollout.Data = config.RolloutDataSnapshot
	h.e.Provider.(*fake.Snapshotter).FailSnapshot = errors.New("SnapshotLimitExceeded")
	old := h.lives()
	h.newImage()
	res, err := h.rollout(RolloutOptions{})
	if !errors.Is(err, ErrRolloutFailed) || !strings.Contains(err.Error(), "SnapshotLimitExceeded") {
		t.Fatalf("%v", err)
	}
	if states(res) != "0=failed 1=waiting 2=waiting" || len(h.cloud.Terminated()) != 0 || h.live("0").ID != old["0"] {
		t.Errorf("%s, terminated %v", states(res), h.cloud.Terminated())
	}
}

// 10. min_healthy_time: a node that passes, then fails within the hold, is
// not done until it has passed a whole hold; if the deadline passes first,
// it fails.
func TestRolloutMinHealthyTime(t *testing.T) {
	t.Run("flaps then holds", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 3})
		h.e.Cluster.Rollout.MinHealthyTime = 300 * time.Millisecond
		h.mu.Lock()
		h.flap["0"] = "pfffp"
		h.mu.Unlock()
		h.newImage()
		res, err := h.rollout(RolloutOptions{})
		if err != nil || states(res) != "0=done 1=done 2=done" {
			t.Fatalf("%v %s", err, states(res))
		}
		var seq []string
		var healthyAt, doneAt time.Duration
		for _, ev := range h.recorded() {
			if ev.Node.ID != "0" {
				continue
			}
			seq = append(seq, ev.Node.State)
			switch ev.Node.State {
			case StateHealthy:
				healthyAt = ev.Elapsed
			case StateDone:
				doneAt = ev.Elapsed
			}
		}
		if got := strings.Join(seq, ","); got != "waiting,terminating,launching,booting,healthy,healthy,done" {
			t.Errorf("node 0: %s", got)
		}
		if doneAt-healthyAt < 300*time.Millisecond {
			t.Errorf("node 0 done %v after it last passed, want a whole hold (300ms)", doneAt-healthyAt)
		}
		if tm := res.Nodes[0].Timings; tm == nil || tm.Hold < 300*time.Millisecond {
			t.Errorf("hold %+v", tm)
		}
	})
	t.Run("never holds", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 3})
		h.e.Cluster.Rollout.HealthyDeadline = time.Second
		h.e.Cluster.Rollout.MinHealthyTime = 300 * time.Millisecond
		h.mu.Lock()
		h.flap["0"] = "pf"
		h.mu.Unlock()
		old := h.lives()
		h.newImage()
		start := time.Now()
		res, err := h.rollout(RolloutOptions{NoRollback: true})
		if !errors.Is(err, ErrRolloutFailed) || !errors.Is(err, health.ErrUnhealthy) {
			t.Fatalf("want ErrRolloutFailed: %v", err)
		}
		if states(res) != "0=failed 1=waiting 2=waiting" {
			t.Fatalf("%s", states(res))
		}
		if el := time.Since(start); el < time.Second {
			t.Errorf("failed after %v, before the healthy_deadline (1s)", el)
		}
		if nodesIn(h.recorded(), StateDone) != nil || h.live("1").ID != old["1"] {
			t.Errorf("events %v", evStrings(h.recorded()))
		}
	})
}

// A node that goes down during the rollout (not one being replaced) holds
// the next batch until the cluster is back above min_healthy.
func TestRolloutWaitsForQuorumBetweenBatches(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3})
	var healed sync.WaitGroup
	h.after = func(ev RolloutEvent) {
		if ev.Node.ID == "0" && ev.Node.State == StateDone {
			h.setHealthy("2", false)
			healed.Add(1)
			time.AfterFunc(600*time.Millisecond, func() { defer healed.Done(); h.setHealthy("2", true) })
		}
	}
	h.newImage()
	res, err := h.rollout(RolloutOptions{})
	healed.Wait()
	if err != nil || states(res) != "0=done 1=done 2=done" {
		t.Fatalf("%v %s", err, states(res))
	}
	evs := h.recorded()
	w, term := -1, index(evs, "1", StateTerminating)
	for i, ev := range evs {
		if ev.Node.ID == "1" && ev.Node.State == StateWaiting && strings.Contains(ev.Detail, "for quorum: unhealthy 2") {
			w = i
			break
		}
	}
	if w < 0 || term < w {
		t.Errorf("node 1 did not wait for node 2 to recover: %v", evStrings(evs))
	}
	if n := maxDown(evs); n != 1 {
		t.Errorf("%d nodes down at once", n)
	}
}

func TestRolloutStopsWhenQuorumDoesNotRecover(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3})
	h.e.Cluster.Rollout.HealthyDeadline = time.Second
	h.after = func(ev RolloutEvent) {
		if ev.Node.ID == "0" && ev.Node.State == StateDone {
			h.setHealthy("2", false)
		}
	}
	old := h.lives()
	h.newImage()
	res, err := h.rollout(RolloutOptions{NoRollback: true})
	if !errors.Is(err, ErrRolloutFailed) || !errors.Is(err, ErrBelowQuorum) || !strings.Contains(err.Error(), "unhealthy: 2") {
		t.Fatalf("want ErrRolloutFailed and ErrBelowQuorum: %v", err)
	}
	if states(res) != "0=done 1=waiting 2=waiting" || h.live("1").ID != old["1"] || h.live("2").ID != old["2"] {
		t.Errorf("%s %v", states(res), h.lives())
	}
}

// Nodes whose spec is current but are dead or unhealthy are replaced (on
// the target generation), the others left alone.
func TestRolloutReplacesDeadAndUnhealthyNodes(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 5})
	// older than healthy_deadline: not an instance a run is waiting for
	h.e.Cluster.Rollout.HealthyDeadline = time.Second
	time.Sleep(1100 * time.Millisecond)
	old := h.lives()
	if err := h.cloud.Kill(old["1"], 137); err != nil {
		t.Fatal(err)
	}
	h.setHealthy("3", false)
	res, err := h.rollout(RolloutOptions{})
	if err != nil || states(res) != "0=unchanged 1=done 2=unchanged 3=done 4=unchanged" || !res.Complete {
		t.Fatalf("%v %s", err, states(res))
	}
	if r := strings.Join(res.Nodes[1].Reasons, ";"); !strings.Contains(r, "dead: instance "+old["1"]+" was failed (exit code 137)") {
		t.Errorf("node 1 reasons %q", r)
	}
	if r := strings.Join(res.Nodes[3].Reasons, ";"); !strings.Contains(r, "unhealthy: ") || !strings.Contains(r, "node 3 is down") {
		t.Errorf("node 3 reasons %q", r)
	}
	if got := fmt.Sprint(h.cloud.Terminated()); got != "["+old["1"]+" "+old["3"]+"]" {
		t.Errorf("terminated %s", got)
	}
	for _, n := range []string{"1", "3"} {
		h.checkOn(n, h.gen1[n], "2")
	}
	for _, n := range []string{"0", "2", "4"} {
		if h.live(n).ID != old[n] {
			t.Errorf("node %s replaced", n)
		}
	}
}

// Interrupted at any step (Ctrl-C), a rollout stops without rolling back;
// run again, it completes, never more than max_unavailable nodes down.
func TestRolloutResumesAfterInterruption(t *testing.T) {
	for _, at := range []string{StateTerminating, StateLaunching, StateBooting, StateHealthy, StateDone} {
		t.Run(at, func(t *testing.T) {
			h := newRolloutEnv(t, envOpts{n: 3})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var all []RolloutEvent
			h.after = func(ev RolloutEvent) {
				if ev.Node.ID == "1" && ev.Node.State == at {
					cancel()
				}
			}
			h.newImage()
			gens := RolloutGenerations{Target: 2, Recorded: map[int]map[string]provider.Spec{1: h.gen1}, Fallback: 1}
			res, err := h.rolloutCtx(ctx, RolloutOptions{}, gens)
			if !errors.Is(err, context.Canceled) || res.RolledBack || res.Complete {
				t.Fatalf("interrupted: %v %s", err, states(res))
			}
			all = append(all, h.recorded()...)
			h.after = nil
			// the journal says the run before was interrupted, and which
			// nodes it saw through their gate
			gens.Resuming, gens.Passed = true, map[string]bool{}
			for _, n := range res.Nodes {
				if n.State == StateDone {
					gens.Passed[n.NewInstance] = true
				}
			}
			res, err = h.rolloutCtx(context.Background(), RolloutOptions{}, gens)
			if err != nil || !res.Complete {
				t.Fatalf("resumed: %v %s", err, states(res))
			}
			all = append(all, h.recorded()...)
			if n := maxDown(all); n > 1 {
				t.Errorf("%d nodes down at once: %v", n, evStrings(all))
			}
			target := h.plan(RolloutOptions{}).Specs()
			for _, n := range []string{"0", "1", "2"} {
				h.checkOn(n, target[n], "2")
			}
			if res.Nodes[0].State != StateUnchanged {
				t.Errorf("node 0, done before the interruption: %s", res.Nodes[0].State)
			}
		})
	}
}

// RolloutOptions.Specs (rollback): the recorded specs are rolled out as a
// new generation; a node the generation has no spec for is skipped.
func TestRolloutRecordedSpecs(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3})
	h.newImage()
	if res, err := h.rollout(RolloutOptions{}); err != nil || !res.Complete {
		t.Fatalf("%v %s", err, states(res))
	}
	gen2 := h.plan(RolloutOptions{}).Specs()
	back := map[string]provider.Spec{"0": h.gen1["0"], "1": h.gen1["1"]}
	res, err := h.rolloutCtx(context.Background(), RolloutOptions{Specs: back},
		RolloutGenerations{Target: 3, Recorded: map[int]map[string]provider.Spec{1: h.gen1, 2: gen2}, Fallback: 2})
	if err != nil || states(res) != "0=done 1=done 2=skipped" || res.Complete {
		t.Fatalf("%v %s complete %v", err, states(res), res.Complete)
	}
	h.checkOn("0", h.gen1["0"], "3")
	h.checkOn("1", h.gen1["1"], "3")
	h.checkOn("2", gen2["2"], "2")
}

// A node rolled back goes to its old instance's generation's spec; when
// that generation is not known (not a number), to Fallback's.
func TestRolloutRollbackGeneration(t *testing.T) {
	t.Run("old instance's generation", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 1})
		h.e.Cluster.Rollout.HealthyDeadline = time.Second
		h.setBad("0", "2")
		other := h.gen1["0"]
		other.Image = "img-7"
		h.newImage()
		res, err := h.rolloutCtx(context.Background(), RolloutOptions{},
			RolloutGenerations{Target: 2, Recorded: map[int]map[string]provider.Spec{1: h.gen1, 7: {"0": other}}, Fallback: 7})
		if !errors.Is(err, ErrRolloutFailed) || states(res) != "0=rolled back" {
			t.Fatalf("%v %s", err, states(res))
		}
		h.checkOn("0", h.gen1["0"], "1")
	})
	t.Run("unknown generation", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 1, timeGen: true})
		h.e.Cluster.Rollout.HealthyDeadline = time.Second
		h.setBad("0", "2")
		if g := h.live("0").Generation; g == "" || g == "1" {
			t.Fatalf("up tagged generation %q", g)
		}
		h.newImage()
		res, err := h.rollout(RolloutOptions{})
		if !errors.Is(err, ErrRolloutFailed) || states(res) != "0=rolled back" {
			t.Fatalf("%v %s", err, states(res))
		}
		h.checkOn("0", h.gen1["0"], "1")
	})
	t.Run("nothing recorded", func(t *testing.T) {
		h := newRolloutEnv(t, envOpts{n: 1})
		h.e.Cluster.Rollout.HealthyDeadline = time.Second
		h.setBad("0", "2")
		h.newImage()
		res, err := h.rolloutCtx(context.Background(), RolloutOptions{}, RolloutGenerations{Target: 2, Fallback: 1})
		if !errors.Is(err, ErrRolloutFailed) || states(res) != "0=failed" || res.RolledBack {
			t.Fatalf("%v %s", err, states(res))
		}
		if !strings.Contains(res.Nodes[0].Error, "no recorded spec to roll back to") {
			t.Errorf("error %q", res.Nodes[0].Error)
		}
	})
}

// The first snapshot of a node's volumes (`cluster snapshot`, or a
// rollout's) is data: it does not make the node stale, and a rollout with
// nothing changed replaces nothing.
func TestRolloutFirstSnapshotKeepsNodesCurrent(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 2, snaps: dataVolumes, tmpl: "node {{ _node_id }}\n"})
	s := h.e.Provider.(*fake.Snapshotter)
	for _, id := range h.lives() {
		insts, _ := h.p.Instances(context.Background(), cid)
		for _, i := range insts {
			if i.ID == id {
				if _, err := s.SnapshotInstance(context.Background(), cid, i); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	p := h.plan(RolloutOptions{})
	for _, n := range []string{"0", "1"} {
		if c := provider.Changes(h.live(n), p.Specs()[n]); len(c) != 0 {
			t.Errorf("node %s is stale after its first snapshot: %v", n, c)
		}
	}
	res, err := h.e.ApplyRollout(context.Background(), p, RolloutGenerations{Target: 2, Recorded: map[int]map[string]provider.Spec{1: h.gen1}, Fallback: 1})
	if err != nil || states(res) != "0=unchanged 1=unchanged" {
		t.Errorf("a rollout with nothing changed: %v %s, reasons %v", err, states(res), res.Nodes[0].Reasons)
	}
}
