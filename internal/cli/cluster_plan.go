package cli

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// ExitChanges is `plan --detailed-exitcode`'s exit code when something
// would change (Terraform's convention; 2 stays usage or config error).
const ExitChanges = 3

type clusterPlanFlags struct {
	diff, detailedExitCode   bool
	upgradeImage, noUpgrade  bool
	useSnapshots, noSnapshot bool
	snapshotNode             string
}

func newClusterPlanCommand(g *globals) *cobra.Command {
	f := &clusterPlanFlags{}
	cmd := &cobra.Command{
		Use:   "plan [GROUP=N]…",
		Short: "Show what would change: per node create, replace (why), unchanged, remove",
		Long: `Compares every configured node's desired spec (image, instance type, boot
script, volumes, network, tags, environment, flags) with the instance that runs
it, and shows one row per node: create, replace (with every reason), unchanged,
unhealthy (running the desired spec but failing health), dead (stopped or
failed), remove (orphans and duplicates) and foreign (the cluster's name outside
its network: never touched). It makes no change, ever.

--diff adds the unified diff of the boot script against what each replaced
instance runs, with secret values masked. --detailed-exitcode exits 3 when
anything would change (0 when nothing would; 2 stays a usage or config error).

GROUP=N arguments show what ` + "`cluster converge GROUP=N`" + ` would do: the members it
would add as create, those it would remove as remove (with why: missing,
dead, unhealthy, stale, newest). Nothing is recorded.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, g, args) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.diff, "diff", false, "show the boot script diff of each replaced node (reads its user data)")
	fl.BoolVar(&f.detailedExitCode, "detailed-exitcode", false, "exit 3 when changes are pending")
	fl.BoolVar(&f.upgradeImage, "upgrade-image", false, "plan with the newest image of the configured name, not the one the cluster runs")
	fl.BoolVar(&f.noUpgrade, "no-upgrade-image", false, "keep the image the cluster runs (the default)")
	fl.BoolVar(&f.useSnapshots, "use-snapshots", true, "as up: new volumes start from the newest snapshot")
	fl.BoolVar(&f.noSnapshot, "no-use-snapshots", false, "as up: new volumes start empty")
	fl.StringVar(&f.snapshotNode, "snapshot-node", "", "as up: every node restores this node's newest snapshot")
	return cmd
}

func (f *clusterPlanFlags) run(cmd *cobra.Command, g *globals, args []string) error {
	if err := checkSnapshotNode(f.snapshotNode, f.useSnapshots && !f.noSnapshot); err != nil {
		return err
	}
	var counts map[string]int
	if len(args) > 0 {
		var err error
		if counts, err = parseCounts("cluster plan", args); err != nil {
			return err
		}
	}
	ctx := cmd.Context()
	e, err := g.openEngine(ctx, engineOptions{})
	if err != nil {
		return err
	}
	opts := cluster.PlanOptions{CloudInit: true, Diff: f.diff}
	opts.UpgradeImage = f.upgradeImage && !f.noUpgrade
	opts.UseSnapshots = f.useSnapshots && !f.noSnapshot
	opts.SnapshotNode = f.snapshotNode
	var converge *cluster.ConvergePlan
	if counts != nil {
		// what converge would do: its members, then the plan of them
		if err := cluster.CheckCounts(e.Cluster, counts); err != nil {
			return &UsageError{Err: fmt.Errorf("cluster plan: %w", err)}
		}
		if converge, err = e.PrepareConverge(ctx, counts, opts); err != nil {
			return err
		}
		e.Cluster.SetGroupMembers(converge.Members)
	}
	p, err := e.Plan(ctx, opts)
	if err != nil {
		return err
	}
	if converge != nil {
		why := converge.Terminates()
		for i, c := range p.Changes {
			if w, ok := why[c.InstanceID]; ok && c.Action == cluster.PlanRemove {
				p.Changes[i].Detail = "converge removes it: " + w
			}
		}
	}
	if g.json() {
		if err := g.printJSON(p); err != nil {
			return err
		}
	} else {
		printPlan(g, p)
	}
	if f.detailedExitCode && p.Pending() {
		return &ExitError{Code: ExitChanges, Silent: true}
	}
	return nil
}

func printPlan(g *globals, p *cluster.Plan) {
	w := g.streams.Out
	if p.Image != "" {
		fmt.Fprintf(w, "image: %s\n", p.Image)
	}
	for _, l := range hardwareLines(p) {
		fmt.Fprintf(w, "hardware: %s\n", l)
	}
	if p.Image != "" || len(p.Hardware) > 0 {
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tACTION\tINSTANCE\tREASON")
	for _, c := range p.Changes {
		reason := c.Detail
		if len(c.Reasons) > 0 {
			reason = reasons(c.Reasons)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", dash(c.Node), c.Action, dash(c.InstanceID), config.KnownSecrets.Scrub(reason))
	}
	tw.Flush()
	for _, c := range p.Changes {
		if c.Diff != "" {
			fmt.Fprintf(w, "\nnode %s: boot script (user data)\n%s", c.Node, config.KnownSecrets.Scrub(c.Diff))
		}
	}
	s := p.Summary
	fmt.Fprintf(w, "\nPlan: %d to create, %d to replace, %d to remove, %d unhealthy, %d dead, %d unchanged.\n",
		s.Create, s.Replace, s.Remove, s.Unhealthy, s.Dead, s.Unchanged)
	if p.Pending() {
		fmt.Fprintln(w, "`cloud-compose cluster rollout` replaces the nodes marked replace, unhealthy or dead, one batch at a time, health-gated; `cloud-compose cluster up` only creates what is missing and replaces dead nodes.")
	} else {
		fmt.Fprintln(w, "No changes: every node runs its desired spec.")
	}
}

// reasons joins a node's changes: "instance_type: t2.medium → m5.large; user_data: changed".
func reasons(cs []provider.Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}

// hardwareLines are the plan's hardware choices, one per distinct choice
// with the nodes that share it, in the plan's node order:
// "web-0, web-1: c5a.large — smallest current-generation x86_64 type in
// us-east-1a with ≥2 vCPUs and ≥4 GiB".
func hardwareLines(p *cluster.Plan) []string {
	if len(p.Hardware) == 0 {
		return nil
	}
	var ids []string
	seen := map[string]bool{}
	for _, c := range p.Changes {
		if _, ok := p.Hardware[c.Node]; ok && !seen[c.Node] {
			seen[c.Node] = true
			ids = append(ids, c.Node)
		}
	}
	var rest []string
	for id := range p.Hardware {
		if !seen[id] {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	type line struct {
		choice provider.HardwareChoice
		nodes  []string
	}
	var lines []*line
	byChoice := map[provider.HardwareChoice]*line{}
	for _, id := range append(ids, rest...) {
		c := p.Hardware[id]
		l, ok := byChoice[c]
		if !ok {
			l = &line{choice: c}
			byChoice[c] = l
			lines = append(lines, l)
		}
		l.nodes = append(l.nodes, dash(id))
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		c := l.choice
		why := strings.TrimSuffix(c.Reason, ": "+c.Label()) // the label repeats the type
		out[i] = strings.Join(l.nodes, ", ") + ": " + c.Type
		if why != "" {
			out[i] += " — " + why
		}
	}
	return out
}
