package quickstart_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// load sends requests through the load balancer at rate requests a second
// from several workers until stop, counting answers that are not 200: GET /
// and, one in four, POST /work?ms=150 — slow and not idempotent, so the
// proxy cannot send it again elsewhere: it succeeds only if the node it
// reached is not stopped under it (drained first).
type load struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	firstErrs    []string
	stop         chan struct{}
	wg           sync.WaitGroup
}

func startLoad(url string, rate int) *load {
	l := &load{stop: make(chan struct{})}
	const workers = 8
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	every := time.Duration(workers) * time.Second / time.Duration(rate)
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-t.C:
				}
				l.sent.Add(1)
				var resp *http.Response
				var err error
				if w%4 == 0 {
					resp, err = client.Post(url+"work?ms=150", "text/plain", nil)
				} else {
					resp, err = client.Get(url)
				}
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("HTTP %s", resp.Status)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.firstErrs) < 5 {
						l.firstErrs = append(l.firstErrs, time.Now().Format("15:04:05.000")+" "+err.Error())
					}
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

func (l *load) done(t *testing.T, what string, d time.Duration) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	sent, failed := l.sent.Load(), l.failed.Load()
	t.Logf("%s: %d requests in %s (%.0f/s), %d failed", what, sent, d.Round(time.Millisecond), float64(sent)/d.Seconds(), failed)
	if failed > 0 {
		t.Errorf("%s: %d of %d requests failed: %v", what, failed, sent, l.firstErrs)
	}
	if rate := float64(sent) / d.Seconds(); rate < 200 {
		t.Errorf("%s: only %.0f requests/s", what, rate)
	}
}

// TestIntegrationLoadBalancerZeroFailedRequests: 200+ requests/s through
// the quickstart's load balancer fail none while a rollout replaces the 3
// nodes, while a rollback does, and while `up` adds a fourth node.
func TestIntegrationLoadBalancerZeroFailedRequests(t *testing.T) {
	q := newQuickstart(t, fastRollout("500ms", "30s"))
	defer q.downForce()
	q.abruptService()
	up := q.must("cluster", "up")
	lbAddr := q.lbAddr()
	if !strings.Contains(up, "load balancer: http://"+lbAddr+"/ (3 target(s))") {
		t.Errorf("up does not print the load balancer's URL http://%s/:\n%s", lbAddr, up)
	}
	url := "http://" + lbAddr + "/"
	if resp, err := http.Get(url); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v", url, err)
	}

	q.setVersion("2")
	start := time.Now()
	l := startLoad(url, 300)
	res, errOut, code := q.rollout()
	l.done(t, "rollout", time.Since(start))
	if code != 0 || !res.Complete {
		t.Fatalf("rollout: exit %d %+v\n%s", code, res, errOut)
	}
	if !strings.Contains(errOut, ": draining ") {
		t.Errorf("the rollout did not drain the nodes:\n%s", errOut)
	}

	start = time.Now()
	l = startLoad(url, 300)
	out, errOut, code := q.run("cluster", "rollback", "--yes")
	l.done(t, "rollback", time.Since(start))
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errOut)
	}

	// a fourth node joins
	path := filepath.Join(q.dir, "cloud-compose.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	prefix := q.ips[0][:strings.LastIndex(q.ips[0], ".")+1]
	src := strings.Replace(string(b), "      - id: 2\n        ip: "+q.ips[2]+"\n", "      - id: 2\n        ip: "+q.ips[2]+"\n      - id: 3\n        ip: "+prefix+"14\n", 1)
	if src == string(b) {
		t.Fatal("could not add a node to the config")
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	l = startLoad(url, 300)
	time.Sleep(300 * time.Millisecond)
	q.must("cluster", "up")
	time.Sleep(300 * time.Millisecond)
	l.done(t, "up adding a node", time.Since(start))
	st := q.must("cluster", "status")
	if !strings.Contains(st, "load balancer http://"+lbAddr+"/: running, 4 target(s)") {
		t.Errorf("status after adding a node:\n%s", st)
	}

	// the proxy killed: status says so, up starts it again with its targets
	pids := q.processes("__lb-proxy --dir " + q.store)
	if len(pids) != 1 {
		t.Fatalf("load balancer processes: %v", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(q.processes("__lb-proxy --dir "+q.store)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := q.must("cluster", "status"); !strings.Contains(st, "load balancer") || strings.Contains(st, ": running,") {
		t.Errorf("status with the proxy killed:\n%s", st)
	}
	if up := q.must("cluster", "up"); !strings.Contains(up, "load balancer: http://"+lbAddr+"/ (4 target(s))") {
		t.Errorf("up after the proxy died:\n%s", up)
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET %s after up restarted the proxy: %v", url, err)
	}
}

// abruptService makes the boot script start the service with --abrupt:
// terminated, it cuts the requests in flight, as many services do, so
// only draining before terminating keeps them from failing.
func (q *quickstart) abruptService() {
	q.t.Helper()
	path := filepath.Join(q.dir, "templates", "cluster.sh")
	b, err := os.ReadFile(path)
	if err != nil {
		q.t.Fatal(err)
	}
	s := strings.Replace(string(b), `--version "${VERSION:-}"`, `--version "${VERSION:-}" --abrupt`, 1)
	if s == string(b) {
		q.t.Fatal("cluster.sh does not pass --version")
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		q.t.Fatal(err)
	}
}

// lbAddr is the load balancer's address in the project's config.
func (q *quickstart) lbAddr() string {
	q.t.Helper()
	b, err := os.ReadFile(filepath.Join(q.dir, "cloud-compose.yml"))
	if err != nil {
		q.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "listen:"); ok {
			return strings.Fields(v)[0]
		}
	}
	q.t.Fatal("the quickstart has no load_balancer.listen")
	return ""
}

// TestIntegrationLoadBalancerAddressTaken: when another process holds
// load_balancer.listen, up fails before launching anything, naming it;
// down --no-wait leaves no proxy behind.
func TestIntegrationLoadBalancerAddressTaken(t *testing.T) {
	q := newQuickstart(t, nil)
	defer q.downForce()
	ln, err := net.Listen("tcp", q.lbAddr())
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := q.run("cluster", "up")
	ln.Close()
	if code != 1 || !strings.Contains(errOut, q.lbAddr()) || !strings.Contains(errOut, "in use") {
		t.Fatalf("up with the address taken: exit %d\n%s%s", code, out, errOut)
	}
	for _, r := range q.status() {
		if r.InstanceID != "" {
			t.Errorf("up launched %s although the load balancer could not start", r.InstanceID)
		}
	}
	q.must("cluster", "up")
	q.must("cluster", "down", "--force", "--yes", "--no-wait")
	deadline := time.Now().Add(20 * time.Second)
	for len(q.processes("__lb-proxy --dir "+q.store)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p := q.processes("__lb-proxy --dir " + q.store); len(p) > 0 {
		t.Errorf("down --no-wait left the load balancer running: %v", p)
	}
}
