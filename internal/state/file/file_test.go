package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
	"github.com/cloud-compose/cloud-compose-go/internal/state/statetest"
)

// holdEnv makes the test binary a lock holder (see holder): it takes the
// lock named by the variable's JSON, prints "ready" and sleeps until it is
// killed.
const holdEnv = "CLOUD_COMPOSE_FILESTATE_HOLD"

type holdSpec struct {
	Dir  string         `json:"dir"`
	Key  state.Key      `json:"key"`
	Info state.LockInfo `json:"info"`
}

func TestMain(m *testing.M) {
	if v := os.Getenv(holdEnv); v != "" {
		os.Exit(hold(v))
	}
	os.Exit(m.Run())
}

func hold(v string) int {
	var h holdSpec
	if err := json.Unmarshal([]byte(v), &h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	h.Info.PID = os.Getpid()
	if _, err := New(h.Dir, "").Lock(context.Background(), h.Key, h.Info); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return 0
}

// holder starts a child process (this test binary) that takes the lock on
// key in dir and keeps it, and returns it once it holds it.
func holder(t *testing.T, dir string, key state.Key) (*exec.Cmd, state.LockInfo) {
	t.Helper()
	info := statetest.Info("child")
	spec, _ := json.Marshal(holdSpec{Dir: dir, Key: key, Info: info})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("lock holder child: %q, %v", line, err)
	}
	info.PID = cmd.Process.Pid
	return cmd, info
}

// kill kills the holder with SIGKILL and waits for it.
func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Backend {
			b, err := state.Open(context.Background(), "file:"+dir, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
		HolderGone: func(t *testing.T, key state.Key) state.LockInfo {
			cmd, info := holder(t, dir, key)
			kill(t, cmd)
			written, err := readInfo(filepath.Join(dir, key.String()))
			if err != nil {
				t.Fatalf("the killed holder left no lock.json: %v", err)
			}
			if written != info {
				t.Fatalf("lock.json names %+v, the child locked %+v", written, info)
			}
			return written
		},
		ReportsTakeOver: true,
	})
}

