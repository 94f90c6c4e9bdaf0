package lb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Files of a proxy's directory.
const (
	ControlSocket = "control.sock"
	StateFileName = "targets.json"
	PIDFile       = "proxy.pid"
	LockFile      = "proxy.lock"
)

// ErrNotRunning is wrapped when no proxy answers on the control socket.
var ErrNotRunning = errors.New("load balancer proxy is not running")

// Client drives the proxy whose directory is Dir over its control socket.
type Client struct {
	Dir string
}

// Info asks the proxy whether it is alive and where it listens.
func (c Client) Info(ctx context.Context) (Info, error) {
	var info Info
	_, err := c.do(ctx, http.MethodGet, "/health", &info)
	return info, err
}

// Alive returns nil when the proxy answers GET /health.
func (c Client) Alive(ctx context.Context) error {
	_, err := c.Info(ctx)
	return err
}

// Targets returns the proxy's targets.
func (c Client) Targets(ctx context.Context) ([]TargetStatus, error) {
	var ts []TargetStatus
	_, err := c.do(ctx, http.MethodGet, "/targets", &ts)
	return ts, err
}

// Register registers target addr (IP:PORT) and waits up to wait until it
// is healthy: ErrNotHealthy when it is not by then (it stays registered).
// With wait 0 it returns at once.
func (c Client) Register(ctx context.Context, addr string, wait time.Duration) error {
	var st TargetStatus
	_, err := c.do(ctx, http.MethodPut, targetPath(addr, "wait", wait), &st)
	return err
}

// Deregister drains target addr for up to drain and removes it; drained
// is false when requests were still in flight then.
func (c Client) Deregister(ctx context.Context, addr string, drain time.Duration) (drained bool, err error) {
	var res DrainResult
	if _, err := c.do(ctx, http.MethodDelete, targetPath(addr, "drain", drain), &res); err != nil {
		return false, err
	}
	return res.Drained, nil
}

func targetPath(addr, param string, d time.Duration) string {
	p := "/targets/" + url.PathEscape(addr)
	if d > 0 {
		p += "?" + param + "=" + url.QueryEscape(d.String())
	}
	return p
}

// do sends one request over the control socket and decodes a 2xx answer
// into out; an error answer becomes an error wrapping the sentinel its
// status stands for.
func (c Client) do(ctx context.Context, method, path string, out any) (int, error) {
	sock := filepath.Join(c.Dir, ControlSocket)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			addr, done, err := socketPath(c.Dir)
			if err != nil {
				return nil, err
			}
			defer done()
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://lb"+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if ctx.Err() == nil && isNotListening(err) {
			return 0, fmt.Errorf("%w: %s: %v", ErrNotRunning, sock, unwrapURL(err))
		}
		return 0, fmt.Errorf("load balancer %s: %w", sock, unwrapURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("load balancer %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb errorBody
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			msg = eb.Error
		}
		var sentinel error
		switch resp.StatusCode {
		case http.StatusGatewayTimeout:
			sentinel = ErrNotHealthy
		case http.StatusConflict:
			sentinel = ErrReregistered
		case http.StatusBadRequest:
			sentinel = ErrBadAddress
		}
		if sentinel != nil && !strings.Contains(msg, sentinel.Error()) {
			msg = sentinel.Error() + ": " + msg
		}
		if sentinel != nil {
			return resp.StatusCode, &controlError{method: method, path: path, code: resp.StatusCode, msg: msg, sentinel: sentinel}
		}
		return resp.StatusCode, &controlError{method: method, path: path, code: resp.StatusCode, msg: msg}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("load balancer %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// controlError is an error answer of the control API.
type controlError struct {
	method, path string
	code         int
	msg          string
	sentinel     error
}

func (e *controlError) Error() string {
	return fmt.Sprintf("load balancer %s %s: %d: %s", e.method, e.path, e.code, e.msg)
}

func (e *controlError) Unwrap() error { return e.sentinel }

// isNotListening: nothing serves the socket (it does not exist, or its
// proxy died).
func isNotListening(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
