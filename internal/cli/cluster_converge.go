package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

type clusterConvergeFlags struct {
	lock     lockFlags
	parallel int
}

func newClusterConvergeCommand(g *globals) *cobra.Command {
	f := &clusterConvergeFlags{}
	cmd := &cobra.Command{
		Use:   "converge GROUP=N [GROUP=N]…",
		Short: "Set node-group counts and add or remove members to match",
		Long: `Sets the member count of each named node group (cluster.groups) and makes the
cluster match, under the cluster's lock and in its journal:

- the counts are recorded in the cluster's coordinator (cluster.state) first:
  later up, plan and rollout keep them (the config's count is the default
  until a converge sets one);
- added members get the lowest free ids <group>-<n> in the zones (subnets)
  with the fewest members, and are launched as up launches them: health-gated,
  registered with the load balancer once healthy;
- removed members are, first, those missing, dead, unhealthy or stale (running
  an older spec), then the newest; each is drained from the load balancer and
  terminated (termination protection does not stop a converge).

A count below min_per_zone × the group's zones is refused (exit 2) and nothing
changes. Interrupted, run the same converge again: it finishes. What a
converge would do: cluster plan GROUP=N. -o json prints {"cluster", "groups":
[{"group", "from", "to", "add", "remove": [{"node", "instance", "why"}],
"members"}], "up", "terminated"}.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, g, args) },
	}
	f.lock.add(cmd)
	cmd.Flags().IntVar(&f.parallel, "parallel", 0, "launch at most this many members at once (default: the provider's)")
	return cmd
}

// parseCounts reads GROUP=N arguments of command (for messages).
func parseCounts(command string, args []string) (map[string]int, error) {
	counts := map[string]int{}
	for _, a := range args {
		name, n, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, usageErrorf("%s: %q: give each group as GROUP=N, like web=4", command, a)
		}
		v, err := strconv.Atoi(n)
		if err != nil {
			return nil, usageErrorf("%s: %q: %q is not a number of members", command, a, n)
		}
		if _, dup := counts[name]; dup {
			return nil, usageErrorf("%s: %s is given twice", command, name)
		}
		counts[name] = v
	}
	return counts, nil
}

func (f *clusterConvergeFlags) run(cmd *cobra.Command, g *globals, args []string) error {
	counts, err := parseCounts("cluster converge", args)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	e, err := g.openEngine(ctx, engineOptions{parallel: f.parallel})
	if err != nil {
		return err
	}
	if err := cluster.CheckCounts(e.Cluster, counts); err != nil {
		return &UsageError{Err: fmt.Errorf("cluster converge: %w", err)}
	}
	e.Progress = g.upProgress
	opts := cluster.UpOptions{CloudInit: true, Parallel: f.parallel}
	opts.UseSnapshots = true
	mark, err := g.markJournal(ctx, e)
	if err != nil {
		return err
	}
	planOpts := cluster.PlanOptions{CloudInit: true}
	planOpts.UseSnapshots = true
	plan, err := e.PrepareConverge(ctx, counts, planOpts)
	if err != nil {
		return err
	}
	r, err := g.locked(ctx, e, f.lock)
	if err != nil {
		return err
	}
	gs, ok := r.backend.(state.GroupStore)
	if !ok {
		err := fmt.Errorf("the cluster's state backend (%s) cannot record node-group members", stateLocation(e.Cluster))
		r.finish(err)
		return err
	}
	if r.changedSince(mark) {
		// another run changed the cluster since we looked: look again,
		// with the members it may have recorded
		members, err := g.groupMembers(ctx, e)
		if err == nil {
			e.Cluster.SetGroupMembers(members)
			plan, err = e.PrepareConverge(ctx, counts, planOpts)
		}
		if err != nil {
			r.finish(err)
			return err
		}
	}
	for _, gc := range plan.Groups {
		g.progressf("group %s: %d → %d%s", gc.Group, gc.From, gc.To, describeGroupChange(gc))
	}
	e.Generation = r.generationFor
	record := func(rctx context.Context, members map[string][]string) error {
		names := make([]string, 0, len(counts))
		for n := range counts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if err := gs.PutGroupMembers(rctx, r.key, state.GroupMembers{Group: n, Members: members[n], Event: r.event.ID, Updated: time.Now().UTC()}); err != nil {
				return err
			}
		}
		return nil
	}
	res, err := e.ApplyConverge(ctx, plan, opts, record)
	if res != nil {
		r.event.Actions = nodeActions(res.Up)
		for _, t := range res.Terminated {
			r.event.Actions = append(r.event.Actions, state.NodeAction{Node: t.NodeID, Action: "removed", InstanceID: t.ID})
		}
	}
	r.finish(err)
	if res != nil {
		if jerr := g.printResult(res, func() { printConverge(g, res) }); jerr != nil {
			return jerr
		}
	}
	if err != nil && ctx.Err() != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("interrupted: %w; run the same `cloud-compose cluster converge %s` again to finish", err, strings.Join(args, " "))}
	}
	return err
}

// describeGroupChange is ": adding web-2, web-3; removing web-1 (newest)".
func describeGroupChange(gc cluster.GroupChange) string {
	var parts []string
	if len(gc.Add) > 0 {
		parts = append(parts, "adding "+strings.Join(gc.Add, ", "))
	}
	if len(gc.Remove) > 0 {
		var rm []string
		for _, r := range gc.Remove {
			rm = append(rm, fmt.Sprintf("%s (%s)", r.Node, r.Why))
		}
		parts = append(parts, "removing "+strings.Join(rm, ", "))
	}
	if len(parts) == 0 {
		return ": nothing to do"
	}
	return ": " + strings.Join(parts, "; ")
}

func printConverge(g *globals, res *cluster.ConvergeResult) {
	out := g.streams.Out
	if res.Up != nil {
		printUp(g, res.Up)
	}
	for _, t := range res.Terminated {
		fmt.Fprintf(out, "terminated %s (node %s)\n", t.ID, t.NodeID)
	}
	for _, gc := range res.Groups {
		fmt.Fprintf(out, "group %s: %d members (%s)\n", gc.Group, len(gc.Members), strings.Join(gc.Members, ", "))
	}
}
