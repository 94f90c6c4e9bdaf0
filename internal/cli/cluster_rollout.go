package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

// rolloutFlags are the flags rollout and rollback share.
type rolloutFlags struct {
	maxUnavailable int
	nodes          []string
	yes            bool
	noRollback     bool
	force          bool
	upgradeImage   bool
	noUpgradeImage bool
	lock           lockFlags
}

func (f *rolloutFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.maxUnavailable, "max-unavailable", 0, "replace at most this many nodes at once (default: rollout.max_unavailable, 1)")
	fl.StringArrayVar(&f.nodes, "node", nil, "replace only this node (repeat for more)")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation (needed when not at a terminal)")
	fl.BoolVar(&f.noRollback, "no-rollback", false, "when a node fails its health gate, stop there: do not put the replaced nodes back")
	fl.BoolVar(&f.force, "force", false, "start and go on although fewer nodes than rollout.min_healthy are healthy")
	fl.BoolVar(&f.upgradeImage, "upgrade-image", false, "use the newest image with the configured name, not the one the cluster runs (nodes on an older image are replaced)")
	fl.BoolVar(&f.noUpgradeImage, "no-upgrade-image", false, "keep the image the cluster runs (the default)")
	f.lock.add(cmd)
}

func newClusterRolloutCommand(g *globals) *cobra.Command {
	f := &rolloutFlags{}
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Replace the nodes that run an older spec, are unhealthy or dead, one batch at a time",
		Long: `Replaces every node that ` + "`cluster plan`" + ` marks replace, unhealthy or dead
(and launches missing ones), as a new generation: at most
rollout.max_unavailable nodes at once, never leaving fewer than
rollout.min_healthy nodes healthy. Each node: hooks.before_node → snapshot
of its data (aws) → terminate → launch the new spec on the same IP → pass
health within rollout.healthy_deadline and stay healthy for
rollout.min_healthy_time → hooks.after_node. A node that fails stops the
rollout and, unless --no-rollback, every node replaced goes back to its
previous generation's spec. Interrupted (Ctrl-C, kill -9, a lost
connection), run it again: it continues where it stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g, nil) },
	}
	f.add(cmd)
	return cmd
}

type rollbackFlags struct {
	rolloutFlags
	to int
}

func newClusterRollbackCommand(g *globals) *cobra.Command {
	f := &rollbackFlags{}
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Roll out a recorded generation's specs again (default: the one before the active)",
		Long: `Rolls out the exact specs a generation recorded (its image id and boot script,
not a new render of the config) with the same gates as rollout. The
generation becomes the active one; ` + "`cluster generations`" + ` lists them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g, &f.to) },
	}
	f.add(cmd)
	cmd.Flags().IntVar(&f.to, "to", 0, "the generation to roll back to (default: the one before the active)")
	return cmd
}

// rollbackTarget picks the generation rollback goes to.
func rollbackTarget(gens []state.Generation, to int) (state.Generation, error) {
	active := 0
	for _, gen := range gens {
		if gen.State == state.GenActive {
			active = gen.Number
		}
	}
	if to == 0 {
		// the newest generation that was active before: a pending one
		// never ran everywhere (a failed rollout)
		for i := len(gens) - 1; i >= 0; i-- {
			if gens[i].Number < active && gens[i].State == state.GenOld {
				return gens[i], nil
			}
		}
		if active == 0 {
			return state.Generation{}, errors.New("the cluster has no active generation: nothing to roll back from (`cloud-compose cluster generations`)")
		}
		return state.Generation{}, fmt.Errorf("generation %d is the first: there is none before it to roll back to", active)
	}
	for _, gen := range gens {
		if gen.Number == to {
			if len(gen.Specs) == 0 {
				return gen, fmt.Errorf("generation %d has no recorded specs", to)
			}
			return gen, nil
		}
	}
	var have []string
	for _, gen := range gens {
		have = append(have, strconv.Itoa(gen.Number))
	}
	return state.Generation{}, usageErrorf("--to %d: the cluster has no such generation (it has %s)", to, strings.Join(have, ", "))
}

