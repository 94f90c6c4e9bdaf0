package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cloud-compose/cloud-compose-go/bench/internal/benchutil"
	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

const nodes = benchutil.Nodes

// quickstart is a copy of examples/quickstart (benchutil.Quickstart) as
// one of this benchmark's cases has it.
type quickstart struct {
	*benchutil.Quickstart
	lb string // load_balancer.listen, "" without one
}

// variant says how the copy differs from the example.
type variant struct {
	noLB   bool // the load_balancer: block removed
	abrupt bool // the service started with --abrupt
}

func newQuickstart(root, tmp, bin, name string, v variant) (*quickstart, error) {
	q := &quickstart{}
	edit := func(cfg, script string) (string, string, error) {
		if v.noLB {
			var err error
			if cfg, err = removeBlock(cfg, "  load_balancer:"); err != nil {
				return "", "", err
			}
		} else {
			m := regexp.MustCompile(`(?m)^\s+listen:\s*(\S+)`).FindStringSubmatch(cfg)
			if m == nil {
				return "", "", fmt.Errorf("the quickstart config has no load_balancer.listen")
			}
			q.lb = m[1]
		}
		if v.abrupt {
			s := strings.Replace(script, `--version "${VERSION:-}"`, `--version "${VERSION:-}" --abrupt`, 1)
			if s == script {
				return "", "", fmt.Errorf("templates/cluster.sh does not pass --version")
			}
			script = s
		}
		return cfg, script, nil
	}
	c, err := benchutil.New(root, tmp, bin, name, edit)
	if err != nil {
		return nil, err
	}
	c.Timeout = 3 * time.Minute // a CLI command's
	q.Quickstart = c
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

// lbTargets is the proxy's view of its targets: "healthy" for each of the
// 3 nodes once they are registered and pass its checks.
func (q *quickstart) lbTargets() (map[string]string, error) {
	out, errOut, _, err := q.CLI("-o", "json", "cluster", "status")
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
	_, errOut, d, err := q.CLI("cluster", "up")
	if err != nil {
		return fmt.Errorf("%s: up: %v\n%s", q.Name, err, errOut)
	}
	logf("%s: up in %s (nodes %s, load balancer %q, store %s)", q.Name, ms(d), strings.Join(q.IPs, " "), q.lb, q.Store)
	if err := q.WaitVersion("1", 10*time.Second); err != nil {
		return fmt.Errorf("%s: after up: %w", q.Name, err)
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
		for _, ip := range q.IPs {
			if m[ip+":8080"] == "healthy" {
				healthy++
			}
		}
		if healthy == nodes && len(m) == nodes {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: load balancer targets %v, want the %d nodes healthy", q.Name, m, nodes)
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
	if _, errOut, _, err := q.CLI("cluster", "down", "--force", "--yes"); err != nil {
		failed = append(failed, fmt.Sprintf("%s: down: %v\n%s", q.Name, err, errOut))
	}
	time.Sleep(100 * time.Millisecond)
	if pids := testbin.KillAll(q.Store); len(pids) > 0 {
		failed = append(failed, fmt.Sprintf("%s: processes of the store left after down (killed): %v", q.Name, pids))
	}
	if pids := testbin.KillAll(" --addr " + q.Prefix); len(pids) > 0 {
		failed = append(failed, fmt.Sprintf("%s: services on %s* left after down (killed): %v", q.Name, q.Prefix, pids))
	}
	if q.lb != "" {
		if pids := testbin.KillAll(" --listen " + q.lb); len(pids) > 0 {
			failed = append(failed, fmt.Sprintf("%s: load balancer on %s left after down (killed): %v", q.Name, q.lb, pids))
		}
	}
	pattern := strings.ReplaceAll(q.Prefix, ".", `\.`)
	out, err := exec.Command("pgrep", "-af", pattern).Output()
	if err == nil && len(bytes.TrimSpace(out)) > 0 {
		failed = append(failed, fmt.Sprintf("%s: pgrep -af %s finds processes after down:\n%s", q.Name, pattern, out))
	} else {
		logf("%s: down; pgrep -af '%s': nothing left", q.Name, pattern)
	}
	return failed
}

// lbPID is the proxy's process id (0 when unknown).
func (q *quickstart) lbPID() int {
	matches, _ := filepath.Glob(filepath.Join(q.Store, "lbs", "*", "proxy.pid"))
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
