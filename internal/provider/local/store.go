package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// EnvDir overrides where the local provider keeps its state.
const EnvDir = "CLOUD_COMPOSE_LOCAL_DIR"

// DefaultGrace is how long a terminated instance's processes get between
// SIGTERM and SIGKILL when provider.Options.Grace is zero.
const DefaultGrace = 10 * time.Second

// storeBusyTimeout bounds how long a command waits for another one holding
// the store.
const storeBusyTimeout = 30 * time.Second

// ErrStoreBusy is returned when the store stays locked by another process.
var ErrStoreBusy = errors.New("local store is busy")

var (
	bucketInstances = []byte("instances")
	bucketVolumes   = []byte("volumes")
	bucketImages    = []byte("images")
	bucketSnapshots = []byte("snapshots")
	bucketAddresses = []byte("addresses") // node-group members' IPs (addresses.go)
)

// Dir returns the store directory: $CLOUD_COMPOSE_LOCAL_DIR, else
// $XDG_STATE_HOME/cloud-compose, else ~/.local/state/cloud-compose.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "cloud-compose"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("local store: set %s or XDG_STATE_HOME: %w", EnvDir, err)
	}
	return filepath.Join(home, ".local", "state", "cloud-compose"), nil
}

// store is the local cloud's database and directories. The database file is
// opened for each transaction and closed after it: bbolt holds an exclusive
// flock while open, so separate CLI invocations and supervisors take turns.
type store struct {
	dir string
}

// inProcess serialises transactions of one process (flock alone would make
// goroutines of the same process poll for each other).
var inProcess sync.Map // dir -> *sync.Mutex

func openStore(dir string) (*store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "instances"), filepath.Join(dir, "volumes"),
		filepath.Join(dir, "images"), filepath.Join(dir, "snapshots")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("local store: %w", err)
		}
	}
	return &store{dir: dir}, nil
}

func defaultStore() (*store, error) {
	d, err := Dir()
	if err != nil {
		return nil, err
	}
	return openStore(d)
}

func (s *store) path(parts ...string) string {
	return filepath.Join(append([]string{s.dir}, parts...)...)
}

// update runs fn in a read-write transaction.
func (s *store) update(ctx context.Context, fn func(*txn) error) error {
	return s.run(ctx, true, fn)
}

// view runs fn in a read-only transaction.
func (s *store) view(ctx context.Context, fn func(*txn) error) error {
	return s.run(ctx, false, fn)
}

func (s *store) run(ctx context.Context, write bool, fn func(*txn) error) error {
	m, _ := inProcess.LoadOrStore(s.dir, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	deadline := time.Now().Add(storeBusyTimeout)
	var db *bolt.DB
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		db, err = bolt.Open(s.path("state.db"), 0o600, &bolt.Options{Timeout: 100 * time.Millisecond})
		if err == nil {
			break
		}
		if !errors.Is(err, bolterrors.ErrTimeout) {
			return fmt.Errorf("local store: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s has been locked for %s", ErrStoreBusy, s.path("state.db"), storeBusyTimeout)
		}
	}
	defer db.Close()
	body := func(tx *bolt.Tx) error { return fn(&txn{tx: tx}) }
	if write {
		return db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketInstances, bucketVolumes, bucketImages, bucketSnapshots, bucketAddresses} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return body(tx)
		})
	}
	return db.View(body)
}

// txn is a typed view of a transaction.
type txn struct{ tx *bolt.Tx }

func (t *txn) get(bucket []byte, id string, v any) (bool, error) {
	b := t.tx.Bucket(bucket)
	if b == nil {
		return false, nil
	}
	raw := b.Get([]byte(id))
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

func (t *txn) put(bucket []byte, id string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucket).Put([]byte(id), raw)
}

func (t *txn) del(bucket []byte, id string) error {
	return t.tx.Bucket(bucket).Delete([]byte(id))
}

