package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

// DefaultHistory is how many events `cluster history` shows.
const DefaultHistory = 20

func newClusterHistoryCommand(g *globals) *cobra.Command {
	n := DefaultHistory
	cmd := &cobra.Command{
		Use:   "history",
		Short: "The journal: who changed the cluster, when, and what it did",
		Long: `Every mutating command (up, down, snapshot, cleanup, unlock) is journaled:
when, who, on which host, the command line (secrets masked), what it did per
node, the result (ok, failed, interrupted, or running while it runs) and the
generation. Newest first. Never takes the lock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			b, key, err := g.openClusterState(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			evs, err := b.Events(ctx, key, n)
			if err != nil {
				return fmt.Errorf("journal: %w", err)
			}
			if g.json() {
				if evs == nil {
					evs = []state.Event{}
				}
				return g.printJSON(map[string]any{"cluster": key.Cluster, "env": key.Env, "events": evs})
			}
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tWHO\tCOMMAND\tRESULT\tGEN\tDURATION\tDID")
			for _, ev := range evs {
				gen := "-"
				if ev.Generation > 0 {
					gen = fmt.Sprint(ev.Generation)
				}
				fmt.Fprintf(tw, "%s\t%s@%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.Local().Format(time.DateTime), ev.Who, ev.Host,
					ev.Command, result(ev), gen, ev.Duration.Round(time.Millisecond), did(ev))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&n, "n", "n", DefaultHistory, "show this many events (0: all)")
	return cmd
}

func result(ev state.Event) string {
	if ev.Error != "" {
		return ev.Result + ": " + ev.Error
	}
	return ev.Result
}

// did summarizes an event's node actions: "created 0, 1; unchanged 2".
func did(ev state.Event) string {
	by := map[string][]string{}
	var order []string
	for _, a := range ev.Actions {
		if _, ok := by[a.Action]; !ok {
			order = append(order, a.Action)
		}
		by[a.Action] = append(by[a.Action], dash(a.Node))
	}
	parts := make([]string, len(order))
	for i, a := range order {
		parts[i] = a + " " + strings.Join(by[a], ", ")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}
