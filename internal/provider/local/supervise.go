package local

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// SupervisorCommand is the hidden command of the cloud-compose binary that
// runs Supervise. The launcher starts `<self> __local-supervisor ARGS...`.
const SupervisorCommand = "__local-supervisor"

// EnvSelf names the binary to start supervisors with (default: the
// running executable), so tests can point at a freshly built cloud-compose.
const EnvSelf = "CLOUD_COMPOSE_SELF"

// Variables every boot script gets, besides VOLUME_<NAME> per volume and
// the cluster's `environment:`.
const (
	envNodeID     = "NODE_ID"
	envInstanceID = "INSTANCE_ID"
	envInstanceIP = "INSTANCE_IP"
	envCluster    = "CLUSTER_NAME"
	envClusterEnv = "CLUSTER_ENV"
	envNodeRoot   = "NODE_ROOT"
	// The spec's hardware, when it has one (provider.Hardware): the
	// vCPUs and the memory in MiB the node asked for, each only when set.
	envNodeCores = "NODE_CORES"
	envNodeRAM   = "NODE_RAM"
	// EnvBin is the path of the cloud-compose binary, for boot scripts that
	// run its hidden commands (the quickstart's demo service).
	EnvBin = "CLOUD_COMPOSE_BIN"
)

// inherited are the variables of the CLI's environment that a supervisor
// and its node keep (and every LC_* variable); the rest (AWS_* and other
// credentials, CLOUD_COMPOSE_*, the caller's tooling) stays out, as on a
// fresh server: a supervisor lives as long as its node.
var inherited = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"}

// defaultPath is PATH when the caller has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// baseEnviron is the part of this process's environment a node keeps: the
// inherited variables and LC_*, and a PATH.
func baseEnviron() []string {
	var env []string
	hasPath := false
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(inherited, k) || strings.HasPrefix(k, "LC_") {
			env = append(env, kv)
			hasPath = hasPath || k == "PATH"
		}
	}
	if !hasPath {
		env = append(env, "PATH="+defaultPath)
	}
	return env
}

// handshakeFD is the pipe on which a supervisor tells its launcher that it
// has taken over the instance.
const handshakeFD = 3

func selfBinary() (string, error) {
	if s := os.Getenv(EnvSelf); s != "" {
		return s, nil
	}
	return os.Executable()
}

// startDetached starts a supervisor (or, with reap, a reaper that finishes
// a termination) for instance id in a session of its own, so it outlives
// the CLI and the terminal's signals, and waits until it has taken over.
func startDetached(ctx context.Context, s *store, id string, reap bool) (*os.Process, error) {
	bin, err := selfBinary()
	if err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	if err := os.MkdirAll(s.instanceDir(id), 0o700); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(s.logPath(id), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	args := []string{SupervisorCommand, "--store", s.dir, "--instance", id}
	if reap {
		args = append(args, "--reap")
	}
	cmd := exec.Command(bin, args...)
	// Not the caller's environment: only what the node keeps, and which
	// binary to give it as CLOUD_COMPOSE_BIN.
	cmd.Env = append(baseEnviron(), EnvSelf+"="+bin)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = s.dir // not the CLI's directory: the supervisor may outlive it
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start supervisor %s: %w", bin, err)
	}
	// Reap it if it ends while this process lives; once this process exits
	// it is adopted by init (or the nearest subreaper).
	go func() { _ = cmd.Wait() }()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	select {
	case b := <-got:
		if string(b) == "ok\n" {
			return cmd.Process, nil
		}
		return nil, fmt.Errorf("supervisor exited before taking over instance %s: %s", id, lastLines(s.logPath(id), 5))
	case <-ctx.Done():
		return cmd.Process, ctx.Err()
	}
}

func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Supervise is the body of the detached supervisor process
// (`cloud-compose __local-supervisor --store DIR --instance ID [--reap]`).
// It seeds the node's root from the image, prepares its volumes, runs the
// boot script with bash there as a subreaper of everything it starts, and
// records how it ended. On SIGTERM (from Terminate) it stops the node's
// processes: SIGTERM, the grace period, SIGKILL. With --reap it only
// finishes the termination of an instance whose supervisor is gone.
func Supervise(ctx context.Context, args []string) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	fs := flag.NewFlagSet(SupervisorCommand, flag.ContinueOnError)
	dir := fs.String("store", "", "local store directory")
	id := fs.String("instance", "", "instance id")
	reap := fs.Bool("reap", false, "finish the termination of the instance")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *id == "" {
		return errors.New("supervisor: --store and --instance are required")
	}
	s, err := openStore(*dir)
	if err != nil {
		return err
	}
	var hs *os.File
	var st unix.Stat_t
	if unix.Fstat(handshakeFD, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
		syscall.CloseOnExec(handshakeFD)
		hs = os.NewFile(handshakeFD, "handshake")
	}
	sv := &supervisor{s: s, id: *id, handshake: hs, sigs: sigs, log: os.Stderr}
	if *reap {
		return sv.reap(ctx)
	}
	return sv.run(ctx)
}

