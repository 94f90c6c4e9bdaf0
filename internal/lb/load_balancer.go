package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of the load balancer, wrapped with details.
var (
	// ErrNoHealthyTarget: no registered target is healthy and not draining.
	ErrNoHealthyTarget = errors.New("no healthy target")
	// ErrNotHealthy: a registered target did not pass a health check in time.
	ErrNotHealthy = errors.New("target is not healthy")
	// ErrReregistered: a target being drained was registered again.
	ErrReregistered = errors.New("target registered again while it drained")
	// ErrBadAddress: a target address is not IP:PORT.
	ErrBadAddress = errors.New("target address must be IP:PORT")
)

// Transport limits: keep-alive connections to the targets, enough for a
// few hundred requests in flight without dialing for each.
const (
	maxIdleConns        = 1024
	maxIdleConnsPerHost = 128
	idleConnTimeout     = 90 * time.Second
	dialTimeout         = 5 * time.Second
)

// statusClientClosedRequest is logged (nginx's 499) when the client went
// away before the target answered.
const statusClientClosedRequest = 499

// Options configure a LoadBalancer.
type Options struct {
	Health HealthCheck
	// StateFile is where the registered targets are kept (targets.json);
	// "" keeps them in memory only.
	StateFile string
	Log       *slog.Logger
}

// LoadBalancer proxies requests round robin over its healthy targets. It
// is an http.Handler; Register and Deregister change its targets while it
// serves.
type LoadBalancer struct {
	log       *slog.Logger
	prober    *prober
	stateFile string
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	ctx       context.Context // its health checks' parent
	cancel    context.CancelFunc

	mu      sync.Mutex
	targets map[string]*target
	ring    []*target // registration order
	next    int

	connMu sync.Mutex
	conns  map[string]map[*trackedConn]struct{} // by target address

	persistMu sync.Mutex

	lastNoTarget atomic.Int64 // when "no healthy target" was logged, UnixNano
}

// New returns a load balancer with the targets of opts.StateFile (if it
// exists), their health checks started.
func New(opts Options) (*LoadBalancer, error) {
	lb := &LoadBalancer{
		log:       opts.Log,
		prober:    newProber(opts.Health),
		stateFile: opts.StateFile,
		targets:   map[string]*target{},
		conns:     map[string]map[*trackedConn]struct{}{},
	}
	if lb.log == nil {
		lb.log = slog.New(slog.DiscardHandler)
	}
	lb.ctx, lb.cancel = context.WithCancel(context.Background())
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	lb.transport = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return lb.track(addr, c), nil
		},
		MaxIdleConns:          maxIdleConns,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies through as they are
	}
	lb.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// Append to the client's X-Forwarded-For, as ReverseProxy's
			// Director does, and set X-Forwarded-Host and -Proto.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = pr.In.Host // the target's is set by RoundTrip
			pr.Out.Host = pr.In.Host
		},
		Transport:    roundTripper{lb},
		ErrorHandler: lb.proxyError,
		ErrorLog:     slog.NewLogLogger(lb.log.Handler(), slog.LevelWarn),
		// one 32 KiB copy buffer per response would be most of what a
		// request allocates, and garbage collection half the p99 the
		// proxy adds (bench/lb)
		BufferPool: bufferPool{},
	}
	if lb.stateFile != "" {
		addrs, err := loadTargets(lb.stateFile)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			lb.addLocked(a)
		}
	}
	return lb, nil
}

// Close stops the health checks and closes idle connections.
func (lb *LoadBalancer) Close() {
	lb.cancel()
	lb.transport.CloseIdleConnections()
}

// ServeHTTP proxies r to a healthy target.
func (lb *LoadBalancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.proxy.ServeHTTP(w, r)
}

// Targets returns the registered targets, by address.
func (lb *LoadBalancer) Targets() []TargetStatus {
	lb.mu.Lock()
	ts := slices.Clone(lb.ring)
	lb.mu.Unlock()
	out := make([]TargetStatus, len(ts))
	for i, t := range ts {
		out[i] = t.status()
	}
	slices.SortFunc(out, func(a, b TargetStatus) int { return compareAddr(a.Address, b.Address) })
	return out
}

