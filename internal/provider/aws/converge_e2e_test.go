package aws_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)

// TestIntegrationConvergeOnEC2: a web group over two subnets
// (min_per_zone 1) converged up and down on moto through the binary:
// converge web=4 adds web-2 and web-3 round robin over the subnets;
// web=1 is below the minimum (1 per subnet × 2) and changes nothing, exit
// 2; web=2 removes the newest; up keeps the recorded count; plan web=3
// shows what a converge would do; down removes what is left.
func TestIntegrationConvergeOnEC2(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	name := awsp.Uniq("converge")
	subnets := []string{w.Subnet(), w.Subnet2()}
	yml := strings.Replace(awsp.ClusterYAML(w, name, 0, "", ""), "    nodes:\n", "", 1) +
		"  groups:\n    web:\n      count: 2\n      min_per_zone: 1\n      instance_type: t3.small\n      subnets: [" + subnets[0] + ", " + subnets[1] + "]\n"
	dir := awsp.WriteProject(t, yml).Dir()
	must := func(args ...string) string {
		t.Helper()
		out, _, err := runBoth(t, append([]string{"-C", dir}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	nodes := func() string {
		t.Helper()
		var ids []string
		for _, in := range liveInstances(t, w, name) {
			ids = append(ids, in.node)
		}
		return strings.Join(ids, " ")
	}
	must("cluster", "up")
	t.Cleanup(func() { runBoth(t, "-C", dir, "cluster", "down", "--yes") })
	if got := nodes(); got != "web-0 web-1" {
		t.Fatalf("after up: %s", got)
	}

	must("cluster", "converge", "web=4")
	live := liveInstances(t, w, name)
	if len(live) != 4 {
		t.Fatalf("after converge web=4: %+v", live)
	}
	for i, in := range live {
		if in.subnet != subnets[i%2] || in.name != name+"-"+in.node || in.typ != "t3.small" {
			t.Errorf("member %d: %+v, want subnet %s", i, in, subnets[i%2])
		}
	}

	// below the minimum: refused before anything is done
	_, _, err := runBoth(t, "-C", dir, "cluster", "converge", "web=1")
	if code := app.ExitCode(err); code != 2 || !strings.Contains(err.Error(), "web=1 is below the group's minimum 2 (min_per_zone 1 × 2 zones)") {
		t.Errorf("converge web=1: exit %d %v", code, err)
	}
	if got := nodes(); got != "web-0 web-1 web-2 web-3" {
		t.Errorf("after the refused converge: %s", got)
	}

	out := must("-o", "json", "cluster", "converge", "web=2")
	var res struct {
		Groups []struct {
			Remove []struct{ Node, Why string }
		}
		Terminated []struct {
			ID string `json:"id"`
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || len(res.Groups[0].Remove) != 2 || len(res.Terminated) != 2 {
		t.Fatalf("converge web=2: %s", out)
	}
	if got := nodes(); got != "web-0 web-1" {
		t.Errorf("after converge web=2: %s", got)
	}

	// the recorded count is kept; plan shows what web=3 would do
	must("cluster", "up")
	if got := nodes(); got != "web-0 web-1" {
		t.Errorf("after up: %s", got)
	}
	out = must("-o", "json", "cluster", "plan", "web=3")
	if !strings.Contains(out, `"node": "web-2"`) || !strings.Contains(out, `"action": "create"`) {
		t.Errorf("plan web=3: %s", out)
	}
	// a rollout surges the members: new type, both still in their subnets,
	// one live instance each at the end
	if err := os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte(strings.Replace(yml, "instance_type: t3.small", "instance_type: t3.medium", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := must("-o", "json", "cluster", "rollout", "--yes"); !strings.Contains(out, `"complete": true`) {
		t.Errorf("rollout: %s", out)
	}
	live = liveInstances(t, w, name)
	if len(live) != 2 {
		t.Fatalf("after the rollout: %+v", live)
	}
	for i, in := range live {
		if in.typ != "t3.medium" || in.subnet != subnets[i] {
			t.Errorf("member %d after the rollout: %+v", i, in)
		}
	}
	must("cluster", "down", "--yes")
	if got := nodes(); got != "" {
		t.Errorf("after down: %s", got)
	}
}
