package local

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// BakeOptions are what a local bake needs.
type BakeOptions struct {
	// Name is the image the bake registers: <name>:<version>.
	Name string
	// Base is the image the root starts from (a name, resolved to its
	// newest image, or an id; "" or "empty" is the built-in empty image).
	Base string
	// Script is the rendered image.sh.
	Script string
	// Progress gets each line the script prints (and the bake's own steps).
	Progress func(line string)
	// Grace is how long the script's processes get between SIGTERM and
	// SIGKILL when the bake is interrupted (DefaultGrace when 0).
	Grace time.Duration
}

// BakeError is a bake whose script failed or was interrupted: nothing was
// registered.
type BakeError struct {
	Name    string
	Reason  string // "exited with code 3", "interrupted"
	Log     string // the bake's log file
	LogTail string // its last lines
}

func (e *BakeError) Error() string {
	return fmt.Sprintf("bake of %s failed: the script %s; nothing was registered. Log %s, last lines: %s", e.Name, e.Reason, e.Log, e.LogTail)
}

// bakeLogLines is how many of the log's last lines a failure shows.
const bakeLogLines = 10

// Bake makes a new image: it copies the base image into a fresh root,
// runs the script there with bash as a node's boot script runs (in its own
// process group, in the root, NODE_ROOT set, the node's environment), its
// output to a log (bakes/<id>/log in the store) and to Progress, and
// registers the root as a new dated image called opts.Name when the script
// exits 0. On a non-zero exit or when ctx is cancelled (its processes get
// SIGTERM, then SIGKILL after the grace period) the root is removed and
// nothing is registered: a *BakeError.
func Bake(ctx context.Context, opts BakeOptions) (provider.Image, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	s, err := defaultStore()
	if err != nil {
		return provider.Image{}, err
	}
	var base imageRecord
	if err := s.view(ctx, func(t *txn) error {
		var err error
		base, _, err = resolveImage(t, opts.Base, nil, true)
		return err
	}); err != nil {
		return provider.Image{}, fmt.Errorf("bake %s: base image: %w", opts.Name, err)
	}
	id := newID("bake")
	dir := s.path("bakes", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return provider.Image{}, err
	}
	script := filepath.Join(dir, "image.sh")
	if err := os.WriteFile(script, []byte(opts.Script), 0o600); err != nil {
		return provider.Image{}, err
	}
	logPath := filepath.Join(dir, "log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return provider.Image{}, err
	}
	defer logf.Close()
	step := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		fmt.Fprintf(logf, "%s cloud-compose: %s\n", time.Now().UTC().Format(time.RFC3339), line)
		progress(line)
	}
	return s.registerImage(ctx, opts.Name, func(root string) error {
		if base.ID == emptyImageID {
			step("bake %s: root from the built-in image %s", id, EmptyImage)
			if err := os.MkdirAll(root, 0o755); err != nil {
				return err
			}
		} else {
			step("bake %s: root from image %s (%s)", id, base.Name, base.ID)
			if err := copyTree(ctx, s.path(base.Dir), root); err != nil {
				return fmt.Errorf("bake %s: copy image %s: %w", opts.Name, base.ID, err)
			}
		}
		step("running image.sh")
		runFile := filepath.Join(dir, bakeRunFile)
		defer os.Remove(runFile)
		started := func(pgid int) error {
			b, err := json.Marshal(bakeRun{Name: opts.Name, PGID: pgid, Root: root})
			if err != nil {
				return err
			}
			return os.WriteFile(runFile, b, 0o600)
		}
		reason, err := runBakeScript(ctx, script, root, id, logf, progress, opts.Grace, started)
		if err != nil {
			return fmt.Errorf("bake %s: %w", opts.Name, err)
		}
		if reason != "" {
			step("image.sh %s: nothing registered", reason)
			return &BakeError{Name: opts.Name, Reason: reason, Log: logPath, LogTail: lastLines(logPath, bakeLogLines)}
		}
		step("image.sh exited with code 0: registering %s", opts.Name)
		return nil
	})
}

// runBakeScript runs bash script in root in a process group of its own and
// waits for it; reason is "" when it exited 0, else how it ended.
// started records the script's process group once it runs (the bake's
// run file, which `image down` reads).
func runBakeScript(ctx context.Context, script, root, id string, logf *os.File, progress func(string), grace time.Duration, started func(pgid int) error) (reason string, err error) {
	if grace <= 0 {
		grace = DefaultGrace
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		bash = "/bin/bash"
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer pr.Close()
	env := append(baseEnviron(), envNodeRoot+"="+root, envInstanceID+"="+id)
	if bin, err := selfBinary(); err == nil {
		env = append(env, EnvBin+"="+bin)
	}
	cmd := exec.Command(bash, script)
	cmd.Dir, cmd.Env = root, env
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return "", fmt.Errorf("run image.sh: %w", err)
	}
	pw.Close()
	pgid := cmd.Process.Pid
	if err := started(pgid); err != nil {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		_ = cmd.Wait()
		return "", fmt.Errorf("record the bake: %w", err)
	}

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			progress(line)
		}
		if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.EOF) {
			fmt.Fprintf(logf, "cloud-compose: reading the script's output: %v\n", err)
		}
	}()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	interrupted := false
	select {
	case werr = <-waited:
	case <-ctx.Done():
		interrupted = true
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case werr = <-waited:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			werr = <-waited
		}
	}
	// The bake is over: what the script left running in its group goes, as
	// when a bake instance shuts down.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
		// a process outside the group still holds the output
		pr.Close()
		<-copied
	}
	if interrupted {
		return "was interrupted", nil
	}
	if werr == nil {
		return "", nil
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "was killed by " + strings.ToUpper(ws.Signal().String()), nil
		}
		return fmt.Sprintf("exited with code %d", ee.ExitCode()), nil
	}
	return "", werr
}