func compareAddr(a, b string) int {
	pa, errA := netip.ParseAddrPort(a)
	pb, errB := netip.ParseAddrPort(b)
	if errA != nil || errB != nil {
		return cmpString(a, b)
	}
	return pa.Compare(pb)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// WaitProbed waits until every target has had its first health check (a
// restarted proxy takes requests with the targets' real states), or ctx
// is done.
func (lb *LoadBalancer) WaitProbed(ctx context.Context) {
	lb.mu.Lock()
	ts := slices.Clone(lb.ring)
	lb.mu.Unlock()
	for _, t := range ts {
		for {
			_, probed, changed, _ := t.watch()
			if probed {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
		}
	}
}

// ParseAddress checks that addr is IP:PORT and returns it in its
// canonical form.
func ParseAddress(addr string) (string, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Port() == 0 {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, addr)
	}
	return ap.String(), nil
}

// Register adds target addr (registering a registered one is a no-op; one
// being drained takes requests again once healthy) and, with wait > 0,
// waits until it has passed a health check: ErrNotHealthy when it has not
// within wait (it stays registered and keeps being checked).
func (lb *LoadBalancer) Register(ctx context.Context, addr string, wait time.Duration) (TargetStatus, error) {
	addr, err := ParseAddress(addr)
	if err != nil {
		return TargetStatus{}, err
	}
	lb.mu.Lock()
	t, ok := lb.targets[addr]
	undrained := false
	if !ok {
		t = lb.addLocked(addr)
	} else if t.status().State == StateDraining {
		t.setDraining(false)
		undrained = true
	}
	lb.mu.Unlock()
	if !ok || undrained {
		if undrained {
			lb.log.Info("target registered again while it drained", "target", addr)
		} else {
			lb.log.Info("target registered", "target", addr)
		}
		if err := lb.persist(); err != nil {
			return t.status(), err
		}
	}
	if wait <= 0 {
		return t.status(), nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		st, probed, changed, lastErr := t.watch()
		if st.State == StateHealthy {
			return st, nil
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		case <-timer.C:
		}
		why := "no health check has finished yet"
		if probed && lastErr != nil {
			why = "last health check: " + lastErr.Error()
		}
		return st, fmt.Errorf("%w within %s: %s (it stays registered and is checked every %s)", ErrNotHealthy, wait, why, lb.prober.hc.Interval)
	}
}

// addLocked registers a new target and starts its health checks; lb.mu
// is held.
func (lb *LoadBalancer) addLocked(addr string) *target {
	t := newTarget(addr)
	ctx, cancel := context.WithCancel(lb.ctx)
	t.stop = cancel
	lb.targets[addr] = t
	lb.ring = append(lb.ring, t)
	go lb.prober.run(ctx, t, lb.report)
	return t
}

// report records a health check's result, logging each change.
func (lb *LoadBalancer) report(t *target, err error) {
	if !t.setHealth(err == nil, err) {
		return
	}
	if err == nil {
		lb.log.Info("target healthy", "target", t.addr)
	} else {
		lb.log.Warn("target unhealthy", "target", t.addr, "error", err)
	}
}

// DrainResult is what Deregister did.
type DrainResult struct {
	Drained      bool `json:"drained"`
	InFlightLeft int  `json:"in_flight_left"`
}

// Deregister drains target addr and removes it: from now on it gets no new
// request; it is removed once its requests in flight are done, or drain
// has passed (Drained false, and those requests go on to their end), or
// ctx is done. Its idle connections are then closed. An unknown target is
// drained already.
func (lb *LoadBalancer) Deregister(ctx context.Context, addr string, drain time.Duration) (DrainResult, error) {
	addr, err := ParseAddress(addr)
	if err != nil {
		return DrainResult{}, err
	}
	lb.mu.Lock()
	t, ok := lb.targets[addr]
	if ok {
		t.setDraining(true)
	}
	lb.mu.Unlock()
	if !ok {
		return DrainResult{Drained: true}, nil
	}
	// A draining target is not kept: a restarted proxy has let it go.
	persistErr := lb.persist()
	start := time.Now()
	lb.log.Info("target draining", "target", addr, "in_flight", t.status().InFlight, "drain", drain)
	timer := time.NewTimer(drain)
	defer timer.Stop()
wait:
	for {
		st, _, changed, _ := t.watch()
		switch {
		case st.State != StateDraining:
			return DrainResult{InFlightLeft: st.InFlight}, fmt.Errorf("%s: %w", addr, ErrReregistered)
		case st.InFlight == 0:
			break wait
		}
		select {
		case <-changed:
		case <-timer.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	lb.mu.Lock()
	t.mu.Lock()
	removed, draining, left := t.removed, t.draining, t.inFlight
	t.mu.Unlock()
	switch {
	case removed: // by another Deregister of the same target
		lb.mu.Unlock()
		return DrainResult{Drained: left == 0, InFlightLeft: left}, nil
	case !draining:
		lb.mu.Unlock()
		return DrainResult{InFlightLeft: left}, fmt.Errorf("%s: %w", addr, ErrReregistered)
	}
	delete(lb.targets, addr)
	i := slices.Index(lb.ring, t)
	lb.ring = slices.Delete(lb.ring, i, i+1)
	if lb.next > i {
		lb.next--
	}
	t.stop()
	t.mu.Lock()
	t.removed = true
	left = t.inFlight
	t.mu.Unlock()
	if left == 0 {
		lb.closeConnsLocked(addr)
	}
	lb.mu.Unlock()
	res := DrainResult{Drained: left == 0, InFlightLeft: left}
	if res.Drained {
		lb.log.Info("target deregistered", "target", addr, "drained_in", time.Since(start).Round(time.Millisecond))
	} else {
		lb.log.Warn("target deregistered before its requests in flight ended", "target", addr, "in_flight_left", left, "drain", drain)
	}
	return res, persistErr
}

// pick chooses the next target round robin that takes requests and is not
// in tried, and counts the request in flight on it; nil when none does.
func (lb *LoadBalancer) pick(tried []*target) *target {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	n := len(lb.ring)
	for i := range n {
		j := (lb.next + i) % n
		t := lb.ring[j]
		if slices.Contains(tried, t) || !t.acquire() {
			continue
		}
		lb.next = (j + 1) % n
		return t
	}
	return nil
}

// done ends a request in flight on t; a removed target's connections are
// closed after its last one.
func (lb *LoadBalancer) done(t *target) {
	if !t.release() {
		return
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.closeConnsLocked(t.addr)
}

// roundTripper sends each request to a target the load balancer picks,
// and to the next one when the first could not be reached.
type roundTripper struct{ lb *LoadBalancer }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	lb := rt.lb
	var body *guardedBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &guardedBody{r: req.Body}
	}
	var tried []*target
	var lastErr error
	for {
		t := lb.pick(tried)
		if t == nil {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, ErrNoHealthyTarget
		}
		tried = append(tried, t)
		out := req.WithContext(req.Context()) // a shallow copy, to set the URL on
		u := *req.URL
		u.Host = t.addr
		out.URL = &u
		if body != nil {
			out.Body = body
			// The transport sends a request again on a fresh connection
			// when a kept-alive one turned out closed before it wrote
			// anything; a body can go again if none of it was read.
			out.GetBody = body.again
		}
		resp, err := lb.transport.RoundTrip(out)
		if err == nil {
			resp.Body = releaseOnClose(resp.Body, func() { lb.done(t) })
			return resp, nil
		}
		lb.done(t)
		lastErr = fmt.Errorf("target %s: %w", t.addr, err)
		dial := isDialError(err)
		if dial {
			// Refused: take it out now rather than at its next check.
			lb.report(t, err)
		}
		if !retryable(req, body, dial) {
			return nil, lastErr
		}
		lb.log.Debug("retrying on another target", "target", t.addr, "method", req.Method, "path", req.URL.Path, "error", err)
	}
}

// retryable says whether a request that failed before any response may be
// sent to another target: when it never left (a connection could not be
// made) and none of its body was read; else only an idempotent request
// without a body (GET, HEAD, OPTIONS): one that may have reached the
// target is not sent twice unless that is harmless.
func retryable(req *http.Request, body *guardedBody, dial bool) bool {
	if req.Context().Err() != nil {
		return false
	}
	if body != nil && body.n.Load() > 0 {
		return false
	}
	if dial {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return body == nil
	}
	return false
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// proxyError answers a request no target answered.
func (lb *LoadBalancer) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNoHealthyTarget):
		if now := time.Now().UnixNano(); now-lb.lastNoTarget.Load() > int64(time.Second) {
			lb.lastNoTarget.Store(now) // once a second at most: a client may retry fast
			lb.log.Warn("no healthy target: answering 503", "method", r.Method, "path", r.URL.Path)
		}
		http.Error(w, "503 service unavailable: no healthy target", http.StatusServiceUnavailable)
	case r.Context().Err() != nil:
		w.WriteHeader(statusClientClosedRequest) // nobody reads it
	default:
		lb.log.Warn("proxy error", "method", r.Method, "path", r.URL.Path, "error", err)
		http.Error(w, "502 bad gateway: the target did not answer", http.StatusBadGateway)
	}
}

