// Package statetest is the one conformance suite of the coordinator
// contract (internal/state), in the style of Terraform's TestRemoteLocks:
// Run exercises, through a Harness, what every backend (file, postgres,
// s3) must do — locks that two clients contend for, the typed *LockError
// that names the holder, ForceUnlock by id, the wait loop, the journal,
// the generations, the node-group members (state.GroupStore, for backends
// that have it), and a holder that goes away. It knows no backend's
// internals; what differs between backends comes from the Harness.
package statetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

// Harness is what the suite needs from one backend.
type Harness struct {
	// New returns a fresh client of the backend on the same shared storage
	// at every call (file: the same directory; postgres: the same
	// database; s3: the same bucket and prefix), so that two clients
	// contend as two processes would. The harness registers the client's
	// Close on t (the suite does not close it).
	New func(t *testing.T) state.Backend
	// HolderGone takes the lock on key in a holder that then goes away
	// without unlocking (file: a child process killed with SIGKILL;
	// postgres: a connection that is closed; s3: a lease that is not
	// renewed) and returns the holder's LockInfo. It returns once the
	// holder is gone.
	HolderGone func(t *testing.T, key state.Key) state.LockInfo
	// GoneWithin is how long the lock may still look held after
	// HolderGone returns (s3: until the lease lapses); 0 for backends
	// whose locks die with their holder.
	GoneWithin time.Duration
	// ReportsTakeOver says that a Lock taken over from a gone holder
	// implements TakeOver and names that holder (file: the holder's info
	// is still on disk). Backends whose locks leave nothing behind
	// (postgres advisory locks) leave it false.
	ReportsTakeOver bool
	// Timeout bounds each case (DefaultTimeout when 0).
	Timeout time.Duration
}

// DefaultTimeout bounds each case when Harness.Timeout is 0.
const DefaultTimeout = 2 * time.Minute

// TakeOver is implemented by a state.Lock that may have replaced the lock
// of a holder that was gone (killed, or its lease lapsed) without
// unlocking. TookOver returns that holder's info and true, or false when
// the lock was free. The caller (the CLI) warns with it, naming the lock
// it took over; it is found by type assertion, so backends that cannot
// know need not implement it.
type TakeOver interface {
	TookOver() (state.LockInfo, bool)
}

// Run runs the suite, each case a subtest with its own keys.
func Run(t *testing.T, h Harness) {
	if h.New == nil || h.HolderGone == nil {
		t.Fatal("statetest: the harness needs New and HolderGone")
	}
	cases := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"TwoClientsOneLock", testTwoClients},
		{"UnlockTwice", testUnlockTwice},
		{"ForceUnlock", testForceUnlock},
		{"KeysAreIndependent", testKeys},
		{"ManyContendersOneWinner", testContenders},
		{"AcquireWaits", testAcquire},
		{"JournalOrderAndLimit", testJournal},
		{"JournalUpsert", testJournalUpsert},
		{"JournalKeysIsolated", testJournalKeys},
		{"GenerationsRoundTrip", testGenerations},
		{"GenerationsKeysIsolated", testGenerationKeys},
		{"GroupsRoundTrip", testGroups},
		{"GroupsReplace", testGroupsReplace},
		{"GroupsKeysIsolated", testGroupKeys},
		{"GroupsConcurrentWriters", testGroupsConcurrent},
		{"HolderGone", testHolderGone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			timeout := h.Timeout
			if timeout <= 0 {
				timeout = DefaultTimeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			c.fn(t, &suite{h: h, ctx: ctx, prefix: "st" + randomHex(4)})
		})
	}
}

type suite struct {
	h      Harness
	ctx    context.Context
	prefix string
}

