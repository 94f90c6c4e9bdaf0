package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// start runs the service and waits until /health answers.
func start(t *testing.T, addr, data, node string) (stop func() error) {
	t.Helper()
	stop, _ = startWith(t, addr, http.StatusOK, "--addr", addr, "--data", data, "--node", node)
	return stop
}

// startWith runs the service with args and waits until /health answers
// with status want; out is what the service printed.
func startWith(t *testing.T, addr string, want int, args ...string) (stop func() error, out *testbin.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &testbin.Buffer{}
	done := make(chan error, 1)
	go func() { done <- Main(ctx, args, out) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				break
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("service ended before it was ready: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("service not ready after 5s: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() { cancel(); result = <-done })
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return stop, out
}

func TestCounterSurvivesRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := start(t, addr, data, "7")
	for i := 1; i <= 3; i++ {
		code, body := get(t, "http://"+addr+"/")
		if want := fmt.Sprintf("node 7: request %d\n", i); code != 200 || body != want {
			t.Fatalf("GET / = %d %q, want 200 %q", code, body, want)
		}
	}
	if code, body := get(t, "http://"+addr+"/health"); code != 200 || body != "ok\n" {
		t.Fatalf("GET /health = %d %q", code, body)
	}
	if err := stop(); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped service returned %v, want ErrStopped", err)
	}
	b, err := os.ReadFile(filepath.Join(data, CounterFile))
	if err != nil || strings.TrimSpace(string(b)) != "3" {
		t.Fatalf("counter file = %q, %v; want 3", b, err)
	}
	start(t, addr, data, "7")
	if _, body := get(t, "http://"+addr+"/"); body != "node 7: request 4\n" {
		t.Fatalf("after restart GET / = %q, want request 4", body)
	}
	if code, _ := get(t, "http://"+addr+"/nope"); code != http.StatusNotFound {
		t.Fatalf("GET /nope = %d, want 404", code)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := Main(context.Background(), []string{"--addr", freeAddr(t)}, io.Discard); err == nil {
		t.Fatal("no --data: want an error")
	}
	if err := os.WriteFile(filepath.Join(dir, CounterFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Main(context.Background(), []string{"--addr", freeAddr(t), "--data", dir}, io.Discard); err == nil || !strings.Contains(err.Error(), CounterFile) {
		t.Fatalf("corrupt counter: got %v, want an error naming the file", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := Main(context.Background(), []string{"--addr", ln.Addr().String(), "--data", t.TempDir()}, io.Discard); err == nil {
		t.Fatal("address in use: want an error")
	}
}

func TestVersion(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	stop, out := startWith(t, addr, http.StatusOK, "--addr", addr, "--data", data, "--node", "2", "--version", "7.1")
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The body keeps its format (the quickstart's tests and README rely on
	// it); the version is in a header.
	if resp.StatusCode != 200 || string(b) != "node 2: request 1\n" || resp.Header.Get(VersionHeader) != "7.1" {
		t.Fatalf("GET / = %d %q, %s: %q; want 200 %q, 7.1", resp.StatusCode, b, VersionHeader, resp.Header.Get(VersionHeader), "node 2: request 1\n")
	}
	if code, body := get(t, "http://"+addr+"/health"); code != 200 || body != "ok version 7.1\n" {
		t.Fatalf("GET /health = %d %q, want 200 %q", code, body, "ok version 7.1\n")
	}
	if err := stop(); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped service returned %v, want ErrStopped", err)
	}
	if !strings.Contains(out.String(), "node 2 version 7.1 listening on http://"+addr) {
		t.Errorf("the start line does not give the version:\n%s", out)
	}

	// Without --version: no header, and /health says just ok.
	start(t, addr, data, "2")
	resp, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v, ok := resp.Header[VersionHeader]; ok {
		t.Errorf("no --version: GET / has %s: %q", VersionHeader, v)
	}
}

func TestUnhealthy(t *testing.T) {
	addr := freeAddr(t)
	stop, out := startWith(t, addr, http.StatusServiceUnavailable, "--addr", addr, "--data", t.TempDir(), "--node", "0", "--version", "2", "--unhealthy")
	for range 3 {
		if code, body := get(t, "http://"+addr+"/health"); code != http.StatusServiceUnavailable || body != UnhealthyAnswer+"\n" {
			t.Fatalf("GET /health = %d %q, want 503 %q", code, body, UnhealthyAnswer)
		}
	}
	// It listens and counts all the same.
	if code, body := get(t, "http://"+addr+"/"); code != 200 || body != "node 0: request 1\n" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	if err := stop(); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped service returned %v, want ErrStopped", err)
	}
	if !strings.Contains(out.String(), "version 2 (--unhealthy: /health answers 503)") {
		t.Errorf("the start line does not say it is unhealthy:\n%s", out)
	}
}
