package quickstart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type rolloutJSON struct {
	Generation int  `json:"generation"`
	Complete   bool `json:"complete"`
	RolledBack bool `json:"rolled_back"`
	Nodes      []struct {
		ID          string   `json:"id"`
		State       string   `json:"state"`
		OldInstance string   `json:"old_instance"`
		NewInstance string   `json:"new_instance"`
		Generation  string   `json:"generation"`
		Error       string   `json:"error"`
		LogTail     []string `json:"log_tail"`
		Timings     *struct {
			Overhead time.Duration `json:"overhead"`
		} `json:"timings"`
	} `json:"nodes"`
}

// rollout runs `cluster rollout --yes -o json` with args and decodes it.
func (q *quickstart) rollout(args ...string) (rolloutJSON, string, int) {
	q.t.Helper()
	out, errOut, code := q.run(append([]string{"-o", "json", "cluster", "rollout", "--yes"}, args...)...)
	var res rolloutJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		q.t.Fatalf("rollout -o json (exit %d): %v\n%s%s", code, err, out, errOut)
	}
	return res, errOut, code
}

// setVersion rewrites the VERSION of the project's environment.
func (q *quickstart) setVersion(v string) {
	q.t.Helper()
	path := filepath.Join(q.dir, "cloud-compose.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		q.t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "VERSION:") {
			lines[i] = l[:strings.Index(l, "VERSION:")] + "VERSION: " + strconv.Quote(v)
			found = true
		}
	}
	if !found {
		q.t.Fatal("the quickstart config has no VERSION")
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		q.t.Fatal(err)
	}
}

// version is what node i's /health reports ("" when it does not answer).
func (q *quickstart) version(i int) string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + q.ips[i] + ":8080/health")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(b.String()), "ok version"))
}

// counter is node i's request counter (each GET / adds one).
func (q *quickstart) counter(i int) int {
	q.t.Helper()
	_, body := q.get(i, "/")
	f := strings.Fields(body)
	n, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		q.t.Fatalf("GET / on node %d: %q", i, body)
	}
	return n
}

// poller asks every node's /health ten times a second and records the
// most nodes it ever found down at once.
type poller struct {
	q       *quickstart
	maxDown atomic.Int32
	polls   atomic.Int32
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startPoller(q *quickstart) *poller {
	p := &poller{q: q, stop: make(chan struct{})}
	c := http.Client{Timeout: 80 * time.Millisecond}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			var down atomic.Int32
			var wg sync.WaitGroup
			for _, ip := range q.ips {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := c.Get("http://" + ip + ":8080/health")
					if err != nil {
						down.Add(1)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						down.Add(1)
					}
				}()
			}
			wg.Wait()
			p.polls.Add(1)
			if d := down.Load(); d > p.maxDown.Load() {
				p.maxDown.Store(d)
			}
		}
	}()
	return p
}

func (p *poller) done() (maxDown, polls int) {
	close(p.stop)
	p.wg.Wait()
	return int(p.maxDown.Load()), int(p.polls.Load())
}

type generationsJSON struct {
	Generations []struct {
		Number int    `json:"number"`
		State  string `json:"state"`
	} `json:"generations"`
}

func (q *quickstart) generationStates() map[int]string {
	q.t.Helper()
	var g generationsJSON
	out := q.must("-o", "json", "cluster", "generations")
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		q.t.Fatalf("generations -o json: %v\n%s", err, out)
	}
	m := map[int]string{}
	for _, gen := range g.Generations {
		m[gen.Number] = gen.State
	}
	return m
}

// statusGenerations are the GEN column of status, by node.
func (q *quickstart) statusGenerations() map[string]string {
	q.t.Helper()
	var st struct {
		Nodes []struct {
			ID         string `json:"id"`
			Generation string `json:"generation"`
		}
	}
	out := q.must("-o", "json", "cluster", "status")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		q.t.Fatalf("status -o json: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, n := range st.Nodes {
		m[n.ID] = n.Generation
	}
	return m
}

// fastRollout shortens the quickstart's hold so that tests run quickly.
func fastRollout(hold, deadline string) func(string) string {
	return func(src string) string {
		src = strings.Replace(src, "min_healthy_time: 2s", "min_healthy_time: "+hold, 1)
		return strings.Replace(src, "healthy_deadline: 30s", "healthy_deadline: "+deadline, 1)
	}
}

