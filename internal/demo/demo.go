package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Command is the hidden command of the cloud-compose binary that runs Main.
const Command = "__demo-service"

// CounterFile is the file in the data directory that holds the count.
const CounterFile = "counter"

// ErrStopped is returned when the service is stopped by its context (a
// signal): it did not end on its own, so its exit status is not 0.
var ErrStopped = errors.New("demo service stopped")

// UnhealthyAnswer is the body of /health, with status 503, for a service
// started with --unhealthy.
const UnhealthyAnswer = "unhealthy (started with --unhealthy)"

// VersionHeader is the response header that carries --version, when set.
const VersionHeader = "X-Demo-Version"

// Main runs the service until ctx is cancelled. Flags: --addr IP:PORT,
// --data DIR (where the counter lives), --node ID, --version V (reported by
// /health and in the VersionHeader of every answer), --unhealthy (listen,
// but answer /health with 503: a version that never gets healthy),
// --abrupt (exit at once on SIGTERM, cutting requests in flight).
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(Command, flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	data := fs.String("data", "", "directory for the request counter (required)")
	node := fs.String("node", "", "node id to answer with")
	version := fs.String("version", "", "version to report (in /health and the "+VersionHeader+" header)")
	unhealthy := fs.Bool("unhealthy", false, "answer /health with 503 (a version that never gets healthy)")
	abrupt := fs.Bool("abrupt", false, "on SIGTERM, exit at once, cutting requests in flight (no graceful shutdown)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("demo service: --data is required")
	}
	c, err := openCounter(filepath.Join(*data, CounterFile))
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return fmt.Errorf("demo service: %w", err)
	}
	srv := &http.Server{Handler: handler(*node, *version, *unhealthy, c), ReadHeaderTimeout: 5 * time.Second}
	about := ""
	if *version != "" {
		about = " version " + *version
	}
	if *unhealthy {
		about += " (--unhealthy: /health answers 503)"
	}
	fmt.Fprintf(stdout, "demo service of node %s%s listening on http://%s (counter at %d, in %s)\n", *node, about, ln.Addr(), c.value(), c.path)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("demo service: %w", err)
	case <-ctx.Done():
		if *abrupt {
			// as many services do: whatever is in flight is cut
			fmt.Fprintf(stdout, "demo service of node %s stopped at once (--abrupt)\n", *node)
			return ErrStopped
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		fmt.Fprintf(stdout, "demo service of node %s stopped\n", *node)
		return ErrStopped
	}
}

// handler serves GET / ("node ID: request N", the counter's next value),
// GET /health ("ok", or "ok version V") and POST /work?ms=N. The body of GET / is the same
// with or without a version (tests and the quickstart's README rely on it):
// the version is in the VersionHeader and in /health.
func handler(node, version string, unhealthy bool, c *counter) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if unhealthy {
			http.Error(w, UnhealthyAnswer, http.StatusServiceUnavailable)
			return
		}
		if version != "" {
			fmt.Fprintf(w, "ok version %s\n", version)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		n, err := c.next()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "node %s: request %d\n", node, n)
	})
	// POST /work?ms=N: N milliseconds of work, then an answer: a slow,
	// non-idempotent request (a proxy must not send it twice), for load
	// tests of draining.
	mux.HandleFunc("POST /work", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(min(max(ms, 0), 60000)) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "node %s: worked %d ms\n", node, ms)
	})
	if version == "" {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(VersionHeader, version)
		mux.ServeHTTP(w, r)
	})
}

// counter is a request count persisted in a file (written to a temporary
// file and renamed, so a kill never leaves it half-written).
type counter struct {
	mu   sync.Mutex
	path string
	n    int64
}

func openCounter(path string) (*counter, error) {
	c := &counter{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		c.n, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("demo service: %s: %w", path, err)
		}
	}
	return c, nil
}

func (c *counter) value() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *counter) next() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(c.n+1, 10)+"\n"), 0o644); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return 0, err
	}
	c.n++
	return c.n, nil
}
