package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// A template error that only node 1 hits stops up before anything is
// launched: every node is rendered first.
func TestUpRendersEveryNodeBeforeLaunching(t *testing.T) {
	p := newFake()
	e := newEngineTemplate(t, nodesConfig(3, ""), "{% if _node_id == 1 %}{{ nope }}{% endif %}node {{ _node_id }}\n", p)
	_, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	var te *render.Error
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "node 1") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("want a template error for node 1, got %v", err)
	}
	if n := p.Cloud().Made(); n != 0 {
		t.Fatalf("%d instances launched before the template error", n)
	}
}

// A launch whose answer was lost after it took effect is adopted, not
// reported failed; a launch that really failed stays failed.
func TestUpAdoptsInstancesWhoseLaunchAnswerWasLost(t *testing.T) {
	p := newFake()
	p.Cloud().LoseLaunch = map[string]error{"0": errors.New("connection reset"), "2": errors.New("connection reset")}
	p.Cloud().FailLaunch = map[string]error{"1": errors.New("InsufficientInstanceCapacity")}
	e := newEngine(t, nodesConfig(3, ""), p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if !errors.Is(err, ErrNodesFailed) || actions(res) != "0=created 1=failed 2=created" {
		t.Fatalf("%v %s", err, actions(res))
	}
	if res.Nodes[0].InstanceID == "" || res.Nodes[0].Error != "" || res.Nodes[1].Error != "InsufficientInstanceCapacity" {
		t.Errorf("rows: %+v", res.Nodes)
	}
	// the adopted instances were waited for like new ones
	insts, _ := p.Instances(context.Background(), e.ID)
	for _, i := range insts {
		if i.State != provider.Running {
			t.Errorf("%s (node %s) was not waited for: %s", i.ID, i.NodeID, i.State)
		}
	}
	// the next up launches only node 1
	p.Cloud().FailLaunch = nil
	res, err = e.Up(context.Background(), UpOptions{CloudInit: true})
	if err != nil || actions(res) != "0=unchanged 1=created 2=unchanged" || p.Cloud().Made() != 3 {
		t.Fatalf("re-run: %v %s (%d launches)", err, actions(res), p.Cloud().Made())
	}
}

// A post-launch step that fails (an elastic IP that cannot be associated)
// fails that node, even though its instance runs.
func TestUpFailsNodeWhosePostLaunchStepFailed(t *testing.T) {
	p := newFake()
	p.Cloud().FailAfterLaunch = map[string]error{"1": errors.New("associate eipalloc-doesnotexist: InvalidAllocationID.NotFound")}
	e := newEngine(t, nodesConfig(2, ""), p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if !errors.Is(err, ErrNodesFailed) || actions(res) != "0=created 1=failed" {
		t.Fatalf("%v %s", err, actions(res))
	}
	if !strings.Contains(res.Nodes[1].Error, "InvalidAllocationID.NotFound") {
		t.Errorf("node 1: %q", res.Nodes[1].Error)
	}
}

// Two live instances of one node: status shows both, up keeps the older
// (healthy) one and terminates the other.
func TestUpRemovesDuplicatesKeepingTheOlderHealthyOne(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	p := newFake()
	p.Cloud().Put(cid, provider.Instance{ID: "i-new", NodeID: "0", State: provider.Running, Launched: t0.Add(time.Minute), Protected: true})
	p.Cloud().Put(cid, provider.Instance{ID: "i-old", NodeID: "0", State: provider.Running, Launched: t0, Protected: true})
	p.Cloud().Put(cid, provider.Instance{ID: "i-1", NodeID: "1", State: provider.Running, Launched: t0})
	cfg := "cluster:\n  name: c\n  search_path: [t]\n  local:\n    nodes:\n      - {id: 0, ip: 127.0.0.10}\n      - {id: 1, ip: 127.0.0.11}\n"
	e := newEngine(t, cfg, p)
	st, err := e.Status(context.Background(), PlanOptions{CloudInit: true})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range st.Nodes {
		rows = append(rows, r.ID+":"+r.InstanceID+":"+r.DuplicateOf)
	}
	if got := strings.Join(rows, " "); got != "0:i-old: 0:i-new:i-old 1:i-1:" {
		t.Errorf("status rows: %s", got)
	}
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if err != nil || actions(res) != "0=unchanged 1=unchanged" || res.Nodes[0].InstanceID != "i-old" {
		t.Fatalf("%v %s %+v", err, actions(res), res.Nodes)
	}
	if got := p.Cloud().Terminated(); fmt.Sprint(got) != "[i-new]" || !strings.Contains(res.Nodes[0].Reason, "duplicate i-new") {
		t.Errorf("terminated %v, reason %q", got, res.Nodes[0].Reason)
	}
}

// With a health check, the instance kept is the oldest that answers.
func TestUpKeepsTheHealthyDuplicate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	t0 := time.Now().Add(-time.Hour)
	p := newFake()
	p.Cloud().Put(cid, provider.Instance{ID: "i-old-dead", NodeID: "0", State: provider.Running, IP: "127.0.0.93", Launched: t0})
	p.Cloud().Put(cid, provider.Instance{ID: "i-new-ok", NodeID: "0", State: provider.Running, IP: "127.0.0.1", Launched: t0.Add(time.Minute)})
	cfg := "cluster:\n  name: c\n  search_path: [t]\n  health: {port: " + port + ", path: /}\n  local:\n    nodes:\n      - {id: 0, ip: 127.0.0.1}\n"
	e := newEngine(t, cfg, p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if got := p.Cloud().Terminated(); err != nil || res.Nodes[0].InstanceID != "i-new-ok" || fmt.Sprint(got) != "[i-old-dead]" {
		t.Fatalf("%v %+v terminated %v", err, res.Nodes, got)
	}
}

// Foreign instances (the cluster's name in another network) are listed by
// status and never adopted or terminated.
func TestForeignInstancesAreNeverTouched(t *testing.T) {
	p := newFake()
	p.Cloud().Put(cid, provider.Instance{ID: "i-theirs", NodeID: "0", State: provider.Running, IP: "10.1.0.10", Foreign: "vpc-b"})
	e := newEngine(t, nodesConfig(1, ""), p)
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if err != nil || actions(res) != "0=created" {
		t.Fatalf("a foreign instance must not count as the node's: %v %s", err, actions(res))
	}
	st, _ := e.Status(context.Background(), PlanOptions{CloudInit: true})
	if len(st.Nodes) != 2 || st.Nodes[1].Foreign != "vpc-b" || st.Nodes[1].InstanceID != "i-theirs" {
		t.Errorf("status: %+v", st.Nodes)
	}
	insts, _ := e.Observe(context.Background())
	dr, err := e.Down(context.Background(), insts, DownOptions{Force: true})
	if err != nil || len(dr.LeftAlone) != 1 || len(dr.Terminated) != 1 || dr.Terminated[0].ID == "i-theirs" {
		t.Fatalf("down: %v %+v", err, dr)
	}
	for _, id := range p.Cloud().Terminated() {
		if id == "i-theirs" {
			t.Fatal("down terminated a foreign instance")
		}
	}
}

// A node whose instance dies while its health is awaited fails at once,
// with the tail of its log, even though something else answers its health
// check.
func TestUpFailsAtOnceWhenTheInstanceDies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p := newFake()
	p.Cloud().DieAfterStart = map[string]error{"0": errors.New("instance failed (exit code 1)")}
	p.Cloud().BootLog = map[string]string{"0": "error: address already in use\n"}
	cfg := "cluster:\n  name: c\n  search_path: [t]\n  health: {port: " + port + ", path: /, timeout: 30}\n  local:\n    nodes:\n      - {id: 0, ip: 127.0.0.1}\n"
	e := newEngine(t, cfg, p)
	start := time.Now()
	res, err := e.Up(context.Background(), UpOptions{CloudInit: true})
	if !errors.Is(err, ErrNodesFailed) || actions(res) != "0=failed" {
		t.Fatalf("%v %s", err, actions(res))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("waited %s for a dead instance", took)
	}
	if !strings.Contains(res.Nodes[0].Error, "exit code 1") || len(res.Nodes[0].LogTail) != 2 || !strings.Contains(res.Nodes[0].LogTail[1], "address already in use") {
		t.Errorf("row: %+v", res.Nodes[0])
	}
}
