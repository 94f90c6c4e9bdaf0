package local

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// lbAddr is the harness's load balancer address: .10 of its network, next
// to the nodes' .11, .12, ...
func (h *harness) lbAddr() string { return h.net + "10:" + strconv.Itoa(h.port) }

// lbCluster is a cluster with a load balancer and n nodes (a kept data
// volume, for the demo service), health checked on GET /health; extra is
// added to the cluster's top level.
func (h *harness) lbCluster(name string, n int, extra string) *config.Cluster {
	h.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `cluster:
  name: %s
  search_path: [templates]
  health: {port: %d, path: /health}
  load_balancer: {listen: "%s", drain: 2s}
%s  local:
    volumes:
      - {name: data, size: 1G, mount: /data, delete_on_termination: false}
    nodes:
`, name, h.port, h.lbAddr(), extra)
	for i := range n {
		fmt.Fprintf(&b, "      - id: %d\n        ip: %s\n", i+1, h.ip(i))
	}
	return parseCluster(h.t, b.String())
}

// nodeServer is a small HTTP server on node i's IP and the harness's port
// (standing in for a node): GET / answers "server N", /slow after 300ms,
// /health 200.
func (h *harness) nodeServer(i int) provider.Instance {
	h.t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(h.ip(i), strconv.Itoa(h.port)))
	if err != nil {
		h.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintf(w, "server %d", i)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "server %d", i) })
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	h.t.Cleanup(func() { _ = srv.Close() })
	return provider.Instance{ID: fmt.Sprintf("i-server%d", i), NodeID: strconv.Itoa(i + 1), IP: h.ip(i)}
}

func lbTargets(t *testing.T, st provider.LBStatus) []string {
	t.Helper()
	var out []string
	for _, tg := range st.Targets {
		out = append(out, tg.Address+" "+tg.State)
	}
	return out
}

func onePID(t *testing.T, dir string) int {
	t.Helper()
	pids := proxyProcesses(dir)
	if len(pids) != 1 {
		t.Fatalf("proxy processes of %s: %v, want one", dir, pids)
	}
	return pids[0]
}

