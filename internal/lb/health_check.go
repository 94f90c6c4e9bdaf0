package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Health check defaults (the flags of Main).
const (
	DefaultHealthInterval = 250 * time.Millisecond
	DefaultHealthTimeout  = 2 * time.Second
)

// ErrUnexpectedStatus is wrapped when a health check answers outside 2xx.
var ErrUnexpectedStatus = errors.New("unexpected status")

// HealthCheck says how targets are probed: an HTTP GET of Path expecting
// 2xx, or a TCP connect when Path is empty; on Port of the target's IP (0:
// the target's own port).
type HealthCheck struct {
	Path     string
	Port     int
	Interval time.Duration
	Timeout  time.Duration
}

func (hc HealthCheck) withDefaults() HealthCheck {
	if hc.Interval <= 0 {
		hc.Interval = DefaultHealthInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultHealthTimeout
	}
	if hc.Path != "" && hc.Path[0] != '/' {
		hc.Path = "/" + hc.Path
	}
	return hc
}

// prober runs health checks. Its HTTP client keeps no connections: every
// check dials, so a listener that went away is noticed at once.
type prober struct {
	hc     HealthCheck
	client *http.Client
	dialer *net.Dialer
}

func newProber(hc HealthCheck) *prober {
	hc = hc.withDefaults()
	d := &net.Dialer{Timeout: hc.Timeout}
	return &prober{
		hc:     hc,
		dialer: d,
		client: &http.Client{
			Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true, DisableCompression: true},
			Timeout:   hc.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a redirect is not a 2xx
			},
		},
	}
}

// address is where target addr is probed.
func (p *prober) address(addr string) string {
	if p.hc.Port <= 0 {
		return addr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(p.hc.Port))
}

// check probes target addr once.
func (p *prober) check(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, p.hc.Timeout)
	defer cancel()
	hostPort := p.address(addr)
	if p.hc.Path == "" {
		c, err := p.dialer.DialContext(ctx, "tcp", hostPort)
		if err != nil {
			return err
		}
		return c.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hostPort+p.hc.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "cloud-compose-lb")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %w %d", req.URL, ErrUnexpectedStatus, resp.StatusCode)
	}
	return nil
}

// run probes t now and then every interval until ctx is done, reporting
// each result to report.
func (p *prober) run(ctx context.Context, t *target, report func(*target, error)) {
	tick := time.NewTicker(p.hc.Interval)
	defer tick.Stop()
	for {
		err := p.check(ctx, t.addr)
		if ctx.Err() != nil {
			return // stopped: a result cut short is not the target's
		}
		report(t, err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
