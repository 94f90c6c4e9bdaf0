package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/lb"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// The local provider's load balancer is a proxy process of the binary
// (`cloud-compose __lb-proxy`, package lb), one per cluster and
// environment, started detached in a session of its own like a node's
// supervisor so it outlives the CLI. Its directory in the store is
//
//	lbs/<cluster>[.<env>]/   targets.json (the registered targets, kept across
//	                         restarts), control.sock (the control API),
//	                         proxy.pid, proxy.lock, log (its output)
//
// Registration changes reach the running proxy over its control socket;
// the proxy keeps them in targets.json, so a proxy started again (after it
// died) has the same targets. The process is found by its command line
// (`__lb-proxy --dir DIR`), not by a record that could go stale.

var _ provider.LoadBalancer = (*localProvider)(nil)

// Load balancer timings.
const (
	// RegisterWait is how long Register waits for the proxy's first
	// passing health check of a new target (the engine registers nodes
	// that already passed their health gate).
	RegisterWait = 10 * time.Second
	// lbStartTimeout bounds the wait for a starting proxy's handshake (it
	// checks its kept targets before it serves).
	lbStartTimeout = 30 * time.Second
	// lbAnswerWait is how long a running proxy may take to answer on its
	// control socket (it is starting) before it is taken for hung.
	lbAnswerWait = 5 * time.Second
	// lbStopGrace is how long a stopping proxy gets before SIGKILL: its
	// own bound on requests in flight, and a margin.
	lbStopGrace = lb.ShutdownTimeout + 5*time.Second
)

// States of the local load balancer in LBStatus.
const (
	LBRunning = "running"
	// LBUnresponsive: its process runs but its control socket does not
	// answer.
	LBUnresponsive = "unresponsive"
)

// ErrNoLoadBalancer is returned when the cluster has no
// load_balancer.listen.
var ErrNoLoadBalancer = errors.New("the cluster has no load_balancer.listen")

// LBAddressInUseError says who listens on load_balancer.listen.
type LBAddressInUseError struct {
	Addr   string
	Holder string
}

func (e *LBAddressInUseError) Error() string {
	return fmt.Sprintf("load_balancer.listen %s is already in use by %s; stop it, or give load_balancer.listen another address",
		e.Addr, e.Holder)
}

func (e *LBAddressInUseError) Is(target error) bool { return target == ErrAddressInUse }

// LoadBalancerEnabled reports whether the cluster has load_balancer.listen.
func (p *localProvider) LoadBalancerEnabled() bool {
	return p.cfg.LoadBalancer != nil && p.cfg.LoadBalancer.Listen != ""
}

// EnsureLoadBalancer starts the cluster's proxy unless it runs, answers
// and was started with the arguments the config asks for now (a proxy on
// another address or with another health check is stopped and started
// again; its targets are kept).
func (p *localProvider) EnsureLoadBalancer(ctx context.Context, cluster provider.ClusterID) (provider.LBStatus, error) {
	dir, listen, err := p.ensureLB(ctx, cluster)
	if err != nil {
		return provider.LBStatus{}, err
	}
	st, err := p.lbStatus(ctx, cluster, dir, listen)
	if err != nil {
		return provider.LBStatus{}, fmt.Errorf("load balancer: %w", err)
	}
	return st, nil
}

// Register adds inst (IP:target_port) to the proxy and waits until the
// proxy's health check passes (RegisterWait at most). A proxy that died is
// started again first.
func (p *localProvider) Register(ctx context.Context, cluster provider.ClusterID, inst provider.Instance) error {
	err := p.withLB(ctx, cluster, true, func(c lb.Client) error {
		return c.Register(ctx, p.targetAddr(inst), RegisterWait)
	})
	if err != nil {
		return fmt.Errorf("register instance %s (node %s, %s) with the load balancer: %w", inst.ID, inst.NodeID, p.targetAddr(inst), err)
	}
	return nil
}

