package local

import (
	"context"
	"fmt"
	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// binary is the cloud-compose binary the tests' supervisors run.
var binary string

func TestMain(m *testing.M) {
	testbin.Main(m, func(b string) {
		binary = b
		os.Setenv(EnvSelf, b)
	})
}

// harness is one test's private local cloud: its own store directory and
// loopback network, and a cleanup that kills whatever is left of it.
type harness struct {
	t    *testing.T
	dir  string
	net  string // "127.A.B."
	port int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts real processes")
	}
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	h := &harness{t: t, dir: dir, net: fmt.Sprintf("127.%d.%d.", 100+rand.IntN(150), rand.IntN(256)), port: 18080}
	t.Cleanup(func() {
		if pids := testbin.KillAll(dir); len(pids) > 0 {
			t.Errorf("processes left running after the test (killed): %v", pids)
		}
	})
	return h
}

func (h *harness) ip(i int) string { return h.net + strconv.Itoa(11+i) }

func (h *harness) url(i int, path string) string {
	return fmt.Sprintf("http://%s:%d%s", h.ip(i), h.port, path)
}

// demoScript is the quickstart's boot script, on the harness's port.
func (h *harness) demoScript() string {
	return fmt.Sprintf(`#!/bin/bash
set -eu
echo "booting node $NODE_ID of $CLUSTER_NAME on $INSTANCE_IP"
exec "$CLOUD_COMPOSE_BIN" __demo-service --addr "$INSTANCE_IP:%d" --data "$VOLUME_DATA" --node "$NODE_ID"
`, h.port)
}

// cluster returns a cluster of n nodes with a kept `data` volume and a
// deleted `scratch` volume; extra is added to the local section.
func (h *harness) cluster(name string, n int, extra string) *config.Cluster {
	h.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "cluster:\n  name: %s\n  search_path: [templates]\n  local:\n", name)
	b.WriteString(extra)
	b.WriteString(`    volumes:
      - name: data
        size: 1G
        mount: /data
        delete_on_termination: false
      - name: scratch
        mount: /scratch
    nodes:
`)
	for i := range n {
		fmt.Fprintf(&b, "      - id: %d\n        ip: %s\n", i+1, h.ip(i))
	}
	return parseCluster(h.t, b.String())
}

func parseCluster(t *testing.T, src string) *config.Cluster {
	t.Helper()
	doc, err := config.Parse("cloud-compose.yml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadCluster(doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return c
}

func (h *harness) open(c *config.Cluster, grace time.Duration) *localProvider {
	h.t.Helper()
	p, err := provider.Open(context.Background(), c, provider.Options{Grace: grace})
	if err != nil {
		h.t.Fatal(err)
	}
	return p.(*localProvider)
}

// secretToken is a value no file of the store may hold once the instance
// that had it in its environment is terminated.
const secretToken = "tok-3c9e1f7a5b-never-left-behind"

// greeting is the `environment:` the tests' nodes get.
var greeting = []config.KeyValue{{Key: "GREETING", Value: "hello"}, {Key: "SECRET_TOKEN", Value: secretToken}}

// resolve resolves c as the engine does before a launch: observed
// instances, then Resolve, without checks.
func resolve(ctx context.Context, t *testing.T, p *localProvider, c *config.Cluster, opts provider.UpOptions) provider.Resolution {
	t.Helper()
	id := provider.ClusterID{Name: c.Name}
	observed, err := p.Instances(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Resolve(ctx, id, observed, provider.ResolveOptions{UpOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// launchSpec is node n's launch spec from res, as the engine builds it.
func launchSpec(p *localProvider, c *config.Cluster, res provider.Resolution, n config.Node, script string) provider.LaunchSpec {
	return provider.LaunchSpec{Cluster: provider.ClusterID{Name: c.Name}, Node: n,
		Spec: p.Spec(n, res, script, greeting), Generation: "g1"}
}

// specFor resolves c and returns node n's launch spec for script.
func specFor(t *testing.T, p *localProvider, c *config.Cluster, n config.Node, script string) provider.LaunchSpec {
	t.Helper()
	return launchSpec(p, c, resolve(context.Background(), t, p, c, provider.UpOptions{}), n, script)
}

// up launches every node of c at once, as the engine does (resolve with
// the checks, a spec per node, launch), and waits until they run.
func up(ctx context.Context, t *testing.T, p *localProvider, c *config.Cluster, script string, opts provider.UpOptions) []provider.Instance {
	t.Helper()
	id := provider.ClusterID{Name: c.Name}
	observed, err := p.Instances(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	nodes := c.Nodes()
	res, err := p.Resolve(ctx, id, observed, provider.ResolveOptions{UpOptions: opts, Launch: nodes, Check: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Blocked) > 0 {
		t.Fatalf("Resolve blocked nodes: %v", res.Blocked)
	}
	out := make([]provider.Instance, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		ls := launchSpec(p, c, res, n, script)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = p.Launch(ctx, ls)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	running, err := p.WaitRunning(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	return running
}

func get(url string) (int, string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitHealthy polls url until it answers 200.
func waitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, err := get(url)
		if err == nil && code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after 10s: %d %v", url, code, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitState polls until instance id has state want.
func waitState(ctx context.Context, t *testing.T, p *localProvider, id string, want provider.State) provider.Instance {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := p.record(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		in := r.instance()
		if in.State == want {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s is %s after 10s, want %s", id, in.State, want)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// processesUsing returns the live processes whose command line or
// environment mentions s, read from the process table (not the store).
func processesUsing(s string) []int { return testbin.Processes(s) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
