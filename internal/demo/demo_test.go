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
	ctx, cancel := context.WithCancel(context.Background())
	out := &testbin.Buffer{}
	done := make(chan error, 1)
	go func() { done <- Main(ctx, []string{"--addr", addr, "--data", data, "--node", node}, out) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
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
	return stop
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
