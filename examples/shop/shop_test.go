// Package shop tests the example through the binary, as a user would: a
// web node group converged up and down on the local provider, the zone
// minimum, what plan says a converge would do, and the staging and
// production environments beside each other.
package shop_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, func(b string) { binary = b }) }

type shop struct {
	t          *testing.T
	dir, store string
	nets       map[string]string // environment ("" default) -> "127.X.Y."
}

// newShop copies the example into a temporary directory, each network on
// addresses of its own (tests run beside other tests).
func newShop(t *testing.T) *shop {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts real processes")
	}
	tmp := t.TempDir()
	s := &shop{t: t, dir: filepath.Join(tmp, "shop"), store: filepath.Join(tmp, "store"), nets: map[string]string{}}
	base := 60 + rand.IntN(150)
	for i, env := range []string{"", "staging", "production"} {
		s.nets[env] = fmt.Sprintf("127.%d.%d.", base, 6+i+3*rand.IntN(60))
	}
	replace := func(b []byte) []byte {
		out := string(b)
		for i, env := range []string{"", "staging", "production"} {
			out = strings.ReplaceAll(out, fmt.Sprintf("127.0.%d.", 6+i), s.nets[env])
		}
		return []byte(out)
	}
	for _, f := range []string{"cloud-compose.yml", "environments/staging.yml", "environments/production.yml", "templates/cluster.sh"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(s.dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, f), replace(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if pids := testbin.KillAll(s.store); len(pids) > 0 {
			t.Errorf("processes left running after the test (killed): %v", pids)
		}
	})
	return s
}

func (s *shop) run(args ...string) (string, string, int) {
	s.t.Helper()
	return testbin.Run(s.t, binary, s.dir, []string{"CLOUD_COMPOSE_LOCAL_DIR=" + s.store, "CLOUD_COMPOSE_SELF=" + binary, "CLOUD_COMPOSE_ENV="}, args...)
}

