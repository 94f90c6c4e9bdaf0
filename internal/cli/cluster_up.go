package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

type clusterUpFlags struct {
	cloudInit, noCloudInit       bool
	useSnapshots, noUseSnapshots bool
	upgradeImage, noUpgradeImage bool
	snapshotCluster              string
	snapshotTime                 string
	snapshotNode                 string
	parallel                     int
	lock                         lockFlags
}

func newClusterUpCommand(g *globals) *cobra.Command {
	f := &clusterUpFlags{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Launch every node that is not running",
		Long: `Launches each configured node that has no live instance, with its boot script
as user data. Nodes that already run are left alone, so up is safe to re-run;
an instance that stopped or failed is replaced on the same IP. A node that
fails does not stop the others: fix the cause and run up again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.cloudInit, "cloud-init", true, "send the rendered boot script as user data")
	fl.BoolVar(&f.noCloudInit, "no-cloud-init", false, "launch without a boot script")
	fl.BoolVar(&f.useSnapshots, "use-snapshots", true, "restore data volumes from the newest snapshot")
	fl.BoolVar(&f.noUseSnapshots, "no-use-snapshots", false, "start data volumes empty")
	fl.BoolVar(&f.upgradeImage, "upgrade-image", false, "use the newest image with the configured name, not the one the cluster runs")
	fl.BoolVar(&f.noUpgradeImage, "no-upgrade-image", false, "keep the image the cluster runs (the default)")
	fl.StringVar(&f.snapshotCluster, "snapshot-cluster", "", "restore snapshots of this cluster (default: this one)")
	fl.StringVar(&f.snapshotTime, "snapshot-time", "", "restore the newest snapshot taken at or before this time (local time unless it has a zone)")
	fl.StringVar(&f.snapshotNode, "snapshot-node", "", "restore every node from this node's newest snapshot (default: each node its own, else the cluster's newest)")
	fl.IntVar(&f.parallel, "parallel", cluster.DefaultParallel, "launch at most this many nodes at once")
	f.lock.add(cmd)
	return cmd
}

// snapshotTimeLayouts are accepted for --snapshot-time; without a zone the
// time is local, as in the original.
var snapshotTimeLayouts = []string{
	time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02",
	"2006-01-02 15:04:05 MST", "2006-01-02 15:04:05Z07:00",
}

func parseSnapshotTime(s string) (time.Time, error) {
	for _, l := range snapshotTimeLayouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErrorf("--snapshot-time %q: not a time; write it like 2026-11-22 14:30 (local time) or 2026-11-22T14:30:00Z", s)
}

// checkSnapshotNode refuses --snapshot-node with nothing to restore.
func checkSnapshotNode(node string, useSnapshots bool) error {
	if node != "" && !useSnapshots {
		return usageErrorf("--snapshot-node %s: new volumes start empty with --no-use-snapshots; drop one of the two", node)
	}
	return nil
}

func (f *clusterUpFlags) run(cmd *cobra.Command, g *globals) error {
	opts := cluster.UpOptions{CloudInit: f.cloudInit && !f.noCloudInit, Parallel: f.parallel}
	opts.UseSnapshots = f.useSnapshots && !f.noUseSnapshots
	opts.UpgradeImage = f.upgradeImage && !f.noUpgradeImage
	opts.SnapshotCluster = f.snapshotCluster
	opts.SnapshotNode = f.snapshotNode
	if err := checkSnapshotNode(f.snapshotNode, opts.UseSnapshots); err != nil {
		return err
	}
	if f.parallel < 1 {
		return usageErrorf("--parallel %d: must be at least 1", f.parallel)
	}
	if f.snapshotTime != "" {
		t, err := parseSnapshotTime(f.snapshotTime)
		if err != nil {
			return err
		}
		opts.SnapshotTime = t
		if opts.UseSnapshots {
			g.progressf("restoring from snapshots taken at or before %s", t.Format("2006-01-02 15:04:05 MST"))
		}
	}
	ctx := cmd.Context()
	e, err := g.openEngine(ctx, engineOptions{parallel: f.parallel})
	if err != nil {
		return err
	}
	e.Progress = func(r cluster.NodeResult) {
		if r.Error != "" {
			g.progressf("node %s: failed: %s", r.ID, r.Error)
			return
		}
		g.progressf("node %s: %s %s (%s)", r.ID, r.Action, r.InstanceID, r.IP)
	}
	// Check everything and render every node before taking the lock:
	// bad input is refused with nothing changed, not even the journal.
	mark, err := g.markJournal(ctx, e)
	if err != nil {
		return err
	}
	plan, err := e.PrepareUp(ctx, opts)
	if err != nil {
		return err
	}
	r, err := g.locked(ctx, e, f.lock)
	if err != nil {
		return err
	}
	if r.changedSince(mark) {
		// another run changed the cluster since we looked: look again
		if plan, err = e.PrepareUp(ctx, opts); err != nil {
			r.finish(err)
			return err
		}
	}
	e.Generation = r.generationFor
	res, err := e.ApplyUp(ctx, plan)
	if err == nil && res != nil {
		err = r.activateFirst(ctx, res.Generation, res)
	}
	r.event.Actions = nodeActions(res)
	r.finish(err)
	if res != nil {
		if g.json() {
			if jerr := g.printJSON(res); jerr != nil {
				return jerr
			}
		} else {
			printUp(g, res)
		}
	}
	if err != nil && ctx.Err() != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("interrupted: %w; run `cloud-compose cluster up` again to finish: it launches only what is missing and waits for what is still starting", err)}
	}
	if errors.Is(err, cluster.ErrNodesFailed) {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%w. Fix the cause and run `cloud-compose cluster up` again: it launches only what is missing", err)}
	}
	return err
}

func printUp(g *globals, res *cluster.UpResult) {
	if res.Group != nil {
		fmt.Fprintf(g.streams.Out, "auto scaling group %s %s (launch template version %s, %d instances)\n",
			res.Group.Name, res.Group.Action, res.Group.Version, res.Group.Size)
		return
	}
	urls := false // the URL column only for clusters with a health check
	for _, r := range res.Nodes {
		urls = urls || r.URL != ""
	}
	tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
	if urls {
		fmt.Fprintln(tw, "NODE\tACTION\tINSTANCE\tNAME\tIP\tURL\tDETAIL")
	} else {
		fmt.Fprintln(tw, "NODE\tACTION\tINSTANCE\tNAME\tIP\tDETAIL")
	}
	for _, r := range res.Nodes {
		detail := r.Reason
		if r.Error != "" {
			detail = config.KnownSecrets.Scrub(r.Error)
		}
		url := "\t" + dash(r.URL)
		if !urls {
			url = ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%s\t%s\n", r.ID, r.Action, dash(r.InstanceID), r.Name, dash(r.IP), url, detail)
	}
	tw.Flush()
	printStale(g, res)
	for _, r := range res.Nodes {
		if len(r.LogTail) == 0 {
			continue
		}
		fmt.Fprintf(g.streams.ErrOut, "node %s (%s): the last lines of its boot log (`cloud-compose cluster logs %s` for all):\n", r.ID, r.InstanceID, r.ID)
		for _, l := range r.LogTail {
			fmt.Fprintf(g.streams.ErrOut, "  | %s\n", config.KnownSecrets.Scrub(l))
		}
	}
}

// printStale ends up's output with one line when nodes were left running
// another spec than their desired one: up never replaces a healthy node.
func printStale(g *globals, res *cluster.UpResult) {
	var nodes []string
	fields := map[string]bool{}
	var order []string
	for _, r := range res.Nodes {
		if len(r.Stale) == 0 {
			continue
		}
		nodes = append(nodes, r.ID)
		for _, c := range r.Stale {
			f := c.Field
			if i := strings.IndexAny(f, "[."); i > 0 {
				f = f[:i]
			}
			if !fields[f] {
				fields[f] = true
				order = append(order, f)
			}
		}
	}
	if len(nodes) == 0 {
		return
	}
	fmt.Fprintf(g.streams.ErrOut, "%d node(s) (%s) run an older spec (%s), left running: `cloud-compose cluster plan` shows why\n",
		len(nodes), strings.Join(nodes, ", "), strings.Join(order, ", "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
