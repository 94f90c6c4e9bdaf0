package cli

import (
	"fmt"
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
		Use:   "plan",
		Short: "Show what would change: per node create, replace (why), unchanged, remove",
		Long: `Compares every configured node's desired spec (image, instance type, boot
script, volumes, network, tags, environment, flags) with the instance that runs
it, and shows one row per node: create, replace (with every reason), unchanged,
unhealthy (running the desired spec but failing health), dead (stopped or
failed), remove (orphans and duplicates) and foreign (the cluster's name outside
its network: never touched). It makes no change, ever.

--diff adds the unified diff of the boot script against what each replaced
instance runs, with secret values masked. --detailed-exitcode exits 3 when
anything would change (0 when nothing would; 2 stays a usage or config error).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
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

func (f *clusterPlanFlags) run(cmd *cobra.Command, g *globals) error {
	if err := checkSnapshotNode(f.snapshotNode, f.useSnapshots && !f.noSnapshot); err != nil {
		return err
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
	p, err := e.Plan(ctx, opts)
	if err != nil {
		return err
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
		fmt.Fprintf(w, "image: %s\n\n", p.Image)
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
