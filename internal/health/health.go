// Package health checks whether a node serves: an HTTP GET that must answer
// 2xx, or a TCP connect. It knows addresses, never clouds or config files.
package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Defaults for checks.
const (
	DefaultTimeout  = 60 * time.Second       // how long up waits for a new node
	DefaultInterval = 250 * time.Millisecond // between attempts
	attemptTimeout  = 2 * time.Second        // one attempt
)

// Check is one way of asking a node whether it serves.
type Check struct {
	Port int
	Path string // HTTP path; "" means a TCP check
}

// URL is the node's address for people: http://IP:PORT/ for HTTP checks.
func (c Check) URL(ip string) string {
	if c.Path == "" {
		return net.JoinHostPort(ip, strconv.Itoa(c.Port))
	}
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(c.Port)) + "/"
}

func (c Check) String() string {
	if c.Path == "" {
		return "tcp :" + strconv.Itoa(c.Port)
	}
	return "GET :" + strconv.Itoa(c.Port) + c.Path
}

var client = &http.Client{Timeout: attemptTimeout}

// Probe makes one attempt against ip.
func (c Check) Probe(ctx context.Context, ip string) error {
	addr := net.JoinHostPort(ip, strconv.Itoa(c.Port))
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	if c.Path == "" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+c.Path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s answered %s", c.Path, resp.Status)
	}
	return nil
}

// ErrUnhealthy is wrapped when a node does not pass its check in time.
var ErrUnhealthy = errors.New("not healthy")

// ErrDied is wrapped when the instance behind a node died while its health
// was awaited.
var ErrDied = errors.New("instance died")

// Wait probes ip until the check passes, ctx ends or timeout passes.
func (c Check) Wait(ctx context.Context, ip string, timeout time.Duration) error {
	return c.WaitAlive(ctx, ip, timeout, nil)
}

// WaitAlive is Wait for an instance whose liveness can be asked: alive
// (may be nil) is called after every probe, and an error from it stops the
// wait at once (wrapping ErrDied). A probe that passes counts only while
// the instance is alive, so an answer from another process on the same
// address cannot pass a dead instance.
func (c Check) WaitAlive(ctx context.Context, ip string, timeout time.Duration, alive func(context.Context) error) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		last = c.Probe(ctx, ip)
		if alive != nil {
			if err := alive(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("%w while waiting for %s on %s: %v", ErrDied, c, ip, err)
			}
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s (%s on %s): %v", ErrUnhealthy, timeout, c, ip, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(DefaultInterval):
		}
	}
}
