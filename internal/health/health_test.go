package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
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
