package lb

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Command is the hidden command of the cloud-compose binary that runs Main.
const Command = "__lb-proxy"

// ShutdownTimeout bounds how long a stopping proxy lets requests in flight
// finish.
const ShutdownTimeout = 10 * time.Second

// ErrBusy is wrapped when another proxy runs on the same directory.
var ErrBusy = errors.New("another load balancer proxy uses this directory")

// Config is what Main's flags say.
type Config struct {
	Dir    string // state: targets.json, control.sock, proxy.pid, proxy.lock
	Listen string // IP:PORT clients connect to
	Health HealthCheck
}

// Main runs the proxy until ctx is cancelled (SIGTERM or SIGINT, through
// the binary's signal handling), then stops accepting, lets requests in
// flight finish (up to ShutdownTimeout) and returns nil.
//
//	cloud-compose __lb-proxy --dir DIR --listen IP:PORT [--health-path /health]
//	    [--health-port N] [--health-interval 250ms] [--health-timeout 2s] [--ready-fd 3]
//
// Once it listens on both its address and DIR/control.sock it writes "ok\n"
// to the ready file descriptor, if given, and closes it. Logs go to stdout.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(Command, flag.ContinueOnError)
	fs.SetOutput(stdout)
	var cfg Config
	fs.StringVar(&cfg.Dir, "dir", "", "state directory (required)")
	fs.StringVar(&cfg.Listen, "listen", "", "IP:PORT to listen on (required)")
	fs.StringVar(&cfg.Health.Path, "health-path", "", "HTTP path of the targets' health check; empty: a TCP connect")
	fs.IntVar(&cfg.Health.Port, "health-port", 0, "port of the targets' health check (default: the target's port)")
	fs.DurationVar(&cfg.Health.Interval, "health-interval", DefaultHealthInterval, "time between health checks of a target")
	fs.DurationVar(&cfg.Health.Timeout, "health-timeout", DefaultHealthTimeout, "time a health check may take")
	readyFD := fs.Int("ready-fd", 0, "file descriptor to write \"ok\\n\" to once serving (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Dir == "" || cfg.Listen == "" {
		return fmt.Errorf("%s: --dir and --listen are required", Command)
	}
	if os.Getenv("GOGC") == "" {
		// The proxy's live heap is a few MB: collecting at 11× it costs
		// little memory and cuts collections, whose pauses were half the
		// p99 latency the proxy adds (bench/lb), by ten.
		debug.SetGCPercent(1000)
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))
	return Run(ctx, cfg, log, func() {
		if *readyFD > 0 {
			f := os.NewFile(uintptr(*readyFD), "ready")
			_, _ = f.WriteString("ok\n") // the starter went away: nobody to tell
			_ = f.Close()
		}
	})
}

// Run is Main with its flags parsed: ready is called once the proxy
// serves.
func Run(ctx context.Context, cfg Config, log *slog.Logger, ready func()) error {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	lb, err := New(Options{Health: cfg.Health, StateFile: filepath.Join(dir, StateFileName), Log: log})
	if err != nil {
		return err
	}
	defer lb.Close()
	// Restored targets take requests as they are found, not after a first
	// interval of 503s.
	pctx, cancel := context.WithTimeout(ctx, lb.prober.hc.Timeout+time.Second)
	lb.WaitProbed(pctx)
	cancel()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	defer ln.Close()
	sock := filepath.Join(dir, ControlSocket)
	_ = os.Remove(sock) // a dead proxy's: the directory lock says none runs
	addr, done, err := socketPath(dir)
	if err != nil {
		return err
	}
	defer done()
	cl, err := net.Listen("unix", addr)
	if err != nil {
		return fmt.Errorf("load balancer control socket: %w", err)
	}
	defer os.Remove(sock)
	defer cl.Close()
	if err := os.Chmod(sock, 0o600); err != nil {
		return err
	}
	pidFile := filepath.Join(dir, PIDFile)
	if err := writeFileAtomic(pidFile, os.Getpid()); err != nil {
		return err
	}
	defer os.Remove(pidFile)

	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	srv := &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: errLog}
	ctl := &http.Server{Handler: controlHandler(lb, ln.Addr().String()), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- ctl.Serve(cl) }()
	log.Info("load balancer serving", "listen", ln.Addr().String(), "control", sock, "pid", os.Getpid(),
		"targets", len(lb.Targets()), "health_path", lb.prober.hc.Path, "health_port", lb.prober.hc.Port)
	ready()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("load balancer stopping: requests in flight may finish", "within", ShutdownTimeout)
	sctx, scancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer scancel()
	err = srv.Shutdown(sctx)
	_ = ctl.Close() // control requests (a drain) are cut short
	if serveErr != nil {
		return fmt.Errorf("load balancer: %w", serveErr)
	}
	if err != nil {
		return fmt.Errorf("load balancer: stop: %w", err)
	}
	log.Info("load balancer stopped")
	return nil
}

// lockDir takes DIR/proxy.lock for the life of the process: one proxy per
// directory.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, err := os.ReadFile(filepath.Join(dir, PIDFile)); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					holder = "process " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("%w: %s holds %s", ErrBusy, holder, dir)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
