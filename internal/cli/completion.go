package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

// Shell completion (`cloud-compose completion bash|zsh|fish`) completes,
// besides cobra's commands and flag names:
//   - the values of -o/--output (text, json);
//   - at the top level, the external plugins on PATH (cloud-compose-X);
//   - node ids, for `cluster logs [NODE]` and every cluster command's
//     --node and --snapshot-node, read from the project's config as the
//     command would read it (-C, --file, -e), quietly (no warning) and with
//     no API call;
//   - environment names, for -e/--env: the project's overlay files
//     (environments/NAME.yml) and the entries of its `environments:`.
//
// Completion runs through cobra's hidden `__complete` command, which
// parses the flags but runs no PersistentPreRunE: nothing here may rely on
// globals.setup.

// nodeFlags are the cluster commands' flags whose value is a node id.
var nodeFlags = []string{"node", "snapshot-node"}

// registerCompletions adds the completion functions to the command tree.
func registerCompletions(root *cobra.Command, g *globals) {
	_ = root.RegisterFlagCompletionFunc("output", completeOutput)
	_ = root.RegisterFlagCompletionFunc("env", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return envCompletions(g.dir, g.file, toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	root.ValidArgsFunction = completePlugins
	for _, c := range root.Commands() {
		if c.Name() == "cluster" {
			registerNodeCompletions(c, g)
		}
	}
}

func registerNodeCompletions(c *cobra.Command, g *globals) {
	for _, name := range nodeFlags {
		if f := c.LocalFlags().Lookup(name); f != nil && (f.Value.Type() == "string" || f.Value.Type() == "stringArray") {
			_ = c.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return nodeCompletions(g.dir, g.file, g.environment(), toComplete), cobra.ShellCompDirectiveNoFileComp
			})
		}
	}
	if c.Name() == "logs" {
		c.ValidArgsFunction = completeLogs
	}
	if c.Name() == "converge" || c.Name() == "plan" {
		c.ValidArgsFunction = func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return groupCompletions(g.dir, g.file, g.environment(), args, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		}
	}
	if c.Name() == "rollback" {
		_ = c.RegisterFlagCompletionFunc("to", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return generationCompletions(g.dir, g.file, g.environment(), toComplete), cobra.ShellCompDirectiveNoFileComp
		})
	}
	for _, sub := range c.Commands() {
		registerNodeCompletions(sub, g)
	}
}

// completeOutput completes -o's values.
func completeOutput(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return outputCompletions("", toComplete), cobra.ShellCompDirectiveNoFileComp
}

func outputCompletions(prefix, toComplete string) []cobra.Completion {
	var out []cobra.Completion
	for _, v := range []struct{ name, desc string }{{OutputText, "for people"}, {OutputJSON, "one JSON document"}} {
		if strings.HasPrefix(prefix+v.name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(prefix+v.name, v.desc))
		}
	}
	return out
}

