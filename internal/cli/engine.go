package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
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
	prov, err := provider.Open(ctx, p.cluster, provider.Options{Parallel: o.parallel, Grace: o.grace, Log: g.streams.ErrOut})
	if err != nil {
		return nil, err
	}
	return cluster.New(p.cluster, p.render, prov, g.log), nil
}

// printJSON writes v as one indented JSON document to Out.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.streams.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progressf prints a progress line to stderr when someone is watching.
func (g *globals) progressf(format string, args ...any) {
	if g.verbose || isTerminal(g.streams.ErrOut) {
		fmt.Fprintf(g.streams.ErrOut, format+"\n", args...)
	}
}
