package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

// engineOptions are provider options some commands set.
type engineOptions struct {
	parallel int
	grace    time.Duration
}

// openEngine loads the project and opens its provider.
func (g *globals) openEngine(ctx context.Context, o engineOptions) (*cluster.Engine, error) {
	p, err := g.loadCluster()
	if err != nil {
		return nil, err
	}
	prov, err := provider.Open(ctx, p.cluster, provider.Options{Parallel: o.parallel, Grace: o.grace, Log: lockedWriter{&g.progressMu, scrubWriter{g.streams.ErrOut}}})
	if err != nil {
		return nil, err
	}
	e := cluster.New(p.cluster, p.render, prov, g.log)
	e.Dir = p.dir
	if len(p.cluster.Groups()) > 0 {
		// the members converge recorded win over the config's counts
		members, err := g.groupMembers(ctx, e)
		if err != nil {
			return nil, err
		}
		p.cluster.SetGroupMembers(members)
	}
	return e, nil
}

// groupMembers reads the node-group members converge recorded in the
// cluster's coordinator (none recorded: an empty map).
func (g *globals) groupMembers(ctx context.Context, e *cluster.Engine) (map[string][]string, error) {
	b, key, err := g.openState(ctx, e)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	gs, ok := b.(state.GroupStore)
	if !ok {
		return map[string][]string{}, nil
	}
	recs, err := gs.GroupMembers(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read the node groups' members: %w", err)
	}
	out := map[string][]string{}
	for _, r := range recs {
		out[r.Group] = r.Members
	}
	return out, nil
}

// printJSON writes v as one indented JSON document to Out, with every
// known secret masked (an error text can quote one) and `<redacted>` as is.
func (g *globals) printJSON(v any) error {
	g.wroteOut = true
	return writeJSON(g.streams.Out, v, true)
}

// progressf prints a progress line to stderr, unless --quiet: as is on a
// terminal, with a UTC timestamp in front when piped (logs, CI).
func (g *globals) progressf(format string, args ...any) {
	if g.quiet {
		return
	}
	line := formatProgress(time.Now(), isTerminal(g.streams.ErrOut), fmt.Sprintf(format, args...))
	// nodes report from their own goroutines: one line at a time
	g.progressMu.Lock()
	defer g.progressMu.Unlock()
	fmt.Fprint(g.streams.ErrOut, config.KnownSecrets.Scrub(line))
}

// liveProgress reports whether progress goes to a person at a terminal,
// who also gets lines while nothing changes (waiting for health).
func (g *globals) liveProgress() bool { return !g.quiet && isTerminal(g.streams.ErrOut) }

// formatProgress is one progress line: msg on a terminal,
// "2026-11-22T10:01:03Z msg" otherwise.
func formatProgress(now time.Time, tty bool, msg string) string {
	if tty {
		return msg + "\n"
	}
	return now.UTC().Format(time.RFC3339) + " " + msg + "\n"
}
