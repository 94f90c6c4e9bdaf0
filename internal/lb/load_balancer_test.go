package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a target: an HTTP server on 127.0.0.1 that answers GET /
// with its name, GET /health with 200 (or 503 while failing), and
// GET /slow?d=500ms after d.
type backend struct {
	name    string
	srv     *httptest.Server
	addr    string
	failing atomic.Bool
	hits    atomic.Int64
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if b.failing.Load() {
			http.Error(w, "failing", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if d, err := time.ParseDuration(r.URL.Query().Get("d")); err == nil {
			time.Sleep(d)
		}
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("X-Backend", b.name)
		w.Header().Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		fmt.Fprint(w, b.name)
	})
	b.srv = httptest.NewServer(mux)
	b.addr = b.srv.Listener.Addr().String()
	t.Cleanup(b.srv.Close)
	return b
}

// testLog is a logger that writes to the test's log.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTestLB is a load balancer in front of an httptest server, checking
// /health every 50 ms.
func newTestLB(t *testing.T, interval time.Duration) (*LoadBalancer, string) {
	t.Helper()
	if interval == 0 {
		interval = 50 * time.Millisecond
	}
	lb, err := New(Options{Health: HealthCheck{Path: "/health", Interval: interval, Timeout: time.Second}, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(lb)
	t.Cleanup(func() {
		front.Close()
		lb.Close()
	})
	return lb, front.URL
}

func register(t *testing.T, lb *LoadBalancer, bs ...*backend) {
	t.Helper()
	for _, b := range bs {
		if _, err := lb.Register(context.Background(), b.addr, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// fetch GETs url and returns the status and body.
func fetch(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func TestRoundRobin(t *testing.T) {
	lb, url := newTestLB(t, 0)
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	register(t, lb, a, b, c)
	cl := client()
	var seq []string
	for range 30 {
		code, body, err := fetch(cl, url+"/")
		if err != nil || code != 200 {
			t.Fatalf("GET: %d %v", code, err)
		}
		seq = append(seq, body)
	}
	for i := 3; i < len(seq); i++ {
		if seq[i] != seq[i-3] {
			t.Fatalf("not round robin: %v", seq)
		}
	}
	for _, be := range []*backend{a, b, c} {
		if n := be.hits.Load(); n != 10 {
			t.Errorf("%s got %d requests, want 10 (%v)", be.name, n, seq)
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	lb, url := newTestLB(t, 0)
	a := newBackend(t, "a")
	register(t, lb, a)
	req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Seen-Forwarded-For"); got != "10.1.2.3, 127.0.0.1" {
		t.Errorf("X-Forwarded-For at the target = %q, want the client's with 127.0.0.1 appended", got)
	}
}

func TestNoTargetIs503(t *testing.T) {
	lb, url := newTestLB(t, 0)
	code, body, err := fetch(client(), url+"/")
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "no healthy target") {
		t.Fatalf("no targets: %d %q %v; want 503 no healthy target", code, body, err)
	}
	// a registered target that never passes is no better
	a := newBackend(t, "a")
	a.failing.Store(true)
	if _, err := lb.Register(context.Background(), a.addr, 200*time.Millisecond); !errors.Is(err, ErrNotHealthy) {
		t.Fatalf("Register of a failing target: %v, want ErrNotHealthy", err)
	}
	if code, _, _ := fetch(client(), url+"/"); code != http.StatusServiceUnavailable {
		t.Fatalf("only an unhealthy target: %d, want 503", code)
	}
	if ts := lb.Targets(); len(ts) != 1 || ts[0].State != StateUnhealthy {
		t.Fatalf("targets = %+v, want the one unhealthy target kept", ts)
	}
}

// waitState polls until target addr has state want.
func waitState(t *testing.T, lb *LoadBalancer, addr string, want State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, ts := range lb.Targets() {
			if ts.Address == addr && ts.State == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("target %s not %s after 5s: %+v", addr, want, lb.Targets())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFailingTargetIsTakenOutUntilItPasses(t *testing.T) {
	lb, url := newTestLB(t, 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	register(t, lb, a, b)
	cl := client()
	b.failing.Store(true)
	waitState(t, lb, b.addr, StateUnhealthy)
	before := b.hits.Load()
	for range 20 {
		if code, body, err := fetch(cl, url+"/"); err != nil || code != 200 || body != "a" {
			t.Fatalf("with b failing: %d %q %v, want a", code, body, err)
		}
	}
	if n := b.hits.Load() - before; n != 0 {
		t.Fatalf("failing target got %d requests", n)
	}
	b.failing.Store(false)
	waitState(t, lb, b.addr, StateHealthy)
	for range 4 {
		if _, _, err := fetch(cl, url+"/"); err != nil {
			t.Fatal(err)
		}
	}
	if b.hits.Load() == before {
		t.Fatal("target that passed again got no request")
	}
}

func TestDrainLetsRequestsInFlightFinish(t *testing.T) {
	lb, url := newTestLB(t, 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	register(t, lb, a)
	cl := client()

	slow := make(chan string, 1)
	start := time.Now()
	go func() {
		code, body, err := fetch(cl, url+"/slow?d=500ms")
		slow <- fmt.Sprintf("%d %s %v", code, body, err)
	}()
	waitInFlight(t, lb, a.addr, 1)
	register(t, lb, b)

	type result struct {
		res DrainResult
		err error
		at  time.Duration
	}
	drained := make(chan result, 1)
	go func() {
		res, err := lb.Deregister(context.Background(), a.addr, 5*time.Second)
		drained <- result{res, err, time.Since(start)}
	}()
	waitState(t, lb, a.addr, StateDraining)
	// new requests go elsewhere while a drains
	for range 10 {
		if code, body, err := fetch(cl, url+"/"); err != nil || code != 200 || body != "b" {
			t.Fatalf("while a drains: %d %q %v, want b", code, body, err)
		}
	}
	select {
	case r := <-drained:
		t.Fatalf("Deregister returned before the request in flight ended: %+v", r)
	default:
	}
	if got := <-slow; got != "200 a <nil>" {
		t.Fatalf("slow request on the draining target: %s, want 200 a", got)
	}
	r := <-drained
	if r.err != nil || !r.res.Drained || r.res.InFlightLeft != 0 {
		t.Fatalf("Deregister = %+v, %v; want drained", r.res, r.err)
	}
	if r.at < 500*time.Millisecond {
		t.Fatalf("Deregister returned after %s, before the 500ms request ended", r.at)
	}
	if ts := lb.Targets(); len(ts) != 1 || ts[0].Address != b.addr {
		t.Fatalf("targets after drain = %+v, want only b", ts)
	}
	// an unknown target is drained already
	if res, err := lb.Deregister(context.Background(), a.addr, time.Second); err != nil || !res.Drained {
		t.Fatalf("Deregister of an unknown target = %+v, %v", res, err)
	}
}

func waitInFlight(t *testing.T, lb *LoadBalancer, addr string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, ts := range lb.Targets() {
			if ts.Address == addr && ts.InFlight == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("target %s has not %d requests in flight after 5s: %+v", addr, n, lb.Targets())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDrainDeadline(t *testing.T) {
	lb, url := newTestLB(t, 0)
	a := newBackend(t, "a")
	register(t, lb, a)
	slow := make(chan string, 1)
	go func() {
		code, body, err := fetch(client(), url+"/slow?d=600ms")
		slow <- fmt.Sprintf("%d %s %v", code, body, err)
	}()
	waitInFlight(t, lb, a.addr, 1)
	start := time.Now()
	res, err := lb.Deregister(context.Background(), a.addr, 100*time.Millisecond)
	if err != nil || res.Drained || res.InFlightLeft != 1 {
		t.Fatalf("Deregister with a short drain = %+v, %v; want drained false, 1 left", res, err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Fatalf("Deregister took %s with drain 100ms", d)
	}
	// the request is not cut: it ends on the target it started on
	if got := <-slow; got != "200 a <nil>" {
		t.Fatalf("request that outlasted the drain: %s, want 200 a", got)
	}
}

func TestRetryOnDialError(t *testing.T) {
	// Health checks far apart: only the retry keeps requests from failing.
	lb, url := newTestLB(t, time.Hour)
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	register(t, lb, a, b, c)
	cl := client()
	for range 6 { // keep-alive connections to each
		if _, _, err := fetch(cl, url+"/"); err != nil {
			t.Fatal(err)
		}
	}
	b.srv.Listener.Close()
	b.srv.CloseClientConnections()
	failed := 0
	for range 60 {
		code, body, err := fetch(cl, url+"/")
		if err != nil || code != 200 || body == "b" {
			failed++
			t.Logf("GET: %d %q %v", code, body, err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of 60 requests failed with a target's listener closed", failed)
	}
	if st := statusOf(lb, b.addr); st.State != StateUnhealthy {
		t.Fatalf("refused target is %s, want unhealthy", st.State)
	}
	// A POST with a body is sent again too when the connection was
	// refused (nothing of it was sent): b, taken for healthy, is next.
	lb.mu.Lock()
	tb := lb.targets[b.addr]
	lb.next = 1
	lb.mu.Unlock()
	tb.setHealth(true, nil)
	resp, err := cl.Post(url+"/", "text/plain", strings.NewReader("payload"))
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "c" {
		t.Fatalf("POST to a refusing target: %v %v, want 200 from c", resp, err)
	}
	resp.Body.Close()
}

func statusOf(lb *LoadBalancer, addr string) TargetStatus {
	for _, ts := range lb.Targets() {
		if ts.Address == addr {
			return ts
		}
	}
	return TargetStatus{}
}

func TestRetryable(t *testing.T) {
	get, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	post, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
	read := &guardedBody{r: strings.NewReader("x")}
	read.n.Store(1)
	unread := &guardedBody{r: strings.NewReader("x")}
	for _, tc := range []struct {
		name string
		req  *http.Request
		body *guardedBody
		dial bool
		want bool
	}{
		{"GET refused", get, nil, true, true},
		{"GET reset", get, nil, false, true},
		{"POST refused", post, unread, true, true},
		{"POST refused, body read", post, read, true, false},
		{"POST reset", post, unread, false, false},
		{"POST without body reset", post, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryable(tc.req, tc.body, tc.dial); got != tc.want {
				t.Errorf("retryable = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBadAddress(t *testing.T) {
	lb, _ := newTestLB(t, 0)
	for _, a := range []string{"", "localhost:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:x"} {
		if _, err := lb.Register(context.Background(), a, 0); !errors.Is(err, ErrBadAddress) {
			t.Errorf("Register(%q) = %v, want ErrBadAddress", a, err)
		}
	}
}

// TestLoadWhileTargetsChange sends 200+ requests/s from several goroutines
// for 2 s while targets are registered, drained and deregistered one by
// one: no request fails.
func TestLoadWhileTargetsChange(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	lb, url := newTestLB(t, 0)
	bs := []*backend{newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c"), newBackend(t, "d")}
	register(t, lb, bs[0], bs[1])

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	cl := client()
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond) // 50/s per worker, 400/s in all
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				path := "/"
				if (w+i)%10 == 0 {
					path = "/slow?d=30ms"
				}
				code, _, err := fetch(cl, url+path)
				if err != nil || code != 200 {
					failed.Add(1)
					t.Logf("GET %s: %d %v", path, code, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	steps := []func() error{
		func() error { _, err := lb.Register(ctx, bs[2].addr, 5*time.Second); return err },
		func() error { return drain(lb, bs[0].addr) },
		func() error { _, err := lb.Register(ctx, bs[3].addr, 5*time.Second); return err },
		func() error { return drain(lb, bs[1].addr) },
		func() error { _, err := lb.Register(ctx, bs[0].addr, 5*time.Second); return err },
		func() error { return drain(lb, bs[2].addr) },
		func() error { return drain(lb, bs[3].addr) },
	}
	for _, step := range steps {
		time.Sleep(200 * time.Millisecond)
		if err := step(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	t.Logf("%d requests in 2s, %d failed; targets now %+v", ok.Load()+failed.Load(), failed.Load(), lb.Targets())
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed while targets changed", failed.Load())
	}
	if ok.Load() < 400 {
		t.Fatalf("only %d requests in 2s, want at least 400 (200/s)", ok.Load())
	}
}

func drain(lb *LoadBalancer, addr string) error {
	res, err := lb.Deregister(context.Background(), addr, 5*time.Second)
	if err == nil && !res.Drained {
		err = fmt.Errorf("%s not drained: %+v", addr, res)
	}
	return err
}

func TestConnectionsClosedAfterDrain(t *testing.T) {
	lb, url := newTestLB(t, 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	register(t, lb, a, b)
	cl := client()
	for range 4 {
		if _, _, err := fetch(cl, url+"/"); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns(lb, a.addr); n == 0 {
		t.Fatal("no keep-alive connection to a")
	}
	if err := drain(lb, a.addr); err != nil {
		t.Fatal(err)
	}
	if n := conns(lb, a.addr); n != 0 {
		t.Fatalf("%d connections to a left after it was deregistered", n)
	}
	if n := conns(lb, b.addr); n == 0 {
		t.Fatal("connections to b were closed too")
	}
}

func conns(lb *LoadBalancer, addr string) int {
	lb.connMu.Lock()
	defer lb.connMu.Unlock()
	return len(lb.conns[addr])
}

var _ net.Conn = (*trackedConn)(nil)

// TestRetryOnResetBeforeResponse: a target that closes the connection
// without answering gets a GET sent to the next target; a POST with a
// body, which may have reached it, is not sent twice.
func TestRetryOnResetBeforeResponse(t *testing.T) {
	lb, url := newTestLB(t, time.Hour)
	good := newBackend(t, "good")
	var resets atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		resets.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	})
	bad := httptest.NewServer(mux)
	t.Cleanup(bad.Close)
	if _, err := lb.Register(context.Background(), bad.Listener.Addr().String(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	register(t, lb, good)
	cl := client()
	for i := range 6 {
		if code, body, err := fetch(cl, url+"/"); err != nil || code != 200 || body != "good" {
			t.Fatalf("GET %d: %d %q %v, want good", i, code, body, err)
		}
	}
	if resets.Load() == 0 {
		t.Fatal("the resetting target got no request")
	}
	lb.mu.Lock()
	lb.next = 0 // the resetting target
	lb.mu.Unlock()
	before := good.hits.Load()
	resp, err := cl.Post(url+"/", "text/plain", strings.NewReader("pay once"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || good.hits.Load() != before {
		t.Fatalf("POST reset by its target: %d (good got %d more), want 502 and no second send", resp.StatusCode, good.hits.Load()-before)
	}
}
