package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// memProvider is an in-memory cloud for the engine's own decisions. The
// providers' integration tests (moto, real processes) cover the same paths
// end to end.
type memProvider struct {
	mu         sync.Mutex
	insts      []provider.Instance
	next       int
	failLaunch map[string]error // node id -> error
	// lostLaunch: node id -> error returned after the instance was made
	// (the answer was lost)
	lostLaunch map[string]error
	// postLaunch: node id -> error of a post-launch step in WaitRunning
	postLaunch map[string]error
	active     atomic.Int32
	maxActive  atomic.Int32
	userData   map[string]string // node id -> user data
	terminated []string
}

func (m *memProvider) Resolve(context.Context, provider.ClusterID, []provider.Instance, provider.ResolveOptions) (provider.Resolution, error) {
	return provider.Resolution{Image: provider.Image{ID: "img-1"}}, nil
}

func (m *memProvider) Spec(n config.Node, r provider.Resolution, userData string, env []config.KeyValue) provider.Spec {
	return provider.Spec{Image: r.Image.ID, IP: n.IP, UserData: userData, Env: env}
}

func (m *memProvider) Instances(context.Context, provider.ClusterID) ([]provider.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []provider.Instance
	for _, i := range m.insts {
		if i.State != provider.Terminated {
			out = append(out, i)
		}
	}
	return out, nil
}

func (m *memProvider) Launch(_ context.Context, s provider.LaunchSpec) (provider.Instance, error) {
	n := m.active.Add(1)
	defer m.active.Add(-1)
	for {
		old := m.maxActive.Load()
		if n <= old || m.maxActive.CompareAndSwap(old, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failLaunch[s.Node.ID]; err != nil {
		return provider.Instance{}, err
	}
	m.next++
	inst := provider.Instance{ID: fmt.Sprintf("i-%d", m.next), NodeID: s.Node.ID, State: provider.Pending, IP: s.Node.IP, Launched: time.Now(), Image: s.Spec.Image, Spec: s.Spec.Tag()}
	m.insts = append(m.insts, inst)
	if m.userData == nil {
		m.userData = map[string]string{}
	}
	m.userData[s.Node.ID] = s.Spec.UserData
	if err := m.lostLaunch[s.Node.ID]; err != nil {
		return provider.Instance{}, err
	}
	return inst, nil
}

func (m *memProvider) WaitRunning(_ context.Context, insts []provider.Instance) ([]provider.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []provider.Instance
	failed := provider.InstanceErrors{}
	for _, w := range insts {
		for i := range m.insts {
			if m.insts[i].ID == w.ID {
				m.insts[i].State = provider.Running
				if err := m.postLaunch[m.insts[i].NodeID]; err != nil {
					failed[w.ID] = err
					continue
				}
				out = append(out, m.insts[i])
			}
		}
	}
	if len(failed) > 0 {
		return out, failed
	}
	return out, nil
}

func (m *memProvider) Terminate(_ context.Context, ids []string, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var protected []provider.Instance
	for _, i := range m.insts {
		for _, id := range ids {
			if i.ID == id && i.Protected && !force {
				protected = append(protected, i)
			}
		}
	}
	if len(protected) > 0 {
		return &provider.ProtectedError{Instances: protected}
	}
	for i := range m.insts {
		for _, id := range ids {
			if m.insts[i].ID == id {
				m.insts[i].State = provider.Terminated
				m.terminated = append(m.terminated, id)
			}
		}
	}
	return nil
}

func (m *memProvider) WaitTerminated(context.Context, []string) error { return nil }

func newEngine(t *testing.T, cfg string, p provider.Provider) *Engine {
	t.Helper()
	return newEngineTemplate(t, cfg, "node {{ _node_id }} of {{ name }}\n", p)
}

// newEngineTemplate is newEngine with cluster.sh as given.
func newEngineTemplate(t *testing.T, cfg, clusterSh string, p provider.Provider) *Engine {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t", "cluster.sh"), []byte(clusterSh), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := config.Parse("c.yml", []byte(cfg), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadCluster(doc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.New(dir, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(c, r, p, nil)
}

func nodesConfig(n int, extra string) string {
	var b strings.Builder
	b.WriteString("cluster:\n  name: c\n  search_path: [t]\n" + extra + "  local:\n    nodes:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {id: %d, ip: 127.0.0.%d}\n", i, i+10)
	}
	return b.String()
}

func actions(res *UpResult) string {
	var a []string
	for _, n := range res.Nodes {
		a = append(a, n.ID+"="+n.Action)
	}
	return strings.Join(a, " ")
}

func TestUpLaunchesMissingAndIsIdempotent(t *testing.T) {
	p := &memProvider{}
	e := newEngine(t, nodesConfig(3, ""), p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true, Parallel: 2})
	if err != nil || actions(res) != "0=created 1=created 2=created" {
		t.Fatalf("first up: %v %s", err, actions(res))
	}
	if p.maxActive.Load() > 2 {
		t.Errorf("--parallel 2 exceeded: %d launches at once", p.maxActive.Load())
	}
	if p.userData["1"] != "node 1 of c" {
		t.Errorf("user data for node 1: %q", p.userData["1"])
	}
	res, err = e.Up(context.Background(), UpOptions{CloudInit: true})
	if err != nil || actions(res) != "0=unchanged 1=unchanged 2=unchanged" || p.next != 3 {
		t.Fatalf("re-run: %v %s (%d launches)", err, actions(res), p.next)
	}
}

