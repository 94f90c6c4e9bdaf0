// Package file is the coordinator's file backend (state.Register("file")):
// the default, in the project's .cloud-compose/ directory, or anywhere
// with cluster.state (or CLOUD_COMPOSE_STATE) set to file:PATH (a relative
// PATH is relative to the project directory).
//
// Each key (cluster, environment) has a directory of its own,
// <dir>/<cluster>[@env]/ (0700), holding:
//
//	lock             the lock: an empty file that the holder flock(2)s
//	lock.json        the holder's state.LockInfo, written beside it
//	events.jsonl     the journal: one JSON event per line, appended
//	generations/N.json  one file per generation (temp file + rename)
//	groups.json      node-group members (state.GroupStore): every group's
//	                 record, by group name, in one file (temp file + rename)
//	groups.lock      an empty file, flocked while groups.json is rewritten
//
// Every file is 0600: generations hold user data and environment values.
//
// # Locking
//
// The lock is an exclusive, non-blocking flock on <key>/lock. flock dies
// with its holder: when a holder is killed (kill -9, a crash), the kernel
// releases its lock, so the next run gets it at once — there is no pid to
// guess about, and a pid reused by another process cannot keep a lock
// alive. What the dead holder leaves behind is its lock.json. Lock finds
// it there, takes the lock and reports the holder it took over through
// the returned lock's TookOver method (statetest.TakeOver), so the caller
// warns naming that lock and whether its pid still runs on this host. The
// holder's pid and host are for people; the flock decides.
//
// The moves that read or change lock.json — Lock, Unlock and ForceUnlock
// — run under a second flock, on the key's directory itself, held for
// microseconds, so that a ForceUnlock cannot remove a lock.json that a
// new holder has just written, and a refused Lock always reads the info
// of the holder that refused it.
//
// # Force-unlock
//
// ForceUnlock(id) frees the lock even while its holder lives (a hung
// run): when lock.json names id, it removes lock.json and unlinks <key>/lock.
// The old holder keeps its flock, but on a file no longer at that path;
// the next Lock creates a new lock file and takes it. The old holder is
// not told (as with Terraform's force-unlock, that is the operator's
// call); its Unlock afterwards releases only its own flock and leaves the
// new holder's lock.json alone, and Held tells it that it lost the lock.
// A wrong id changes nothing and is an error wrapping state.ErrNoLock.
//
// # Journal and generations
//
// PutEvent appends the event as one line with a single write(2) on a file
// opened O_APPEND, under an flock on the journal, so concurrent writers
// never interleave and a reader (which takes a shared flock) never sees
// half a line. An update of an event (running → ok) is appended too; the
// last line with an id wins, and the event keeps the place of its first
// line. Events are ordered by time, newest first (then by first line).
// A line that does not parse (a torn write after a power loss) is skipped.
// The journal is not fsynced: a killed process loses nothing written;
// only a machine crash may lose the last events.
//
// A generation is written to a temp file, fsynced and renamed over
// generations/N.json, so a reader sees the old or the new record, whole.
// groups.json is written the same way; PutGroupMembers reads, changes and
// renames it under an flock on groups.lock, so that writers of different
// groups at once (as of different generations) all keep theirs.
package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

func init() { state.Register("file", Open) }

// Open opens the file backend that location ("file:PATH", or file://PATH)
// names; a relative PATH is relative to projectDir. Nothing is created
// until the first write.
func Open(_ context.Context, location, projectDir string) (state.Backend, error) {
	path, ok := strings.CutPrefix(location, "file:")
	if !ok {
		return nil, fmt.Errorf("state %q: not a file: location", location)
	}
	if rest, ok := strings.CutPrefix(path, "//"); ok {
		path = rest
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
	}
	if path == "" {
		return nil, fmt.Errorf("state %q: no path (file:PATH)", location)
	}
	return New(path, projectDir), nil
}

// New returns the file backend in dir (relative to projectDir when
// relative).
func New(dir, projectDir string) *Backend {
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(projectDir, dir)
	}
	return &Backend{dir: filepath.Clean(dir)}
}

// Backend is the file backend. It holds no open files between calls; a
// held lock holds its own.
type Backend struct {
	dir string
}

var _ state.Backend = (*Backend)(nil)

// Dir is the directory the backend keeps its state in.
func (b *Backend) Dir() string { return b.dir }

// Close does nothing: held locks stay held until their Unlock.
func (b *Backend) Close() error { return nil }

// keyDir is the key's directory, <dir>/<cluster>[@env].
func (b *Backend) keyDir(key state.Key) (string, error) {
	if err := checkName("cluster", key.Cluster, true); err != nil {
		return "", err
	}
	if err := checkName("environment", key.Env, false); err != nil {
		return "", err
	}
	return filepath.Join(b.dir, key.String()), nil
}

// checkName refuses names that would not be one directory entry of the
// key's own: empty, ".", "..", hidden, or with a path separator (and, for
// a cluster, '@', which separates the environment).
func checkName(what, name string, cluster bool) error {
	if name == "" {
		if cluster {
			return errors.New("state: no cluster name")
		}
		return nil
	}
	bad := strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") || (cluster && strings.Contains(name, "@"))
	if bad {
		return fmt.Errorf("state: %s name %q cannot name a directory (no '/', '\\', leading '.', or '@' in a cluster name)", what, name)
	}
	return nil
}

// mkdirKey makes the key's directory (and the backend's), 0700.
func (b *Backend) mkdirKey(key state.Key) (string, error) {
	d, err := b.keyDir(key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	return d, nil
}