type supervisor struct {
	s         *store
	id        string
	handshake *os.File
	sigs      chan os.Signal
	log       io.Writer
}

func (sv *supervisor) logf(format string, args ...any) {
	fmt.Fprintf(sv.log, "[cloud-compose %s] %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func (sv *supervisor) tookOver() {
	if sv.handshake != nil {
		_, _ = sv.handshake.WriteString("ok\n")
		_ = sv.handshake.Close()
		sv.handshake = nil
	}
}

// errDone: the instance needs no supervisor any more.
var errDone = errors.New("instance already ended")

// claim records this process in the instance record.
func (sv *supervisor) claim(ctx context.Context, reap bool) (*instanceRecord, error) {
	var rec *instanceRecord
	err := sv.s.update(ctx, func(t *txn) error {
		r, err := t.instance(sv.id)
		if err != nil {
			return err
		}
		switch {
		case r.State == provider.Terminated:
			return errDone
		case reap:
			if r.Reaper.alive() {
				return fmt.Errorf("instance %s is being terminated by process %d", r.ID, r.Reaper.PID)
			}
			r.Reaper = self()
		case r.State == provider.Pending || r.State == provider.ShuttingDown:
			if r.Supervisor.alive() {
				return fmt.Errorf("instance %s already has supervisor %d", r.ID, r.Supervisor.PID)
			}
			r.Supervisor = self()
		default:
			return errDone
		}
		rec = r
		return t.putInstance(r)
	})
	return rec, err
}

// begin claims the instance (to run or to reap it) and tells the launcher
// the supervisor has taken over; rec is nil when there is nothing to do.
func (sv *supervisor) begin(ctx context.Context, reap bool) (*instanceRecord, error) {
	rec, err := sv.claim(ctx, reap)
	if errors.Is(err, errDone) {
		sv.tookOver()
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sv.tookOver()
	return rec, nil
}

func (sv *supervisor) reap(ctx context.Context) error {
	rec, err := sv.begin(ctx, true)
	if rec == nil || err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sv.sigs:
			cancel() // asked to hurry: kill now
		case <-ctx.Done():
		}
	}()
	sv.logf("terminating instance %s (its supervisor is gone)", rec.ID)
	if err := sv.s.retire(ctx, sv.id, DefaultGrace); err != nil {
		sv.logf("termination failed: %v", err)
		return err
	}
	sv.logf("instance %s terminated", rec.ID)
	return nil
}

type exitEvent struct {
	pid    int
	status syscall.WaitStatus
}