func each[T any](t *txn, bucket []byte) ([]T, error) {
	b := t.tx.Bucket(bucket)
	if b == nil {
		return nil, nil
	}
	var out []T
	err := b.ForEach(func(_, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func (t *txn) instance(id string) (*instanceRecord, error) {
	var r instanceRecord
	ok, err := t.get(bucketInstances, id, &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoInstance, id)
	}
	return &r, nil
}

func (t *txn) putInstance(r *instanceRecord) error { return t.put(bucketInstances, r.ID, r) }

func (t *txn) instances() ([]instanceRecord, error) { return each[instanceRecord](t, bucketInstances) }

func (t *txn) volume(id string) (*volumeRecord, error) {
	var r volumeRecord
	ok, err := t.get(bucketVolumes, id, &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("local store: no volume %s", id)
	}
	return &r, nil
}

func (t *txn) putVolume(r *volumeRecord) error { return t.put(bucketVolumes, r.ID, r) }

func (t *txn) volumes() ([]volumeRecord, error) { return each[volumeRecord](t, bucketVolumes) }

// ErrNoInstance is wrapped when an instance id is not in the store.
var ErrNoInstance = errors.New("no such local instance")

// procRef names a process unambiguously: the pid and its start time in
// clock ticks since boot (/proc/PID/stat field 22), so a reused pid is not
// mistaken for the original process.
type procRef struct {
	PID   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
}

// instanceRecord is one instance in the store.
type instanceRecord struct {
	ID         string            `json:"id"`
	Cluster    string            `json:"cluster"`
	Env        string            `json:"env,omitempty"`
	NodeID     string            `json:"node"`
	IP         string            `json:"ip"`
	ImageID    string            `json:"image_id"`
	ImageName  string            `json:"image_name"`
	State      provider.State    `json:"state"`
	ExitCode   *int              `json:"exit_code,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Spec       string            `json:"spec"`
	Protected  bool              `json:"protected"`
	Tags       map[string]string `json:"tags"`
	Generation string            `json:"generation,omitempty"`
	// Hardware is the spec's hardware (what the boot script sees as
	// NODE_CORES and NODE_RAM); nil when the spec asks for none.
	Hardware   *provider.Hardware `json:"hardware,omitempty"`
	Volumes    []attachment       `json:"volumes,omitempty"`
	Launched   time.Time          `json:"launched"`
	Terminated time.Time          `json:"terminated,omitzero"`

	// Launcher claimed the record; Supervisor runs the instance; Reaper
	// finishes a termination whose supervisor is gone.
	Launcher   procRef `json:"launcher"`
	Supervisor procRef `json:"supervisor"`
	Reaper     procRef `json:"reaper"`
	// BootPGID is the boot script's process group.
	BootPGID int `json:"boot_pgid,omitempty"`
	// Grace is the termination grace period asked for by Terminate.
	Grace time.Duration `json:"grace,omitempty"`
}

// attachment is a volume attached to an instance.
type attachment struct {
	VolumeID string `json:"volume_id"`
	Name     string `json:"name"`
	Mount    string `json:"mount,omitempty"`
}

// volumeRecord is one volume in the store.
type volumeRecord struct {
	ID                  string    `json:"id"`
	Cluster             string    `json:"cluster"`
	Env                 string    `json:"env,omitempty"`
	NodeID              string    `json:"node"`
	Name                string    `json:"name"`
	Device              string    `json:"device"`
	SizeGB              int       `json:"size_gb"`
	DeleteOnTermination bool      `json:"delete_on_termination"`
	State               string    `json:"state"` // volumeInUse | volumeAvailable | volumeDeleted
	Instance            string    `json:"instance,omitempty"`
	RestoreFrom         string    `json:"restore_from,omitempty"` // snapshot id, until restored
	Snapshot            string    `json:"snapshot,omitempty"`     // the snapshot it was created from
	Created             time.Time `json:"created"`
}

const (
	volumeInUse     = "in-use"
	volumeAvailable = "available"
	volumeDeleted   = "deleted"
)

func (s *store) instanceDir(id string) string { return s.path("instances", id) }
func (s *store) rootDir(id string) string     { return s.path("instances", id, "root") }
func (s *store) logPath(id string) string     { return s.path("instances", id, "log") }
func (s *store) userDataPath(id string) string {
	return s.path("instances", id, "user-data")
}
func (s *store) specPath(id string) string  { return s.path("instances", id, "spec.json") }
func (s *store) volumeDir(id string) string { return s.path("volumes", id) }

// newID returns prefix-<16 hex digits>.
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