// TestIntegrationRollout changes VERSION and rolls it out: every node on
// generation 2 with the new version, its counter kept, and never more than
// one node down; then rollback puts generation 1 back.
func TestIntegrationRollout(t *testing.T) {
	q := newQuickstart(t, fastRollout("1s", "30s"))
	defer q.downForce()
	q.up()
	before := map[int]int{}
	for i := range q.ips {
		for range 3 {
			q.counter(i)
		}
		before[i] = q.counter(i)
	}
	q.setVersion("2")
	if out, _, code := q.run("cluster", "plan", "--detailed-exitcode"); code != 3 || !strings.Contains(out, "env[VERSION]: changed") {
		t.Fatalf("plan after the change: exit %d\n%s", code, out)
	}

	p := startPoller(q)
	res, errOut, code := q.rollout()
	maxDown, polls := p.done()
	if code != 0 || !res.Complete || res.Generation != 2 {
		t.Fatalf("rollout: exit %d, %+v\n%s", code, res, errOut)
	}
	t.Logf("rollout: %d polls at 10 Hz, at most %d node(s) down at once", polls, maxDown)
	if maxDown > 1 {
		t.Errorf("the poller saw %d nodes down at once; max_unavailable is 1", maxDown)
	}
	if polls < 20 {
		t.Errorf("only %d polls during the rollout: the poller did not watch it", polls)
	}
	for i, n := range res.Nodes {
		if n.State != "done" || n.Generation != "2" || n.NewInstance == "" || n.NewInstance == n.OldInstance {
			t.Errorf("node %d: %+v", i, n)
		}
		if v := q.version(i); v != "2" {
			t.Errorf("node %d reports version %q, want 2", i, v)
		}
		if c := q.counter(i); c != before[i]+1 {
			t.Errorf("node %d: counter %d after the rollout, want %d (kept on its data volume)", i, c, before[i]+1)
		}
		if n.Timings != nil {
			t.Logf("node %d: the tool's own time %s", i, n.Timings.Overhead)
		}
	}
	if g := q.statusGenerations(); g["0"] != "2" || g["1"] != "2" || g["2"] != "2" {
		t.Errorf("status generations: %v", g)
	}
	if g := q.generationStates(); g[1] != "old" || g[2] != "active" {
		t.Errorf("generations: %v", g)
	}
	if out, _, code := q.run("cluster", "plan", "--detailed-exitcode"); code != 0 {
		t.Errorf("plan after the rollout: exit %d\n%s", code, out)
	}
	// nothing left to do: a second rollout changes nothing
	again, _, code := q.rollout()
	for _, n := range again.Nodes {
		if code != 0 || n.State != "unchanged" {
			t.Errorf("second rollout: exit %d, node %s %s", code, n.ID, n.State)
		}
	}

	// rollback: generation 1's recorded specs again
	out, errOut, code := q.run("-o", "json", "cluster", "rollback", "--yes")
	var back rolloutJSON
	if err := json.Unmarshal([]byte(out), &back); err != nil || code != 0 || back.Generation != 1 || !back.Complete {
		t.Fatalf("rollback: exit %d %v\n%s%s", code, err, out, errOut)
	}
	for i := range q.ips {
		if v := q.version(i); v != "1" {
			t.Errorf("after rollback node %d reports version %q, want 1", i, v)
		}
	}
	if g := q.generationStates(); g[1] != "active" || g[2] != "old" {
		t.Errorf("generations after rollback: %v", g)
	}
	if g := q.statusGenerations(); g["0"] != "1" || g["2"] != "1" {
		t.Errorf("status generations after rollback: %v", g)
	}
	hist := q.must("cluster", "history", "-n", "1")
	if !strings.Contains(hist, "cluster rollback") {
		t.Errorf("history does not show the rollback:\n%s", hist)
	}
	// the config still says VERSION 2: plan shows it
	if out, _, code := q.run("cluster", "plan", "--detailed-exitcode"); code != 3 {
		t.Errorf("plan after rollback: exit %d, want 3 (the config says VERSION 2)\n%s", code, out)
	}
}

// brokenVersion makes the boot script start the service with --unhealthy
// when VERSION is "broken": a version that never passes health.
func (q *quickstart) brokenVersion() {
	q.t.Helper()
	path := filepath.Join(q.dir, "templates", "cluster.sh")
	b, err := os.ReadFile(path)
	if err != nil {
		q.t.Fatal(err)
	}
	s := strings.Replace(string(b), `--version "${VERSION:-}"`, `--version "${VERSION:-}" $( [ "${VERSION:-}" = broken ] && echo --unhealthy )`, 1)
	if s == string(b) {
		q.t.Fatal("cluster.sh does not pass --version")
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		q.t.Fatal(err)
	}
}

