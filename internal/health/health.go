// Package health checks whether a node serves: an HTTP GET that must answer
// 2xx, a TCP connect, or a command run on this machine that must exit 0.
// It knows addresses, never clouds or config files.
package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Defaults for checks.
const (
	DefaultTimeout  = 60 * time.Second       // how long up waits for a new node
	DefaultInterval = 250 * time.Millisecond // between attempts
	attemptTimeout  = 2 * time.Second        // one attempt
	// CommandTimeout bounds one run of a health command.
	CommandTimeout = 10 * time.Second
)

// Check is how a node is asked whether it serves: a port (HTTP with a
// path, else TCP), a command, or both (both must pass).
type Check struct {
	Port int    // 0: no network check
	Path string // HTTP path; "" means a TCP check
	// Command is run with `sh -c` in Dir, with Env, NODE_IP and NODE_ID
	// added to this process's environment; exit 0 is healthy.
	Command string
	Dir     string
	Env     []string
	// Interval is the time between attempts (0: DefaultInterval).
	Interval time.Duration
}

func (c Check) interval() time.Duration {
	if c.Interval > 0 {
		return c.Interval
	}
	return DefaultInterval
}

// Target is the node a check asks: its address and its id (for commands).
type Target struct {
	IP   string
	Node string
}

// URL is the node's address for people: http://IP:PORT/ for HTTP checks,
// IP:PORT for TCP ones, "" for a command alone.
func (c Check) URL(ip string) string {
	if c.Port == 0 {
		return ""
	}
	if c.Path == "" {
		return net.JoinHostPort(ip, strconv.Itoa(c.Port))
	}
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(c.Port)) + "/"
}

func (c Check) String() string {
	var parts []string
	switch {
	case c.Port == 0:
	case c.Path == "":
		parts = append(parts, "tcp :"+strconv.Itoa(c.Port))
	default:
		parts = append(parts, "GET :"+strconv.Itoa(c.Port)+c.Path)
	}
	if c.Command != "" {
		parts = append(parts, "command "+strconv.Quote(c.Command))
	}
	return strings.Join(parts, " and ")
}

var client = &http.Client{Timeout: attemptTimeout}

// Probe makes one attempt against t: the port check, then the command.
func (c Check) Probe(ctx context.Context, t Target) error {
	if c.Port != 0 {
		if err := c.probePort(ctx, t.IP); err != nil {
			return err
		}
	}
	if c.Command != "" {
		return c.runCommand(ctx, t)
	}
	return nil
}

// runCommand runs the health command once; its error carries the last
// line of the command's output.
func (c Check) runCommand(ctx context.Context, t Target) error {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", c.Command)
	cmd.Dir = c.Dir
	cmd.Env = append(append(os.Environ(), c.Env...), "NODE_IP="+t.IP, "NODE_ID="+t.Node)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("health command %q did not finish in %s", c.Command, CommandTimeout)
	}
	last := strings.TrimSpace(out.String())
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	if last != "" {
		return fmt.Errorf("health command %q: %v: %s", c.Command, err, last)
	}
	return fmt.Errorf("health command %q: %v", c.Command, err)
}

// probePort makes one network attempt against ip.
func (c Check) probePort(ctx context.Context, ip string) error {
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

// Wait probes t until the check passes, ctx ends or timeout passes.
func (c Check) Wait(ctx context.Context, t Target, timeout time.Duration) error {
	return c.WaitAlive(ctx, t, timeout, nil)
}

// WaitAlive is Wait for an instance whose liveness can be asked: alive
// (may be nil) is called after every probe, and an error from it stops the
// wait at once (wrapping ErrDied). A probe that passes counts only while
// the instance is alive, so an answer from another process on the same
// address cannot pass a dead instance.
func (c Check) WaitAlive(ctx context.Context, t Target, timeout time.Duration, alive func(context.Context) error) error {
	ip := t.IP
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		last = c.Probe(ctx, t)
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
			return fmt.Errorf("%w after %s (%s on %s): %v", ErrUnhealthy, timeout.Round(100*time.Millisecond), c, ip, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.interval()):
		}
	}
}

// Hold probes t every DefaultInterval for d and fails at the first probe
// that does not pass, or when alive (may be nil) says the instance died:
// a node must stay healthy this long after it first passes.
func (c Check) Hold(ctx context.Context, t Target, d time.Duration, alive func(context.Context) error) error {
	end := time.Now().Add(d)
	for {
		if err := c.Probe(ctx, t); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: passed, then failed within %s (%s on %s): %v", ErrUnhealthy, d, c, t.IP, err)
		}
		if alive != nil {
			if err := alive(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("%w within %s of passing %s on %s: %v", ErrDied, d, c, t.IP, err)
			}
		}
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, c.interval())):
		}
	}
}
