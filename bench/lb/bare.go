package main

import (
	"context"
	"fmt"
	"github.com/cloud-compose/cloud-compose-go/bench/internal/benchutil"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The bare proxy is the peer that isolates the cost of a proxy hop from
// internal/lb's own: the standard library's httputil.ReverseProxy with its
// defaults (as internal/lb uses it: no buffer pool) and a keep-alive
// Transport (128 idle connections a target, as internal/lb), round robin
// over the nodes, nothing else: no health checks, no request counting, no
// retries. It runs as a process of its own (this program again, with
// -bare-proxy), like the load balancer's proxy.

// bareProxyMain serves until SIGTERM.
func bareProxyMain(listen string, targets []string, pool bool) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	var n atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := targets[n.Add(1)%uint64(len(targets))]
			pr.SetURL(&url.URL{Scheme: "http", Host: t})
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
	if pool {
		rp.BufferPool = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Println("ok")
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }

// bareProxy is a running bare proxy process.
type bareProxy struct {
	addr string
	cmd  *exec.Cmd
}

// startBareProxy starts this program as a bare proxy on listen.
func startBareProxy(listen string, targets []string) (*bareProxy, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-bare-proxy", listen, "-bare-targets", strings.Join(targets, ",")}
	if *flagBarePool {
		args = append(args, "-bare-pool")
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &bareProxy{addr: listen, cmd: cmd}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := benchutil.HTTP.Get("http://" + listen + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("the bare proxy on %s does not answer: %v", listen, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bareProxy) pid() int { return b.cmd.Process.Pid }

func (b *bareProxy) stop() { terminate(b.cmd, 5*time.Second) }

// terminate sends cmd's process SIGTERM and waits for it to exit, for
// grace at most: then it kills it.
func terminate(cmd *exec.Cmd, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}
