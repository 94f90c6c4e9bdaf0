package benchutil

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Nodes is the number of nodes of the quickstart.
const Nodes = 3

// Quickstart is a copy of examples/quickstart on its own loopback IPs
// (127.X.Y., X in 2–99: away from the quickstart tests' 127.100–249 and
// the example's own 127.0.0.) with its own local store (as
// examples/quickstart's tests do).
type Quickstart struct {
	Name            string
	Bin, Dir, Store string
	Prefix          string        // the nodes' IP prefix, "127.X.Y."
	IPs             []string      // the nodes'
	Env             []string      // the CLI's environment
	Timeout         time.Duration // the longest a CLI command may run, 0: no limit
}

// Edit changes the copy's cloud-compose.yml (already on the copy's IP
// prefix) and templates/cluster.sh before they are written.
type Edit func(cfg, script string) (string, string, error)

// New writes a copy of root's examples/quickstart to tmp/name/quickstart
// (its store: tmp/name/store), changed by edits in order, for the
// cloud-compose binary bin.
func New(root, tmp, bin, name string, edits ...Edit) (*Quickstart, error) {
	base := filepath.Join(tmp, name)
	q := &Quickstart{Name: name, Bin: bin, Dir: filepath.Join(base, "quickstart"), Store: filepath.Join(base, "store")}
	cfg, err := os.ReadFile(filepath.Join(root, "examples", "quickstart", "cloud-compose.yml"))
	if err != nil {
		return nil, err
	}
	script, err := os.ReadFile(filepath.Join(root, "examples", "quickstart", "templates", "cluster.sh"))
	if err != nil {
		return nil, err
	}
	q.Prefix = fmt.Sprintf("127.%d.%d.", 2+rand.IntN(98), rand.IntN(256))
	for i := range Nodes {
		q.IPs = append(q.IPs, q.Prefix+strconv.Itoa(11+i))
	}
	src, sh := strings.ReplaceAll(string(cfg), "127.0.0.", q.Prefix), string(script)
	for _, edit := range edits {
		if src, sh, err = edit(src, sh); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(q.Dir, "templates"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(q.Dir, "cloud-compose.yml"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(q.Dir, "templates", "cluster.sh"), []byte(sh), 0o644); err != nil {
		return nil, err
	}
	q.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NO_COLOR=1",
		"CLOUD_COMPOSE_LOCAL_DIR=" + q.Store, "CLOUD_COMPOSE_SELF=" + bin}
	if t := os.Getenv("TMPDIR"); t != "" {
		q.Env = append(q.Env, "TMPDIR="+t)
	}
	return q, nil
}

// CLI runs the binary on the copy (see Run), within q.Timeout if set.
func (q *Quickstart) CLI(args ...string) (string, string, time.Duration, error) {
	ctx := context.Background()
	if q.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.Timeout)
		defer cancel()
	}
	return RunContext(ctx, q.Dir, q.Env, append([]string{q.Bin, "-C", q.Dir}, args...))
}

// SetVersion rewrites VERSION in the project's environment.
func (q *Quickstart) SetVersion(v string) error {
	path := filepath.Join(q.Dir, "cloud-compose.yml")
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

// HTTP is the client for the nodes' (and proxies') health checks: 1 s at
// most a request.
var HTTP = &http.Client{Timeout: time.Second}

// Version is what node i's /health reports, "" when it does not answer 200.
func (q *Quickstart) Version(i int) string {
	resp, err := HTTP.Get("http://" + q.IPs[i] + ":8080/health")
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

// WaitVersion waits until every node answers version v.
func (q *Quickstart) WaitVersion(v string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var bad []string
		for i := range q.IPs {
			if got := q.Version(i); got != v {
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
