package benchutil

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestProxyThrottlesRunInstancesLikeEC2: past the bucket's burst,
// RunInstances is answered 503 RequestLimitExceeded without reaching the
// endpoint; refused calls are counted as calls and as throttled.
func TestProxyThrottlesRunInstancesLikeEC2(t *testing.T) {
	LatencyRun, LatencyDescribe, LatencyOther = 0, 0, 0
	var reached atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = io.WriteString(w, "<ok/>")
	}))
	defer backend.Close()
	p, err := NewEC2Proxy(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	var codes []int
	for i := 0; i < RunBurst+2; i++ {
		resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=RunInstances"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusServiceUnavailable && !strings.Contains(string(body), "<Code>RequestLimitExceeded</Code>") {
			t.Errorf("503 without RequestLimitExceeded: %s", body)
		}
	}
	calls, throttled := p.Take()
	if throttled < 1 || int(reached.Load())+throttled != RunBurst+2 || calls["RunInstances"] != RunBurst+2 {
		t.Errorf("answers %v: %d reached moto, %d throttled, calls %v; want the rest throttled (at least 1), RunInstances=%d", codes, reached.Load(), throttled, calls, RunBurst+2)
	}
}
