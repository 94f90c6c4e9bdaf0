package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Key names what a lock, a journal and generations belong to: one cluster
// in one environment ("" for the default).
type Key struct {
	Cluster string `json:"cluster"`
	Env     string `json:"env,omitempty"`
}

func (k Key) String() string {
	if k.Env == "" {
		return k.Cluster
	}
	return k.Cluster + "@" + k.Env
}

// LockInfo says who holds a lock, for the one who does not get it.
type LockInfo struct {
	ID      string    `json:"id"`
	Who     string    `json:"who"`  // user name
	Host    string    `json:"host"` // host name
	PID     int       `json:"pid"`
	Command string    `json:"command"` // the command line, secrets redacted
	Created time.Time `json:"created"`
	// Expires is when a lease-based lock (s3) lapses unless renewed; zero
	// for locks that die with their holder (file, postgres).
	Expires time.Time `json:"expires,omitzero"`
}

// ErrLocked is matched (errors.Is) by *LockError.
var ErrLocked = errors.New("locked")

// LockError is returned when the lock is held by someone else.
type LockError struct {
	Key  Key
	Info LockInfo // the holder; zero when the backend could not read it
	Err  error    // the backend's error, if any
}

func (e *LockError) Error() string {
	i := e.Info
	if i.ID == "" {
		if e.Err != nil {
			return fmt.Sprintf("cluster %s is locked (holder unknown: %v)", e.Key, e.Err)
		}
		return fmt.Sprintf("cluster %s is locked (holder unknown)", e.Key)
	}
	return fmt.Sprintf("cluster %s is locked by %s@%s (pid %d) running %q since %s (lock %s)",
		e.Key, i.Who, i.Host, i.PID, i.Command, i.Created.Local().Format("2006-01-02 15:04:05"), i.ID)
}

func (e *LockError) Is(target error) bool { return target == ErrLocked }
func (e *LockError) Unwrap() error        { return e.Err }

// ErrNoLock is wrapped by ForceUnlock when no lock with that id is held.
var ErrNoLock = errors.New("no such lock")

// Lock is a held lock.
type Lock interface {
	Info() LockInfo
	// Unlock releases the lock; releasing it twice is not an error.
	Unlock(ctx context.Context) error
}

// TakeOver is implemented by locks that can say they were taken over from
// a holder that was gone (a killed process, a closed connection, a lapsed
// lease): the CLI warns, naming it.
type TakeOver interface {
	TookOver() (LockInfo, bool)
}

// Locker takes and breaks locks.
type Locker interface {
	// Lock takes the lock on key at once or returns a *LockError naming
	// the holder. A holder that is gone (its process on this host, its
	// database connection, its unrenewed lease) does not hold it.
	Lock(ctx context.Context, key Key, info LockInfo) (Lock, error)
	// ForceUnlock releases the lock on key if its id is id; otherwise it
	// changes nothing and returns an error wrapping ErrNoLock.
	ForceUnlock(ctx context.Context, key Key, id string) error
}

// Result of a journal event.
const (
	ResultRunning     = "running"
	ResultOK          = "ok"
	ResultFailed      = "failed"
	ResultInterrupted = "interrupted"
)

// Event is one mutating command in the journal.
type Event struct {
	ID         string        `json:"id"`
	Time       time.Time     `json:"time"`
	Who        string        `json:"who"`
	Host       string        `json:"host"`
	Command    string        `json:"command"` // secrets redacted
	Env        string        `json:"env,omitempty"`
	Actions    []NodeAction  `json:"actions,omitempty"`
	Result     string        `json:"result"`
	Error      string        `json:"error,omitempty"`
	Duration   time.Duration `json:"duration"`
	Generation int           `json:"generation,omitempty"`
}

// NodeAction is what a command did to one node.
type NodeAction struct {
	Node       string `json:"node"`
	Action     string `json:"action"`
	InstanceID string `json:"instance_id,omitempty"`
}

// Journal keeps the events of a key.
type Journal interface {
	// PutEvent adds ev, or replaces the event with the same id (a command
	// records itself as running when it starts and its result when it
	// ends).
	PutEvent(ctx context.Context, key Key, ev Event) error
	// Events returns the newest n events (all when n <= 0), newest first.
	Events(ctx context.Context, key Key, n int) ([]Event, error)
}

// Generation states.
const (
	GenPending = "pending"
	GenActive  = "active"
	GenOld     = "old"
)

// Generation is a set of node specs the cluster ran or is to run.
type Generation struct {
	Number  int                      `json:"number"`
	State   string                   `json:"state"`
	Event   string                   `json:"event"` // the event that created it
	Created time.Time                `json:"created"`
	Specs   map[string]provider.Spec `json:"specs"` // by node id
}

// Store keeps the generations of a key.
type Store interface {
	// PutGeneration adds g or replaces the one with its number.
	PutGeneration(ctx context.Context, key Key, g Generation) error
	// Generations returns every generation, lowest number first.
	Generations(ctx context.Context, key Key) ([]Generation, error)
}

// Backend is a coordinator backend: locking, journal and generations.
type Backend interface {
	Locker
	Journal
	Store
	// Close releases the backend's resources (connections).
	Close() error
}

// GroupMembers are the members of one node group as `cluster converge`
// last set them: the node ids (NAME-0, NAME-3, …), so that later `up`,
// `plan` and `rollout` keep them instead of the config's `count`.
type GroupMembers struct {
	Group   string    `json:"group"`
	Members []string  `json:"members"`
	Event   string    `json:"event"` // the journal event that set them
	Updated time.Time `json:"updated"`
}

// GroupStore keeps node-group members; a backend without it cannot
// record converge's counts (found by type assertion, as Locker is).
type GroupStore interface {
	// PutGroupMembers replaces the members recorded for g.Group.
	PutGroupMembers(ctx context.Context, key Key, g GroupMembers) error
	// GroupMembers returns every group's recorded members, by group name
	// order; none recorded: an empty slice and no error.
	GroupMembers(ctx context.Context, key Key) ([]GroupMembers, error)
}