// completePlugins completes the first word with the external plugins on
// PATH, next to cobra's built-in commands.
func completePlugins(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, p := range pathPlugins() {
		if strings.HasPrefix(p.name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(p.name, "external plugin: "+p.path))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

type pathPlugin struct{ name, path string }

// pathPlugins lists the cloud-compose-X executables on PATH that
// `cloud-compose X` would run (X not built in), sorted by name.
func pathPlugins() []pathPlugin {
	seen := map[string]bool{}
	var out []pathPlugin
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			continue
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			name, ok := strings.CutPrefix(e.Name(), PluginPrefix)
			if !ok || name == "" || strings.HasPrefix(name, "-") || builtins[name] || seen[name] {
				continue
			}
			bin, err := exec.LookPath(e.Name())
			if err != nil {
				continue
			}
			seen[name] = true
			out = append(out, pathPlugin{name: name, path: bin})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// quietCluster reads the cluster of the project in dir (config file file,
// or found as the commands find it; environment env merged) for
// completion: nothing printed, nil when it cannot be read. path is the
// config file.
func quietCluster(dir, file, env string) (c *config.Cluster, path string) {
	if dir == "" {
		dir = "."
	}
	path, err := config.Find(dir, file)
	if err != nil {
		return nil, ""
	}
	doc, err := config.LoadWithOptions(context.Background(), path, os.LookupEnv, config.Options{Env: env})
	if err != nil {
		return nil, ""
	}
	c, _ = config.LoadCluster(doc)
	return c, path
}

// envCompletions are the environments of the project in dir (config file
// file, or found as the commands find it) that start with toComplete,
// each described by where it is defined. Nothing is printed.
func envCompletions(dir, file, toComplete string) []cobra.Completion {
	if dir == "" {
		dir = "."
	}
	path, err := config.Find(dir, file)
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	seen := map[string]bool{}
	for _, e := range config.ListEnvironments(path) {
		if seen[e.Name] || !strings.HasPrefix(e.Name, toComplete) {
			continue
		}
		seen[e.Name] = true
		out = append(out, cobra.CompletionWithDesc(e.Name, "environment, "+e.Where()))
	}
	return out
}

// groupCompletions are GROUP= for the node groups of the project not yet
// among args, for converge and plan, each described by its count.
func groupCompletions(dir, file, env string, args []string, toComplete string) []cobra.Completion {
	c, _ := quietCluster(dir, file, env)
	if c == nil {
		return nil
	}
	given := map[string]bool{}
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		given[name] = true
	}
	var out []cobra.Completion
	for _, gr := range c.Groups() {
		if given[gr.Name] || !strings.HasPrefix(gr.Name+"=", toComplete) {
			continue
		}
		out = append(out, cobra.CompletionWithDesc(gr.Name+"=", fmt.Sprintf("node group, count %d, at least %d", gr.Count, gr.Minimum())))
	}
	return out
}

// nodeCompletions are the node ids of the project in dir (config file
// file, or found as the commands find it; environment env merged) that
// start with toComplete; none when the config cannot be read. Nothing is
// printed.
func nodeCompletions(dir, file, env, toComplete string) []cobra.Completion {
	c, _ := quietCluster(dir, file, env)
	if c == nil {
		return nil
	}
	var out []cobra.Completion
	for _, n := range c.Nodes() {
		if n.ID == "" || !strings.HasPrefix(n.ID, toComplete) {
			continue
		}
		desc := "node"
		if n.IP != "" {
			desc = "node " + n.IP
		}
		out = append(out, cobra.CompletionWithDesc(n.ID, desc))
	}
	return out
}

// generationCompletions completes rollback's --to with the cluster's
// generations, newest first, read from its coordinator (at most 2 s).
func generationCompletions(dir, file, env, toComplete string) []cobra.Completion {
	c, path := quietCluster(dir, file, env)
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := state.Open(ctx, stateLocation(c), filepath.Dir(path))
	if err != nil {
		return nil
	}
	defer b.Close()
	gens, err := b.Generations(ctx, state.Key{Cluster: c.Name, Env: c.Env})
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	for i := len(gens) - 1; i >= 0; i-- {
		n := strconv.Itoa(gens[i].Number)
		if strings.HasPrefix(n, toComplete) {
			out = append(out, cobra.CompletionWithDesc(n, gens[i].State+", "+gens[i].Created.Local().Format(time.DateTime)))
		}
	}
	return out
}

// completeLogs completes `cluster logs`, which parses its own flags (its
// -f is --follow), so cobra hands it every word: flags included.
func completeLogs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		switch args[len(args)-1] {
		case "-o", "--output":
			return outputCompletions("", toComplete), cobra.ShellCompDirectiveNoFileComp
		case "-e", "--env":
			dir, file := logsProject(cmd, args[:len(args)-1])
			return envCompletions(dir, file, toComplete), cobra.ShellCompDirectiveNoFileComp
		case "-C", "--dir":
			return nil, cobra.ShellCompDirectiveFilterDirs
		case "--file":
			return nil, cobra.ShellCompDirectiveDefault
		case "--tail":
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
	}
	for _, prefix := range []string{"--output=", "-o="} {
		if strings.HasPrefix(toComplete, prefix) {
			return outputCompletions(prefix, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	}
	if strings.HasPrefix(toComplete, "-") {
		var out []cobra.Completion
		for _, f := range []struct{ name, desc string }{{"--follow", "keep printing as the log grows"}, {"--tail", "print only the last N lines"}} {
			if strings.HasPrefix(f.name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(f.name, f.desc))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	fs, ok := logsFlags(cmd, args)
	if !ok || fs.NArg() > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	dir, file, env := ".", "", os.Getenv(EnvVar)
	if f := fs.Lookup("dir"); f != nil {
		dir = f.Value.String()
	}
	if f := fs.Lookup("file"); f != nil {
		file = f.Value.String()
	}
	if f := fs.Lookup("env"); f != nil && f.Value.String() != "" {
		env = f.Value.String()
	}
	return nodeCompletions(dir, file, env, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// logsFlags parses args as `cluster logs` does: its own flags, and the
// global ones (without -f, which is --follow here).
func logsFlags(cmd *cobra.Command, args []string) (*pflag.FlagSet, bool) {
	fs := pflag.NewFlagSet("logs", pflag.ContinueOnError)
	fs.SetOutput(nopWriter{})
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.BoolP("follow", "f", false, "")
	fs.Int("tail", -1, "")
	fs.BoolP("help", "h", false, "")
	cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) {
		short := f.Shorthand
		if fs.ShorthandLookup(short) != nil {
			short = ""
		}
		if f.Value.Type() == "bool" {
			fs.BoolP(f.Name, short, false, "")
		} else {
			fs.StringP(f.Name, short, f.DefValue, "")
		}
	})
	return fs, fs.Parse(args) == nil
}

// logsProject is the project dir and config file the words args of
// `cluster logs` name (-C, --file).
func logsProject(cmd *cobra.Command, args []string) (dir, file string) {
	dir = "."
	if fs, ok := logsFlags(cmd, args); ok {
		if f := fs.Lookup("dir"); f != nil {
			dir = f.Value.String()
		}
		if f := fs.Lookup("file"); f != nil {
			file = f.Value.String()
		}
	}
	return dir, file
}
