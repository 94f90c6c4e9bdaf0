package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTPWaitsUntilHealthy(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	c := Check{Port: p, Path: "/health"}
	if err := c.Wait(context.Background(), Target{IP: host}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("want 3 attempts, got %d", calls.Load())
	}
	if c.URL(host) != "http://"+srv.Listener.Addr().String()+"/" {
		t.Errorf("URL %s", c.URL(host))
	}
}

func TestTimeoutNamesTheProblem(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens any more
	err = Check{Port: port}.Wait(context.Background(), Target{IP: "127.0.0.1"}, 600*time.Millisecond)
	if !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("want ErrUnhealthy, got %v", err)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	pn, _ := strconv.Atoi(p)
	err = Check{Port: pn, Path: "/health"}.Wait(context.Background(), Target{IP: "127.0.0.1"}, 300*time.Millisecond)
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "404 Not Found") {
		t.Fatalf("want the last answer in the error, got %v", err)
	}
}

// TestCommandCheck: a command check runs with NODE_IP, NODE_ID and the
// check's Env, in its Dir; exit 0 passes, anything else fails with the
// last line of its output; with a port too, both must pass.
func TestCommandCheck(t *testing.T) {
	dir := t.TempDir()
	c := Check{Command: `echo "$NODE_ID $NODE_IP $CLUSTER_NAME" > seen; [ -f ok ] || { echo first; echo "not ready yet"; exit 3; }`, Dir: dir, Env: []string{"CLUSTER_NAME=demo"}}
	tg := Target{IP: "127.0.0.9", Node: "n1"}
	err := c.Probe(context.Background(), tg)
	if err == nil || !strings.HasSuffix(err.Error(), "\": exit status 3: not ready yet") {
		t.Fatalf("failing command: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "seen")); string(b) != "n1 127.0.0.9 demo\n" {
		t.Errorf("the command saw %q", b)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Probe(context.Background(), tg); err != nil {
		t.Errorf("passing command: %v", err)
	}
	if c.URL("127.0.0.9") != "" || c.String() != "command "+strconv.Quote(c.Command) {
		t.Errorf("URL %q String %q", c.URL("127.0.0.9"), c.String())
	}
	// a port that refuses fails the check before the command runs
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	both := c
	both.Port = port
	if err := both.Probe(context.Background(), Target{IP: "127.0.0.1", Node: "n1"}); err == nil || strings.Contains(err.Error(), "command") {
		t.Errorf("port and command, the port closed: %v", err)
	}
	if !strings.HasPrefix(both.String(), "tcp :") || !strings.Contains(both.String(), " and command ") {
		t.Errorf("String: %q", both.String())
	}
}

// TestHold: Hold passes when every probe passes for the whole time and
// fails at the first probe that does not.
func TestHold(t *testing.T) {
	dir := t.TempDir()
	c := Check{Command: "[ ! -f bad ]", Dir: dir, Interval: 10 * time.Millisecond}
	tg := Target{IP: "127.0.0.1", Node: "0"}
	start := time.Now()
	if err := c.Hold(context.Background(), tg, 150*time.Millisecond, nil); err != nil {
		t.Fatalf("hold of a healthy node: %v", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("hold returned after %s, before its 150ms", el)
	}
	go func() {
		time.Sleep(60 * time.Millisecond)
		_ = os.WriteFile(filepath.Join(dir, "bad"), nil, 0o644)
	}()
	err := c.Hold(context.Background(), tg, 5*time.Second, nil)
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "passed, then failed") {
		t.Errorf("hold of a node that fails: %v", err)
	}
	died := errors.New("gone")
	if err := (Check{Command: "true", Dir: dir}).Hold(context.Background(), tg, time.Second, func(context.Context) error { return died }); !errors.Is(err, ErrDied) {
		t.Errorf("hold of a dead instance: %v", err)
	}
}
