package cluster

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

func planRows(p *Plan) string {
	var rows []string
	for _, c := range p.Changes {
		r := c.Node + "=" + c.Action
		for _, x := range c.Reasons {
			r += "(" + x.String() + ")"
		}
		if c.Detail != "" {
			r += "[" + c.Detail + "]"
		}
		rows = append(rows, r)
	}
	return strings.Join(rows, " ")
}

func TestPlan(t *testing.T) {
	p := newFake()
	ctx := context.Background()
	e := newEngine(t, nodesConfig(3, ""), p)
	plan, err := e.Plan(ctx, PlanOptions{CloudInit: true})
	if err != nil || planRows(plan) != "0=create 1=create 2=create" || !plan.Pending() || plan.Summary.Create != 3 {
		t.Fatalf("fresh: %v %s", err, planRows(plan))
	}
	if _, err := e.Up(ctx, UpOptions{CloudInit: true}); err != nil {
		t.Fatal(err)
	}
	before := p.Cloud().Calls()
	plan, err = e.Plan(ctx, PlanOptions{CloudInit: true})
	if err != nil || planRows(plan) != "0=unchanged 1=unchanged 2=unchanged" || plan.Pending() {
		t.Fatalf("after up: %v %s", err, planRows(plan))
	}

	// another boot script: every node is replaced, for its user data
	e2 := newEngineTemplate(t, nodesConfig(3, ""), "node {{ _node_id }} v2\n", p)
	plan, err = e2.Plan(ctx, PlanOptions{CloudInit: true, Diff: true})
	if err != nil || planRows(plan) != "0=replace(user_data: changed) 1=replace(user_data: changed) 2=replace(user_data: changed)" {
		t.Fatalf("new template: %v %s", err, planRows(plan))
	}
	// the fake reads the user data an instance was launched with: the diff
	// shows the line
	if d := plan.Changes[0].Diff; !strings.Contains(d, "-node 0 of c") || !strings.Contains(d, "+node 0 v2") {
		t.Errorf("diff: %q", d)
	}
	// a provider that keeps no launch spec and reads no user data (only
	// the Provider interface): the diff says so
	e3 := newEngineTemplate(t, nodesConfig(3, ""), "node {{ _node_id }} v2\n", struct{ provider.Provider }{p})
	plan, err = e3.Plan(ctx, PlanOptions{CloudInit: true, Diff: true})
	if err != nil || !strings.Contains(plan.Changes[0].Diff, "cannot read") {
		t.Errorf("diff: %v %q", err, plan.Changes[0].Diff)
	}

	// a dead node, an orphan, a duplicate and a foreign instance
	insts, err := p.Instances(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[string]provider.Instance{}
	for _, inst := range insts {
		byNode[inst.NodeID] = inst
	}
	deadID, kept := byNode["1"].ID, byNode["2"]
	if err := p.Cloud().Kill(deadID, 1); err != nil {
		t.Fatal(err)
	}
	p.Cloud().Put(cid, provider.Instance{ID: "i-orphan", NodeID: "9", State: provider.Running})
	p.Cloud().Put(cid, provider.Instance{ID: "i-dup", NodeID: "2", State: provider.Running, Launched: time.Now().Add(time.Hour), Spec: kept.Spec})
	p.Cloud().Put(cid, provider.Instance{ID: "i-theirs", NodeID: "0", State: provider.Running, Foreign: "vpc-b"})
	plan, err = e.Plan(ctx, PlanOptions{CloudInit: true})
	want := "0=unchanged 1=dead[instance " + deadID + " was failed (exit code 1)] 2=unchanged 2=remove[duplicate of " + kept.ID + "] 0=foreign[in vpc-b, outside the cluster's network: never touched] 9=remove[orphan: no configured node has this id]"
	if err != nil || planRows(plan) != want {
		t.Fatalf("mixed:\n got %s\nwant %s", planRows(plan), want)
	}
	if s := plan.Summary; s.Dead != 1 || s.Remove != 2 || s.Unchanged != 2 {
		t.Errorf("summary: %+v", s)
	}
	after := p.Cloud().Calls()
	if p.Cloud().Made() != 3 || len(p.Cloud().Terminated()) != 0 || after["Launch"] != before["Launch"] || after["Terminate"] != before["Terminate"] {
		t.Errorf("plan changed something: %d instances made, %v terminated, calls before %v, after %v", p.Cloud().Made(), p.Cloud().Terminated(), before, after)
	}
}

// A node whose instance runs the desired spec but fails its health check
// is unhealthy.
func TestPlanUnhealthy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p := newFake()
	cfg := "cluster:\n  name: c\n  search_path: [t]\n  health: {port: " + port + ", path: /, timeout: 5}\n  local:\n    nodes:\n      - {id: 0, ip: 127.0.0.1}\n"
	e := newEngine(t, cfg, p)
	ctx := context.Background()
	if _, err := e.Up(ctx, UpOptions{CloudInit: true}); err != nil {
		t.Fatal(err)
	}
	if plan, _ := e.Plan(ctx, PlanOptions{CloudInit: true}); planRows(plan) != "0=unchanged" {
		t.Fatalf("healthy: %s", planRows(plan))
	}
	srv.Close()
	plan, err := e.Plan(ctx, PlanOptions{CloudInit: true})
	if err != nil || plan.Changes[0].Action != PlanUnhealthy || !plan.Pending() {
		t.Fatalf("unhealthy: %v %s", err, planRows(plan))
	}
	st, _ := e.Status(ctx, PlanOptions{CloudInit: true})
	if st.Nodes[0].Health != "unhealthy" || st.Nodes[0].Spec != SpecCurrent {
		t.Errorf("status: %+v", st.Nodes[0])
	}
}

// up says which nodes run an older spec and leaves them running.
func TestUpReportsStaleNodes(t *testing.T) {
	p := newFake()
	ctx := context.Background()
	if _, err := newEngine(t, nodesConfig(2, ""), p).Up(ctx, UpOptions{CloudInit: true}); err != nil {
		t.Fatal(err)
	}
	res, err := newEngineTemplate(t, nodesConfig(2, ""), "v2 {{ _node_id }}\n", p).Up(ctx, UpOptions{CloudInit: true})
	if err != nil || actions(res) != "0=unchanged 1=unchanged" || p.Cloud().Made() != 2 {
		t.Fatalf("%v %s", err, actions(res))
	}
	if len(res.Nodes[0].Stale) != 1 || res.Nodes[0].Stale[0].Field != provider.FieldUserData {
		t.Errorf("stale: %+v", res.Nodes[0].Stale)
	}
}