// A holder that is alive in another process refuses the lock naming
// itself; ForceUnlock frees it while it still runs; the hung holder's
// Held then says it lost the lock.
func TestLiveHolderInAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	b := New(dir, "")
	ctx := context.Background()
	key := state.Key{Cluster: "web", Env: "prod"}
	cmd, info := holder(t, dir, key)
	_, err := b.Lock(ctx, key, statetest.Info("me"))
	var le *state.LockError
	if !errors.As(err, &le) || le.Info.ID != info.ID {
		t.Fatalf("lock held by child %s: got %v", info.ID, err)
	}
	if err := b.ForceUnlock(ctx, key, "nope"); !errors.Is(err, state.ErrNoLock) {
		t.Fatalf("ForceUnlock wrong id: %v", err)
	}
	if err := b.ForceUnlock(ctx, key, info.ID); err != nil {
		t.Fatal(err)
	}
	lk, err := b.Lock(ctx, key, statetest.Info("me"))
	if err != nil {
		t.Fatalf("lock after ForceUnlock of a live holder: %v", err)
	}
	if _, took := lk.(statetest.TakeOver).TookOver(); took {
		t.Error("a lock freed by ForceUnlock is reported as taken over")
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the holder should still run: %v", err)
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// Held reports a lock that was force-unlocked or released.
func TestHeld(t *testing.T) {
	b := New(t.TempDir(), "")
	ctx := context.Background()
	key := state.Key{Cluster: "web"}
	lk, err := b.Lock(ctx, key, statetest.Info("me"))
	if err != nil {
		t.Fatal(err)
	}
	held := lk.(interface{ Held(context.Context) error })
	if err := held.Held(ctx); err != nil {
		t.Fatalf("Held of a held lock: %v", err)
	}
	if err := b.ForceUnlock(ctx, key, lk.Info().ID); err != nil {
		t.Fatal(err)
	}
	if err := held.Held(ctx); !errors.Is(err, state.ErrNoLock) {
		t.Fatalf("Held after ForceUnlock: %v", err)
	}
	_ = lk.Unlock(ctx)
	if err := held.Held(ctx); !errors.Is(err, state.ErrNoLock) {
		t.Fatalf("Held after Unlock: %v", err)
	}
}

// The take-over names the dead holder's pid, which no longer runs.
func TestTakeOverNamesDeadHolder(t *testing.T) {
	dir := t.TempDir()
	key := state.Key{Cluster: "web"}
	cmd, info := holder(t, dir, key)
	if !PIDRuns(info.PID) {
		t.Fatalf("PIDRuns(%d) of a live child = false", info.PID)
	}
	kill(t, cmd)
	lk, err := New(dir, "").Lock(context.Background(), key, statetest.Info("me"))
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Unlock(context.Background())
	prev, took := lk.(statetest.TakeOver).TookOver()
	if !took || prev.ID != info.ID {
		t.Fatalf("TookOver() = %+v, %v; want lock %s", prev, took, info.ID)
	}
	if PIDRuns(prev.PID) {
		t.Errorf("PIDRuns(%d) of a killed child = true", prev.PID)
	}
}

// Files are 0600 and directories 0700: generations hold user data and
// environment values.
func TestModes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	b := New(root, "")
	ctx := context.Background()
	key := state.Key{Cluster: "web", Env: "staging"}
	lk, err := b.Lock(ctx, key, statetest.Info("me"))
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Unlock(ctx)
	if err := b.PutEvent(ctx, key, state.Event{ID: "e1", Time: time.Now(), Result: state.ResultRunning}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutGeneration(ctx, key, state.Generation{Number: 1, State: state.GenActive}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutGroupMembers(ctx, key, state.GroupMembers{Group: "web", Members: []string{"web-0"}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		"":                               0o700 | fs.ModeDir,
		"web@staging":                    0o700 | fs.ModeDir,
		"web@staging/lock":               0o600,
		"web@staging/lock.json":          0o600,
		"web@staging/events.jsonl":       0o600,
		"web@staging/generations":        0o700 | fs.ModeDir,
		"web@staging/generations/1.json": 0o600,
		"web@staging/groups.json":        0o600,
		"web@staging/groups.lock":        0o600,
	}
	var seen int
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		m, ok := want[rel]
		if !ok {
			t.Errorf("unexpected file %s", rel)
			return nil
		}
		seen++
		if st.Mode() != m {
			t.Errorf("%s: mode %v, want %v", rel, st.Mode(), m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("saw %d of the %d expected files", seen, len(want))
	}
}

// A torn last line (a crash mid-write) is skipped, and the next event is
// not glued to it.
func TestJournalTornLine(t *testing.T) {
	dir := t.TempDir()
	b := New(dir, "")
	ctx := context.Background()
	key := state.Key{Cluster: "web"}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := b.PutEvent(ctx, key, state.Event{ID: "a", Time: t0, Result: state.ResultOK}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "web", eventsFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":"b","time":"2026-01-02T03:04:06Z","who":"x","ho`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := b.PutEvent(ctx, key, state.Event{ID: "c", Time: t0.Add(2 * time.Second), Result: state.ResultOK}); err != nil {
		t.Fatal(err)
	}
	evs, err := b.Events(ctx, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	if strings.Join(ids, ",") != "c,a" {
		t.Errorf("events %v, want c,a", ids)
	}
}

// Events orders by time, whatever zone a writer used, then by first line.
func TestJournalOrder(t *testing.T) {
	b := New(t.TempDir(), "")
	ctx := context.Background()
	key := state.Key{Cluster: "web"}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	zone := time.FixedZone("X", 5*3600)
	for _, ev := range []state.Event{
		{ID: "late-written-early", Time: t0.Add(-time.Minute)},
		{ID: "same-1", Time: t0},
		{ID: "same-2", Time: t0.In(zone)},
		{ID: "newest", Time: t0.Add(time.Second).In(zone)},
	} {
		if err := b.PutEvent(ctx, key, ev); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := b.Events(ctx, key, 3)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	if got := strings.Join(ids, ","); got != "newest,same-2,same-1" {
		t.Errorf("Events(3) = %s", got)
	}
}

func TestKeyNames(t *testing.T) {
	b := New(t.TempDir(), "")
	ctx := context.Background()
	for _, key := range []state.Key{{}, {Cluster: ".."}, {Cluster: "a/b"}, {Cluster: "a@b"}, {Cluster: ".hidden"}, {Cluster: "ok", Env: "../x"}, {Cluster: "ok", Env: ".."}} {
		if _, err := b.Lock(ctx, key, statetest.Info("me")); err == nil {
			t.Errorf("Lock(%+v): no error", key)
		}
		if err := b.PutEvent(ctx, key, state.Event{ID: "x"}); err == nil {
			t.Errorf("PutEvent(%+v): no error", key)
		}
		if err := b.PutGroupMembers(ctx, key, state.GroupMembers{Group: "web"}); err == nil {
			t.Errorf("PutGroupMembers(%+v): no error", key)
		}
		if _, err := b.GroupMembers(ctx, key); err == nil {
			t.Errorf("GroupMembers(%+v): no error", key)
		}
	}
}

func TestOpenLocations(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ loc, want string }{
		{"", "/proj/.cloud-compose"},
		{"file:state", "/proj/state"},
		{"file:/var/lib/cc", "/var/lib/cc"},
		{"file:///var/lib/cc", "/var/lib/cc"},
		{"file://var/lib/cc", "/var/lib/cc"},
	} {
		b, err := state.Open(ctx, c.loc, "/proj")
		if err != nil {
			t.Errorf("Open(%q): %v", c.loc, err)
			continue
		}
		if got := b.(*Backend).Dir(); got != c.want {
			t.Errorf("Open(%q) dir %s, want %s", c.loc, got, c.want)
		}
	}
	if _, err := state.Open(ctx, "file:", "/proj"); err == nil {
		t.Error(`Open("file:"): no error`)
	}
}

// A read of a key that was never written creates nothing.
func TestReadsCreateNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	b := New(root, "")
	ctx := context.Background()
	key := state.Key{Cluster: "web"}
	if evs, err := b.Events(ctx, key, 0); err != nil || len(evs) != 0 {
		t.Errorf("Events: %v, %v", evs, err)
	}
	if gens, err := b.Generations(ctx, key); err != nil || len(gens) != 0 {
		t.Errorf("Generations: %v, %v", gens, err)
	}
	if groups, err := b.GroupMembers(ctx, key); err != nil || groups == nil || len(groups) != 0 {
		t.Errorf("GroupMembers: %#v, %v; want an empty slice", groups, err)
	}
	if err := b.ForceUnlock(ctx, key, "x"); !errors.Is(err, state.ErrNoLock) {
		t.Errorf("ForceUnlock: %v", err)
	}
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reads created %s: %v", root, err)
	}
}