// TestIntegrationRolloutFailureRollsBack rolls out a version that never
// gets healthy: the rollout stops at the first node, puts it back on
// generation 1, leaves the other two alone and exits 1 naming the node,
// the health error and the end of its boot log.
func TestIntegrationRolloutFailureRollsBack(t *testing.T) {
	q := newQuickstart(t, fastRollout("500ms", "3s"))
	defer q.downForce()
	q.brokenVersion()
	up := q.up()
	q.setVersion("broken")
	p := startPoller(q)
	res, errOut, code := q.rollout()
	maxDown, _ := p.done()
	if code != 1 || res.Complete || !res.RolledBack {
		t.Fatalf("rollout of a broken version: exit %d, %+v\n%s", code, res, errOut)
	}
	if maxDown > 1 {
		t.Errorf("the poller saw %d nodes down at once", maxDown)
	}
	n0 := res.Nodes[0]
	if n0.State != "rolled back" || n0.Generation != "1" || !strings.Contains(n0.Error, "health") || len(n0.LogTail) == 0 {
		t.Errorf("node 0: %+v", n0)
	}
	if !strings.Contains(errOut, "node 0") || !strings.Contains(errOut, "503") {
		t.Errorf("the error does not name the node and the health error:\n%s", errOut)
	}
	for i := 1; i < 3; i++ {
		n := res.Nodes[i]
		if n.State != "waiting" || n.NewInstance != "" || n.OldInstance != up.Nodes[i].InstanceID {
			t.Errorf("node %d was touched: %+v", i, n)
		}
	}
	for i := range q.ips {
		if v := q.version(i); v != "1" {
			t.Errorf("node %d reports version %q after the rollback, want 1", i, v)
		}
	}
	if g := q.statusGenerations(); g["0"] != "1" || g["1"] != "1" || g["2"] != "1" {
		t.Errorf("status generations: %v", g)
	}
	if g := q.generationStates(); g[1] != "active" || g[2] != "pending" {
		t.Errorf("generations: %v", g)
	}

	// --no-rollback: the failed node stays as it is
	res, errOut, code = q.rollout("--no-rollback")
	if code != 1 || res.RolledBack || res.Nodes[0].State != "failed" {
		t.Fatalf("rollout --no-rollback: exit %d, %+v\n%s", code, res, errOut)
	}
	if !strings.Contains(errOut, "fix the cause") {
		t.Errorf("no advice:\n%s", errOut)
	}
}

