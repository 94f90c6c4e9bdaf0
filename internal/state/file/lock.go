package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

const (
	lockFile = "lock"
	infoFile = "lock.json"
)

// guardWait bounds the wait for the key's directory flock, which others
// hold only for microseconds (longer only when a process is stopped in
// the middle: then the caller gets an error rather than hanging).
const guardWait = 10 * time.Second

// guard takes the key directory's flock, the short lock around the moves
// that read or change lock.json; release it with the returned func.
func guard(ctx context.Context, dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return flockWait(ctx, f, "a process stopped while changing the lock?")
}

// flockWait takes an exclusive flock on f, waiting up to guardWait for
// others, who hold it only briefly (busy says what may hold it longer).
// The returned func releases it by closing f; on error f is closed.
func flockWait(ctx context.Context, f *os.File, busy string) (func(), error) {
	name := f.Name()
	deadline := time.Now().Add(guardWait)
	wait := 100 * time.Microsecond
	for {
		err := flock(f, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("state: flock %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("state: %s stayed busy for %s (%s)", name, guardWait, busy)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// flock is flock(2) on f, retried on EINTR.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Lock takes the lock on key at once, or returns a *state.LockError naming
// the holder. A lock whose holder is gone is free (its flock died with
// it); the returned lock's TookOver names that holder.
func (b *Backend) Lock(ctx context.Context, key state.Key, info state.LockInfo) (state.Lock, error) {
	dir, err := b.mkdirKey(key)
	if err != nil {
		return nil, err
	}
	if info.ID == "" {
		info.ID = newID()
	}
	if info.Created.IsZero() {
		info.Created = time.Now().UTC()
	}
	release, err := guard(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer release()
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("state: flock %s: %w", f.Name(), err)
		}
		holder, rerr := readInfo(dir)
		if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, &state.LockError{Key: key, Err: rerr}
		}
		return nil, &state.LockError{Key: key, Info: holder}
	}
	l := &lock{dir: dir, key: key, info: info, f: f}
	prev, err := readInfo(dir)
	switch {
	case err == nil:
		l.prev, l.tookOver = prev, true
	case errors.Is(err, fs.ErrNotExist):
	default:
		// An unreadable info file is a dead holder's too: the flock is free.
		l.prev, l.tookOver = state.LockInfo{ID: "(unreadable: " + err.Error() + ")"}, true
	}
	if err := writeJSON(filepath.Join(dir, infoFile), info, false); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// ForceUnlock frees the lock on key if its id is id, even while its holder
// runs: it removes lock.json and unlinks the lock file, so that the next
// Lock flocks a new one. Otherwise it changes nothing and returns an error
// wrapping state.ErrNoLock.
func (b *Backend) ForceUnlock(ctx context.Context, key state.Key, id string) error {
	dir, err := b.keyDir(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cluster %s has no lock %q: %w", key, id, state.ErrNoLock)
	}
	release, err := guard(ctx, dir)
	if err != nil {
		return err
	}
	defer release()
	holder, err := readInfo(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cluster %s has no lock %q (it is not locked): %w", key, id, state.ErrNoLock)
	case err != nil:
		return err
	case id == "" || holder.ID != id:
		return fmt.Errorf("cluster %s has no lock %q (it is locked by %s): %w", key, id, holder.ID, state.ErrNoLock)
	}
	if err := os.Remove(filepath.Join(dir, lockFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, infoFile)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// lock is a held lock: the open, flocked lock file.
type lock struct {
	dir      string
	key      state.Key
	info     state.LockInfo
	prev     state.LockInfo
	tookOver bool

	mu sync.Mutex
	f  *os.File // nil once unlocked
}

func (l *lock) Info() state.LockInfo { return l.info }

// TookOver returns the info of the holder whose lock this one replaced
// (it was gone without unlocking) and true, or false if the lock was
// free. See statetest.TakeOver.
func (l *lock) TookOver() (state.LockInfo, bool) { return l.prev, l.tookOver }

// Unlock releases the lock: it removes lock.json if it is still this
// lock's (not after a ForceUnlock and someone else's Lock) and closes the
// lock file, which releases the flock. Releasing twice is not an error.
func (l *lock) Unlock(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	release, err := guard(ctx, l.dir)
	if err != nil {
		// Release the flock anyway; lock.json stays, and the next Lock
		// reports it as taken over.
		l.f.Close()
		l.f = nil
		return fmt.Errorf("lock %s released, its info left in %s: %w", l.info.ID, l.dir, err)
	}
	defer release()
	var rerr error
	if cur, err := readInfo(l.dir); err == nil && cur.ID == l.info.ID && l.stillOurs() {
		if err := os.Remove(filepath.Join(l.dir, infoFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			rerr = fmt.Errorf("state: %w", err)
		}
	}
	if err := l.f.Close(); err != nil && rerr == nil {
		rerr = fmt.Errorf("state: %w", err)
	}
	l.f = nil
	return rerr
}

// stillOurs: the lock file at the path is the one this lock flocked (a
// ForceUnlock unlinks it).
func (l *lock) stillOurs() bool {
	var held, cur unix.Stat_t
	if unix.Fstat(int(l.f.Fd()), &held) != nil || unix.Stat(filepath.Join(l.dir, lockFile), &cur) != nil {
		return false
	}
	return held.Dev == cur.Dev && held.Ino == cur.Ino
}

// Held returns nil while this lock is held, and an error wrapping
// state.ErrNoLock once it was unlocked or force-unlocked (a run that was
// taken for hung can check before each change).
func (l *lock) Held(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("lock %s on %s was released: %w", l.info.ID, l.key, state.ErrNoLock)
	}
	if !l.stillOurs() {
		return fmt.Errorf("lock %s on %s was force-unlocked: %w", l.info.ID, l.key, state.ErrNoLock)
	}
	return nil
}

// readInfo reads the holder's info in dir.
func readInfo(dir string) (state.LockInfo, error) {
	var info state.LockInfo
	data, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("state: %s: %w", filepath.Join(dir, infoFile), err)
	}
	return info, nil
}

// writeJSON writes v to path atomically: a temp file in the same
// directory (0600), fsynced when sync is set, renamed over path.
func writeJSON(path string, v any, sync bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state: write %s: %w", path, err)
	}
	return nil
}

// PIDRuns reports whether pid runs on this host (for the take-over
// warning: a holder gone with its pid reused, or alive on another host).
func PIDRuns(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