// Deregister drains inst from the proxy: no new requests from now on;
// it returns once its requests in flight are done or load_balancer.drain
// has passed (what is left then is written to the provider's log).
func (p *localProvider) Deregister(ctx context.Context, cluster provider.ClusterID, inst provider.Instance) error {
	addr := p.targetAddr(inst)
	drain := p.cfg.LoadBalancer.Drain
	err := p.withLB(ctx, cluster, false, func(c lb.Client) error {
		drained, err := c.Deregister(ctx, addr, drain)
		if err == nil && !drained {
			fmt.Fprintf(p.log, "node %s: load balancer drain of %s ended after %s with requests still in flight\n", inst.NodeID, addr, drain)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("deregister instance %s (node %s, %s) from the load balancer: %w", inst.ID, inst.NodeID, addr, err)
	}
	return nil
}

// LoadBalancerStatus reads the proxy and its targets, each with the id of
// the cluster's instance on its IP; nil when no proxy runs. A proxy whose
// process runs but does not answer is LBUnresponsive, without targets.
func (p *localProvider) LoadBalancerStatus(ctx context.Context, cluster provider.ClusterID) (*provider.LBStatus, error) {
	dir, err := p.lbDir(cluster)
	if err != nil {
		return nil, err
	}
	if len(proxyProcesses(dir)) == 0 {
		return nil, nil
	}
	listen := ""
	if p.cfg.LoadBalancer != nil {
		listen = p.cfg.LoadBalancer.Listen
	}
	st, err := p.lbStatus(ctx, cluster, dir, listen)
	if errors.Is(err, lb.ErrNotRunning) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return &provider.LBStatus{Address: lbURL(listen), State: LBUnresponsive, Targets: []provider.LBTarget{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	return &st, nil
}

// RemoveLoadBalancer stops the proxy (SIGTERM: requests in flight finish;
// SIGKILL after lbStopGrace) and removes its directory.
func (p *localProvider) RemoveLoadBalancer(ctx context.Context, cluster provider.ClusterID) error {
	dir, err := p.lbDir(cluster)
	if err != nil {
		return err
	}
	if err := stopProxy(ctx, dir); err != nil {
		return fmt.Errorf("remove the load balancer: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the load balancer: %w", err)
	}
	return nil
}

// targetAddr is inst's address as a target: its IP and target_port.
func (p *localProvider) targetAddr(inst provider.Instance) string {
	return net.JoinHostPort(inst.IP, strconv.Itoa(p.cfg.LoadBalancer.TargetPort))
}

func lbURL(listen string) string { return "http://" + listen + "/" }

// lbDir is the cluster's proxy directory in the store.
func (p *localProvider) lbDir(cluster provider.ClusterID) (string, error) {
	name := cluster.Name
	if cluster.Env != "" {
		name += "." + cluster.Env
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("load balancer: cluster name %q cannot name a directory", name)
	}
	return p.store.path("lbs", name), nil
}

// proxyArgs are the proxy's arguments for the cluster's config: targets
// are checked with health.path (HTTP GET, 2xx) or, without one, a TCP
// connect; on health.port of the target's IP, or the target's port
// (target_port) without one. health.command is the engine's, not the
// proxy's.
func (p *localProvider) proxyArgs(dir, listen string) []string {
	args := []string{lb.Command, "--dir", dir, "--listen", listen}
	if h := p.cfg.Health; h != nil {
		if h.Path != "" {
			args = append(args, "--health-path", h.Path)
		}
		if h.Port > 0 {
			args = append(args, "--health-port", strconv.Itoa(h.Port))
		}
	}
	return args
}

// withLB runs fn with a client of the cluster's proxy. When the proxy is
// not running, fn runs again after the proxy is started (start) — or, for
// a deregistration (!start), only if the proxy has a directory left, that
// is targets to let go of.
func (p *localProvider) withLB(ctx context.Context, cluster provider.ClusterID, start bool, fn func(lb.Client) error) error {
	if !p.LoadBalancerEnabled() {
		return ErrNoLoadBalancer
	}
	dir, err := p.lbDir(cluster)
	if err != nil {
		return err
	}
	err = fn(lb.Client{Dir: dir})
	if !errors.Is(err, lb.ErrNotRunning) {
		return err
	}
	if !start {
		if _, serr := os.Stat(filepath.Join(dir, lb.StateFileName)); errors.Is(serr, os.ErrNotExist) {
			return nil // never registered anything
		}
	}
	fmt.Fprintf(p.log, "load balancer: the proxy for %s is not running: starting it\n", dir)
	if _, _, err := p.ensureLB(ctx, cluster); err != nil {
		return err
	}
	return fn(lb.Client{Dir: dir})
}

// ensureLB makes the cluster's proxy run as the config says and returns
// its directory and address.
func (p *localProvider) ensureLB(ctx context.Context, cluster provider.ClusterID) (dir, listen string, err error) {
	if !p.LoadBalancerEnabled() {
		return "", "", ErrNoLoadBalancer
	}
	listen, err = lb.ParseAddress(p.cfg.LoadBalancer.Listen)
	if err != nil {
		return "", "", fmt.Errorf("load_balancer.listen: %w", err)
	}
	dir, err = p.lbDir(cluster)
	if err != nil {
		return "", "", err
	}
	want := p.proxyArgs(dir, listen)
	if ok, why := runningAsWanted(ctx, dir, want); ok {
		return dir, listen, nil
	} else if why != "" {
		fmt.Fprintf(p.log, "load balancer: %s: restarting it\n", why)
		if err := stopProxy(ctx, dir); err != nil {
			return "", "", fmt.Errorf("load balancer: %w", err)
		}
	}
	if err := waitListenFree(ctx, listen); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("load balancer: %w", err)
	}
	startErr := startProxy(ctx, dir, want)
	if startErr != nil {
		// Another command may have started it meanwhile.
		if ok, _ := runningAsWanted(ctx, dir, want); ok {
			return dir, listen, nil
		}
		return "", "", fmt.Errorf("load balancer: %w", startErr)
	}
	fmt.Fprintf(p.log, "load balancer: proxy started on %s\n", lbURL(listen))
	return dir, listen, nil
}

// runningAsWanted reports whether a proxy of dir runs with arguments want
// and answers; otherwise why, when one runs that is to be replaced ("" when
// none runs).
func runningAsWanted(ctx context.Context, dir string, want []string) (ok bool, why string) {
	pids := proxyProcesses(dir)
	if len(pids) == 0 {
		return false, ""
	}
	for _, pid := range pids {
		if got := proxyArgsOf(pid); !slices.Equal(got, want) {
			return false, fmt.Sprintf("the proxy (process %d) runs with %q, the config asks for %q", pid, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
	c := lb.Client{Dir: dir}
	deadline := time.Now().Add(lbAnswerWait)
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.Alive(actx)
		cancel()
		if err == nil {
			return true, ""
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false, fmt.Sprintf("the proxy (process %v) does not answer on its control socket (%v)", pids, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listenFreeGrace is how long a taken listen address gets to be
// released before it is reported: a proxy that just died or was stopped
// leaves the process table before the kernel has closed its sockets.
const listenFreeGrace = 2 * time.Second

// waitListenFree is checkListen, given listenFreeGrace.
func waitListenFree(ctx context.Context, listen string) error {
	deadline := time.Now().Add(listenFreeGrace)
	for {
		err := checkListen(listen)
		var inUse *LBAddressInUseError
		if err == nil || !errors.As(err, &inUse) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkListen fails when a process listens on listen (or the wildcard
// address at its port), naming it.
func checkListen(listen string) error {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return fmt.Errorf("load_balancer.listen: %w", err)
	}
	ls, err := tcpListeners(ap.Addr(), int(ap.Port()))
	if err != nil || len(ls) == 0 {
		return err
	}
	holders := make([]string, len(ls))
	for i, l := range ls {
		holders[i] = l.String()
	}
	return &LBAddressInUseError{Addr: listen, Holder: strings.Join(holders, "; ")}
}

// startProxy starts `<self> ARGS --ready-fd 3` in a session of its own,
// its output appended to DIR/log, and waits for its handshake.
func startProxy(ctx context.Context, dir string, args []string) error {
	bin, err := selfBinary()
	if err != nil {
		return fmt.Errorf("start the proxy: %w", err)
	}
	logPath := filepath.Join(dir, "log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start the proxy: %w", err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(bin, append(slices.Clone(args), "--ready-fd", strconv.Itoa(handshakeFD))...)
	cmd.Env = baseEnviron() // not the caller's: it lives as long as the cluster
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start the proxy %s: %w", bin, err)
	}
	// Reap it if it ends while this process lives; after that, init does.
	go func() { _ = cmd.Wait() }()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	timer := time.NewTimer(lbStartTimeout)
	defer timer.Stop()
	select {
	case b := <-got:
		if string(b) == "ok\n" {
			return nil
		}
		return fmt.Errorf("the proxy exited before it served: %s", lastLines(logPath, 3))
	case <-timer.C:
		_ = cmd.Process.Kill()
		return fmt.Errorf("the proxy did not serve within %s (killed): %s", lbStartTimeout, lastLines(logPath, 3))
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopProxy stops every proxy process of dir: SIGTERM, then SIGKILL after
// lbStopGrace (or at once when ctx is done), and waits until they are gone.
func stopProxy(ctx context.Context, dir string) error {
	pids := proxyProcesses(dir)
	if len(pids) == 0 {
		return nil
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stop the proxy (process %d): %w", pid, err)
		}
	}
	deadline := time.Now().Add(lbStopGrace)
	killed := false
	for {
		left := proxyProcesses(dir)
		if len(left) == 0 {
			return nil
		}
		if !killed && (time.Now().After(deadline) || ctx.Err() != nil) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			killed = true
			deadline = time.Now().Add(5 * time.Second)
		} else if killed && time.Now().After(deadline) {
			return fmt.Errorf("the proxy (process %v) is still there after SIGKILL", left)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// lbStatus asks the proxy for its targets and names the cluster's
// instance on each target's IP.
func (p *localProvider) lbStatus(ctx context.Context, cluster provider.ClusterID, dir, listen string) (provider.LBStatus, error) {
	c := lb.Client{Dir: dir}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := c.Info(actx)
	if err != nil {
		return provider.LBStatus{}, err
	}
	ts, err := c.Targets(actx)
	if err != nil {
		return provider.LBStatus{}, err
	}
	if info.Listen != "" {
		listen = info.Listen
	}
	insts, err := p.Instances(ctx, cluster)
	if err != nil {
		return provider.LBStatus{}, err
	}
	byIP := map[string]provider.Instance{}
	for _, in := range insts {
		if prev, ok := byIP[in.IP]; !ok || rank(in.State) < rank(prev.State) {
			byIP[in.IP] = in
		}
	}
	st := provider.LBStatus{Address: lbURL(listen), State: LBRunning, Targets: make([]provider.LBTarget, 0, len(ts))}
	for _, t := range ts {
		lt := provider.LBTarget{Address: t.Address, State: string(t.State), InFlight: t.InFlight}
		if host, _, err := net.SplitHostPort(t.Address); err == nil {
			lt.InstanceID = byIP[host].ID
		}
		st.Targets = append(st.Targets, lt)
	}
	return st, nil
}

// rank orders the states of instances sharing an IP: the one that holds it
// (running, then pending) names the target.
func rank(s provider.State) int {
	switch s {
	case provider.Running:
		return 0
	case provider.Pending:
		return 1
	case provider.ShuttingDown:
		return 2
	}
	return 3
}

// proxyProcesses returns the live proxy processes of dir, found by their
// command line (`cloud-compose __lb-proxy --dir DIR ...`).
func proxyProcesses(dir string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(b, []byte(lb.Command)) || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		if !isProxyOf(splitCmdline(b), dir) {
			continue
		}
		if st, ok := readStat(pid); ok && st.State != 'Z' && st.State != 'X' {
			out = append(out, pid)
		}
	}
	return out
}

func splitCmdline(b []byte) []string {
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// isProxyOf reports whether args (a command line) are a proxy's for dir.
func isProxyOf(args []string, dir string) bool {
	if len(args) < 2 || args[1] != lb.Command {
		return false
	}
	for i, a := range args[2:] {
		switch {
		case (a == "--dir" || a == "-dir") && i+3 < len(args) && args[i+3] == dir:
			return true
		case a == "--dir="+dir || a == "-dir="+dir:
			return true
		}
	}
	return false
}

// proxyArgsOf is process pid's command line without the binary and the
// --ready-fd flag, to compare with proxyArgs.
func proxyArgsOf(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil
	}
	args := splitCmdline(b)[1:]
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if args[i] == "--ready-fd" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