func (sv *supervisor) run(ctx context.Context) error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("supervisor: become subreaper: %w", err)
	}
	rec, err := sv.begin(ctx, false)
	if rec == nil || err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)

	// A termination request (SIGTERM from Terminate, or the CLI's context)
	// cancels the setup and stops the boot script.
	term := make(chan struct{})
	setupCtx, cancelSetup := context.WithCancel(bg)
	defer cancelSetup()
	go func() {
		select {
		case <-sv.sigs:
		case <-ctx.Done():
		}
		cancelSetup()
		close(term)
	}()

	if rec.State == provider.ShuttingDown {
		sv.logf("instance %s was terminated before it started", rec.ID)
		return sv.s.retire(bg, rec.ID, DefaultGrace)
	}
	sv.logf("instance %s: node %s of cluster %s on %s, image %s (%s)", rec.ID, rec.NodeID, rec.Cluster, rec.IP, rec.ImageName, rec.ImageID)
	env, err := sv.setup(setupCtx, rec)
	if err != nil {
		if setupCtx.Err() != nil {
			sv.logf("terminated during setup")
			return sv.finish(bg, rec, true, nil, "")
		}
		sv.logf("setup failed: %v", err)
		return sv.finish(bg, rec, false, nil, "setup failed: "+err.Error())
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		bash = "/bin/bash"
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	sv.logf("running the boot script")
	proc, err := os.StartProcess(bash, []string{"bash", sv.s.userDataPath(rec.ID)}, &os.ProcAttr{
		Dir: sv.s.rootDir(rec.ID), Env: env, Files: []*os.File{devnull, os.Stderr, os.Stderr},
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	devnull.Close()
	if err != nil {
		sv.logf("cannot run the boot script: %v", err)
		return sv.finish(bg, rec, false, nil, "cannot run the boot script: "+err.Error())
	}
	bootPID := proc.Pid
	_ = proc.Release()
	exits := make(chan exitEvent, 16)
	go reapChildren(exits)

	err = sv.s.update(bg, func(t *txn) error {
		r, err := t.instance(rec.ID)
		if err != nil {
			return err
		}
		r.BootPGID = bootPID
		if r.State == provider.Pending {
			r.State = provider.Running
		}
		rec = r
		return t.putInstance(r)
	})
	if err != nil {
		sv.logf("cannot record the running state: %v", err)
	}

	var boot *syscall.WaitStatus
	terminating := false
	termCh := term
	stopped := make(chan struct{})
	for {
		select {
		case ev, ok := <-exits:
			if !ok {
				if terminating {
					<-stopped
				}
				return sv.finish(bg, rec, terminating, boot, "")
			}
			if ev.pid == bootPID {
				ws := ev.status
				boot = &ws
				sv.logf("boot script exited with code %d", exitCode(ws))
			}
		case <-termCh:
			termCh = nil
			terminating = true
			grace := rec.Grace
			if cur, err := sv.current(bg); err == nil && cur.Grace > 0 {
				grace = cur.Grace
			}
			if grace <= 0 {
				grace = DefaultGrace
			}
			sv.logf("stopping: SIGTERM to every process of the node, SIGKILL after %s", grace)
			go func(r instanceRecord) {
				defer close(stopped)
				if n := stopProcesses(bg, &r, grace); n > 0 {
					sv.logf("killed %d process(es) still running after %s", n, grace)
				}
			}(*rec)
		}
	}
}

func (sv *supervisor) current(ctx context.Context) (*instanceRecord, error) {
	var rec *instanceRecord
	err := sv.s.view(ctx, func(t *txn) error {
		var err error
		rec, err = t.instance(sv.id)
		return err
	})
	return rec, err
}

// reapChildren waits for every child (the boot script and, as subreaper,
// every orphan it leaves) and closes exits when none is left.
func reapChildren(exits chan<- exitEvent) {
	defer close(exits)
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return // ECHILD: nothing of the node is left
		}
		exits <- exitEvent{pid: pid, status: ws}
	}
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// finish records how the instance ended once none of its processes is
// left: terminated when a termination was asked for, else stopped (the
// boot script exited 0) or failed.
func (sv *supervisor) finish(ctx context.Context, rec *instanceRecord, terminating bool, boot *syscall.WaitStatus, reason string) error {
	cur, err := sv.current(ctx)
	if err != nil {
		return err
	}
	if terminating || cur.State == provider.ShuttingDown {
		if cur.State != provider.ShuttingDown {
			// stopped by a signal nobody recorded (kill by hand): it failed
			return sv.markEnded(ctx, boot, "its supervisor was stopped by a signal")
		}
		err := sv.s.retire(ctx, rec.ID, DefaultGrace)
		if err == nil {
			sv.logf("instance %s terminated", rec.ID)
		}
		return err
	}
	return sv.markEnded(ctx, boot, reason)
}

func (sv *supervisor) markEnded(ctx context.Context, boot *syscall.WaitStatus, reason string) error {
	return sv.s.update(ctx, func(t *txn) error {
		r, err := t.instance(sv.id)
		if err != nil {
			return err
		}
		if r.State == provider.Terminated || r.State == provider.ShuttingDown {
			return nil
		}
		r.State, r.Reason = provider.Failed, reason
		if boot != nil {
			code := exitCode(*boot)
			r.ExitCode = &code
			if code == 0 && reason == "" {
				r.State = provider.Stopped
			}
			if reason == "" {
				r.Reason = fmt.Sprintf("the boot script exited with code %d", code)
			}
		}
		return t.putInstance(r)
	})
}

// setup creates the node's root from its image and its volumes (restoring
// new ones from their snapshot), links each volume at its mount path inside
// the root, and returns the boot script's environment.
func (sv *supervisor) setup(ctx context.Context, rec *instanceRecord) ([]string, error) {
	s := sv.s
	root := s.rootDir(rec.ID)
	if err := removeTree(root); err != nil {
		return nil, err
	}
	var img imageRecord
	var vols []volumeRecord
	snaps := map[string]snapshotRecord{}
	err := s.view(ctx, func(t *txn) error {
		if rec.ImageID != emptyImageID {
			ok, err := t.get(bucketImages, rec.ImageID, &img)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: image %s (%s) is no longer in the store", ErrNoImage, rec.ImageID, rec.ImageName)
			}
		}
		for _, a := range rec.Volumes {
			v, err := t.volume(a.VolumeID)
			if err != nil {
				return err
			}
			vols = append(vols, *v)
			if v.RestoreFrom != "" {
				var sn snapshotRecord
				if ok, err := t.get(bucketSnapshots, v.RestoreFrom, &sn); err != nil || !ok {
					return fmt.Errorf("volume %s: snapshot %s is no longer in the store", v.Name, v.RestoreFrom)
				}
				snaps[v.ID] = sn
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if img.ID != "" {
		sv.logf("seeding the root from image %s (%s)", img.Name, img.ID)
		if err := copyTree(ctx, s.path(img.Dir), root); err != nil {
			return nil, fmt.Errorf("seed root from image %s: %w", img.ID, err)
		}
	} else if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	spec, err := s.launchSpec(rec.ID)
	if err != nil {
		return nil, err
	}
	if spec == nil {
		return nil, fmt.Errorf("the launch spec of %s is not in the store", rec.ID)
	}
	env := bootEnviron(rec, spec, root)
	for i, v := range vols {
		dir := s.volumeDir(v.ID)
		if sn, ok := snaps[v.ID]; ok {
			sv.logf("restoring volume %s from snapshot %s of %s", v.Name, sn.ID, sn.Created.Format(time.RFC3339))
			_ = removeTree(dir)
			if err := copyTree(ctx, s.path(sn.Dir), dir); err != nil {
				return nil, fmt.Errorf("restore volume %s from %s: %w", v.Name, sn.ID, err)
			}
			if err := s.update(ctx, func(t *txn) error {
				cur, err := t.volume(v.ID)
				if err != nil {
					return err
				}
				cur.RestoreFrom, cur.Snapshot = "", sn.ID
				return t.putVolume(cur)
			}); err != nil {
				return nil, err
			}
		} else if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		env = append(env, volumeEnv(v.Name)+"="+dir)
		if m := rec.Volumes[i].Mount; m != "" {
			if err := mountVolume(root, m, dir); err != nil {
				sv.logf("volume %s: not linked at %s: %v", v.Name, m, err)
			}
		}
	}
	return env, nil
}

// mountVolume links the volume directory at its mount path inside root.
func mountVolume(root, mount, dir string) error {
	p := filepath.Join(root, filepath.Clean("/"+mount))
	if p == root {
		return errors.New("cannot mount over the root")
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s exists in the image and is not empty", mount)
	}
	return os.Symlink(dir, p)
}

var nonAlnum = regexp.MustCompile(`[^A-Z0-9]+`)

// volumeEnv is the variable holding a volume's path: VOLUME_<NAME>, the
// name upper-cased with other characters as '_'.
func volumeEnv(name string) string {
	return "VOLUME_" + nonAlnum.ReplaceAllString(strings.ToUpper(name), "_")
}

func bootEnviron(rec *instanceRecord, spec *provider.Spec, root string) []string {
	env := baseEnviron()
	for _, kv := range spec.Env {
		env = append(env, kv.Key+"="+kv.Value)
	}
	env = append(env,
		envNodeID+"="+rec.NodeID,
		envInstanceID+"="+rec.ID,
		envInstanceIP+"="+rec.IP,
		envCluster+"="+rec.Cluster,
		envClusterEnv+"="+rec.Env,
		envNodeRoot+"="+root,
	)
	if hw := spec.Hardware; hw != nil {
		if hw.MinCores > 0 {
			env = append(env, envNodeCores+"="+strconv.Itoa(hw.MinCores))
		}
		if hw.MinRAMMiB > 0 {
			env = append(env, envNodeRAM+"="+strconv.FormatInt(hw.MinRAMMiB, 10))
		}
	}
	if bin, err := selfBinary(); err == nil {
		env = append(env, EnvBin+"="+bin)
	}
	return env
}