// guardedBody is a request body that may be sent again if none of it was
// read: the transport closes a body when a request fails, so Close here
// does nothing (the server closes the real body after the handler).
type guardedBody struct {
	r io.Reader
	n atomic.Int64
}

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *guardedBody) Close() error { return nil }

// errBodyRead: a request body partly sent cannot be sent again.
var errBodyRead = errors.New("the request body was partly sent")

func (b *guardedBody) again() (io.ReadCloser, error) {
	if b.n.Load() > 0 {
		return nil, errBodyRead
	}
	return b, nil
}

// releaseOnClose calls release once, when the response body is closed
// (ReverseProxy closes it after copying it to the client, or when an
// upgraded connection ends).
func releaseOnClose(body io.ReadCloser, release func()) io.ReadCloser {
	r := &releasingBody{ReadCloser: body, release: release}
	if w, ok := body.(io.Writer); ok { // 101 Switching Protocols: ReverseProxy writes to it
		return &releasingRWBody{releasingBody: r, w: w}
	}
	return r
}

type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

type releasingRWBody struct {
	*releasingBody
	w io.Writer
}

func (b *releasingRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// trackedConn is a connection to a target, closed when the target is
// removed (after its last request in flight).
type trackedConn struct {
	net.Conn
	lb   *LoadBalancer
	addr string
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.lb.connMu.Lock()
		delete(c.lb.conns[c.addr], c)
		if len(c.lb.conns[c.addr]) == 0 {
			delete(c.lb.conns, c.addr)
		}
		c.lb.connMu.Unlock()
	})
	return c.Conn.Close()
}

func (lb *LoadBalancer) track(addr string, c net.Conn) net.Conn {
	tc := &trackedConn{Conn: c, lb: lb, addr: addr}
	lb.connMu.Lock()
	defer lb.connMu.Unlock()
	if lb.conns[addr] == nil {
		lb.conns[addr] = map[*trackedConn]struct{}{}
	}
	lb.conns[addr][tc] = struct{}{}
	return tc
}

// closeConnsLocked closes the connections to addr unless it is registered
// again (lb.mu is held: no request can pick it meanwhile). It is called
// when no request is in flight on it, so they are all idle.
func (lb *LoadBalancer) closeConnsLocked(addr string) {
	if _, ok := lb.targets[addr]; ok {
		return
	}
	lb.connMu.Lock()
	cs := make([]*trackedConn, 0, len(lb.conns[addr]))
	for c := range lb.conns[addr] {
		cs = append(cs, c)
	}
	lb.connMu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
}

// bufferPool lends ReverseProxy its response copy buffers.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
