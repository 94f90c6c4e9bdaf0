package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

type clusterDownFlags struct {
	force, noForce bool
	yes            bool
	noWait         bool
	grace          time.Duration
	lock           lockFlags
}

func newClusterDownCommand(g *globals) *cobra.Command {
	f := &clusterDownFlags{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Terminate the cluster's instances",
		Long: `Terminates every instance tagged with the cluster's name (never instances found
by IP alone). Instances with termination protection stop the command unless
--force, which turns protection off first. On a terminal it asks first,
unless --yes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.force, "force", false, "turn termination protection off first")
	fl.BoolVar(&f.noForce, "no-force", false, "keep termination protection (the default)")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&f.noWait, "no-wait", false, "return once termination has started")
	fl.DurationVar(&f.grace, "grace", 0, "local provider: how long processes get between SIGTERM and SIGKILL (default 10s)")
	f.lock.add(cmd)
	return cmd
}

func (f *clusterDownFlags) run(cmd *cobra.Command, g *globals) error {
	ctx := cmd.Context()
	e, err := g.openEngine(ctx, engineOptions{grace: f.grace})
	if err != nil {
		return err
	}
	r, err := g.locked(ctx, e, f.lock)
	if err != nil {
		return err
	}
	res, err := f.down(ctx, g, e)
	if res != nil {
		for _, i := range res.Terminated {
			r.event.Actions = append(r.event.Actions, state.NodeAction{Node: i.NodeID, Action: "terminated", InstanceID: i.ID})
		}
	}
	r.finish(err)
	return err
}

// down is down's work, under the lock.
func (f *clusterDownFlags) down(ctx context.Context, g *globals, e *cluster.Engine) (*cluster.DownResult, error) {
	all, err := e.Observe(ctx)
	if err != nil {
		return nil, err
	}
	var insts, foreign []provider.Instance
	for _, i := range all {
		if i.Foreign != "" {
			foreign = append(foreign, i)
		} else {
			insts = append(insts, i)
		}
	}
	if len(foreign) > 0 {
		// always said: a safety message, not progress
		fmt.Fprintf(g.streams.ErrOut, "leaving alone %d instance(s) named %s outside the cluster's network (%s): not this cluster's\n", len(foreign), e.Cluster.Name, foreignWhere(foreign))
	}
	if len(insts) == 0 {
		// what a load balancer left (a local proxy after down --no-wait)
		if err := e.RemoveLoadBalancer(ctx); err != nil {
			return nil, err
		}
		if g.json() {
			return nil, g.printJSON(cluster.DownResult{Cluster: e.Cluster.Name, Terminated: []provider.Instance{}, LeftAlone: foreign})
		}
		fmt.Fprintf(g.streams.Out, "cluster %s has no instances\n", e.Cluster.Name)
		return nil, nil
	}
	if !f.yes && isTerminal(g.streams.In) && isTerminal(g.streams.ErrOut) {
		fmt.Fprintf(g.streams.ErrOut, "Terminate %d instance(s) of cluster %s?\n", len(insts), e.Cluster.Name)
		printInstances(g, insts)
		fmt.Fprint(g.streams.ErrOut, "Type yes to continue: ")
		line, _ := bufio.NewReader(g.streams.In).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(line)); a != "yes" && a != "y" {
			return nil, &ExitError{Code: ExitFailed, Err: errors.New("cancelled: nothing terminated")}
		}
	}
	res, err := e.Down(ctx, all, cluster.DownOptions{Force: f.force && !f.noForce, NoWait: f.noWait})
	var pe *provider.ProtectedError
	if errors.As(err, &pe) {
		fmt.Fprintf(g.streams.ErrOut, "Termination protection is on for:\n")
		printInstancesTo(g.streams.ErrOut, pe.Instances)
		return nil, fmt.Errorf("nothing terminated: %w; run `cloud-compose cluster down --force` to turn protection off and terminate", pe)
	}
	if res != nil {
		if g.json() {
			if err == nil && !f.noWait && res.Group == "" {
				// down waited: each is terminated now, not as observed
				for i := range res.Terminated {
					res.Terminated[i].State = provider.Terminated
				}
			}
			if jerr := g.printJSON(res); jerr != nil {
				return res, jerr
			}
		} else {
			verb := "terminated"
			if f.noWait {
				verb = "terminating"
			}
			if res.Group != "" {
				fmt.Fprintf(g.streams.Out, "auto scaling group %s scaled to 0\n", res.Group)
			}
			for _, i := range res.Terminated {
				fmt.Fprintf(g.streams.Out, "%s %s %s (%s)\n", verb, i.ID, instanceName(e.ID, i), dash(i.IP))
			}
		}
	}
	return res, err
}

// foreignWhere lists where foreign instances are, e.g. "vpc-1: 2, vpc-2: 1".
func foreignWhere(insts []provider.Instance) string {
	count := map[string]int{}
	var order []string
	for _, i := range insts {
		if count[i.Foreign] == 0 {
			order = append(order, i.Foreign)
		}
		count[i.Foreign]++
	}
	parts := make([]string, len(order))
	for k, w := range order {
		parts[k] = fmt.Sprintf("%s: %d", w, count[w])
	}
	return strings.Join(parts, ", ")
}

func printInstances(g *globals, insts []provider.Instance) { printInstancesTo(g.streams.ErrOut, insts) }

func printInstancesTo(w interface{ Write([]byte) (int, error) }, insts []provider.Instance) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tINSTANCE\tSTATE\tIP")
	for _, i := range insts {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", dash(i.NodeID), i.ID, i.State, dash(i.IP))
	}
	tw.Flush()
}
