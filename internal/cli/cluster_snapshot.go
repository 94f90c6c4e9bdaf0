package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

func newClusterSnapshotCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot",
		Short: "Snapshot every node's data volumes",
		Long: `Copies each node's data volumes (not the root) into dated snapshots tagged
with the cluster and device; up restores the newest for a new node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.openEngine(cmd.Context(), engineOptions{})
			if err != nil {
				return err
			}
			snaps, err := e.Snapshot(cmd.Context())
			if err != nil {
				return err
			}
			if g.json() {
				if snaps == nil {
					snaps = []provider.Snapshot{}
				}
				return g.printJSON(map[string]any{"cluster": e.Cluster.Name, "snapshots": snaps})
			}
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tDEVICE\tSNAPSHOT\tCREATED")
			for _, s := range snaps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.NodeID, s.Device, s.ID, s.Created.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
}
