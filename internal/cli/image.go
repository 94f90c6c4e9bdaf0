package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/local"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// notYetImage are the commands of the Python cloud-compose-image that this
// version does not have: they fail as unknown commands, saying so.
var notYetImage = map[string]bool{"up": true, "down": true}

func newImageCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Base images: the bake script (build) and the local provider's images",
		Long: `Base images clusters launch from, as the Python cloud-compose-image plugin made
them: "image build" renders image.sh from the project's image: section (name,
version, search_path, aws:, local:) and prints it.

For the local provider, images are named, dated directories whose content
seeds a node's root directory: "image import" registers one, "image ls" lists
them. An image name resolves to the newest image with that name, or to the one
the cluster already runs unless up --upgrade-image. The built-in image "empty"
needs no import.`,
		Args: imageArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// A group: its help shows `image [command]`, as strictArgs does for the
	// others (this one is runnable only to name what is not there yet).
	cmd.SetUsageTemplate(strings.Replace(cmd.UsageTemplate(), "Usage:{{if .Runnable}}\n  {{.UseLine}}{{end}}", "Usage:", 1))
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// `image up --no-cloud-init`: the flag is unknown because up is not
		// there yet
		if args := c.Flags().Args(); len(args) > 0 && notYetImage[args[0]] {
			return notYetImageError(args[0])
		}
		return &UsageError{Err: err}
	})
	cmd.AddCommand(newImageBuildCommand(g), &cobra.Command{
		Use:   "import NAME DIR",
		Short: "Register a copy of DIR as a new image NAME (local provider)",
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
		Short: "List the local provider's images",
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

// imageArgs is the Args of `image`: none (its help), an unknown command as
// for every group, and a command of the Python plugin this version does
// not have yet (up, down) said as such.
func imageArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 && notYetImage[args[0]] {
		return notYetImageError(args[0])
	}
	return unknownSubcommand(cmd, args)
}

// notYetImageError is the usage error of `image up` and `image down`.
func notYetImageError(name string) error {
	return &UsageError{Err: fmt.Errorf("image %s: not built yet in this version; baking (image up, image down) arrives in a later version of cloud-compose. "+
		"Until then the Python cloud-compose-image plugin (pip install cloud-compose cloud-compose-image) runs `cloud-compose image %s` from this same image: section; "+
		"`cloud-compose image build` prints the script a bake runs", name, name)}
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

// imageProject is a project loaded for the image commands: the config
// document and its `image:` section. It needs no `cluster:` section.
type imageProject struct {
	dir   string
	path  string
	doc   *config.Document
	image *config.Image
}

// loadImage reads the config and its `image:` section and prints the
// warnings.
func (g *globals) loadImage() (*imageProject, error) {
	p, err := g.loadDocument()
	if err != nil {
		return nil, err
	}
	img, err := config.LoadImage(p.doc)
	if img != nil {
		for _, w := range img.Warnings {
			g.warnf("%s", w)
		}
	}
	if err != nil {
		return nil, err
	}
	return &imageProject{dir: p.dir, path: p.path, doc: p.doc, image: img}, nil
}

type imageBuildFlags struct{}

func newImageBuildCommand(g *globals) *cobra.Command {
	f := &imageBuildFlags{}
	return &cobra.Command{
		Use:   "build",
		Short: "Print the bake script (image.sh rendered)",
		Long: `Renders image.sh from ['.'] + image.search_path (relative to the project
directory) with the image: section and prints it, as the Python
cloud-compose-image's "image build" did: templates see the image: mapping as
written (search_path with '.' in front) and every environment variable the
mapping does not shadow; no cluster: data, no docker-compose data, no
environment: handling. -o json prints {"image": NAME, "version": VERSION,
"script": SCRIPT}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(g) },
	}
}

func (f *imageBuildFlags) run(g *globals) error {
	p, err := g.loadImage()
	if err != nil {
		return err
	}
	out, err := render.BuildImage(g.context(), p.dir, p.image, os.Environ())
	if err != nil {
		return err
	}
	if g.json() {
		// the script as is, as the text output prints it
		g.wroteOut = true
		return writeJSON(g.streams.Out, imageBuildJSON{Image: p.image.Name, Version: p.image.Version, Script: out}, false)
	}
	_, err = fmt.Fprintln(g.streams.Out, out)
	return err
}

// imageBuildJSON is image build's -o json document.
type imageBuildJSON struct {
	Image   string `json:"image"`
	Version string `json:"version"`
	Script  string `json:"script"`
}
