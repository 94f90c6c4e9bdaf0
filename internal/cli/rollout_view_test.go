package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
)

// TestRolloutViewRedrawsInPlace: at a terminal the table is redrawn over
// itself (cursor up by the lines drawn before, each line cleared), one row
// per node with its state, instance and elapsed time; piped, each
// transition is one line.
func TestRolloutViewRedrawsInPlace(t *testing.T) {
	var errOut bytes.Buffer
	g := &globals{streams: IOStreams{Out: &bytes.Buffer{}, ErrOut: &errOut}}
	v := newRolloutView(g)
	v.live = true
	ev := func(id, state, inst string, el time.Duration) {
		v.event(cluster.RolloutEvent{Node: cluster.RolloutNode{ID: id, State: state, NewInstance: inst}, Elapsed: el})
	}
	ev("0", cluster.StateTerminating, "", time.Millisecond)
	ev("1", cluster.StateWaiting, "", 0)
	ev("0", cluster.StateBooting, "i-new0", 3*time.Second)
	out := errOut.String()
	frames := strings.Split(out, "\x1b[2KNODE")
	if len(frames) != 4 { // "" + 3 frames
		t.Fatalf("%d frames, want 3:\n%q", len(frames)-1, out)
	}
	if !strings.HasSuffix(frames[1], "\x1b[2A") || !strings.HasSuffix(frames[2], "\x1b[3A") {
		t.Errorf("the frames do not move the cursor up over the last one:\n%q", out)
	}
	last := frames[3]
	for _, re := range []string{`\n\x1b\[2K0 +booting +i-new0 +3s`, `\n\x1b\[2K1 +waiting +- +-`} {
		if !regexp.MustCompile(re).MatchString(last) {
			t.Errorf("the last frame lacks %q:\n%q", re, last)
		}
	}

	// piped: one line per transition, with the time spent
	errOut.Reset()
	v = newRolloutView(g)
	v.event(cluster.RolloutEvent{Node: cluster.RolloutNode{ID: "2", State: cluster.StateDone}, Elapsed: 2300 * time.Millisecond})
	v.event(cluster.RolloutEvent{Node: cluster.RolloutNode{ID: "2", State: cluster.StateFailed, Error: "health gate: 503"}})
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "node 2: done (2.3s)") || !strings.HasSuffix(lines[1], "node 2: failed: health gate: 503") {
		t.Errorf("piped lines: %q", lines)
	}

	// a finished node's time stops
	errOut.Reset()
	v = newRolloutView(g)
	v.live = true
	ev("2", cluster.StateDone, "i-2", 2500*time.Millisecond)
	time.Sleep(1100 * time.Millisecond)
	v.mu.Lock()
	v.drawLocked()
	v.mu.Unlock()
	if frames := strings.Split(errOut.String(), "\x1b[2KNODE"); !regexp.MustCompile(`2 +done +i-2 +2.5s`).MatchString(frames[len(frames)-1]) {
		t.Errorf("done row: %q", errOut.String())
	}
}
