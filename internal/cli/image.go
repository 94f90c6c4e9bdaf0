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
var notYetImage = map[string]bool{"down": true}

func newImageCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Base images: the bake script (build) and the local provider's images",
		Long: `Base images clusters launch from, as the Python cloud-compose-image plugin made
them: "image build" renders image.sh from the project's image: section (name,
version, search_path, aws:, local:) and prints it; "image up" bakes it on the
local provider (image.local: a copy of the base image, the script run there,
the result registered as <name>:<version>).

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
	cmd.AddCommand(newImageBuildCommand(g), newImageUpCommand(g), &cobra.Command{
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

// notYetImageError is the usage error of `image down` (and of `image up`
// for EC2).
func notYetImageError(name string) error {
	return &UsageError{Err: fmt.Errorf("image %s: not built yet in this version; baking on EC2 (image up with image.aws, image down) arrives in a later version of cloud-compose (a local bake, image up with an image.local section, is here). "+
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

type imageUpFlags struct {
	noCloudInit bool
}

func newImageUpCommand(g *globals) *cobra.Command {
	f := &imageUpFlags{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bake an image: run image.sh on a copy of the base image and register the result",
		Long: `Bakes <name>:<version> from the image: section. With image.local (the local
provider): resolves image.local.image (a local image name, its newest image,
or an id; "empty" or none is the built-in empty image) as a node would,
copies it into a fresh root directory, runs the rendered image.sh there with
bash as a node runs its boot script (its own process group, NODE_ROOT set;
its output goes to a log in the store and to the progress lines), and when
the script exits 0 registers the root as a new dated image named
<name>:<version>: a cluster whose local.image is that name gets it on its
next new node, or on every node with cluster plan/up/rollout
--upgrade-image. When the script fails or the bake is interrupted, nothing
is registered and the root is removed (exit 1, with the log's last lines).
-o json prints {"image": {"id", "name", "created"}}.

Baking on EC2 (image.aws) is not in this version yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(g) },
	}
	cmd.Flags().BoolVar(&f.noCloudInit, "no-cloud-init", false, "EC2: pass image.sh as a plain script, not through cloud-init (no effect on a local bake)")
	return cmd
}

func (f *imageUpFlags) run(g *globals) error {
	p, err := g.loadImage()
	if err != nil {
		return err
	}
	if p.image.Local == nil {
		if p.image.AWS != nil {
			return notYetImageError("up")
		}
		return &config.Error{Problems: []config.Problem{p.image.Problem(nil, "has no local: section: a local bake needs image.local.image, the base image (\"empty\" for an empty root); baking on EC2 (image.aws) arrives in a later version")}}
	}
	if err := p.image.CheckBake(); err != nil {
		return err
	}
	ctx := g.context()
	script, err := render.BuildImage(ctx, p.dir, p.image, os.Environ())
	if err != nil {
		return err
	}
	name := p.image.Tag()
	base := p.image.Local.Image
	if base == "" {
		base = local.EmptyImage
	}
	g.progressf("baking %s from %s", name, base)
	img, err := local.Bake(ctx, local.BakeOptions{Name: name, Base: base, Script: script,
		Progress: func(line string) { g.progressf("%s", line) }})
	if err != nil {
		return err
	}
	if g.json() {
		return g.printJSON(map[string]any{"image": imageJSON(img)})
	}
	fmt.Fprintf(g.streams.Out, "baked %s as %s\n", img.Name, img.ID)
	return nil
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
