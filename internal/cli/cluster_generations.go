package cli

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// generationRow is a generation as shown: never its user data or
// environment values (they may hold secrets), only what identifies it.
type generationRow struct {
	Number  int               `json:"number"`
	State   string            `json:"state"`
	Created time.Time         `json:"created"`
	Event   string            `json:"event"`
	Nodes   int               `json:"nodes"`
	Images  []string          `json:"images"`
	Specs   map[string]string `json:"specs"` // node id -> spec hash
}

func newClusterGenerationsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "generations",
		Short: "The cluster's generations: each set of node specs, pending, active or old",
		Long: `A generation is the full spec of every node (image, instance type, boot script,
volumes, …) as one up or rollout launched it; rollback relaunches a recorded
generation exactly. Instances carry their generation's number in the
cloud-compose:generation tag. Shown without user data or environment values.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			b, key, err := g.openClusterState(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			gens, err := b.Generations(ctx, key)
			if err != nil {
				return fmt.Errorf("generations: %w", err)
			}
			rows := make([]generationRow, 0, len(gens))
			for i := len(gens) - 1; i >= 0; i-- {
				gen := gens[i]
				r := generationRow{Number: gen.Number, State: gen.State, Created: gen.Created, Event: gen.Event, Nodes: len(gen.Specs), Specs: map[string]string{}}
				seen := map[string]bool{}
				for id, s := range gen.Specs {
					r.Specs[id] = s.Hash()
					if img := s.Image; img != "" && !seen[img] {
						seen[img] = true
						r.Images = append(r.Images, img)
					}
				}
				sort.Strings(r.Images)
				rows = append(rows, r)
			}
			if g.json() {
				return g.printJSON(map[string]any{"cluster": key.Cluster, "env": key.Env, "generations": rows})
			}
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GEN\tSTATE\tCREATED\tNODES\tIMAGES\tEVENT")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", r.Number, r.State, r.Created.Local().Format(time.DateTime), r.Nodes, strings.Join(r.Images, ","), r.Event)
			}
			return tw.Flush()
		},
	}
}
