package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

func newClusterCleanupCommand(g *globals) *cobra.Command {
	var lf lockFlags
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove what the cluster leaves behind once it has no instances",
		Long: `AWS auto scaling mode: deletes the group once it has no instances, then its
launch template. Local provider: forgets terminated instances and deletes
their volumes that were not kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.openEngine(cmd.Context(), engineOptions{})
			if err != nil {
				return err
			}
			r, err := g.locked(cmd.Context(), e, lf)
			if err != nil {
				return err
			}
			removed, err := e.Cleanup(cmd.Context())
			for _, x := range removed {
				r.event.Actions = append(r.event.Actions, state.NodeAction{Action: "removed " + x})
			}
			r.finish(err)
			if err != nil {
				return err
			}
			if g.json() {
				if removed == nil {
					removed = []string{}
				}
				return g.printJSON(map[string]any{"cluster": e.Cluster.Name, "removed": removed})
			}
			if len(removed) == 0 {
				fmt.Fprintln(g.streams.Out, "nothing to clean up")
			}
			for _, r := range removed {
				fmt.Fprintf(g.streams.Out, "removed %s\n", r)
			}
			return nil
		},
	}
	lf.add(cmd)
	return cmd
}