// key is a key unique to the case (the storage is shared between runs).
func (s *suite) key(cluster, env string) state.Key {
	return state.Key{Cluster: s.prefix + "-" + cluster, Env: env}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Info returns a complete LockInfo for who, with a fresh id, this process's
// pid and host, and Created to the second (as every backend keeps it).
// Harnesses use it for the holders they make.
func Info(who string) state.LockInfo {
	host, _ := os.Hostname()
	return state.LockInfo{
		ID:      randomHex(8),
		Who:     who,
		Host:    host,
		PID:     os.Getpid(),
		Command: "cloud-compose cluster up # " + who,
		Created: time.Now().UTC().Truncate(time.Second),
	}
}

// sameHolder reports how got differs from want in what names a holder
// (Expires is the backend's and not compared).
func sameHolder(want, got state.LockInfo) string {
	return cmp.Diff(want, got, cmpopts.IgnoreFields(state.LockInfo{}, "Expires"))
}

// lock takes key with b or fails the test.
func (s *suite) lock(t *testing.T, b state.Backend, key state.Key, info state.LockInfo) state.Lock {
	t.Helper()
	lk, err := b.Lock(s.ctx, key, info)
	if err != nil {
		t.Fatalf("lock %s as %s: %v", key, info.Who, err)
	}
	if lk == nil {
		t.Fatalf("lock %s as %s: nil Lock and no error", key, info.Who)
	}
	if d := sameHolder(info, lk.Info()); d != "" {
		t.Errorf("Lock.Info() is not the info locked with (-want +got):\n%s", d)
	}
	return lk
}

// locked checks that b cannot take key, and that the error names holder.
func (s *suite) locked(t *testing.T, b state.Backend, key state.Key, holder state.LockInfo) {
	t.Helper()
	info := Info("contender")
	lk, err := b.Lock(s.ctx, key, info)
	if err == nil {
		_ = lk.Unlock(s.ctx)
		t.Fatalf("lock %s: got it while %s (lock %s) holds it", key, holder.Who, holder.ID)
	}
	checkLockError(t, err, key, holder)
}

func checkLockError(t *testing.T, err error, key state.Key, holder state.LockInfo) {
	t.Helper()
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("lock %s held by %s: error does not match state.ErrLocked: %v", key, holder.Who, err)
	}
	var le *state.LockError
	if !errors.As(err, &le) {
		t.Fatalf("lock %s held by %s: error is not a *state.LockError: %T %v", key, holder.Who, err, err)
	}
	if le.Key != key {
		t.Errorf("LockError.Key = %v, want %v", le.Key, key)
	}
	if d := sameHolder(holder, le.Info); d != "" {
		t.Errorf("LockError.Info does not name the holder (-want +got):\n%s", d)
	}
}

func (s *suite) unlock(t *testing.T, lk state.Lock) {
	t.Helper()
	if err := lk.Unlock(s.ctx); err != nil {
		t.Fatalf("unlock %s: %v", lk.Info().ID, err)
	}
}

// testTwoClients: the second client gets a *LockError naming the first;
// once the first unlocks, the second gets the lock, and the first is
// refused naming the second.
func testTwoClients(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	key := s.key("two", "")
	ia, ib := Info("alice"), Info("bob")
	la := s.lock(t, a, key, ia)
	s.locked(t, b, key, ia)
	s.locked(t, a, key, ia) // not reentrant, even for the same client
	s.unlock(t, la)
	lb := s.lock(t, b, key, ib)
	s.locked(t, a, key, ib)
	s.unlock(t, lb)
	s.unlock(t, s.lock(t, a, key, Info("alice again")))
}

// testUnlockTwice: a second Unlock is no error and does not release the
// lock someone else took since.
func testUnlockTwice(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	key := s.key("twice", "")
	la := s.lock(t, a, key, Info("alice"))
	s.unlock(t, la)
	s.unlock(t, la)
	ib := Info("bob")
	lb := s.lock(t, b, key, ib)
	s.unlock(t, la)
	s.locked(t, a, key, ib)
	s.unlock(t, lb)
	s.unlock(t, lb)
}

