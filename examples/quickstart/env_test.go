package quickstart_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestIntegrationEnvironments: the quickstart and its staging environment
// (environments/staging.yml) run at once; each command with -e staging
// sees only staging's instances, without -e only the default's; names and
// tags carry the environment; `down -e staging` leaves the default one
// running and serving.
func TestIntegrationEnvironments(t *testing.T) {
	q := newQuickstart(t, nil)
	prefix := strings.TrimSuffix(q.ips[0], "11")
	stagingIPs := []string{prefix + "21", prefix + "22", prefix + "23"}
	q.up()
	var st upJSON
	out := q.must("-e", "staging", "-o", "json", "cluster", "up")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 {
		t.Fatalf("staging up: %s", out)
	}
	for i, n := range st.Nodes {
		if n.IP != stagingIPs[i] || n.Action != "created" {
			t.Errorf("staging node %d: %+v", i, n)
		}
	}
	// names: the original's without an environment, <cluster>-<env>-<node> with one
	var raw struct {
		Nodes []struct{ Name string } `json:"nodes"`
	}
	_ = json.Unmarshal([]byte(out), &raw)
	if len(raw.Nodes) != 3 || raw.Nodes[0].Name != "quickstart-staging-0" {
		t.Errorf("staging names: %+v", raw.Nodes)
	}

	statusOf := func(env ...string) []statusRow {
		t.Helper()
		var s struct{ Nodes []statusRow }
		if err := json.Unmarshal([]byte(q.must(append(env, "-o", "json", "cluster", "status")...)), &s); err != nil {
			t.Fatal(err)
		}
		return s.Nodes
	}
	for _, c := range []struct {
		env []string
		ips []string
	}{{nil, q.ips}, {[]string{"-e", "staging"}, stagingIPs}} {
		rows := statusOf(c.env...)
		if len(rows) != 3 {
			t.Fatalf("status %v: %+v", c.env, rows)
		}
		for i, r := range rows {
			if r.IP != c.ips[i] || r.State != "running" || r.Orphan {
				t.Errorf("status %v node %d: %+v", c.env, i, r)
			}
		}
	}
	for _, env := range [][]string{nil, {"-e", "staging"}} {
		if p, code := q.plan(append(env, "--detailed-exitcode")...); code != 0 || rows(p) != "0=unchanged 1=unchanged 2=unchanged" {
			t.Errorf("plan %v: exit %d %s", env, code, rows(p))
		}
	}
	// CLOUD_COMPOSE_ENV selects it as -e does
	t.Setenv("CLOUD_COMPOSE_ENV", "staging")
	if rows := q.status(); len(rows) != 3 || rows[0].IP != stagingIPs[0] {
		t.Errorf("status with CLOUD_COMPOSE_ENV=staging: %+v", rows)
	}
	t.Setenv("CLOUD_COMPOSE_ENV", "")

	// down -e staging: staging's processes go, the default's stay and serve
	q.must("-e", "staging", "cluster", "down", "--force", "--yes")
	for i, ip := range stagingIPs {
		if p := q.processes("--addr " + ip + ":8080"); len(p) != 0 {
			t.Errorf("staging node %d still runs: %v", i, p)
		}
	}
	for i := range q.ips {
		if code, _ := q.get(i, "/health"); code != http.StatusOK {
			t.Errorf("default node %d after down -e staging: %d", i, code)
		}
	}
	c := http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get("http://" + prefix + "10:8080/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the default load balancer after down -e staging: %v", err)
	} else {
		resp.Body.Close()
	}
	if rows := statusOf("-e", "staging"); len(rows) != 3 || rows[0].InstanceID != "" {
		t.Errorf("staging status after down: %+v", rows)
	}
	if rows := statusOf(); len(rows) != 3 || rows[0].State != "running" {
		t.Errorf("default status after down -e staging: %+v", rows)
	}
	// the journals are apart
	var hist struct {
		Env    string `json:"env"`
		Events []struct {
			Command string `json:"command"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(q.must("-e", "staging", "-o", "json", "cluster", "history")), &hist); err != nil {
		t.Fatal(err)
	}
	if hist.Env != "staging" || len(hist.Events) != 2 {
		t.Errorf("staging history: %+v", hist)
	}
	q.downForce()
}
