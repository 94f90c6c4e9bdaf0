package lb

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// proxy is Run in this process on dir, listening on 127.0.0.1:0.
type proxy struct {
	url    string
	client Client
	stop   func() error
}

func startProxy(t *testing.T, dir string) *proxy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	errc := make(chan error, 1)
	cfg := Config{Dir: dir, Listen: "127.0.0.1:0", Health: HealthCheck{Path: "/health", Interval: 50 * time.Millisecond}}
	go func() { errc <- Run(ctx, cfg, testLog(t), func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	p := &proxy{client: Client{Dir: dir}}
	stopped := false
	p.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-errc
	}
	t.Cleanup(func() { _ = p.stop() })
	info, err := p.client.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.PID != os.Getpid() {
		t.Fatalf("Info.PID = %d, want this process %d", info.PID, os.Getpid())
	}
	p.url = "http://" + info.Listen
	return p
}

func addrs(ts []TargetStatus) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Address+" "+string(t.State))
	}
	return out
}

func TestControlAPI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := startProxy(t, dir)
	c := p.client
	a, b := newBackend(t, "a"), newBackend(t, "b")
	if err := c.Register(ctx, a.addr, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, a.addr, 5*time.Second); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	b.failing.Store(true)
	err := c.Register(ctx, b.addr, 200*time.Millisecond)
	if !errors.Is(err, ErrNotHealthy) {
		t.Fatalf("Register of a failing target = %v, want ErrNotHealthy", err)
	}
	t.Logf("error: %v", err)
	ts, err := c.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a.addr + " healthy", b.addr + " unhealthy"}
	if compareAddr(a.addr, b.addr) > 0 {
		want[0], want[1] = want[1], want[0]
	}
	if got := addrs(ts); !slices.Equal(got, want) {
		t.Fatalf("targets = %v, want %v", got, want)
	}
	if code, body, err := fetch(client(), p.url+"/"); err != nil || code != 200 || body != "a" {
		t.Fatalf("GET through the proxy: %d %q %v", code, body, err)
	}
	for _, addr := range []string{b.addr, "127.0.0.1:1"} { // the second is unknown
		drained, err := c.Deregister(ctx, addr, time.Second)
		if err != nil || !drained {
			t.Fatalf("Deregister(%s) = %v, %v; want drained", addr, drained, err)
		}
	}
	if err := c.Register(ctx, "localhost:80", 0); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("Register(localhost:80) = %v, want ErrBadAddress", err)
	}
	if _, err := c.Deregister(ctx, "127.0.0.1", 0); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("Deregister(127.0.0.1) = %v, want ErrBadAddress", err)
	}

	// one proxy per directory
	err = Run(ctx, Config{Dir: dir, Listen: "127.0.0.1:0"}, testLog(t), func() { t.Error("second proxy became ready") })
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("second proxy on the same directory: %v, want ErrBusy", err)
	}
	t.Logf("second proxy: %v", err)

	if err := p.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := c.Alive(ctx); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Alive after stop = %v, want ErrNotRunning", err)
	}
	for _, f := range []string{ControlSocket, PIDFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after the proxy stopped: %v", f, err)
		}
	}
}

func TestRestartKeepsTargets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := startProxy(t, dir)
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	for _, be := range []*backend{a, b, c} {
		if err := p.client.Register(ctx, be.addr, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.client.Deregister(ctx, c.addr, time.Second); err != nil {
		t.Fatal(err)
	}
	before, err := p.client.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}

	p2 := startProxy(t, dir)
	after, err := p2.client.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(addrs(before), addrs(after)) || len(after) != 2 {
		t.Fatalf("targets after a restart = %v, want %v", addrs(after), addrs(before))
	}
	// healthy from the first request: checked before it serves
	seen := map[string]bool{}
	for range 4 {
		code, body, err := fetch(client(), p2.url+"/")
		if err != nil || code != 200 {
			t.Fatalf("GET after restart: %d %v", code, err)
		}
		seen[body] = true
	}
	if !seen["a"] || !seen["b"] || seen["c"] {
		t.Fatalf("restarted proxy sent to %v, want a and b", seen)
	}
}

// TestLongDirectory: a state directory whose control socket path is
// longer than a unix socket address can be (a deep store) still works:
// the socket is bound and reached through an open descriptor of the
// directory.
func TestLongDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if p := filepath.Join(dir, ControlSocket); len(p) <= maxSocketPath {
		t.Fatalf("%s is short enough: the test does not test", p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Dir: dir, Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), func() { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("the proxy did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy did not start in 10 s")
	}
	if err := (Client{Dir: dir}).Alive(ctx); err != nil {
		t.Errorf("client over the long path: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ControlSocket)); err != nil {
		t.Errorf("the socket is not in the directory: %v", err)
	}
	cancel()
	<-errc
}