// testForceUnlock: a wrong id is ErrNoLock and changes nothing; the right
// id frees the lock even while its holder lives; the old holder's Unlock
// then does not release the new holder's lock.
func testForceUnlock(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	key := s.key("force", "")
	if err := b.ForceUnlock(s.ctx, key, "0123456789abcdef"); !errors.Is(err, state.ErrNoLock) {
		t.Errorf("ForceUnlock of a free key: got %v, want an error matching state.ErrNoLock", err)
	}
	ia := Info("alice")
	la := s.lock(t, a, key, ia)
	for _, wrong := range []string{"0123456789abcdef", "", ia.ID + "0", ia.ID[:len(ia.ID)-1]} {
		if err := b.ForceUnlock(s.ctx, key, wrong); !errors.Is(err, state.ErrNoLock) {
			t.Errorf("ForceUnlock(%q) of lock %s: got %v, want an error matching state.ErrNoLock", wrong, ia.ID, err)
		}
	}
	s.locked(t, b, key, ia)
	if err := b.ForceUnlock(s.ctx, s.key("force", "other"), ia.ID); !errors.Is(err, state.ErrNoLock) {
		t.Errorf("ForceUnlock of the id on another key: got %v, want an error matching state.ErrNoLock", err)
	}
	s.locked(t, b, key, ia)
	if err := b.ForceUnlock(s.ctx, key, ia.ID); err != nil {
		t.Fatalf("ForceUnlock(%s) by its id: %v", ia.ID, err)
	}
	ib := Info("bob")
	lb := s.lock(t, b, key, ib)
	if err := la.Unlock(s.ctx); err != nil {
		t.Errorf("Unlock of a lock that was force-unlocked: %v (want nil: it is released)", err)
	}
	s.locked(t, a, key, ib)
	if err := a.ForceUnlock(s.ctx, key, ia.ID); !errors.Is(err, state.ErrNoLock) {
		t.Errorf("ForceUnlock of the old id after another took the lock: got %v, want ErrNoLock", err)
	}
	s.locked(t, a, key, ib)
	s.unlock(t, lb)
	if err := a.ForceUnlock(s.ctx, key, ib.ID); !errors.Is(err, state.ErrNoLock) {
		t.Errorf("ForceUnlock of a released lock: got %v, want ErrNoLock", err)
	}
}

// testKeys: locks on other clusters and other environments of a cluster
// are independent; the default environment is not any named one.
func testKeys(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	keys := []state.Key{s.key("web", ""), s.key("web", "staging"), s.key("web", "prod"), s.key("db", ""), s.key("db", "staging")}
	infos := make([]state.LockInfo, len(keys))
	locks := make([]state.Lock, len(keys))
	for i, k := range keys {
		infos[i] = Info(fmt.Sprintf("holder-%d", i))
		c := a
		if i%2 == 1 {
			c = b
		}
		locks[i] = s.lock(t, c, k, infos[i])
	}
	for i, k := range keys {
		s.locked(t, a, k, infos[i])
		s.locked(t, b, k, infos[i])
	}
	s.unlock(t, locks[1])
	lk := s.lock(t, a, keys[1], Info("again"))
	for i, k := range keys {
		if i != 1 {
			s.locked(t, b, k, infos[i])
		}
	}
	s.unlock(t, lk)
	for _, l := range locks {
		s.unlock(t, l)
	}
}