func TestUpReplacesDeadAndIsolatesFailures(t *testing.T) {
	p := &memProvider{failLaunch: map[string]error{"2": errors.New("InsufficientInstanceCapacity")}}
	exit := 3
	p.insts = []provider.Instance{
		{ID: "i-old", NodeID: "0", State: provider.Failed, IP: "127.0.0.10", ExitCode: &exit, Protected: true},
		{ID: "i-run", NodeID: "1", State: provider.Running, IP: "127.0.0.11"},
	}
	e := newEngine(t, nodesConfig(3, ""), p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if !errors.Is(err, ErrNodesFailed) || !strings.Contains(err.Error(), "1 of 3 nodes (2)") {
		t.Fatalf("want one failed node, got %v", err)
	}
	if actions(res) != "0=replaced 1=unchanged 2=failed" {
		t.Fatalf("actions: %s", actions(res))
	}
	if res.Nodes[0].Reason != "instance i-old was failed (exit code 3)" || res.Nodes[2].Error != "InsufficientInstanceCapacity" {
		t.Errorf("details: %+v", res.Nodes)
	}
	if len(p.terminated) != 1 || p.terminated[0] != "i-old" {
		t.Errorf("the dead instance must be terminated first: %v", p.terminated)
	}
}

func TestUpHealthGate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p := &memProvider{}
	// node 0 is on 127.0.0.10, where nothing listens: it must fail; the
	// server listens on 127.0.0.1 only, so use a config whose node 1 is there.
	cfg := "cluster:\n  name: c\n  search_path: [t]\n  health: {port: " + port + ", path: /health, timeout: 1}\n  local:\n    nodes:\n      - {id: 0, ip: 127.0.0.10}\n      - {id: 1, ip: 127.0.0.1}\n"
	e := newEngine(t, cfg, p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if !errors.Is(err, ErrNodesFailed) || actions(res) != "0=failed 1=created" {
		t.Fatalf("%v %s", err, actions(res))
	}
	if !strings.Contains(res.Nodes[0].Error, "not healthy after 1s") || res.Nodes[1].URL != "http://127.0.0.1:"+port+"/" {
		t.Errorf("rows: %+v", res.Nodes)
	}
}

func TestDownRespectsProtectionAndStatusListsOrphans(t *testing.T) {
	p := &memProvider{insts: []provider.Instance{
		{ID: "i-1", NodeID: "0", State: provider.Running, IP: "127.0.0.10", Protected: true},
		{ID: "i-2", NodeID: "9", State: provider.Running, IP: "127.0.0.99"},
	}}
	e := newEngine(t, nodesConfig(2, ""), p)
	st, err := e.Status(context.Background(), PlanOptions{CloudInit: true})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s:%s:%v %s:%s:%v %s:%s:%v", st.Nodes[0].ID, st.Nodes[0].State, st.Nodes[0].Orphan,
		st.Nodes[1].ID, st.Nodes[1].State, st.Nodes[1].Orphan, st.Nodes[2].ID, st.Nodes[2].State, st.Nodes[2].Orphan)
	if got != "0:running:false 1:missing:false 9:running:true" {
		t.Errorf("status: %s", got)
	}
	insts, _ := e.Observe(context.Background())
	_, err = e.Down(context.Background(), insts, DownOptions{})
	var pe *provider.ProtectedError
	if !errors.As(err, &pe) || len(pe.Instances) != 1 || len(p.terminated) != 0 {
		t.Fatalf("protected down must terminate nothing: %v %v", err, p.terminated)
	}
	res, err := e.Down(context.Background(), insts, DownOptions{Force: true})
	if err != nil || len(res.Terminated) != 2 || len(p.terminated) != 2 {
		t.Fatalf("forced down: %v %v", err, p.terminated)
	}
}

// An instance an interrupted up left pending is waited for, not relaunched.
func TestUpWaitsForPendingInstances(t *testing.T) {
	p := &memProvider{insts: []provider.Instance{{ID: "i-p", NodeID: "0", State: provider.Pending, IP: "127.0.0.10"}}}
	e := newEngine(t, nodesConfig(1, ""), p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if err != nil || actions(res) != "0=unchanged" || p.next != 0 {
		t.Fatalf("%v %s (%d launches)", err, actions(res), p.next)
	}
	if st, _ := p.Instances(context.Background(), e.ID); st[0].State != provider.Running {
		t.Errorf("the pending instance was not waited for: %s", st[0].State)
	}
}
