package cli

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// rolloutView shows a rollout's progress: at a terminal, a table of the
// nodes redrawn in place every second and at each transition; piped, one
// line per transition (timestamped, like every progress line); with -q,
// nothing.
type rolloutView struct {
	g    *globals
	live bool

	mu     sync.Mutex
	order  []string
	rows   map[string]*viewRow
	drawn  int // lines of the table on the screen
	ticker *time.Ticker
	done   chan struct{}
	wg     sync.WaitGroup
}

type viewRow struct {
	state, instance, detail string
	since                   time.Time     // the node's replacement began
	took                    time.Duration // set once the node is through
}

// finished are the states a node stays in: its time stops.
var finished = map[string]bool{
	cluster.StateDone: true, cluster.StateFailed: true, cluster.StateRolledBack: true,
	cluster.StateUnchanged: true, cluster.StateSkipped: true, cluster.StateInterrupted: true,
}

func newRolloutView(g *globals) *rolloutView {
	return &rolloutView{g: g, live: g.liveProgress(), rows: map[string]*viewRow{}}
}

// event is the engine's OnRollout.
func (v *rolloutView) event(ev cluster.RolloutEvent) {
	n := ev.Node
	v.mu.Lock()
	row, ok := v.rows[n.ID]
	if !ok {
		row = &viewRow{}
		v.rows[n.ID] = row
		v.order = append(v.order, n.ID)
	}
	if ev.Elapsed > 0 {
		row.since = time.Now().Add(-ev.Elapsed)
	}
	row.took = 0
	if finished[n.State] && !row.since.IsZero() {
		row.took = time.Since(row.since)
	}
	row.state, row.detail = n.State, ev.Detail
	row.instance = n.NewInstance
	if row.instance == "" {
		row.instance = n.OldInstance
	}
	live := v.live
	if live {
		v.drawLocked()
	}
	v.mu.Unlock()
	if !live {
		v.g.progressf("%s", transitionLine(ev))
	}
}

// transitionLine is the piped form of one transition.
func transitionLine(ev cluster.RolloutEvent) string {
	n := ev.Node
	if ev.Refresh {
		return fmt.Sprintf("instance refresh %s: %s, %s", n.ID, n.State, ev.Detail)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "node %s: %s", n.ID, n.State)
	switch n.State {
	case cluster.StateBooting, cluster.StateTerminating:
		// the detail is the instance
	case cluster.StateFailed:
		b.WriteString(": " + n.Error)
		return b.String()
	}
	if ev.Detail != "" {
		b.WriteString(" " + ev.Detail)
	}
	if ev.Elapsed > 0 {
		fmt.Fprintf(&b, " (%s)", ev.Elapsed.Round(100*time.Millisecond))
	}
	return b.String()
}

// start redraws the table every second (elapsed times), at a terminal.
func (v *rolloutView) start() {
	if !v.live {
		return
	}
	v.ticker = time.NewTicker(time.Second)
	v.done = make(chan struct{})
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		for {
			select {
			case <-v.done:
				return
			case <-v.ticker.C:
				v.mu.Lock()
				v.drawLocked()
				v.mu.Unlock()
			}
		}
	}()
}

func (v *rolloutView) stop() {
	if v.ticker == nil {
		return
	}
	v.ticker.Stop()
	close(v.done)
	v.wg.Wait()
}

// drawLocked redraws the table over the one drawn before.
func (v *rolloutView) drawLocked() {
	if len(v.order) == 0 {
		return
	}
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	line := func(s string) { b.WriteString("\x1b[2K" + s + "\n") }
	line(fmt.Sprintf("%-6s %-13s %-22s %8s  %s", "NODE", "STATE", "INSTANCE", "ELAPSED", "DETAIL"))
	for _, id := range v.order {
		r := v.rows[id]
		el := "-"
		switch {
		case r.took > 0:
			el = r.took.Round(100 * time.Millisecond).String()
		case !r.since.IsZero():
			el = time.Since(r.since).Round(time.Second).String()
		}
		line(fmt.Sprintf("%-6s %-13s %-22s %8s  %s", id, r.state, dash(r.instance), el, config.KnownSecrets.Scrub(r.detail)))
	}
	v.drawn = len(v.order) + 1
	v.g.progressMu.Lock()
	fmt.Fprint(v.g.streams.ErrOut, b.String())
	v.g.progressMu.Unlock()
}
