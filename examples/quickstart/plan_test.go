package quickstart_test

import (
	"flag"
	"regexp"

	"encoding/json"
	"github.com/google/go-cmp/cmp"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type planJSON struct {
	Changes []struct {
		Node       string `json:"node"`
		Action     string `json:"action"`
		InstanceID string `json:"instance_id"`
		Reasons    []struct {
			Field, From, To string
		} `json:"reasons"`
		Detail string `json:"detail"`
		Diff   string `json:"diff"`
	} `json:"changes"`
	Summary map[string]int `json:"summary"`
}

func (q *quickstart) plan(args ...string) (planJSON, int) {
	q.t.Helper()
	out, errOut, code := q.run(append([]string{"-o", "json", "cluster", "plan"}, args...)...)
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		q.t.Fatalf("plan -o json: %v\n%s%s", err, out, errOut)
	}
	return p, code
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name (-update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, d)
	}
}

var instanceIDRE = regexp.MustCompile(`i-[0-9a-f]{8,}`)

// normalize replaces what differs between runs (the test's loopback
// prefix, instance ids) with fixed text.
func (q *quickstart) normalize(s string) string {
	prefix := q.ips[0][:strings.LastIndex(q.ips[0], ".")+1]
	s = strings.ReplaceAll(s, prefix, "127.0.0.")
	return instanceIDRE.ReplaceAllString(s, "i-ID")
}

func rows(p planJSON) string {
	var r []string
	for _, c := range p.Changes {
		s := c.Node + "=" + c.Action
		for _, x := range c.Reasons {
			s += "(" + x.Field + ")"
		}
		r = append(r, s)
	}
	return strings.Join(r, " ")
}

// TestIntegrationPlan drives `cluster plan` through the binary on real
// processes: every kind of row, exit codes, --diff, and no secret in any
// output.
func TestIntegrationPlan(t *testing.T) {
	const secret = "s3cr3t-token-value-42"
	q := newQuickstart(t, func(s string) string {
		return strings.Replace(s, "  environment:\n", "  secrets:\n    token: "+secret+"\n  environment:\n    DB_PASSWORD: "+secret+"-db\n", 1)
	})
	if p, code := q.plan("--detailed-exitcode"); code != 3 || rows(p) != "0=create 1=create 2=create" {
		t.Fatalf("fresh: exit %d, %s", code, rows(p))
	}
	q.must("cluster", "up")
	if p, code := q.plan("--detailed-exitcode"); code != 0 || rows(p) != "0=unchanged 1=unchanged 2=unchanged" {
		t.Fatalf("after up: exit %d, %s", code, rows(p))
	}

	// a template line: every node is replaced for its user data, and
	// --diff shows that line
	tpl := filepath.Join(q.dir, "templates", "cluster.sh")
	b, err := os.ReadFile(tpl)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "set -euo pipefail\n", "set -euo pipefail\necho a line added by the test\necho token {{ secrets.token }}\n", 1)
	if err := os.WriteFile(tpl, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	p, code := q.plan("--diff")
	if code != 0 || rows(p) != "0=replace(user_data) 1=replace(user_data) 2=replace(user_data)" {
		t.Fatalf("template changed: exit %d, %s", code, rows(p))
	}
	if !strings.Contains(p.Changes[0].Diff, "+echo a line added by the test") {
		t.Errorf("--diff does not show the added line:\n%s", p.Changes[0].Diff)
	}
	text, errText, _ := q.run("cluster", "plan", "--diff")
	for _, out := range []string{text, errText, p.Changes[0].Diff} {
		if strings.Contains(out, secret[:12]) {
			t.Fatalf("a secret reached plan's output:\n%s", out)
		}
	}
	if !strings.Contains(text, "+echo token <redacted>") || !strings.Contains(text, "user_data: changed") {
		t.Errorf("text plan:\n%s", text)
	}
	golden(t, "plan-diff.golden", q.normalize(text))
	// up leaves them running and says so in one line
	if _, errOut, code := q.run("cluster", "up"); code != 0 || !strings.Contains(errOut, "3 node(s) (0, 1, 2) run an older spec (user_data), left running: `cloud-compose cluster plan` shows why") {
		t.Errorf("up with stale nodes: exit %d\n%s", code, errOut)
	}
	if err := os.WriteFile(tpl, b, 0o644); err != nil {
		t.Fatal(err)
	}

	// an environment value: replaced, the value never shown
	cfg := filepath.Join(q.dir, "cloud-compose.yml")
	c, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(c), "hello from the quickstart", "hello again", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ = q.plan()
	if rows(p) != "0=replace(env[GREETING]) 1=replace(env[GREETING]) 2=replace(env[GREETING])" {
		t.Fatalf("environment changed: %s", rows(p))
	}
	if err := os.WriteFile(cfg, c, 0o644); err != nil {
		t.Fatal(err)
	}

	// one node's service dies: that node only is dead; up replaces it
	svc := q.service(1)
	if len(svc) != 1 {
		t.Fatalf("node 1's service processes: %v", svc)
	}
	if err := syscall.Kill(svc[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for q.status()[1].State != "failed" {
		if time.Now().After(deadline) {
			t.Fatal("node 1 is not failed 10s after its service was killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p, code := q.plan("--detailed-exitcode"); code != 3 || rows(p) != "0=unchanged 1=dead 2=unchanged" {
		t.Fatalf("node 1 dead: exit %d, %s", code, rows(p))
	}

	// a node no longer configured: its instance is to be removed
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(c), "      - id: 2\n", "      - id: 7\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ = q.plan()
	if !strings.HasSuffix(rows(p), "7=create 2=remove") {
		t.Fatalf("node 2 renamed 7: %s", rows(p))
	}
	if err := os.WriteFile(cfg, c, 0o644); err != nil {
		t.Fatal(err)
	}
	q.must("cluster", "down", "--force", "--yes")
}
