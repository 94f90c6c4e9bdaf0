package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/local"
)

func newImageCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Images of the local provider",
		Long: `Images for the local provider: named, dated directories whose content seeds a
node's root directory. An image name resolves to the newest image with that
name, or to the one the cluster already runs unless up --upgrade-image. The
built-in image "empty" needs no import.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "import NAME DIR",
		Short: "Register a copy of DIR as a new image NAME",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := local.ImportImage(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(imageJSON(img))
			}
			fmt.Fprintf(g.streams.Out, "imported %s as %s\n", args[1], img.ID)
			return nil
		},
	}, &cobra.Command{
		Use:   "ls",
		Short: "List images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			imgs, err := local.ListImages(cmd.Context())
			if err != nil {
				return err
			}
			if g.json() {
				out := make([]map[string]any, 0, len(imgs))
				for _, i := range imgs {
					out = append(out, imageJSON(i))
				}
				return g.printJSON(out)
			}
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tCREATED")
			for _, i := range imgs {
				created := "-"
				if !i.Created.IsZero() {
					created = i.Created.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", i.Name, i.ID, created)
			}
			return tw.Flush()
		},
	})
	return cmd
}

// imageJSON is an image in -o json: {"id", "name", "created"}, created
// null when unknown (the built-in image).
func imageJSON(i provider.Image) map[string]any {
	var created any
	if !i.Created.IsZero() {
		created = i.Created
	}
	return map[string]any{"id": i.ID, "name": i.Name, "created": created}
}
