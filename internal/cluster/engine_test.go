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
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/fake"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// cid is the engine tests' cluster.
var cid = provider.ClusterID{Name: "c"}

// newFake returns the fake provider (internal/provider/fake, which passes
// the providers' conformance suite) on a new cloud; each launch takes 20ms,
// so that tests see how many run at once. The providers' integration tests
// (moto, real processes) cover the same paths end to end.
func newFake() *fake.Provider {
	cloud := fake.NewCloud()
	cloud.LaunchDelay = 20 * time.Millisecond
	return fake.New(cloud, fake.Options{})
}

// userDataOf is the user data node's live instance was launched with.
func userDataOf(t *testing.T, p *fake.Provider, node string) string {
	t.Helper()
	insts, err := p.Instances(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range insts {
		if i.NodeID == node && i.State.Live() {
			ud, err := p.UserData(context.Background(), i.ID)
			if err != nil {
				t.Fatal(err)
			}
			return ud
		}
	}
	t.Fatalf("node %s has no live instance", node)
	return ""
}

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
	p := newFake()
	e := newEngine(t, nodesConfig(3, ""), p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true, Parallel: 2})
	if err != nil || actions(res) != "0=created 1=created 2=created" {
		t.Fatalf("first up: %v %s", err, actions(res))
	}
	if n := p.Cloud().MaxConcurrentLaunches(); n > 2 {
		t.Errorf("--parallel 2 exceeded: %d launches at once", n)
	}
	if ud := userDataOf(t, p, "1"); ud != "node 1 of c" {
		t.Errorf("user data for node 1: %q", ud)
	}
	res, err = e.Up(context.Background(), UpOptions{CloudInit: true})
	if err != nil || actions(res) != "0=unchanged 1=unchanged 2=unchanged" || p.Cloud().Made() != 3 {
		t.Fatalf("re-run: %v %s (%d launches)", err, actions(res), p.Cloud().Made())
	}
}

func TestUpReplacesDeadAndIsolatesFailures(t *testing.T) {
	p := newFake()
	p.Cloud().FailLaunch = map[string]error{"2": errors.New("InsufficientInstanceCapacity")}
	exit := 3
	p.Cloud().Put(cid, provider.Instance{ID: "i-old", NodeID: "0", State: provider.Failed, IP: "127.0.0.10", ExitCode: &exit, Protected: true})
	p.Cloud().Put(cid, provider.Instance{ID: "i-run", NodeID: "1", State: provider.Running, IP: "127.0.0.11"})
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
	if got := p.Cloud().Terminated(); len(got) != 1 || got[0] != "i-old" {
		t.Errorf("the dead instance must be terminated first: %v", got)
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
	p := newFake()
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
	p := newFake()
	p.Cloud().Put(cid, provider.Instance{ID: "i-1", NodeID: "0", State: provider.Running, IP: "127.0.0.10", Protected: true})
	p.Cloud().Put(cid, provider.Instance{ID: "i-2", NodeID: "9", State: provider.Running, IP: "127.0.0.99"})
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
	if !errors.As(err, &pe) || len(pe.Instances) != 1 || len(p.Cloud().Terminated()) != 0 {
		t.Fatalf("protected down must terminate nothing: %v %v", err, p.Cloud().Terminated())
	}
	res, err := e.Down(context.Background(), insts, DownOptions{Force: true})
	if err != nil || len(res.Terminated) != 2 || len(p.Cloud().Terminated()) != 2 {
		t.Fatalf("forced down: %v %v", err, p.Cloud().Terminated())
	}
}

// An instance an interrupted up left pending is waited for, not relaunched.
func TestUpWaitsForPendingInstances(t *testing.T) {
	p := newFake()
	p.Cloud().Put(cid, provider.Instance{ID: "i-p", NodeID: "0", State: provider.Pending, IP: "127.0.0.10"})
	e := newEngine(t, nodesConfig(1, ""), p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if err != nil || actions(res) != "0=unchanged" || p.Cloud().Made() != 0 {
		t.Fatalf("%v %s (%d launches)", err, actions(res), p.Cloud().Made())
	}
	if st, _ := p.Instances(context.Background(), e.ID); st[0].State != provider.Running {
		t.Errorf("the pending instance was not waited for: %s", st[0].State)
	}
}
