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
	e.Progress = g.upProgress
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
		if jerr := g.printResult(res, func() { printUp(g, res) }); jerr != nil {
			return jerr
		}
	}
	if err != nil && ctx.Err() != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("interrupted: %w; run `cloud-compose cluster up` again to finish: it launches only what is missing and waits for what is still starting", err)}
	}
	if errors.Is(err, cluster.ErrNodesFailed) {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%w. Fix the cause and run `cloud-compose cluster up` again: it launches only what is missing", err)}
	}
	if errors.Is(err, cluster.ErrUnhealthy) {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%w: their instances run but fail the health check, and up leaves a running instance alone; `cloud-compose cluster logs %s` shows why, `cloud-compose cluster rollout` replaces them", err, firstUnhealthy(res))}
	}
	return err
}

// upProgress prints up's progress (also converge's launches): a line per
// step; while waiting for health, only at a terminal (piped: transitions
// only).
func (g *globals) upProgress(ev cluster.Event) {
	if ev.Step == cluster.EventWaiting && !g.liveProgress() {
		return
	}
	if line := progressLine(ev); line != "" {
		g.progressf("%s", line)
	}
}

// printResult prints a command's result: -o json, or text.
func (g *globals) printResult(res any, text func()) error {
	if g.json() {
		return g.printJSON(res)
	}
	text()
	return nil
}

// firstUnhealthy is the id of the first unhealthy node (NODE if none).
func firstUnhealthy(res *cluster.UpResult) string {
	if res != nil {
		for _, r := range res.Nodes {
			if r.Health == cluster.HealthBad {
				return r.ID
			}
		}
	}
	return "NODE"
}

// progressLine is the progress line of one step of up ("" for none).
func progressLine(ev cluster.Event) string {
	r := ev.Node
	switch ev.Step {
	case cluster.EventFailed:
		return fmt.Sprintf("node %s: failed: %s", r.ID, r.Error)
	case cluster.EventUnhealthy:
		return fmt.Sprintf("node %s: unhealthy %s (%s): %s", r.ID, r.InstanceID, r.IP, r.Error)
	case cluster.EventHealthy:
		return fmt.Sprintf("node %s: healthy %s (%s)", r.ID, r.InstanceID, r.URL)
	case cluster.EventWaiting:
		return fmt.Sprintf("node %s: waiting for %s (%ds of %ds)", r.ID, ev.Check,
			int(ev.Elapsed.Seconds()), int(ev.Timeout.Seconds()))
	case cluster.EventLaunched:
		if r.Reason != "" {
			return fmt.Sprintf("node %s: launched %s (%s), replacing %s", r.ID, r.InstanceID, r.IP, strings.TrimPrefix(r.Reason, "instance "))
		}
		return fmt.Sprintf("node %s: launched %s (%s)", r.ID, r.InstanceID, r.IP)
	case cluster.EventRunning, cluster.EventUnchanged:
		return fmt.Sprintf("node %s: %s %s (%s)", r.ID, ev.Step, r.InstanceID, r.IP)
	case cluster.EventDone:
		return fmt.Sprintf("node %s: %s %s (%s)", r.ID, r.Action, r.InstanceID, r.IP)
	}
	return ""
}

func printUp(g *globals, res *cluster.UpResult) {
	if res.Group != nil {
		fmt.Fprintf(g.streams.Out, "auto scaling group %s %s (launch template version %s, %d instances)\n",
			res.Group.Name, res.Group.Action, res.Group.Version, res.Group.Size)
		return
	}
	urls, healths := false, false // URL and HEALTH only for clusters with a health check
	for _, r := range res.Nodes {
		urls = urls || r.URL != ""
		healths = healths || r.Health != ""
	}
	tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
	head := "NODE\tACTION\tINSTANCE\tNAME\tIP"
	if urls {
		head += "\tURL"
	}
	if healths {
		head += "\tHEALTH"
	}
	fmt.Fprintln(tw, head+"\tDETAIL")
	for _, r := range res.Nodes {
		detail := r.Reason
		if r.Error != "" {
			detail = config.KnownSecrets.Scrub(r.Error)
		}
		url := "\t" + dash(r.URL)
		if !urls {
			url = ""
		}
		if healths {
			url += "\t" + dash(r.Health)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%s\t%s\n", r.ID, r.Action, dash(r.InstanceID), r.Name, dash(r.IP), url, detail)
	}
	tw.Flush()
	if lb := res.LoadBalancer; lb != nil {
		fmt.Fprintf(g.streams.Out, "load balancer: %s (%d target(s))\n", lb.Address, len(lb.Targets))
	}
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
	fmt.Fprintf(g.streams.ErrOut, "%d node(s) (%s) run an older spec (%s), left running: `cloud-compose cluster plan` shows why, `cloud-compose cluster rollout` replaces them\n",
		len(nodes), strings.Join(nodes, ", "), strings.Join(order, ", "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
