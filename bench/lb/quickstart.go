package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

const nodes = 3

// quickstart is a copy of examples/quickstart on its own loopback IPs
// (127.X.Y., X in 2–99: away from the quickstart tests' 127.100–249 and
// the example's own 127.0.0.) with its own local store, as
// examples/quickstart's tests and bench/rollout do.
type quickstart struct {
	name            string
	bin, dir, store string
	prefix          string
	ips             []string // the nodes'
	lb              string   // load_balancer.listen, "" without one
	env             []string
}

// variant says how the copy differs from the example.
type variant struct {
	noLB   bool // the load_balancer: block removed
	abrupt bool // the service started with --abrupt
}

func newQuickstart(root, tmp, bin, name string, v variant) (*quickstart, error) {
	base := filepath.Join(tmp, name)
	q := &quickstart{name: name, bin: bin, dir: filepath.Join(base, "quickstart"), store: filepath.Join(base, "store")}
	cfg, err := os.ReadFile(filepath.Join(root, "examples", "quickstart", "cloud-compose.yml"))
	if err != nil {
		return nil, err
	}
	script, err := os.ReadFile(filepath.Join(root, "examples", "quickstart", "templates", "cluster.sh"))
	if err != nil {
		return nil, err
	}
	q.prefix = fmt.Sprintf("127.%d.%d.", 2+rand.IntN(98), rand.IntN(256))
	for i := range nodes {
		q.ips = append(q.ips, q.prefix+strconv.Itoa(11+i))
	}
	src := strings.ReplaceAll(string(cfg), "127.0.0.", q.prefix)
	if v.noLB {
		if src, err = removeBlock(src, "  load_balancer:"); err != nil {
			return nil, err
		}
	} else {
		m := regexp.MustCompile(`(?m)^\s+listen:\s*(\S+)`).FindStringSubmatch(src)
		if m == nil {
			return nil, fmt.Errorf("the quickstart config has no load_balancer.listen")
		}
		q.lb = m[1]
	}
	if v.abrupt {
		s := strings.Replace(string(script), `--version "${VERSION:-}"`, `--version "${VERSION:-}" --abrupt`, 1)
		if s == string(script) {
			return nil, fmt.Errorf("templates/cluster.sh does not pass --version")
		}
		script = []byte(s)
	}
	if err := os.MkdirAll(filepath.Join(q.dir, "templates"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(q.dir, "cloud-compose.yml"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(q.dir, "templates", "cluster.sh"), script, 0o644); err != nil {
		return nil, err
	}
	q.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NO_COLOR=1",
		"CLOUD_COMPOSE_LOCAL_DIR=" + q.store, "CLOUD_COMPOSE_SELF=" + bin}
	if t := os.Getenv("TMPDIR"); t != "" {
		q.env = append(q.env, "TMPDIR="+t)
	}
	return q, nil
}

// removeBlock removes the line that is exactly key (a mapping key) and
// the more indented lines under it.
func removeBlock(src, key string) (string, error) {
	lines := strings.Split(src, "\n")
	var out []string
	found, in := false, false
	indent := len(key) - len(strings.TrimLeft(key, " "))
	for _, l := range lines {
		if in {
			t := strings.TrimLeft(l, " ")
			if t == "" || len(l)-len(t) > indent {
				continue
			}
			in = false
		}
		if strings.TrimRight(l, " ") == key || strings.HasPrefix(l, key+" ") {
			found, in = true, true
			continue
		}
		out = append(out, l)
	}
	if !found {
		return "", fmt.Errorf("the quickstart config has no %q", strings.TrimSpace(key))
	}
	return strings.Join(out, "\n"), nil
}

// cli runs the binary on the copy (3 minutes at most).
func (q *quickstart) cli(args ...string) (string, string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, q.bin, append([]string{"-C", q.dir}, args...)...)
	cmd.Dir, cmd.Env = q.dir, q.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	return out.String(), errOut.String(), time.Since(start), err
}

