package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// PluginPrefix names external plugins: `cloud-compose X` runs
// `cloud-compose-X` from PATH when X is not built in.
const PluginPrefix = "cloud-compose-"

// valueFlags are the global flags that take a value.
var valueFlags = map[string]bool{"-C": true, "--dir": true, "-f": true, "--file": true, "-o": true, "--output": true, "-e": true, "--env": true}

// externalPlugin finds the first word of args that is not a global flag;
// ok when it names no built-in command.
func externalPlugin(args []string) (name string, rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return "", nil, false
		case valueFlags[a]:
			i++
		case strings.HasPrefix(a, "-"):
			// -Cdir, --dir=x, -v, --no-color, --help, --version
		default:
			if builtins[a] {
				return "", nil, false
			}
			return a, args[i+1:], true
		}
	}
	return "", nil, false
}

// globalArgs parses only the global flags in front of the plugin name.
func parseGlobals(g *globals, args []string, name string) error {
	cmd := newRootCommand(g)
	f := cmd.PersistentFlags()
	var before []string
	for i, a := range args {
		if a == name && (i == 0 || !valueFlags[args[i-1]]) {
			before = args[:i]
			break
		}
	}
	if err := f.Parse(before); err != nil {
		return &UsageError{Err: err}
	}
	return g.setup()
}

// runExternal runs plugin `cloud-compose-<name>` with the remaining
// arguments, CLOUD_COMPOSE_CONFIG and CLOUD_COMPOSE_PLUGIN_CONFIG (the
// plugin's section, interpolated, as JSON). Its exit code is passed through.
func runExternal(ctx context.Context, g *globals, args []string, name string, rest []string) error {
	if err := parseGlobals(g, args, name); err != nil {
		return err
	}
	bin, err := exec.LookPath(PluginPrefix + name)
	if err != nil {
		return usageErrorf("unknown command %q: it is not built in and no %s%s is on PATH (built-in commands: cluster, config, image; run `cloud-compose --help`)", name, PluginPrefix, name)
	}
	env := os.Environ()
	p, err := g.loadDocument()
	var nf *config.NotFoundError
	switch {
	case errors.As(err, &nf):
		// a plugin may not need the config; it gets no config variables
	case err != nil:
		return err
	default:
		section, _ := p.doc.Data.Get(name)
		js, err := json.Marshal(section)
		if err != nil {
			return err
		}
		env = append(env, "CLOUD_COMPOSE_CONFIG="+p.path, "CLOUD_COMPOSE_PLUGIN_CONFIG="+string(js))
	}
	if e := g.environment(); e != "" {
		// the plugin sees the environment -e selected, as the commands do
		env = append(env, EnvVar+"="+e)
	}
	cmd := exec.CommandContext(ctx, bin, rest...)
	cmd.Dir = g.dir
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = g.streams.In, g.streams.Out, g.streams.ErrOut
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Code: ee.ExitCode(), Err: err, Silent: true}
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", bin, err)
	}
	return nil
}

// listPlugins is `cloud-compose` alone: the built-in plugins and, as the
// original did, the top-level keys of the config file.
func listPlugins(cmd *cobra.Command, g *globals) error {
	out := g.streams.Out
	fmt.Fprintf(out, "%s\n\nUsage:\n  cloud-compose [flags] PLUGIN COMMAND [args]\n\n", cmd.Long)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Built-in plugins:")
	for _, c := range cmd.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name(), c.Short)
	}
	tw.Flush()
	p, err := g.loadDocument()
	var nf *config.NotFoundError
	switch {
	case errors.As(err, &nf):
		fmt.Fprintf(out, "\nNo cloud-compose.yml here, so no plugins from it.\n")
	case err != nil:
		return err
	default:
		fmt.Fprintf(out, "\nPlugins in %s:\n", p.doc.Path)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, name := range p.doc.Plugins() {
			where := "built in"
			if !builtins[name] {
				if bin, err := exec.LookPath(PluginPrefix + name); err == nil {
					where = bin
				} else {
					where = "not installed: no " + PluginPrefix + name + " on PATH"
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\n", name, where)
		}
		tw.Flush()
	}
	fmt.Fprintf(out, "\nRun `cloud-compose PLUGIN --help` for a plugin's commands, `cloud-compose completion bash|zsh|fish` for shell completion.\n")
	return nil
}
