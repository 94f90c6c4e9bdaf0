package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

// StateEnv overrides cluster.state (the coordinator's location).
const StateEnv = "CLOUD_COMPOSE_STATE"

// DefaultLockTimeout is --lock-timeout's default: fail at once, naming the
// holder.
const DefaultLockTimeout = time.Duration(0)

// lockFlags is --lock-timeout, on every mutating command.
type lockFlags struct{ timeout time.Duration }

func (l *lockFlags) add(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&l.timeout, "lock-timeout", DefaultLockTimeout,
		"wait this long for another run's lock on the cluster (0: fail at once, naming the holder)")
}

// stateLocation is where the cluster's coordinator lives.
func stateLocation(c *config.Cluster) string {
	if v := os.Getenv(StateEnv); v != "" {
		return v
	}
	return c.State
}

// openState opens the cluster's coordinator backend.
func (g *globals) openState(ctx context.Context, e *cluster.Engine) (state.Backend, state.Key, error) {
	key := state.Key{Cluster: e.ID.Name, Env: e.ID.Env}
	b, err := state.Open(ctx, stateLocation(e.Cluster), g.dir)
	if err != nil {
		return nil, key, fmt.Errorf("open the cluster's state: %w", err)
	}
	return b, key, nil
}

// openClusterState loads the project and opens its coordinator, for the
// commands that read or repair it without a provider call (history,
// generations, unlock).
func (g *globals) openClusterState(ctx context.Context) (state.Backend, state.Key, error) {
	e, err := g.openEngine(ctx, engineOptions{})
	if err != nil {
		return nil, state.Key{}, err
	}
	return g.openState(ctx, e)
}

// lockedRun is one mutating command under the cluster's lock, recorded in the
// journal: the event is written as running when the lock is taken and
// with its result when the command ends, so a run killed with -9 leaves a
// running event that the next run marks interrupted.
type lockedRun struct {
	g       *globals
	backend state.Backend
	key     state.Key
	lock    state.Lock
	event   state.Event
	start   time.Time
	recent  []state.Event // the newest events when the lock was taken
	mu      sync.Mutex    // event, while nodes report progress
}

// locked opens the coordinator, takes the lock (waiting up to
// lf.timeout) and journals the start. The caller must call finish.
func (g *globals) locked(ctx context.Context, e *cluster.Engine, lf lockFlags) (*lockedRun, error) {
	b, key, err := g.openState(ctx, e)
	if err != nil {
		return nil, err
	}
	info := newLockInfo()
	lk, err := state.Acquire(ctx, b, key, info, lf.timeout)
	if err != nil {
		b.Close()
		var le *state.LockError
		if errors.As(err, &le) {
			return nil, &ExitError{Code: ExitFailed, Err: lockAdvice(le, lf.timeout)}
		}
		return nil, fmt.Errorf("lock cluster %s: %w", key, err)
	}
	if t, ok := lk.(state.TakeOver); ok {
		if old, took := t.TookOver(); took {
			g.warnf("took over the lock of a run that is gone: %s@%s (pid %d) running %q since %s (lock %s)",
				old.Who, old.Host, old.PID, old.Command, old.Created.Local().Format(time.DateTime), old.ID)
		}
	}
	r := &lockedRun{g: g, backend: b, key: key, lock: lk, start: time.Now()}
	r.event = state.Event{ID: info.ID, Time: r.start.UTC(), Who: info.Who, Host: info.Host, Command: info.Command, Env: key.Env, Result: state.ResultRunning}
	if err := r.markInterrupted(ctx); err != nil {
		r.finish(err)
		return nil, err
	}
	if err := b.PutEvent(ctx, key, r.event); err != nil {
		r.finish(err)
		return nil, fmt.Errorf("journal: %w", err)
	}
	return r, nil
}

// interruptedScan is how many of the newest events a run checks for
// earlier runs that never finished: runs are serialized by the lock, and
// each marks the ones before it, so only the newest can be unfinished.
const interruptedScan = 10

