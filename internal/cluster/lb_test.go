package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider/fake"
)

// TestLoadBalancerOrder: up registers every node once healthy; a rollout
// drains each old instance before it is terminated and registers each new
// one after its gate; down drains everything before terminating, then
// removes the load balancer.
func TestLoadBalancerOrder(t *testing.T) {
	cloud := fake.NewCloud()
	p := fake.NewBalanced(cloud, fake.Options{TerminateProtection: true})
	e := newEngineTemplate(t, nodesConfig(3, "  health: {command: \"true\"}\n"), "node {{ _node_id }}\n", p)
	e.Cluster.Rollout.MinHealthyTime = 10 * time.Millisecond
	ctx := context.Background()
	up, err := e.Up(ctx, UpOptions{CloudInit: true})
	if err != nil {
		t.Fatal(err)
	}
	var first []string
	for _, n := range up.Nodes {
		first = append(first, n.InstanceID)
	}
	slices.Sort(first)
	if got := p.Targets(); !slices.Equal(got, first) {
		t.Fatalf("targets after up: %v, want %v", got, first)
	}
	calls := p.Calls()
	for _, id := range first {
		if i, j := slices.Index(calls, "register "+id), lastLaunch(calls); i < j {
			t.Errorf("%s registered before the last launch: %v", id, calls)
		}
	}
	// a second up registers nothing again
	n := len(p.Calls())
	if _, err := e.Up(ctx, UpOptions{CloudInit: true}); err != nil || len(p.Calls()) != n {
		t.Errorf("second up: %v, calls %v", err, p.Calls()[n:])
	}

	// rollout of a new boot script
	e2 := newEngineTemplate(t, nodesConfig(3, "  health: {command: \"true\"}\n"), "node {{ _node_id }} v2\n", p)
	e2.Cluster.Rollout.MinHealthyTime = 10 * time.Millisecond
	plan, err := e2.PrepareRollout(ctx, RolloutOptions{CloudInit: true})
	if err != nil {
		t.Fatal(err)
	}
	n = len(p.Calls())
	res, err := e2.ApplyRollout(ctx, plan, RolloutGenerations{Target: 2})
	if err != nil || !res.Complete {
		t.Fatalf("rollout: %v %+v", err, res)
	}
	calls = p.Calls()[n:]
	var want []string
	var now []string
	for _, r := range res.Nodes {
		want = append(want, "deregister "+r.OldInstance, "terminate "+r.OldInstance, "launch "+r.ID, "register "+r.NewInstance)
		now = append(now, r.NewInstance)
		if r.Timings == nil || r.Timings.Drain == 0 && r.Timings.Register == 0 {
			t.Errorf("node %s: no drain/register timings: %+v", r.ID, r.Timings)
		}
	}
	if !slices.Equal(calls, want) {
		t.Errorf("rollout calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	slices.Sort(now)
	if got := p.Targets(); !slices.Equal(got, now) {
		t.Errorf("targets after the rollout: %v, want %v", got, now)
	}

	// down: drain all, then terminate, then remove
	insts, err := e2.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n = len(p.Calls())
	if _, err := e2.Down(ctx, insts, DownOptions{}); err == nil {
		t.Fatal("down without force: protection should refuse")
	}
	if got := p.Calls()[n:]; len(got) != 0 || len(p.Targets()) != 3 {
		t.Errorf("a refused down drained: %v, targets %v", got, p.Targets())
	}
	if _, err := e2.Down(ctx, insts, DownOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	calls = p.Calls()[n:]
	if len(calls) != 5 || !strings.HasPrefix(calls[3], "terminate ") || calls[4] != "remove-lb" {
		t.Errorf("down calls: %v", calls)
	}
	for _, c := range calls[:3] {
		if !strings.HasPrefix(c, "deregister ") {
			t.Errorf("down calls: %v", calls)
		}
	}
	if len(p.Targets()) != 0 {
		t.Errorf("targets after down: %v", p.Targets())
	}
}

func lastLaunch(calls []string) int {
	last := -1
	for i, c := range calls {
		if strings.HasPrefix(c, "launch ") {
			last = i
		}
	}
	return last
}