func (s *shop) must(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.run(args...)
	if code != 0 {
		s.t.Fatalf("cloud-compose %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

type statusRow struct {
	ID         string `json:"id"`
	InstanceID string `json:"instance_id"`
	State      string `json:"state"`
	IP         string `json:"ip"`
}

// members are the running members by id, with their IPs.
func (s *shop) members(env ...string) map[string]string {
	s.t.Helper()
	var st struct{ Nodes []statusRow }
	if err := json.Unmarshal([]byte(s.must(append(env, "-o", "json", "cluster", "status")...)), &st); err != nil {
		s.t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range st.Nodes {
		if n.State == "running" {
			out[n.ID] = n.IP
		}
	}
	return out
}

func ids(m map[string]string) string {
	var out []string
	for id := range m {
		out = append(out, id)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

type planRow struct {
	Node, Action, Detail string
}

func (s *shop) plan(args ...string) ([]planRow, int) {
	s.t.Helper()
	out, errOut, code := s.run(append([]string{"-o", "json", "cluster", "plan", "--detailed-exitcode"}, args...)...)
	var p struct{ Changes []planRow }
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		s.t.Fatalf("plan: %v\n%s%s", err, out, errOut)
	}
	return p.Changes, code
}

// lbTargets is how many targets the load balancer of env serves.
func (s *shop) lbTargets(env ...string) int {
	s.t.Helper()
	var st struct {
		LoadBalancer struct {
			Targets []json.RawMessage `json:"targets"`
		} `json:"load_balancer"`
	}
	if err := json.Unmarshal([]byte(s.must(append(env, "-o", "json", "cluster", "status")...)), &st); err != nil {
		s.t.Fatal(err)
	}
	return len(st.LoadBalancer.Targets)
}

// TestIntegrationShopConverge: up makes the configured 2 members; plan
// web=5 shows 3 creates; converge web=5 adds web-2..4 behind the load
// balancer; with web-1 dead, converge web=3 removes web-1 (dead) and then
// the newest member whose zone keeps its minimum; converge web=1 is
// refused (min_per_zone 1 × 2 zones) with nothing changed; up keeps the
// recorded 3; the environments run beside it, and down of one leaves the
// others.
func TestIntegrationShopConverge(t *testing.T) {
	s := newShop(t)
	s.must("cluster", "up")
	m := s.members()
	if ids(m) != "web-0 web-1" {
		t.Fatalf("after up: %v", m)
	}
	for id, ip := range m {
		if !strings.HasPrefix(ip, s.nets[""]) {
			t.Errorf("%s on %s, outside local.network %s0/24", id, ip, s.nets[""])
		}
	}
	rows, code := s.plan("web=5")
	var creates []string
	for _, r := range rows {
		if r.Action == "create" {
			creates = append(creates, r.Node)
		}
	}
	if code != 3 || strings.Join(creates, " ") != "web-2 web-3 web-4" {
		t.Fatalf("plan web=5: exit %d %+v", code, rows)
	}
	if ids(s.members()) != "web-0 web-1" {
		t.Fatal("plan changed something")
	}

	s.must("cluster", "converge", "web=5")
	m = s.members()
	if ids(m) != "web-0 web-1 web-2 web-3 web-4" || s.lbTargets() != 5 {
		t.Fatalf("after converge web=5: %v, %d targets", m, s.lbTargets())
	}
	// each member keeps its address through a replacement: web-1 dies
	web1 := m["web-1"]
	pids := testbin.Processes("--addr " + web1 + ":8080")
	if len(pids) != 1 {
		t.Fatalf("web-1's service: %v", pids)
	}
	_ = syscall.Kill(pids[0], syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, _ := s.plan()
		dead := false
		for _, r := range rows {
			dead = dead || (r.Node == "web-1" && r.Action == "dead")
		}
		if dead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web-1 not dead: %+v", rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// web=3: web-1 (dead) goes first, then the newest whose zone keeps a
	// member: zone a has web-0, web-2, web-4; zone b web-1, web-3
	out := s.must("-o", "json", "cluster", "converge", "web=3")
	var res struct {
		Groups []struct {
			Remove []struct{ Node, Why string }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || len(res.Groups[0].Remove) != 2 || res.Groups[0].Remove[0].Node != "web-1" || res.Groups[0].Remove[0].Why != "dead" {
		t.Fatalf("converge web=3: %s", out)
	}
	m = s.members()
	if len(m) != 3 || m["web-3"] == "" || m["web-0"] == "" {
		t.Fatalf("after converge web=3: %v (zone b must keep web-3)", m)
	}
	if s.lbTargets() != 3 {
		t.Errorf("load balancer targets after converge web=3: %d", s.lbTargets())
	}

	// below the zone minimum: refused, nothing changed
	_, errOut, code := s.run("cluster", "converge", "web=1")
	if code != 2 || !strings.Contains(errOut, "web=1 is below the group's minimum 2 (min_per_zone 1 × 2 zones)") {
		t.Errorf("converge web=1: exit %d\n%s", code, errOut)
	}
	for _, args := range [][]string{{"cluster", "converge", "api=2"}, {"cluster", "converge", "web"}, {"cluster", "plan", "web=x"}} {
		if _, errOut, code := s.run(args...); code != 2 {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
	}
	if got := s.members(); ids(got) != ids(m) {
		t.Errorf("refused converges changed the members: %v", got)
	}
	// up and plan keep the recorded count (the config says 2)
	s.must("cluster", "up")
	if rows, code := s.plan(); code != 0 || len(rows) != 3 {
		t.Errorf("plan after converge: exit %d %+v", code, rows)
	}

	// a rollout surges each member: its new instance (its own address)
	// serves before the old one is drained, so the load balancer fails
	// no request
	before := s.members()
	cfg := filepath.Join(s.dir, "cloud-compose.yml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), `VERSION: "1"`, `VERSION: "2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	failed, served := 0, 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		lb := http.Client{Timeout: 2 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := lb.Get("http://" + s.nets[""] + "1:8080/")
			if err != nil || resp.StatusCode != 200 {
				failed++
			} else {
				served++
				resp.Body.Close()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	out = s.must("-o", "json", "cluster", "rollout", "--yes")
	close(stop)
	<-done
	var ro struct {
		Complete bool
		Nodes    []struct{ ID, State, OldInstance, NewInstance, IP string }
	}
	if err := json.Unmarshal([]byte(out), &ro); err != nil {
		t.Fatal(err)
	}
	after := s.members()
	if !ro.Complete || len(ro.Nodes) != 3 || len(after) != 3 {
		t.Fatalf("rollout: %s\nmembers %v", out, after)
	}
	for id, ip := range after {
		if ip == before[id] {
			t.Errorf("%s kept %s through the rollout: a surge gives the new instance an address of its own", id, ip)
		}
	}
	if failed > 0 || served < 10 {
		t.Errorf("through the load balancer during the rollout: %d failed, %d served", failed, served)
	}
	t.Logf("rollout (surge): %d requests served, %d failed", served, failed)

	// the environments beside it; production has 4 members
	s.must("-e", "production", "cluster", "up")
	s.must("-e", "staging", "cluster", "up")
	if p := s.members("-e", "production"); len(p) != 4 || !strings.HasPrefix(p["web-0"], s.nets["production"]) {
		t.Errorf("production: %v", p)
	}
	if st := s.members("-e", "staging"); len(st) != 2 || !strings.HasPrefix(st["web-0"], s.nets["staging"]) {
		t.Errorf("staging: %v", st)
	}
	s.must("-e", "staging", "cluster", "down", "--yes")
	if p := s.members("-e", "production"); len(p) != 4 {
		t.Errorf("production after down -e staging: %v", p)
	}
	if got := s.members(); len(got) != 3 {
		t.Errorf("default after down -e staging: %v", got)
	}
	c := http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get("http://" + s.nets[""] + "1:8080/health"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the default load balancer: %v", err)
	} else {
		resp.Body.Close()
	}
	s.must("-e", "production", "cluster", "down", "--yes")
	s.must("cluster", "down", "--yes")
}