// TestIntegrationRolloutRefusedBelowQuorum: with 2 of 3 nodes dead the
// rollout refuses to start (exit 1, naming them) and changes nothing;
// --force replaces them.
func TestIntegrationRolloutRefusedBelowQuorum(t *testing.T) {
	q := newQuickstart(t, fastRollout("200ms", "30s"))
	defer q.downForce()
	up := q.up()
	for _, i := range []int{1, 2} {
		for _, pid := range q.service(i) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		failed := 0
		for _, r := range q.status() {
			if r.State == "failed" {
				failed++
			}
		}
		if failed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed nodes do not show failed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, errOut, code := q.rollout()
	if code != 1 || !strings.Contains(errOut, "below min_healthy") || !strings.Contains(errOut, "unhealthy: 1, 2") || !strings.Contains(errOut, "--force") {
		t.Fatalf("rollout below quorum: exit %d\n%s", code, errOut)
	}
	for _, n := range res.Nodes {
		if n.NewInstance != "" {
			t.Errorf("node %s was replaced although the rollout was refused", n.ID)
		}
	}
	if st := q.status(); st[0].InstanceID != up.Nodes[0].InstanceID {
		t.Errorf("node 0 changed: %+v", st[0])
	}
	res, errOut, code = q.rollout("--force")
	if code != 0 || !res.Complete {
		t.Fatalf("rollout --force: exit %d, %+v\n%s", code, res, errOut)
	}
	for i := range q.ips {
		q.waitHealthy(i)
	}
	if res.Nodes[0].State != "unchanged" {
		t.Errorf("the healthy node was replaced: %+v", res.Nodes[0])
	}
}

// TestIntegrationRolloutKilled kills the CLI with SIGKILL at 10 random
// moments of rollouts and runs rollout again each time: it completes,
// with at most one node down at any time and every counter kept.
func TestIntegrationRolloutKilled(t *testing.T) {
	q := newQuickstart(t, fastRollout("300ms", "30s"))
	defer q.downForce()
	q.up()
	full := time.Duration(0)
	p := startPoller(q)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	counters := map[int]int{}
	for i := range q.ips {
		counters[i] = q.counter(i)
	}
	for round := range 11 {
		q.setVersion("v" + strconv.Itoa(round+2))
		if round == 0 {
			// measure one uninterrupted rollout to pick the moments from
			start := time.Now()
			if _, errOut, code := q.rollout(); code != 0 {
				t.Fatalf("rollout: exit %d\n%s", code, errOut)
			}
			full = time.Since(start)
			t.Logf("an uninterrupted rollout of 3 nodes took %s", full.Round(time.Millisecond))
			continue
		}
		after := time.Duration(rng.Float64() * float64(full))
		cmd := q.command(context.Background(), "cluster", "rollout", "--yes")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		t.Logf("round %d: killed after %s at: %s", round, after.Round(time.Millisecond), lines[len(lines)-1])
		res, errOut, code := q.rollout()
		if code != 0 || !res.Complete {
			t.Fatalf("round %d (killed after %s): the next rollout: exit %d, %+v\n%s\nkilled run:\n%s", round, after, code, res, errOut, out.String())
		}
		want := "v" + strconv.Itoa(round+2)
		for i := range q.ips {
			if v := q.version(i); v != want {
				t.Errorf("round %d: node %d reports %q, want %q", round, i, v, want)
			}
			c := q.counter(i)
			if c <= counters[i] {
				t.Errorf("round %d: node %d counter %d, was %d: its data volume was not kept", round, i, c, counters[i])
			}
			counters[i] = c
		}
		if st := q.status(); len(st) != 3 {
			t.Errorf("round %d: %d status rows, want 3 (no duplicates): %+v", round, len(st), st)
		}
	}
	maxDown, polls := p.done()
	t.Logf("%d polls, at most %d node(s) down at once", polls, maxDown)
	if maxDown > 1 {
		t.Errorf("the poller saw %d nodes down at once across the kills", maxDown)
	}
}

// TestIntegrationRolloutCommands: rollout.order_command orders the
// nodes, hooks.before_node and after_node run around each with the node
// in their environment, and health.command gates each new node (run with
// NODE_IP and NODE_ID, in the project directory). In cloud-compose.yml a
// command's own variables are written $$VAR: $VAR is interpolated when
// the file is read.
func TestIntegrationRolloutCommands(t *testing.T) {
	q := newQuickstart(t, fastRollout("200ms", "20s"))
	defer q.downForce()
	q.up()
	path := filepath.Join(q.dir, "cloud-compose.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "    path: /health\n",
		"    path: /health\n    command: 'echo \"health $$NODE_ID $$NODE_IP\" >> log; curl -fsS http://$$NODE_IP:8080/health >/dev/null'\n", 1)
	src = strings.Replace(src, "  rollout:\n", `  rollout:
    order_command: 'echo "order $$NODE_IDS|$$ROLLOUT_NODES" >> log; echo 2; echo 0'
    hooks:
      before_node: 'echo "before $$NODE_ID $$NODE_IP $$INSTANCE_ID $$GENERATION" >> log'
      after_node: 'echo "after $$NODE_ID $$INSTANCE_ID $$GENERATION" >> log'
`, 1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	q.setVersion("2")
	res, errOut, code := q.rollout()
	if code != 0 || !res.Complete {
		t.Fatalf("rollout: exit %d %+v\n%s", code, res, errOut)
	}
	logb, err := os.ReadFile(filepath.Join(q.dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	inGate := "" // the node between its before and after hooks
	gated := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(logb)), "\n") {
		f := strings.Fields(l)
		switch f[0] {
		case "order":
			if l != "order 0 1 2|0 1 2" {
				t.Errorf("order_command's environment: %q", l)
			}
			steps = append(steps, "order")
		case "before", "after":
			steps = append(steps, f[0]+f[1])
			n, _ := strconv.Atoi(f[1])
			node := res.Nodes[n]
			inst := node.NewInstance
			if f[0] == "before" {
				inst = node.OldInstance
				if f[2] != q.ips[n] {
					t.Errorf("before_node of %d: NODE_IP %s", n, f[2])
				}
				f = append(f[:2], f[3:]...)
			}
			if len(f) != 4 || f[2] != inst || f[3] != "2" {
				t.Errorf("%s: want instance %s generation 2", l, inst)
			}
		case "health":
			n, _ := strconv.Atoi(f[1])
			if f[2] != q.ips[n] {
				t.Errorf("health command of node %d: NODE_IP %s", n, f[2])
			}
			if inGate != "" {
				if f[1] != inGate {
					t.Errorf("node %s probed while node %s was in its gate", f[1], inGate)
				}
				gated[f[1]] = true
			}
		}
		switch f[0] {
		case "before":
			inGate = f[1]
		case "after":
			inGate = ""
		}
	}
	// the quorum checks before each batch probe every node too; between a
	// node's hooks only its own gate runs
	if got, want := strings.Join(steps, " "), "order before2 after2 before0 after0 before1 after1"; got != want {
		t.Errorf("steps %s, want %s\nlog:\n%s", got, want, logb)
	}
	if len(gated) != 3 {
		t.Errorf("health.command gated nodes %v, want all 3\nlog:\n%s", gated, logb)
	}
}