// run is rollout, or rollback when to is set.
func (f *rolloutFlags) run(cmd *cobra.Command, g *globals, to *int) error {
	if f.maxUnavailable < 0 {
		return usageErrorf("--max-unavailable %d: must be at least 1", f.maxUnavailable)
	}
	ctx := cmd.Context()
	e, err := g.openEngine(ctx, engineOptions{})
	if err != nil {
		return err
	}
	if err := checkNodeFlags(f.nodes, e.Cluster.Nodes()); err != nil {
		return err
	}
	opts := cluster.RolloutOptions{CloudInit: true, MaxUnavailable: f.maxUnavailable, Nodes: f.nodes, NoRollback: f.noRollback, Force: f.force}
	opts.UseSnapshots = true
	opts.UpgradeImage = f.upgradeImage && !f.noUpgradeImage
	verb := "rollout"
	var back state.Generation
	if to != nil {
		verb = "rollback"
		b, key, err := g.openState(ctx, e)
		if err != nil {
			return err
		}
		gens, err := b.Generations(ctx, key)
		b.Close()
		if err != nil {
			return fmt.Errorf("generations: %w", err)
		}
		if back, err = rollbackTarget(gens, *to); err != nil {
			return err
		}
		opts.Specs = back.Specs
	}
	view := newRolloutView(g)
	e.OnRollout = view.event
	mark, err := g.markJournal(ctx, e)
	if err != nil {
		return err
	}
	plan, err := e.PrepareRollout(ctx, opts)
	if err != nil {
		return err
	}
	if err := f.confirm(g, e, plan, verb); err != nil {
		return err
	}
	r, err := g.locked(ctx, e, f.lock)
	if err != nil {
		return err
	}
	if r.changedSince(mark) {
		if plan, err = e.PrepareRollout(ctx, opts); err != nil {
			r.finish(err)
			return err
		}
	}
	gens, err := r.rolloutGenerations(ctx, plan, back.Number)
	gens.Resuming, gens.Passed = r.resuming()
	e.OnRollout = func(ev cluster.RolloutEvent) {
		view.event(ev)
		switch n := ev.Node; n.State {
		case cluster.StateDone, cluster.StateRolledBack:
			r.progress(ctx, state.NodeAction{Node: n.ID, Action: n.State, InstanceID: n.NewInstance})
		}
	}
	if err != nil {
		r.finish(err)
		return err
	}
	view.start()
	res, err := e.ApplyRollout(ctx, plan, gens)
	view.stop()
	if err == nil && res.Complete {
		err = r.activate(ctx, gens.Target)
	}
	r.mu.Lock()
	r.event.Actions = rolloutActions(res)
	r.mu.Unlock()
	r.finish(err)
	if res != nil {
		if g.json() {
			if jerr := g.printJSON(res); jerr != nil {
				return jerr
			}
		} else {
			printRollout(g, res, verb)
		}
	}
	return rolloutError(err, res, ctx, verb)
}

// checkNodeFlags refuses --node ids the cluster does not have.
func checkNodeFlags(ids []string, nodes []config.Node) error {
	var all []string
	for _, n := range nodes {
		all = append(all, n.ID)
	}
	for _, id := range ids {
		if !slices.Contains(all, id) {
			return usageErrorf("--node %s: the cluster has no such node (it has %s)", id, strings.Join(all, ", "))
		}
	}
	return nil
}

// confirm shows what the rollout will replace and asks, at a terminal,
// unless --yes; elsewhere --yes is required.
func (f *rolloutFlags) confirm(g *globals, e *cluster.Engine, plan *cluster.RolloutPlan, verb string) error {
	if f.yes {
		return nil
	}
	if !isTerminal(g.streams.In) {
		return usageErrorf("%s replaces servers: pass --yes to confirm when not at a terminal (`cloud-compose cluster plan` shows what would change)", verb)
	}
	fmt.Fprintf(g.streams.ErrOut, "%s of cluster %s: `cloud-compose cluster plan` shows each node's changes.\nGo on? [y/N] ", verb, e.Cluster.Name)
	line, _ := bufio.NewReader(g.streams.In).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%s cancelled: nothing was changed", verb)}
	}
	return nil
}