func TestIntegrationLoadBalancer(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.lbCluster("lbt", 2, "")
	p := h.open(c, time.Second)
	id := provider.ClusterID{Name: "lbt"}
	if !p.LoadBalancerEnabled() {
		t.Fatal("LoadBalancerEnabled = false with load_balancer.listen")
	}
	if st, err := p.LoadBalancerStatus(ctx, id); err != nil || st != nil {
		t.Fatalf("status before Ensure = %+v, %v; want nil", st, err)
	}

	st, err := p.EnsureLoadBalancer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://" + h.lbAddr() + "/"; st.Address != want || st.State != LBRunning || len(st.Targets) != 0 {
		t.Fatalf("Ensure = %+v, want %s running without targets", st, want)
	}
	dir, _ := p.lbDir(id)
	pid := onePID(t, dir)
	if _, err := p.EnsureLoadBalancer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if again := onePID(t, dir); again != pid {
		t.Fatalf("second Ensure started another proxy: %d, was %d", again, pid)
	}
	front := "http://" + h.lbAddr()
	if code, _, _ := get(front + "/"); code != http.StatusServiceUnavailable {
		t.Fatalf("GET through a load balancer without targets: %d, want 503", code)
	}

	s0, s1 := h.nodeServer(0), h.nodeServer(1)
	for _, in := range []provider.Instance{s0, s1, s0} { // registering twice is a no-op
		if err := p.Register(ctx, id, in); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for range 10 {
		code, body, err := get(front + "/")
		if err != nil || code != 200 {
			t.Fatalf("GET through the load balancer: %d %v", code, err)
		}
		seen[body]++
	}
	if seen["server 0"] != 5 || seen["server 1"] != 5 {
		t.Fatalf("answers through the load balancer: %v, want 5 from each server", seen)
	}

	// Killed: Ensure starts it again, with its targets.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, dir)
	if st, err := p.LoadBalancerStatus(ctx, id); err != nil || st != nil {
		t.Fatalf("status of a killed proxy = %+v, %v; want nil", st, err)
	}
	st, err = p.EnsureLoadBalancer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if onePID(t, dir) == pid {
		t.Fatal("Ensure after SIGKILL did not start a new proxy")
	}
	want := []string{s0.IP + ":" + strconv.Itoa(h.port) + " healthy", s1.IP + ":" + strconv.Itoa(h.port) + " healthy"}
	if got := lbTargets(t, st); !slices.Equal(got, want) {
		t.Fatalf("targets after the proxy was killed and started again: %v, want %v", got, want)
	}
	if code, _, err := get(front + "/"); err != nil || code != 200 {
		t.Fatalf("GET through the restarted load balancer: %d %v", code, err)
	}

	// Deregister drains: the request in flight ends first.
	slow := make(chan string, 2)
	for range 2 {
		go func() {
			code, body, err := get(front + "/slow")
			slow <- fmt.Sprintf("%d %s %v", code, body, err)
		}()
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := p.Deregister(ctx, id, s0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("Deregister returned after %s, before the request in flight on it ended", d)
	}
	for range 2 {
		if got := <-slow; !strings.HasPrefix(got, "200 server") {
			t.Fatalf("slow request during drain: %s", got)
		}
	}
	if err := p.Deregister(ctx, id, s0); err != nil { // unknown: a no-op
		t.Fatal(err)
	}
	for range 4 {
		if _, body, err := get(front + "/"); err != nil || body != "server 1" {
			t.Fatalf("after deregistering server 0: %q %v, want server 1", body, err)
		}
	}
	stp, err := p.LoadBalancerStatus(ctx, id)
	if err != nil || stp == nil {
		t.Fatalf("status = %v, %v", stp, err)
	}
	if got := lbTargets(t, *stp); !slices.Equal(got, want[1:]) {
		t.Fatalf("status targets %v, want %v", got, want[1:])
	}

	// Another health check in the config: the proxy is started again.
	c2 := h.lbCluster("lbt", 2, "")
	c2.Health.Path = "/"
	p2 := h.open(c2, time.Second)
	if _, err := p2.EnsureLoadBalancer(ctx, id); err != nil {
		t.Fatal(err)
	}
	pid = onePID(t, dir)
	if args := proxyArgsOf(pid); !slices.Contains(args, "/") {
		t.Fatalf("proxy after a config change runs with %v, want --health-path /", args)
	}

	if err := p.RemoveLoadBalancer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if pids := testbin.Processes(dir); len(pids) > 0 {
		t.Fatalf("processes left after RemoveLoadBalancer: %v", pids)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("load balancer directory left: %v", err)
	}
	if err := p.RemoveLoadBalancer(ctx, id); err != nil {
		t.Fatalf("removing it again: %v", err)
	}
	// Deregistering from a load balancer that is gone starts nothing.
	if err := p.Deregister(ctx, id, s1); err != nil || len(proxyProcesses(dir)) > 0 {
		t.Fatalf("Deregister without a load balancer: %v, processes %v", err, proxyProcesses(dir))
	}
}

func waitGone(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(proxyProcesses(dir)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("proxy of %s still runs", dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIntegrationLoadBalancerAddressInUse(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.lbCluster("lbbusy", 1, "")
	p := h.open(c, time.Second)
	ln, err := net.Listen("tcp", h.lbAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = p.EnsureLoadBalancer(ctx, provider.ClusterID{Name: "lbbusy"})
	var inUse *LBAddressInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, ErrAddressInUse) {
		t.Fatalf("Ensure on a held address: %v, want an LBAddressInUseError", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("error does not name the holder (this test, %d): %v", os.Getpid(), err)
	}
	t.Log(err)
}

// TestIntegrationLoadBalancerNodes puts real nodes (the demo service)
// behind the load balancer: status names each target's instance.
func TestIntegrationLoadBalancerNodes(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.lbCluster("lbnodes", 2, "")
	p := h.open(c, 2*time.Second)
	id := provider.ClusterID{Name: "lbnodes"}
	insts := up(ctx, t, p, c, h.demoScript(), provider.UpOptions{})
	for i := range insts {
		waitHealthy(t, h.url(i, "/health"))
	}
	if _, err := p.EnsureLoadBalancer(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		if err := p.Register(ctx, id, in); err != nil {
			t.Fatal(err)
		}
	}
	st, err := p.LoadBalancerStatus(ctx, id)
	if err != nil || st == nil {
		t.Fatalf("status = %v, %v", st, err)
	}
	var got []string
	for _, tg := range st.Targets {
		got = append(got, tg.InstanceID+" "+tg.Address+" "+tg.State)
	}
	var want []string
	for _, in := range insts {
		want = append(want, in.ID+" "+in.IP+":"+strconv.Itoa(h.port)+" healthy")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("status targets %v, want %v", got, want)
	}
	for i := range 4 {
		if _, body, err := get("http://" + h.lbAddr() + "/"); err != nil || !strings.HasPrefix(body, "node ") {
			t.Fatalf("request %d through the load balancer: %q %v", i, body, err)
		}
	}
	for _, in := range insts {
		if err := p.Deregister(ctx, id, in); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]string, len(insts))
	for i, in := range insts {
		ids[i] = in.ID
	}
	if err := p.Terminate(ctx, ids, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveLoadBalancer(ctx, id); err != nil {
		t.Fatal(err)
	}
	dir, _ := p.lbDir(id)
	if pids := testbin.Processes(dir); len(pids) > 0 {
		t.Fatalf("processes left after RemoveLoadBalancer: %v", pids)
	}
}
