package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

func newClusterSnapshotCommand(g *globals) *cobra.Command {
	var lf lockFlags
	cmd := &cobra.Command{
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
			r, err := g.locked(cmd.Context(), e, lf)
			if err != nil {
				return err
			}
			snaps, err := e.Snapshot(cmd.Context())
			for _, sn := range snaps {
				r.event.Actions = append(r.event.Actions, state.NodeAction{Node: sn.NodeID, Action: "snapshot " + sn.Device, InstanceID: sn.ID})
			}
			r.finish(err)
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
	lf.add(cmd)
	return cmd
}