// rolloutGenerations is what the engine needs from the coordinator: the
// target generation (rollback: back; rollout: the generation of the
// plan's specs, new and pending if they are new), the recorded specs and
// the active generation.
func (r *lockedRun) rolloutGenerations(ctx context.Context, plan *cluster.RolloutPlan, back int) (cluster.RolloutGenerations, error) {
	out := cluster.RolloutGenerations{Target: back, Recorded: map[int]map[string]provider.Spec{}}
	if back == 0 {
		n, err := r.generationFor(ctx, plan.Specs())
		if err != nil {
			return out, err
		}
		out.Target = n
	}
	r.event.Generation = out.Target
	gens, err := r.backend.Generations(ctx, r.key)
	if err != nil {
		return out, fmt.Errorf("generations: %w", err)
	}
	for _, gen := range gens {
		out.Recorded[gen.Number] = gen.Specs
		if gen.State == state.GenActive {
			out.Fallback = gen.Number
		}
	}
	return out, nil
}

// activate makes generation n the active one and the active one old.
func (r *lockedRun) activate(ctx context.Context, n int) error {
	gens, err := r.backend.Generations(ctx, r.key)
	if err != nil {
		return fmt.Errorf("generations: %w", err)
	}
	for _, gen := range gens {
		want := gen.State
		switch {
		case gen.Number == n:
			want = state.GenActive
		case gen.State == state.GenActive:
			want = state.GenOld
		}
		if want != gen.State {
			gen.State = want
			if err := r.backend.PutGeneration(ctx, r.key, gen); err != nil {
				return fmt.Errorf("generations: %w", err)
			}
		}
	}
	return nil
}

func rolloutActions(res *cluster.RolloutResult) []state.NodeAction {
	if res == nil {
		return nil
	}
	var out []state.NodeAction
	for _, n := range res.Nodes {
		id := n.NewInstance
		if id == "" {
			id = n.OldInstance
		}
		out = append(out, state.NodeAction{Node: n.ID, Action: n.State, InstanceID: id})
	}
	return out
}

// rolloutError is the command's error, with what to do next.
func rolloutError(err error, res *cluster.RolloutResult, ctx context.Context, verb string) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("interrupted: %w; run `cloud-compose cluster %s` again: it continues where this run stopped", err, verb)}
	}
	if errors.Is(err, cluster.ErrBelowQuorum) {
		return &ExitError{Code: ExitFailed, Err: err}
	}
	if errors.Is(err, cluster.ErrRolloutFailed) && res != nil {
		advice := "fix the cause and run it again"
		if res.RolledBack {
			advice = "the replaced nodes were put back on their previous spec; fix the cause (`cloud-compose cluster logs NODE`) and run it again"
		}
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%s %w; %s", verb, err, advice)}
	}
	return err
}

// printRollout is the table at the end, and for failed nodes the last
// lines of their boot log.
func printRollout(g *globals, res *cluster.RolloutResult, verb string) {
	if res.Refresh != nil {
		fmt.Fprintf(g.streams.Out, "instance refresh %s: %s (%d%%)\n", res.Refresh.ID, res.Refresh.Status, res.Refresh.PercentComplete)
		return
	}
	tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tOLD\tNEW\tGEN\tTIME\tDETAIL")
	for _, n := range res.Nodes {
		detail := strings.Join(n.Reasons, "; ")
		if n.Error != "" {
			detail = config.KnownSecrets.Scrub(n.Error)
		}
		gen := n.Generation
		if gen == "" {
			gen = n.OldGeneration
		}
		took := "-"
		if n.Timings != nil && n.Timings.Total > 0 {
			took = n.Timings.Total.Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.State, dash(n.OldInstance), dash(n.NewInstance), dash(gen), took, detail)
	}
	tw.Flush()
	for _, n := range res.Nodes {
		if len(n.LogTail) == 0 {
			continue
		}
		fmt.Fprintf(g.streams.ErrOut, "node %s (%s): the last lines of its boot log:\n", n.ID, n.FailedInstance)
		for _, l := range n.LogTail {
			fmt.Fprintf(g.streams.ErrOut, "  | %s\n", config.KnownSecrets.Scrub(l))
		}
	}
	if res.Complete {
		fmt.Fprintf(g.streams.ErrOut, "%s complete: generation %d is active (%s)\n", verb, res.Generation, res.Duration)
	}
}