// testContenders: of several clients that lock one key at once, exactly
// one wins; every other is refused naming the winner.
func testContenders(t *testing.T, s *suite) {
	const n = 8
	key := s.key("race", "")
	clients := make([]state.Backend, n)
	for i := range clients {
		clients[i] = s.h.New(t)
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		locks = make([]state.Lock, n)
		errs  = make([]error, n)
		infos = make([]state.LockInfo, n)
	)
	for i := range n {
		infos[i] = Info(fmt.Sprintf("racer-%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			locks[i], errs[i] = clients[i].Lock(s.ctx, key, infos[i])
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] == nil {
			if winner >= 0 {
				t.Fatalf("%s and %s both got lock %s", infos[winner].Who, infos[i].Who, key)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("nobody got lock %s: %v", key, errors.Join(errs...))
	}
	for i := range n {
		if i != winner {
			checkLockError(t, errs[i], key, infos[winner])
		}
	}
	s.unlock(t, locks[winner])
}

// testAcquire: the wait loop gets the lock once the holder releases it,
// and gives up with the holder's *LockError when its time is up.
func testAcquire(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	key := s.key("wait", "")
	ia := Info("alice")
	la := s.lock(t, a, key, ia)

	_, err := state.Acquire(s.ctx, b, key, Info("bob"), 0)
	checkLockError(t, err, key, ia)

	start := time.Now()
	_, err = state.Acquire(s.ctx, b, key, Info("bob"), 700*time.Millisecond)
	checkLockError(t, err, key, ia)
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("Acquire with a 700ms timeout gave up after %s", d)
	}

	const hold = 600 * time.Millisecond
	released := make(chan error, 1)
	go func() {
		time.Sleep(hold)
		released <- la.Unlock(s.ctx)
	}()
	ib := Info("bob")
	start = time.Now()
	lb, err := state.Acquire(s.ctx, b, key, ib, 30*time.Second)
	if err != nil {
		t.Fatalf("Acquire with a 30s timeout while the holder releases after %s: %v", hold, err)
	}
	if err := <-released; err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if d := time.Since(start); d < hold-50*time.Millisecond {
		t.Errorf("Acquire got the lock after %s, before the holder released it (%s)", d, hold)
	}
	if d := sameHolder(ib, lb.Info()); d != "" {
		t.Errorf("Acquire's Lock.Info() (-want +got):\n%s", d)
	}
	s.locked(t, a, key, ib)
	s.unlock(t, lb)
}

// event returns a complete event at t0+i seconds.
func event(t0 time.Time, i int) state.Event {
	host, _ := os.Hostname()
	return state.Event{
		ID:      randomHex(8),
		Time:    t0.Add(time.Duration(i) * time.Second),
		Who:     "alice",
		Host:    host,
		Command: fmt.Sprintf("cloud-compose cluster up -e staging # %d", i),
		Env:     "staging",
		Result:  state.ResultRunning,
	}
}

func (s *suite) put(t *testing.T, b state.Backend, key state.Key, ev state.Event) {
	t.Helper()
	if err := b.PutEvent(s.ctx, key, ev); err != nil {
		t.Fatalf("PutEvent %s on %s: %v", ev.ID, key, err)
	}
}

func (s *suite) events(t *testing.T, b state.Backend, key state.Key, n int, want []state.Event) {
	t.Helper()
	got, err := b.Events(s.ctx, key, n)
	if err != nil {
		t.Fatalf("Events(%s, %d): %v", key, n, err)
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Events(%s, %d), newest first (-want +got):\n%s", key, n, d)
	}
}

// testJournal: events come back newest first, all of them or the newest
// n, to every client.
func testJournal(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	key := s.key("journal", "staging")
	s.events(t, a, key, 0, nil)
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	var evs []state.Event
	for i := range 5 {
		ev := event(t0, i)
		if i == 2 {
			ev.Result, ev.Error, ev.Duration, ev.Generation = state.ResultFailed, "node 1: health check failed", 1500*time.Millisecond, 2
			ev.Actions = []state.NodeAction{{Node: "1", Action: "create", InstanceID: "i-1"}, {Node: "2", Action: "failed"}}
		}
		evs = append(evs, ev)
		c := a
		if i%2 == 1 {
			c = b
		}
		s.put(t, c, key, ev)
	}
	newest := []state.Event{evs[4], evs[3], evs[2], evs[1], evs[0]}
	s.events(t, a, key, 0, newest)
	s.events(t, b, key, -1, newest)
	s.events(t, b, key, 2, newest[:2])
	s.events(t, a, key, 1, newest[:1])
	s.events(t, a, key, 5, newest)
	s.events(t, a, key, 100, newest)
}

// testJournalUpsert: a PutEvent with a known id replaces that event in
// place (running → ok), from any client.
func testJournalUpsert(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	key := s.key("upsert", "")
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	e0, e1, e2 := event(t0, 0), event(t0, 1), event(t0, 2)
	for _, ev := range []state.Event{e0, e1, e2} {
		s.put(t, a, key, ev)
	}
	e1.Result, e1.Duration, e1.Generation = state.ResultOK, 42*time.Second, 3
	e1.Actions = []state.NodeAction{{Node: "1", Action: "replace", InstanceID: "i-9"}}
	s.put(t, b, key, e1)
	s.events(t, a, key, 0, []state.Event{e2, e1, e0})
	e0.Result = state.ResultInterrupted
	s.put(t, a, key, e0)
	e0.Result = state.ResultFailed // the last write wins
	e0.Error = "interrupted, then failed"
	s.put(t, b, key, e0)
	s.events(t, b, key, 0, []state.Event{e2, e1, e0})
	s.events(t, b, key, 2, []state.Event{e2, e1})
}

// testJournalKeys: events of one key are not another's (cluster or env).
func testJournalKeys(t *testing.T, s *suite) {
	a := s.h.New(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	keys := []state.Key{s.key("web", ""), s.key("web", "staging"), s.key("db", "")}
	want := map[state.Key][]state.Event{}
	for i, k := range keys {
		for j := range i + 1 {
			ev := event(t0, j)
			ev.Env = k.Env
			s.put(t, a, k, ev)
			want[k] = append([]state.Event{ev}, want[k]...)
		}
	}
	for _, k := range keys {
		s.events(t, a, k, 0, want[k])
	}
	s.events(t, a, s.key("web", "prod"), 0, nil)
}

// spec is a full spec: user data with newlines and non-ASCII text, and
// environment values (possibly secret), which a rollback relaunches as is.
func spec(i int) provider.Spec {
	return provider.Spec{
		Image:        "ami-0123456789abcdef0",
		ImageName:    "base-2026-01-01",
		InstanceType: "t3.large",
		UserData:     fmt.Sprintf("#!/bin/bash\nset -e\necho 'node %d — grüße' > /etc/motd\n\tcat <<'EOF'\n{\"a\": [1, 2]}\nEOF\n", i),
		Volumes: []provider.VolumeSpec{
			{Name: "root", Device: "/dev/xvda", SizeGB: 20, Type: "gp3", IOPS: 3000, Throughput: 125},
			{Name: "data", Device: "/dev/xvdf", SizeGB: 100, Type: "io2", IOPS: 5000},
		},
		Subnet:         "subnet-1",
		IP:             fmt.Sprintf("10.0.0.%d", 10+i),
		EIP:            "eipalloc-1",
		SecurityGroups: []string{"sg-1", "sg-2"},
		Profile:        "node-profile",
		KeyPair:        "ops",
		Tags:           []config.KeyValue{{Key: "team", Value: "data"}, {Key: "cost", Value: "1"}},
		Env:            []config.KeyValue{{Key: "DB_PASSWORD", Value: "s3cr=t \"quoted\"\nline"}, {Key: "EMPTY", Value: ""}},
		Flags:          provider.Flags{EBSOptimized: true, Monitoring: true, SourceDestCheck: true, TerminateProtection: true},
	}
}

func (s *suite) putGen(t *testing.T, b state.Backend, key state.Key, g state.Generation) {
	t.Helper()
	if err := b.PutGeneration(s.ctx, key, g); err != nil {
		t.Fatalf("PutGeneration %d on %s: %v", g.Number, key, err)
	}
}

func (s *suite) generations(t *testing.T, b state.Backend, key state.Key, want []state.Generation) {
	t.Helper()
	got, err := b.Generations(s.ctx, key)
	if err != nil {
		t.Fatalf("Generations(%s): %v", key, err)
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Generations(%s), lowest first (-want +got):\n%s", key, d)
	}
}

// testGenerations: full specs come back as they went in, lowest number
// first whatever order they were put in; PutGeneration of a known number
// replaces it.
func testGenerations(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	key := s.key("gens", "prod")
	s.generations(t, a, key, nil)
	t0 := time.Now().UTC().Truncate(time.Second)
	mk := func(n int, st string) state.Generation {
		specs := map[string]provider.Spec{}
		for i := range 3 {
			sp := spec(i)
			sp.Image = fmt.Sprintf("ami-%d", n)
			specs[fmt.Sprint(i)] = sp
		}
		return state.Generation{Number: n, State: st, Event: randomHex(8), Created: t0.Add(time.Duration(n) * time.Minute), Specs: specs}
	}
	g2, g1, g10 := mk(2, state.GenPending), mk(1, state.GenActive), mk(10, state.GenPending)
	s.putGen(t, a, key, g2)
	s.putGen(t, b, key, g1)
	s.putGen(t, a, key, g10)
	s.generations(t, b, key, []state.Generation{g1, g2, g10})

	g1.State, g2.State = state.GenOld, state.GenActive
	delete(g2.Specs, "2")
	s.putGen(t, b, key, g1)
	s.putGen(t, a, key, g2)
	s.generations(t, a, key, []state.Generation{g1, g2, g10})
}

// testGenerationKeys: generations of one key are not another's.
func testGenerationKeys(t *testing.T, s *suite) {
	a := s.h.New(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	keys := []state.Key{s.key("web", ""), s.key("web", "staging"), s.key("db", "")}
	gens := make([]state.Generation, len(keys))
	for i, k := range keys {
		gens[i] = state.Generation{Number: 1, State: state.GenActive, Event: randomHex(8), Created: t0,
			Specs: map[string]provider.Spec{"0": spec(i)}}
		s.putGen(t, a, k, gens[i])
	}
	for i, k := range keys {
		s.generations(t, a, k, gens[i:i+1])
	}
	s.generations(t, a, s.key("web", "prod"), nil)
}

// testHolderGone: a lock whose holder went away without unlocking is
// taken (after GoneWithin at most), and, where the backend can tell, the
// new lock says whose it took over.
func testHolderGone(t *testing.T, s *suite) {
	key := s.key("gone", "staging")
	gone := s.h.HolderGone(t, key)
	if gone.ID == "" {
		t.Fatal("HolderGone returned a LockInfo without an id")
	}
	b := s.h.New(t)
	ib := Info("bob")
	start := time.Now()
	lk, err := state.Acquire(s.ctx, b, key, ib, s.h.GoneWithin)
	if err != nil {
		t.Fatalf("lock %s after its holder %s (lock %s) went away, waited %s (GoneWithin %s): %v",
			key, gone.Who, gone.ID, time.Since(start).Round(time.Millisecond), s.h.GoneWithin, err)
	}
	if d := sameHolder(ib, lk.Info()); d != "" {
		t.Errorf("Lock.Info() (-want +got):\n%s", d)
	}
	to, ok := lk.(TakeOver)
	switch {
	case s.h.ReportsTakeOver && !ok:
		t.Errorf("the harness says the backend reports take-overs, but its Lock (%T) does not implement statetest.TakeOver", lk)
	case ok:
		prev, took := to.TookOver()
		if s.h.ReportsTakeOver && !took {
			t.Errorf("TookOver() = false after taking over lock %s of a gone holder", gone.ID)
		}
		if took && prev.ID != gone.ID {
			t.Errorf("TookOver() names lock %q, want the gone holder's %q", prev.ID, gone.ID)
		}
	}
	s.locked(t, s.h.New(t), key, ib)
	s.unlock(t, lk)

	// A lock taken normally took nothing over.
	lk = s.lock(t, b, key, Info("carol"))
	if to, ok := lk.(TakeOver); ok {
		if prev, took := to.TookOver(); took {
			t.Errorf("TookOver() = %s, true for a lock released with Unlock", prev.ID)
		}
	}
	s.unlock(t, lk)
}

// groupStore is b's state.GroupStore. Every backend must have one:
// `cluster converge` records its counts there, whatever cluster.state
// names, so a backend without it fails the suite.
func groupStore(t *testing.T, b state.Backend) state.GroupStore {
	t.Helper()
	gs, ok := b.(state.GroupStore)
	if !ok {
		t.Fatalf("%T does not implement state.GroupStore: cluster converge could not record counts in it", b)
	}
	return gs
}

func (s *suite) putGroup(t *testing.T, gs state.GroupStore, key state.Key, g state.GroupMembers) {
	t.Helper()
	if err := gs.PutGroupMembers(s.ctx, key, g); err != nil {
		t.Fatalf("PutGroupMembers %s on %s: %v", g.Group, key, err)
	}
}

// groups checks that gs returns want for key, by group name; none is an
// empty slice, not nil.
func (s *suite) groups(t *testing.T, gs state.GroupStore, key state.Key, want []state.GroupMembers) {
	t.Helper()
	got, err := gs.GroupMembers(s.ctx, key)
	if err != nil {
		t.Fatalf("GroupMembers(%s): %v", key, err)
	}
	if got == nil {
		t.Errorf("GroupMembers(%s) = nil, want an empty slice when none are recorded", key)
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("GroupMembers(%s), by group name (-want +got):\n%s", key, d)
	}
}

// members returns a group's record as converge writes it: its node ids in
// the order given, the event that set them, when (to the nanosecond, in a
// zone other than UTC: a backend keeps the instant).
func members(group string, ids ...string) state.GroupMembers {
	return state.GroupMembers{
		Group:   group,
		Members: ids,
		Event:   randomHex(8),
		Updated: time.Now().Round(0).In(time.FixedZone("X", -3*3600)),
	}
}

// testGroups: none recorded is an empty slice; groups put by any client
// come back to every client by group name, whatever order they were put
// in, each with its members in the order given, its event and its time.
func testGroups(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	ga, gb := groupStore(t, a), groupStore(t, b)
	key := s.key("groups", "prod")
	s.groups(t, ga, key, nil)
	web := members("web", "web-3", "web-0", "web-10", "web-2")
	worker := members("worker", "worker-1")
	s.putGroup(t, ga, key, web)
	s.putGroup(t, gb, key, worker)
	s.groups(t, ga, key, []state.GroupMembers{web, worker})
	api := members("api", "api-0", "api-1")
	s.putGroup(t, ga, key, api)
	s.groups(t, gb, key, []state.GroupMembers{api, web, worker})
	if err := ga.PutGroupMembers(s.ctx, key, members("", "x-0")); err == nil {
		t.Error("PutGroupMembers of a record without a group name: no error")
	}
	s.groups(t, ga, key, []state.GroupMembers{api, web, worker})
}

// testGroupsReplace: a put of a recorded group replaces its record (not
// appended to it), from any client, and leaves the others; a group put
// with no members keeps its (empty) record.
func testGroupsReplace(t *testing.T, s *suite) {
	a, b := s.h.New(t), s.h.New(t)
	ga, gb := groupStore(t, a), groupStore(t, b)
	key := s.key("replace", "")
	web, worker := members("web", "web-0", "web-1", "web-2"), members("worker", "worker-0", "worker-1")
	s.putGroup(t, ga, key, web)
	s.putGroup(t, ga, key, worker)
	web2 := members("web", "web-2", "web-5")
	s.putGroup(t, gb, key, web2)
	s.groups(t, ga, key, []state.GroupMembers{web2, worker})
	worker2 := members("worker")
	worker2.Members = []string{}
	s.putGroup(t, ga, key, worker2)
	s.groups(t, gb, key, []state.GroupMembers{web2, worker2})
}

// testGroupKeys: groups of one key are not another's: another cluster,
// and the same cluster in another environment, see nothing of them.
func testGroupKeys(t *testing.T, s *suite) {
	gs := groupStore(t, s.h.New(t))
	keys := []state.Key{s.key("web", ""), s.key("web", "staging"), s.key("db", "")}
	want := map[state.Key][]state.GroupMembers{}
	for i, k := range keys {
		g := members("web", fmt.Sprintf("web-%d", i))
		s.putGroup(t, gs, k, g)
		want[k] = []state.GroupMembers{g}
	}
	for _, k := range keys {
		s.groups(t, gs, k, want[k])
	}
	s.groups(t, gs, s.key("web", "prod"), nil)
	s.groups(t, gs, s.key("cache", ""), nil)
}

// testGroupsConcurrent: two clients putting different groups of one key
// at once all keep theirs (as two PutGeneration of different numbers do).
func testGroupsConcurrent(t *testing.T, s *suite) {
	const perWriter = 6
	key := s.key("concurrent", "staging")
	stores := []state.GroupStore{groupStore(t, s.h.New(t)), groupStore(t, s.h.New(t))}
	want := make([]state.GroupMembers, 0, len(stores)*perWriter)
	for w := range stores {
		for i := range perWriter {
			g := fmt.Sprintf("g%d-%02d", w, i)
			want = append(want, members(g, g+"-0", g+"-1"))
		}
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, len(stores))
	)
	for w, gs := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for _, g := range want[w*perWriter : (w+1)*perWriter] {
				if err := gs.PutGroupMembers(s.ctx, key, g); err != nil {
					errs[w] = fmt.Errorf("writer %d, group %s: %w", w, g.Group, err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s.groups(t, stores[0], key, want)
}
