package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultDir is where the file backend keeps its state when
// cluster.state is not set: beside cloud-compose.yml.
const DefaultDir = ".cloud-compose"

// Opener opens a backend for a location (the whole URL, e.g.
// postgres://host/db or s3://bucket/prefix). dir is the project directory,
// for relative file paths.
type Opener func(ctx context.Context, location, dir string) (Backend, error)

var (
	mu      sync.Mutex
	openers = map[string]Opener{}
)

// Register makes a backend available under a URL scheme; backends call it
// in init.
func Register(scheme string, o Opener) {
	mu.Lock()
	defer mu.Unlock()
	openers[scheme] = o
}

// Open opens the backend location names: "" is the file backend in dir's
// .cloud-compose/, "file:PATH" a file backend elsewhere, "postgres://…"
// and "s3://…" the others.
func Open(ctx context.Context, location, dir string) (Backend, error) {
	if location == "" {
		location = "file:" + filepath.Join(dir, DefaultDir)
	}
	scheme, _, ok := strings.Cut(location, ":")
	if !ok {
		return nil, fmt.Errorf("state %q: not a location: use file:PATH, postgres://… or s3://bucket/prefix", location)
	}
	if scheme == "postgresql" {
		scheme = "postgres"
	}
	mu.Lock()
	o, ok := openers[scheme]
	names := make([]string, 0, len(openers))
	for n := range openers {
		names = append(names, n)
	}
	mu.Unlock()
	if !ok {
		sort.Strings(names)
		return nil, fmt.Errorf("state %q: no backend for %q (this binary has: %s)", location, scheme, strings.Join(names, ", "))
	}
	return o(ctx, location, dir)
}

// LockWait is how often Acquire asks again while it waits for a lock.
const LockWait = 500 * time.Millisecond

// Acquire takes the lock on key, waiting up to timeout (0: try once) while
// someone else holds it: the retry loop, written once for every backend.
// The last *LockError is returned when the time is up.
func Acquire(ctx context.Context, l Locker, key Key, info LockInfo, timeout time.Duration) (Lock, error) {
	deadline := time.Now().Add(timeout)
	for {
		lk, err := l.Lock(ctx, key, info)
		if err == nil || !errors.Is(err, ErrLocked) || timeout <= 0 || time.Now().After(deadline) {
			return lk, err
		}
		wait := min(LockWait, time.Until(deadline))
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}
