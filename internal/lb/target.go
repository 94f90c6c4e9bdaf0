package lb

import (
	"context"
	"sync"
)

// State is a target's state as the control API reports it.
type State string

// Target states.
const (
	// StateHealthy: it passed its last health check and takes requests.
	StateHealthy State = "healthy"
	// StateUnhealthy: it has not passed a health check yet, or failed the
	// last one (or a connection to it was refused); it gets no requests
	// until it passes again.
	StateUnhealthy State = "unhealthy"
	// StateDraining: it is being deregistered; it gets no new requests and
	// its requests in flight finish.
	StateDraining State = "draining"
)

// TargetStatus is one target as GET /targets reports it.
type TargetStatus struct {
	Address  string `json:"address"`
	State    State  `json:"state"`
	InFlight int    `json:"in_flight"`
}

// target is one backend, IP:PORT. Its mutex guards the fields below it;
// the load balancer's mutex, when both are taken, is taken first.
type target struct {
	addr string
	stop context.CancelFunc // stops its health checks

	mu       sync.Mutex
	healthy  bool
	probed   bool // at least one health check has finished
	lastErr  error
	draining bool
	removed  bool
	inFlight int
	changed  chan struct{} // closed and replaced on every change
}

func newTarget(addr string) *target {
	return &target{addr: addr, changed: make(chan struct{})}
}

// notifyLocked wakes whoever waits for a change; t.mu is held.
func (t *target) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// status reads the target's state.
func (t *target) status() TargetStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TargetStatus{Address: t.addr, State: t.stateLocked(), InFlight: t.inFlight}
}

func (t *target) stateLocked() State {
	switch {
	case t.draining:
		return StateDraining
	case t.healthy:
		return StateHealthy
	}
	return StateUnhealthy
}

// acquire counts a new request in flight if the target takes requests.
func (t *target) acquire() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.healthy || t.draining || t.removed {
		return false
	}
	t.inFlight++
	return true
}

// release ends a request in flight; it reports whether the target is
// removed and has none left (its connections can then be closed).
func (t *target) release() (idleAndRemoved bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inFlight--
	if t.inFlight == 0 && (t.draining || t.removed) {
		t.notifyLocked()
	}
	return t.inFlight == 0 && t.removed
}

// setHealth records a health check's (or a failed connection's) result
// and reports whether the state changed (the first result always does).
func (t *target) setHealth(ok bool, err error) (changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed = t.healthy != ok || !t.probed
	t.healthy, t.probed, t.lastErr = ok, true, err
	if changed {
		t.notifyLocked()
	}
	return changed
}

// setDraining marks the target draining (or, with false, takes it back:
// it was registered again while it drained).
func (t *target) setDraining(d bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.draining != d {
		t.draining = d
		t.notifyLocked()
	}
}

// watch returns the target's state and a channel closed at its next change.
func (t *target) watch() (s TargetStatus, probed bool, changed <-chan struct{}, lastErr error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TargetStatus{Address: t.addr, State: t.stateLocked(), InFlight: t.inFlight}, t.probed, t.changed, t.lastErr
}
