package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

type clusterLogsFlags struct {
	follow bool
	tail   int
}

func newClusterLogsCommand(g *globals) *cobra.Command {
	f := &clusterLogsFlags{}
	cmd := &cobra.Command{
		Use:   "logs [NODE]",
		Short: "Print a node's boot log",
		Long: `Prints the output of a node's boot script (its live instance, else the newest).
Without NODE, every node's log in turn. -f keeps printing as the log grows.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := g.openEngine(ctx, engineOptions{})
			if err != nil {
				return err
			}
			var nodes []string
			if len(args) == 1 {
				nodes = args
			} else {
				for _, n := range e.Cluster.Nodes() {
					nodes = append(nodes, n.ID)
				}
				if f.follow && len(nodes) > 1 {
					return usageErrorf("-f follows one node: give its id (%v)", nodes)
				}
			}
			for _, n := range nodes {
				inst, err := e.InstanceFor(ctx, n)
				if err != nil {
					return err
				}
				if inst == nil {
					if len(args) == 1 {
						return fmt.Errorf("node %s has no instance; run `cloud-compose cluster up`", n)
					}
					continue
				}
				if len(nodes) > 1 {
					fmt.Fprintf(g.streams.Out, "==> node %s (%s) <==\n", n, inst.ID)
				}
				if err := e.Logs(ctx, inst.ID, g.streams.Out, f.follow, f.tail); err != nil {
					if ctx.Err() != nil && f.follow {
						return nil
					}
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&f.follow, "follow", "f", false, "keep printing as the log grows (Ctrl-C stops)")
	cmd.Flags().IntVar(&f.tail, "tail", -1, "print only the last N lines")
	return cmd
}