// markInterrupted marks the events of runs that never finished (killed):
// nobody else holds the lock now, so any event still running is over.
func (r *lockedRun) markInterrupted(ctx context.Context) error {
	evs, err := r.backend.Events(ctx, r.key, interruptedScan)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	r.recent = evs
	for _, ev := range evs {
		if ev.Result == state.ResultRunning && ev.ID != r.event.ID {
			ev.Result = state.ResultInterrupted
			if err := r.backend.PutEvent(ctx, r.key, ev); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
			r.g.warnf("an earlier run did not finish (killed?): %q by %s@%s at %s; marked interrupted",
				ev.Command, ev.Who, ev.Host, ev.Time.Local().Format(time.DateTime))
		}
	}
	return nil
}

// journalMark is the cluster's newest journal event before a command
// looks at the cluster (read without the lock): its id and result, "" when
// the journal is empty.
type journalMark struct{ id, result string }

// markJournal reads the journal's newest event, to tell later whether
// another run changed the cluster meanwhile (changedSince).
func (g *globals) markJournal(ctx context.Context, e *cluster.Engine) (journalMark, error) {
	b, key, err := g.openState(ctx, e)
	if err != nil {
		return journalMark{}, err
	}
	defer b.Close()
	evs, err := b.Events(ctx, key, 1)
	if err != nil || len(evs) == 0 {
		return journalMark{}, err
	}
	return journalMark{evs[0].ID, evs[0].Result}, nil
}

// changedSince reports whether another run may have changed the cluster
// since m was read (before an observation made without the lock): a run
// was running then, one ran since (the newest event is another), or one
// was still running when this run took the lock (killed: marked
// interrupted now). Every change made by this tool is journaled, so a plan
// made after m is otherwise still true; no clocks are compared.
func (r *lockedRun) changedSince(m journalMark) bool {
	if m.result == state.ResultRunning {
		return true
	}
	for _, ev := range r.recent {
		if ev.ID == r.event.ID {
			continue
		}
		return ev.ID != m.id || ev.Result == state.ResultRunning
	}
	return m.id != ""
}

// resuming reports whether the cluster's previous run was interrupted
// (killed, and marked so when this run took the lock; or stopped by
// Ctrl-C), and which instances it recorded as done.
func (r *lockedRun) resuming() (bool, map[string]bool) {
	for _, ev := range r.recent {
		if ev.ID == r.event.ID {
			continue
		}
		if ev.Result != state.ResultInterrupted && ev.Result != state.ResultRunning {
			return false, nil
		}
		done := map[string]bool{}
		for _, a := range ev.Actions {
			if a.Action == cluster.StateDone || a.Action == cluster.StateRolledBack || a.Action == cluster.StateUnchanged {
				done[a.InstanceID] = true
			}
		}
		return true, done
	}
	return false, nil
}

// progress records a node's action in the running event as it happens
// (not only at the end), so that a run killed later leaves in the
// journal which nodes it finished.
func (r *lockedRun) progress(ctx context.Context, a state.NodeAction) {
	r.mu.Lock()
	defer r.mu.Unlock()
	replaced := false
	for i := range r.event.Actions {
		if r.event.Actions[i].Node == a.Node {
			r.event.Actions[i], replaced = a, true
		}
	}
	if !replaced {
		r.event.Actions = append(r.event.Actions, a)
	}
	if err := r.backend.PutEvent(ctx, r.key, r.event); err != nil {
		r.g.warnf("could not journal the progress of node %s: %v", a.Node, err)
	}
}

// finish journals the result and releases the lock, even when ctx was
// cancelled (Ctrl-C).
func (r *lockedRun) finish(err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.event.Duration = time.Since(r.start).Round(time.Millisecond)
	switch {
	case err == nil:
		r.event.Result = state.ResultOK
	case errors.Is(err, context.Canceled) || (r.g.ctx != nil && r.g.ctx.Err() != nil):
		r.event.Result, r.event.Error = state.ResultInterrupted, config.KnownSecrets.Scrub(err.Error())
	default:
		r.event.Result, r.event.Error = state.ResultFailed, config.KnownSecrets.Scrub(err.Error())
	}
	if r.event.ID != "" {
		if perr := r.backend.PutEvent(ctx, r.key, r.event); perr != nil {
			r.g.warnf("could not journal the result: %v", perr)
		}
	}
	if uerr := r.lock.Unlock(ctx); uerr != nil {
		r.g.warnf("could not release lock %s: %v; run `cloud-compose cluster unlock %s`", r.lock.Info().ID, uerr, r.lock.Info().ID)
	}
	r.backend.Close()
}

