// Package quickstart_test drives the quickstart through the cloud-compose
// binary, as a user would: up, curl, status, logs, failure, replacement,
// down. Each test runs a copy of the example on its own loopback addresses
// (so it cannot collide with a quickstart someone runs on 127.0.0.11-13)
// with its own local store.
package quickstart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	testbin.Main(m, func(b string) { binary = b })
}

// quickstart is a copy of the example with its own IPs and store.
type quickstart struct {
	t     *testing.T
	dir   string
	store string
	ips   []string
}

func newQuickstart(t *testing.T, edit func(string) string) *quickstart {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts real processes")
	}
	tmp := t.TempDir()
	q := &quickstart{t: t, dir: filepath.Join(tmp, "quickstart"), store: filepath.Join(tmp, "store")}
	cfg, err := os.ReadFile("cloud-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("127.%d.%d.", 100+rand.IntN(150), rand.IntN(256))
	src := strings.ReplaceAll(string(cfg), "127.0.0.", prefix)
	for i := range 3 {
		q.ips = append(q.ips, prefix+strconv.Itoa(11+i))
	}
	if edit != nil {
		src = edit(src)
	}
	if err := os.MkdirAll(filepath.Join(q.dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(q.dir, "cloud-compose.yml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// the environments, on the test's addresses too
	envs, _ := filepath.Glob(filepath.Join("environments", "*.yml"))
	for _, f := range envs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(q.dir, "environments"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(q.dir, f), []byte(strings.ReplaceAll(string(b), "127.0.0.", prefix)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"cluster.sh", "image.sh"} {
		script, err := os.ReadFile(filepath.Join("templates", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(q.dir, "templates", name), script, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if pids := testbin.KillAll(q.store); len(pids) > 0 {
			t.Errorf("processes left running after the test (killed): %v", pids)
		}
	})
	return q
}

func (q *quickstart) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, append([]string{"-C", q.dir}, args...)...)
	cmd.Env = append(os.Environ(), "CLOUD_COMPOSE_LOCAL_DIR="+q.store, "CLOUD_COMPOSE_SELF="+binary)
	return cmd
}

// run runs cloud-compose with args and returns stdout, stderr and the exit
// code.
func (q *quickstart) run(args ...string) (string, string, int) {
	q.t.Helper()
	return testbin.Run(q.t, binary, q.dir, []string{"CLOUD_COMPOSE_LOCAL_DIR=" + q.store, "CLOUD_COMPOSE_SELF=" + binary}, args...)
}

// must runs cloud-compose and fails the test unless it exits 0.
func (q *quickstart) must(args ...string) string {
	q.t.Helper()
	out, errOut, code := q.run(args...)
	if code != 0 {
		q.t.Fatalf("cloud-compose %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

type upJSON struct {
	Nodes []struct {
		ID         string `json:"id"`
		Action     string `json:"action"`
		InstanceID string `json:"instance_id"`
		IP         string `json:"ip"`
		URL        string `json:"url"`
	} `json:"nodes"`
}

func (q *quickstart) up(args ...string) upJSON {
	q.t.Helper()
	var res upJSON
	out := q.must(append([]string{"-o", "json", "cluster", "up"}, args...)...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		q.t.Fatalf("up -o json: %v\n%s", err, out)
	}
	for i, n := range res.Nodes {
		if n.InstanceID == "" || n.IP != q.ips[i] || n.URL != "http://"+q.ips[i]+":8080/" {
			q.t.Fatalf("up: node %d = %+v", i, n)
		}
	}
	return res
}

type statusRow struct {
	ID         string `json:"id"`
	InstanceID string `json:"instance_id"`
	State      string `json:"state"`
	IP         string `json:"ip"`
	ExitCode   *int   `json:"exit_code"`
	Orphan     bool   `json:"orphan"`
}

func (q *quickstart) status() []statusRow {
	q.t.Helper()
	var st struct{ Nodes []statusRow }
	out := q.must("-o", "json", "cluster", "status")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		q.t.Fatalf("status -o json: %v\n%s", err, out)
	}
	return st.Nodes
}

func (q *quickstart) get(i int, path string) (int, string) {
	q.t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + q.ips[i] + ":8080" + path)
	if err != nil {
		q.t.Fatalf("GET %s on node %d: %v", path, i, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitHealthy waits until node i answers /health (running is not yet
// listening).
func (q *quickstart) waitHealthy(i int) {
	q.t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get("http://" + q.ips[i] + ":8080/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			q.t.Fatalf("node %d not healthy after 10s: %v", i, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// processes lists live processes whose command line or environment
// mentions s: read from the process table, not from the store.
func (q *quickstart) processes(s string) []int { return testbin.Processes(s) }

func (q *quickstart) service(i int) []int { return q.processes("--addr " + q.ips[i] + ":8080") }

func (q *quickstart) downForce() {
	q.t.Helper()
	q.must("cluster", "down", "--force", "--yes")
	// an earlier `down --no-wait` may have left instances shutting down,
	// which this down finds nothing to wait for: they get a moment
	left := q.processes(q.store)
	for deadline := time.Now().Add(10 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = q.processes(q.store) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		q.t.Fatalf("processes of the cluster left after down --force: %v", left)
	}
}

func TestIntegrationQuickstart(t *testing.T) {
	q := newQuickstart(t, nil)
	start := time.Now()
	out := q.must("cluster", "up")
	t.Logf("quickstart up (3 nodes running and healthy) took %s", time.Since(start).Round(time.Millisecond))
	for i, ip := range q.ips {
		if !strings.Contains(out, "http://"+ip+":8080/") {
			t.Errorf("up does not print node %d's URL:\n%s", i, out)
		}
		if code, body := q.get(i, "/health"); code != 200 {
			t.Errorf("node %d /health = %d %q", i, code, body)
		}
	}
	first := q.status()
	for i, r := range first {
		if r.State != "running" || r.IP != q.ips[i] || r.ID != strconv.Itoa(i) {
			t.Fatalf("status row %d = %+v", i, r)
		}
	}

	// Re-running up changes nothing.
	for i, n := range q.up().Nodes {
		if n.Action != "unchanged" || n.InstanceID != first[i].InstanceID {
			t.Errorf("second up: node %d = %+v, want unchanged %s", i, n, first[i].InstanceID)
		}
	}

	q.get(0, "/")
	if _, body := q.get(0, "/"); body != "node 0: request 2\n" {
		t.Fatalf("node 0 answers %q", body)
	}

	// Kill node 0's service: status shows it failed.
	svc := q.service(0)
	if len(svc) != 1 {
		t.Fatalf("node 0's service processes: %v", svc)
	}
	if err := syscall.Kill(svc[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := q.status()[0]
		if r.State == "failed" {
			if r.ExitCode == nil || *r.ExitCode != 137 {
				t.Errorf("failed node 0: exit code %v, want 137", r.ExitCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 0 is %s 10s after its service was killed", r.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	text := q.must("cluster", "status")
	if !strings.Contains(text, "failed (exit 137)") {
		t.Errorf("status text does not show the failure:\n%s", text)
	}

	// up replaces it on the same IP, with its counter.
	res := q.up()
	if n := res.Nodes[0]; n.Action != "replaced" || n.InstanceID == first[0].InstanceID {
		t.Fatalf("up after the failure: node 0 = %+v", n)
	}
	for i := 1; i < 3; i++ {
		if res.Nodes[i].Action != "unchanged" {
			t.Errorf("up after the failure: node %d = %+v", i, res.Nodes[i])
		}
	}
	if _, body := q.get(0, "/"); body != "node 0: request 3\n" {
		t.Fatalf("replaced node 0 answers %q, want request 3", body)
	}

	logs, errOut, code := q.run("cluster", "logs", "0")
	if want := "node 0 of cluster quickstart booting on " + q.ips[0]; code != 0 || !strings.Contains(logs, want) {
		t.Errorf("logs 0: exit %d, lacks %q:\n%s%.300s", code, want, logs, errOut)
	} else {
		tail := q.must("cluster", "logs", "0", "--tail", "2")
		lines := strings.Split(strings.TrimSuffix(logs, "\n"), "\n")
		if want := strings.Join(lines[len(lines)-2:], "\n") + "\n"; tail != want {
			t.Errorf("logs 0 --tail 2 = %q, want %q", tail, want)
		}
	}

	// down is refused while protected, and nothing stops.
	out, errOut, code = q.run("cluster", "down", "--yes")
	if code != 1 || !strings.Contains(errOut, "protect") {
		t.Fatalf("down without --force: exit %d\n%s%s", code, out, errOut)
	}
	for i := range q.ips {
		if code, _ := q.get(i, "/health"); code != 200 {
			t.Fatalf("node %d down after a refused down", i)
		}
	}

	start = time.Now()
	q.downForce()
	t.Logf("down --force took %s", time.Since(start).Round(time.Millisecond))
	for i := range q.ips {
		if pids := q.processes(q.ips[i]); len(pids) > 0 {
			t.Errorf("processes on node %d's IP left: %v", i, pids)
		}
	}
	if st := q.status(); st[0].State != "missing" {
		t.Errorf("after down: %+v", st)
	}
	// The data volumes (delete_on_termination: false) are kept: the next up
	// gets them back.
	q.up()
	if _, body := q.get(0, "/"); body != "node 0: request 4\n" {
		t.Fatalf("node 0 after down and up answers %q, want request 4", body)
	}
	q.downForce()
}

func TestIntegrationQuickstartConcurrentUp(t *testing.T) {
	q := newQuickstart(t, nil)
	var wg sync.WaitGroup
	results := make([]string, 2)
	for k := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			out, err := q.command(ctx, "cluster", "up").CombinedOutput()
			results[k] = fmt.Sprintf("%v\n%s", err, out)
		}()
	}
	wg.Wait()
	t.Logf("two concurrent ups:\n%s\n%s", results[0], results[1])
	st := q.status()
	if len(st) != 3 {
		t.Fatalf("status has %d rows, want 3 (no orphans): %+v", len(st), st)
	}
	for i, r := range st {
		if r.State != "running" || r.Orphan {
			t.Errorf("node %d = %+v", i, r)
		}
		if n := len(q.service(i)); n != 1 {
			t.Errorf("node %d runs %d services", i, n)
		}
	}
	q.downForce()
}

func TestIntegrationQuickstartInterruptedUp(t *testing.T) {
	q := newQuickstart(t, nil)
	for _, after := range []time.Duration{5 * time.Millisecond, 25 * time.Millisecond, 60 * time.Millisecond} {
		cmd := q.command(context.Background(), "cluster", "up")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		_ = cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		t.Logf("up interrupted after %s: %v\n%s", after, err, out.String())

		// A node the interrupted up launched is left as it is (pending or
		// running): the next up counts it as live; it settles on its own.
		q.up()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := q.status()
			settled := len(st) == 3
			for _, r := range st {
				settled = settled && r.State == "running" && !r.Orphan
			}
			if settled {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: 10s after up: %+v", after, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for i := range q.ips {
			q.waitHealthy(i)
			if s := q.service(i); len(s) != 1 {
				t.Errorf("after %s: node %d runs %d services", after, i, len(s))
			}
		}
		q.downForce()
	}
}

func TestIntegrationQuickstartSnapshot(t *testing.T) {
	// With data volumes deleted on termination only a snapshot keeps the
	// counters.
	q := newQuickstart(t, func(s string) string {
		return strings.Replace(s, "delete_on_termination: false", "delete_on_termination: true", 1)
	})
	q.up()
	q.get(1, "/")
	q.get(1, "/")
	out := q.must("-o", "json", "cluster", "snapshot")
	var res struct {
		Snapshots []struct {
			ID   string `json:"id"`
			Node string `json:"node"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("snapshot -o json: %v\n%s", err, out)
	}
	snaps := res.Snapshots
	if len(snaps) != 3 || snaps[0].ID == "" {
		t.Fatalf("snapshot made %d snapshots, want 3:\n%s", len(snaps), out)
	}
	q.downForce()
	q.up()
	if _, body := q.get(1, "/"); body != "node 1: request 3\n" {
		t.Fatalf("restored node 1 answers %q, want request 3", body)
	}
	q.downForce()
	q.up("--no-use-snapshots")
	if _, body := q.get(1, "/"); body != "node 1: request 1\n" {
		t.Fatalf("node 1 without snapshots answers %q, want request 1", body)
	}
	q.downForce()
}