// setVersion rewrites VERSION in the project's environment.
func (q *quickstart) setVersion(v string) error {
	path := filepath.Join(q.dir, "cloud-compose.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for i, l := range lines {
		if j := strings.Index(l, "VERSION:"); j >= 0 && strings.HasPrefix(strings.TrimSpace(l), "VERSION:") {
			lines[i], found = l[:j]+"VERSION: "+strconv.Quote(v), true
		}
	}
	if !found {
		return fmt.Errorf("the quickstart config has no VERSION")
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
}

var httpc = &http.Client{Timeout: time.Second}

// version is what node i's /health reports, "" when it does not answer 200.
func (q *quickstart) version(i int) string {
	resp, err := httpc.Get("http://" + q.ips[i] + ":8080/health")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return resp.Header.Get("X-Demo-Version")
}

// waitVersion waits until every node answers version v.
func (q *quickstart) waitVersion(v string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var bad []string
		for i := range q.ips {
			if got := q.version(i); got != v {
				bad = append(bad, fmt.Sprintf("node %d answers %q", i, got))
			}
		}
		if len(bad) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("want version %q on every node: %s", v, strings.Join(bad, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lbTargets is the proxy's view of its targets: "healthy" for each of the
// 3 nodes once they are registered and pass its checks.
func (q *quickstart) lbTargets() (map[string]string, error) {
	out, errOut, _, err := q.cli("-o", "json", "cluster", "status")
	if err != nil {
		return nil, fmt.Errorf("status: %v\n%s", err, errOut)
	}
	// Only the load balancer's targets are read: {"load_balancer":{"targets":[{"address":…,"state":…}]}}
	var st struct {
		LoadBalancer *struct {
			Targets []struct {
				Address string `json:"address"`
				State   string `json:"state"`
			} `json:"targets"`
		} `json:"load_balancer"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("status -o json: %w", err)
	}
	m := map[string]string{}
	if st.LoadBalancer != nil {
		for _, t := range st.LoadBalancer.Targets {
			m[t.Address] = t.State
		}
	}
	return m, nil
}

// up runs `cluster up` and waits for every node (and, with a load
// balancer, every target) to be healthy.
func (q *quickstart) up() error {
	_, errOut, d, err := q.cli("cluster", "up")
	if err != nil {
		return fmt.Errorf("%s: up: %v\n%s", q.name, err, errOut)
	}
	logf("%s: up in %s (nodes %s, load balancer %q, store %s)", q.name, ms(d), strings.Join(q.ips, " "), q.lb, q.store)
	if err := q.waitVersion("1", 10*time.Second); err != nil {
		return fmt.Errorf("%s: after up: %w", q.name, err)
	}
	return q.waitTargets(10 * time.Second)
}

// waitTargets waits until the load balancer has the 3 nodes as healthy
// targets (nothing to wait for without one).
func (q *quickstart) waitTargets(within time.Duration) error {
	if q.lb == "" {
		return nil
	}
	deadline := time.Now().Add(within)
	for {
		m, err := q.lbTargets()
		if err != nil {
			return err
		}
		healthy := 0
		for _, ip := range q.ips {
			if m[ip+":8080"] == "healthy" {
				healthy++
			}
		}
		if healthy == nodes && len(m) == nodes {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: load balancer targets %v, want the %d nodes healthy", q.name, m, nodes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// down takes the copy down and checks no process of it is left (by its
// store, in a process's command line or environment, and by its IP prefix
// in a command line, as `pgrep -f` would); any left is killed and
// reported.
func (q *quickstart) down() []string {
	var failed []string
	if _, errOut, _, err := q.cli("cluster", "down", "--force", "--yes"); err != nil {
		failed = append(failed, fmt.Sprintf("%s: down: %v\n%s", q.name, err, errOut))
	}
	time.Sleep(100 * time.Millisecond)
	if pids := testbin.KillAll(q.store); len(pids) > 0 {
		failed = append(failed, fmt.Sprintf("%s: processes of the store left after down (killed): %v", q.name, pids))
	}
	if pids := testbin.KillAll(" --addr " + q.prefix); len(pids) > 0 {
		failed = append(failed, fmt.Sprintf("%s: services on %s* left after down (killed): %v", q.name, q.prefix, pids))
	}
	if q.lb != "" {
		if pids := testbin.KillAll(" --listen " + q.lb); len(pids) > 0 {
			failed = append(failed, fmt.Sprintf("%s: load balancer on %s left after down (killed): %v", q.name, q.lb, pids))
		}
	}
	pattern := strings.ReplaceAll(q.prefix, ".", `\.`)
	out, err := exec.Command("pgrep", "-af", pattern).Output()
	if err == nil && len(bytes.TrimSpace(out)) > 0 {
		failed = append(failed, fmt.Sprintf("%s: pgrep -af %s finds processes after down:\n%s", q.name, pattern, out))
	} else {
		logf("%s: down; pgrep -af '%s': nothing left", q.name, pattern)
	}
	return failed
}

// lbPID is the proxy's process id (0 when unknown).
func (q *quickstart) lbPID() int {
	matches, _ := filepath.Glob(filepath.Join(q.store, "lbs", "*", "proxy.pid"))
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return pid
		}
	}
	return 0
}

// decodeRollout decodes `cluster rollout -o json` and checks the rollout
// completed with every node done and timed.
func decodeRollout(out string) (*cluster.RolloutResult, error) {
	var res cluster.RolloutResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return nil, fmt.Errorf("rollout -o json: %w\n%s", err, out)
	}
	if !res.Complete || len(res.Nodes) != nodes {
		return &res, fmt.Errorf("rollout not complete (%d nodes): %s", len(res.Nodes), out)
	}
	for _, nd := range res.Nodes {
		if nd.State != cluster.StateDone || nd.Timings == nil {
			return &res, fmt.Errorf("node %s: state %s, timings %v", nd.ID, nd.State, nd.Timings)
		}
	}
	return &res, nil
}