// lockAdvice is the loser's message: who holds the lock, and what to do.
func lockAdvice(le *state.LockError, waited time.Duration) error {
	advice := "wait with --lock-timeout 5m"
	if waited > 0 {
		advice = fmt.Sprintf("waited %s; wait longer with --lock-timeout", waited)
	}
	if le.Info.ID != "" {
		return fmt.Errorf("%w; %s, or run \"cloud-compose cluster unlock %s\" if that run is gone", le, advice, le.Info.ID)
	}
	return fmt.Errorf("%w; %s", le, advice)
}

func newLockInfo() state.LockInfo {
	var b [8]byte
	_, _ = rand.Read(b[:])
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	return state.LockInfo{
		ID: hex.EncodeToString(b[:]), Who: who, Host: host, PID: os.Getpid(),
		Command: config.KnownSecrets.Scrub(commandLine()), Created: time.Now().UTC(),
	}
}

// commandLine is this process's command line, for locks and the journal:
// the program's base name and its arguments, secrets masked.
func commandLine() string {
	args := append([]string{"cloud-compose"}, os.Args[1:]...)
	return strings.Join(args, " ")
}

// nodeActions are up's per-node results, for the journal.
func nodeActions(res *cluster.UpResult) []state.NodeAction {
	if res == nil {
		return nil
	}
	out := make([]state.NodeAction, 0, len(res.Nodes))
	for _, n := range res.Nodes {
		out = append(out, state.NodeAction{Node: n.ID, Action: n.Action, InstanceID: n.InstanceID})
	}
	return out
}

// generationFor is the engine's Generation hook under a coordinator: the
// generation new instances of this up are tagged with. A cluster with no
// generation gets 1 (pending until up succeeds, then active). When the
// desired specs are a recorded generation's, it is that one (an old one
// becomes pending again: a rollback undone); otherwise a new pending one
// (rollout makes it active).
func (r *lockedRun) generationFor(ctx context.Context, specs map[string]provider.Spec) (int, error) {
	gens, err := r.backend.Generations(ctx, r.key)
	if err != nil {
		return 0, fmt.Errorf("generations: %w", err)
	}
	top := 0
	for _, gen := range gens {
		top = max(top, gen.Number)
	}
	for i := len(gens) - 1; i >= 0; i-- {
		gen := gens[i]
		if !sameSpecs(gen.Specs, specs) {
			continue
		}
		if gen.State == state.GenOld {
			// the specs of a generation that ran before (rolled back
			// since): it is pending again, not a new number
			gen.State = state.GenPending
			if err := r.backend.PutGeneration(ctx, r.key, gen); err != nil {
				return 0, fmt.Errorf("generations: %w", err)
			}
		}
		r.event.Generation = gen.Number
		return gen.Number, nil
	}
	gen := state.Generation{Number: top + 1, State: state.GenPending, Event: r.event.ID, Created: time.Now().UTC(), Specs: specs}
	if err := r.backend.PutGeneration(ctx, r.key, gen); err != nil {
		return 0, fmt.Errorf("generations: %w", err)
	}
	r.event.Generation = gen.Number
	return gen.Number, nil
}

// activateFirst makes generation n active when it is the cluster's first
// and up brought every node up on it.
func (r *lockedRun) activateFirst(ctx context.Context, n int, res *cluster.UpResult) error {
	if n != 1 || res == nil {
		return nil
	}
	for _, node := range res.Nodes {
		if node.Action == cluster.ActionFailed {
			return nil
		}
	}
	gens, err := r.backend.Generations(ctx, r.key)
	if err != nil {
		return err
	}
	for _, gen := range gens {
		if gen.Number == 1 && gen.State == state.GenPending {
			gen.State = state.GenActive
			return r.backend.PutGeneration(ctx, r.key, gen)
		}
	}
	return nil
}

func sameSpecs(a, b map[string]provider.Spec) bool {
	if len(a) != len(b) {
		return false
	}
	for k, s := range a {
		t, ok := b[k]
		if !ok || s.Hash() != t.Hash() {
			return false
		}
	}
	return true
}
