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

func newImageCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Bake base images (the cloud-compose-image plugin's commands) and list them",
		Long: `Base images clusters launch from, as the Python cloud-compose-image plugin made
them, from the project's image: section (name, version, search_path, aws:,
local:):

  image build   renders image.sh and prints it
  image up      bakes <name>:<version>: on EC2 (image.aws) an instance runs
                image.sh and stops, an image is made of it; locally
                (image.local) image.sh runs on a copy of the base image
  image down    stops what is left of earlier bakes of the image name
  image ls      lists baked images and what uses them

A cluster's aws.ami (or local.image) naming <name>:<version> resolves to the
newest bake; cluster plan --upgrade-image shows the nodes it would replace
and cluster rollout --upgrade-image replaces them.

For the local provider, "image import" registers a directory as an image.
The built-in image "empty" needs no import.`,
		Args: unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// A group: its help shows `image [command]`, as strictArgs does for the
	// others.
	cmd.SetUsageTemplate(strings.Replace(cmd.UsageTemplate(), "Usage:{{if .Runnable}}\n  {{.UseLine}}{{end}}", "Usage:", 1))
	cmd.AddCommand(newImageBuildCommand(g), newImageUpCommand(g), newImageDownCommand(g), newImageLsCommand(g), &cobra.Command{
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
	cloudInit   bool
	keep        int
	timeout     time.Duration
	provider    string
}

func newImageUpCommand(g *globals) *cobra.Command {
	f := &imageUpFlags{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bake an image: run image.sh on a new instance of the base image and register the result",
		Long: `Bakes <name>:<version> from the image: section.

On EC2 (image.aws), as the Python cloud-compose-image did, with its gaps
closed: an instance of image.aws.ami starts in image.aws.subnet, tagged at
launch ImageName, ImageVersion, Name=<name>:<version> and image.aws.tags,
with the rendered image.sh and "shutdown -h now" as user data; once it has
stopped itself, an image <name>_<version>_<YYYY-mm-dd-HH-MM-SS> is made of
it, with the same tags on the image and its snapshots, and awaited until
available. The instance is terminated however the bake ends (a failure,
Ctrl-C; after kill -9, image down finds it). An instance that ends in any
other state than stopped fails the bake, with its console output's tail.
Then older images of the same name and version are removed with their
snapshots — unless an instance (running, pending or stopped) or a launch
template uses them, or they are among the newest --keep.

Locally (image.local): image.local.image (a local image name, its newest
image, or an id; "empty" or none is the built-in empty image) is copied into
a fresh root, image.sh runs there with bash as a node runs its boot script
(its own process group, NODE_ROOT set; its output to a log in the store and
to the progress lines), and when it exits 0 the root is registered as a new
dated image <name>:<version>; older unused images of that name are removed
as on EC2.

A cluster whose aws.ami (local.image) is <name>:<version> gets the new image
on its next new node, or on every node with cluster plan/rollout
--upgrade-image. With both aws: and local: in image:, --provider chooses.
-o json prints {"image": {...}, "instance", "snapshots", "removed", "kept"}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
	}
	cmd.Flags().BoolVar(&f.noCloudInit, "no-cloud-init", false, "EC2: the instance only shuts down, image.sh is not run (the original's flag); no effect on a local bake")
	cmd.Flags().BoolVar(&f.cloudInit, "cloud-init", true, "the default: run image.sh (the original's --cloud-init)")
	cmd.Flags().IntVar(&f.keep, "keep", provider.DefaultKeep, "images of this name and version kept, the new one included, besides those in use")
	cmd.Flags().DurationVar(&f.timeout, "timeout", provider.DefaultBakeTimeout, "how long image.sh may run before the bake is given up")
	addImageProviderFlag(cmd, &f.provider)
	return cmd
}

func addImageProviderFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "provider", "", "aws or local: where the image is (default: the image: section's aws: or local:)")
	_ = cmd.RegisterFlagCompletionFunc("provider", cobra.FixedCompletions([]string{"aws", "local"}, cobra.ShellCompDirectiveNoFileComp))
}

func (f *imageUpFlags) run(cmd *cobra.Command, g *globals) error {
	if f.keep < 1 {
		return usageErrorf("--keep %d: keep at least 1 (the new image)", f.keep)
	}
	if f.timeout <= 0 {
		return usageErrorf("--timeout %s: give a positive duration, e.g. 30m", f.timeout)
	}
	if cmd.Flags().Changed("cloud-init") && cmd.Flags().Changed("no-cloud-init") && f.cloudInit == f.noCloudInit {
		return usageErrorf("--cloud-init and --no-cloud-init: give one")
	}
	noCloudInit := f.noCloudInit || !f.cloudInit
	p, err := g.loadImage()
	if err != nil {
		return err
	}
	where, err := p.bakeProvider(f.provider, "up")
	if err != nil {
		return err
	}
	if err := p.image.CheckBake(); err != nil {
		return err
	}
	if where == awsName {
		if err := p.checkEC2Bake(); err != nil {
			return err
		}
	}
	ctx := g.context()
	script, err := render.BuildImage(ctx, p.dir, p.image, os.Environ())
	if err != nil {
		return err
	}
	userData := script
	if where == awsName {
		userData = bakeUserData(script, noCloudInit)
	}
	b, err := provider.OpenBaker(ctx, where)
	if err != nil {
		return err
	}
	g.progressf("baking %s (%s)", p.image.Tag(), where)
	res, err := b.Bake(ctx, provider.BakeOptions{Image: p.image, UserData: userData, Keep: f.keep, Timeout: f.timeout,
		Progress: func(line string) { g.progressf("%s", line) }})
	if err != nil {
		return err
	}
	if g.json() {
		return g.printJSON(imageUpJSON{Image: res.Image, Instance: res.Instance, Snapshots: nonNil(res.Snapshots), Removed: nonNil(res.Removed), Kept: nonNilImages(res.Kept)})
	}
	fmt.Fprintf(g.streams.Out, "baked %s as %s", res.Image.Name, res.Image.ID)
	if res.Image.AMIName != "" {
		fmt.Fprintf(g.streams.Out, " (%s)", res.Image.AMIName)
	}
	fmt.Fprintln(g.streams.Out)
	return nil
}

// imageUpJSON is image up's -o json document.
type imageUpJSON struct {
	Image     provider.ImageInfo   `json:"image"`
	Instance  string               `json:"instance"`
	Snapshots []string             `json:"snapshots"`
	Removed   []string             `json:"removed"`
	Kept      []provider.ImageInfo `json:"kept"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilImages(s []provider.ImageInfo) []provider.ImageInfo {
	if s == nil {
		return []provider.ImageInfo{}
	}
	return s
}

// The providers that bake.
const (
	awsName   = "aws"
	localName = "local"
)

// bakeProvider is where a bake (or down, ls) happens: --provider, else the
// image: section's one provider subsection.
func (p *imageProject) bakeProvider(flag, command string) (string, error) {
	switch flag {
	case awsName:
		if p.image.AWS == nil {
			return "", &config.Error{Problems: []config.Problem{p.image.Problem(nil, "has no aws: section: image %s --provider aws needs image.aws (ami, subnet, …)", command)}}
		}
		return awsName, nil
	case localName:
		if p.image.Local == nil {
			return "", &config.Error{Problems: []config.Problem{p.image.Problem(nil, "has no local: section: image %s --provider local needs image.local.image, the base image (\"empty\" for an empty root)", command)}}
		}
		return localName, nil
	case "":
	default:
		return "", usageErrorf("--provider %q: use aws or local", flag)
	}
	switch {
	case p.image.AWS != nil && p.image.Local != nil:
		return "", usageErrorf("image %s: the image: section has both aws: and local:; say which with --provider aws or --provider local", command)
	case p.image.AWS != nil:
		return awsName, nil
	case p.image.Local != nil:
		return localName, nil
	}
	return "", &config.Error{Problems: []config.Problem{p.image.Problem(nil, "has neither aws: nor local:; image %s needs image.aws (ami, subnet, … for EC2) or image.local (image: the base image, \"empty\" for an empty root)", command)}}
}

// checkEC2Bake reports, with file:line, what an EC2 bake needs that image
// build does not: the base image (the original failed with a KeyError on
// a missing ami or subnet, after deleting the unused images).
func (p *imageProject) checkEC2Bake() error {
	var probs []config.Problem
	if p.image.AWS.AMI == "" {
		probs = append(probs, p.image.Problem([]string{"aws"}, "has no ami: a bake starts from a base image; set image.aws.ami to an AMI id (ami-…)"))
	}
	if p.image.AWS.Subnet == "" {
		probs = append(probs, p.image.Problem([]string{"aws"}, "has no subnet: the bake instance runs in image.aws.subnet (subnet-…); the original needed it too"))
	}
	if len(probs) > 0 {
		return &config.Error{Problems: probs}
	}
	return nil
}

// bakeUserData is the user data of an EC2 bake, the original's: image.sh
// and "\nshutdown -h now", or with --no-cloud-init only the shutdown.
func bakeUserData(script string, noCloudInit bool) string {
	if noCloudInit {
		return "#!/bin/bash\nshutdown -h now"
	}
	return script + "\nshutdown -h now"
}

type imageDownFlags struct{ provider string }

func newImageDownCommand(g *globals) *cobra.Command {
	f := &imageDownFlags{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop what is left of earlier bakes of the image name",
		Long: `Terminates the instances of earlier bakes of image.name (EC2: instances tagged
ImageName=<name> that are pending, running, stopping or stopped — the
original's image down, which took running and stopped ones), e.g. after a
bake was killed; locally, stops a bake's script and removes its partial
root. Prints "terminated ID,…" as the original did (nothing when there is
nothing to stop). -o json prints {"terminated": [...]}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.loadImage()
			if err != nil {
				return err
			}
			where, err := p.bakeProvider(f.provider, "down")
			if err != nil {
				return err
			}
			ctx := g.context()
			b, err := provider.OpenBaker(ctx, where)
			if err != nil {
				return err
			}
			ids, err := b.Down(ctx, p.image.Name)
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(map[string]any{"terminated": nonNil(ids)})
			}
			if len(ids) > 0 {
				fmt.Fprintf(g.streams.Out, "terminated %s\n", strings.Join(ids, ","))
			}
			return nil
		},
	}
	addImageProviderFlag(cmd, &f.provider)
	return cmd
}

type imageLsFlags struct{ provider string }

func newImageLsCommand(g *globals) *cobra.Command {
	f := &imageLsFlags{}
	cmd := &cobra.Command{
		Use:   "ls [NAME]",
		Short: "List images with their version, creation time, id and what uses them",
		Long: `Lists baked images: on EC2 this account's images with an ImageName tag (of
image NAME when given), locally every image in the store (the built-in
"empty" image included when no NAME is given). USED BY names the clusters
whose instances run each image (stopped ones included) and, on EC2, the
launch templates that launch it: image up never removes those.

Where: --provider, else the image: section's aws: or local: when the
project has one, else the local provider. -o json prints a list of
{"id", "name", "image", "version", "created", "state", "ami_name", "used_by"}.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			where := f.provider
			if where != "" && where != awsName && where != localName {
				return usageErrorf("--provider %q: use aws or local", where)
			}
			if where == "" {
				where = g.imageDefaultProvider()
			}
			name := ""
			if len(args) > 0 {
				name = args[0]
			}
			ctx := g.context()
			b, err := provider.OpenBaker(ctx, where)
			if err != nil {
				return err
			}
			imgs, err := b.Images(ctx, name)
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(nonNilImages(imgs))
			}
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tCREATED\tID\tUSED BY")
			for _, i := range imgs {
				created := "-"
				if !i.Created.IsZero() {
					created = i.Created.Local().Format(time.DateTime)
				}
				n, v := i.Name, i.Version
				if i.Image != "" {
					n = i.Image
				}
				if v == "" {
					v = "-"
				}
				id := i.ID
				if i.State != "" && i.State != "available" {
					id += " (" + i.State + ")"
				}
				used := "-"
				if len(i.UsedBy) > 0 {
					used = strings.Join(i.UsedBy, ", ")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n, v, created, id, used)
			}
			return tw.Flush()
		},
	}
	addImageProviderFlag(cmd, &f.provider)
	return cmd
}

// imageDefaultProvider is where image ls looks without --provider: EC2
// when the project's image: section has aws: and not local:, else the
// local provider. Reading the project prints nothing (no project, or one
// without image:, is no error for ls).
func (g *globals) imageDefaultProvider() string {
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	path, err := config.Find(dir, g.file)
	if err != nil {
		return localName
	}
	doc, err := config.LoadContext(g.context(), path, os.LookupEnv)
	if err != nil {
		return localName
	}
	if _, _, ok := doc.Section("image"); !ok {
		return localName
	}
	if img, _ := config.LoadImage(doc); img != nil && img.AWS != nil && img.Local == nil {
		return awsName
	}
	return localName
}

// imageJSON is an image in -o json: {"id", "name", "created"}, created
// null when unknown (the built-in image).
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
