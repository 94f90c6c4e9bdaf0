package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

type clusterLogsFlags struct {
	follow bool
	tail   int
	help   bool
}

func newClusterLogsCommand(g *globals) *cobra.Command {
	f := &clusterLogsFlags{}
	cmd := &cobra.Command{
		Use:   "logs [NODE] [-f] [--tail N]",
		Short: "Print a node's boot log",
		Long: `Prints the output of a node's boot script (its live instance, else the newest).
Without NODE, every node's log in turn.

Flags:
  -f, --follow     keep printing as the log grows (Ctrl-C stops); needs NODE
                   when the cluster has several nodes
      --tail N     print only the last N lines

As in docker and kubectl, -f here means --follow: give the config file as
--file FILE (or -f FILE before "cluster").

-o json prints one JSON object per line of log:
{"node": ID, "instance_id": ID, "line": TEXT}.`,
		// -f is --follow here, which cobra cannot reconcile with the global
		// -f/--file shorthand, so this command parses its own flags.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			node, err := f.parse(g, args)
			if err != nil || f.help {
				if f.help {
					return cmd.Help()
				}
				return err
			}
			return f.run(cmd, g, node)
		},
	}
	return cmd
}

// parse reads the global flags and logs' own from args; it returns NODE.
func (f *clusterLogsFlags) parse(g *globals, args []string) ([]string, error) {
	fs := pflag.NewFlagSet("logs", pflag.ContinueOnError)
	fs.SetOutput(nopWriter{})
	fs.StringVarP(&g.dir, "dir", "C", g.dir, "")
	fs.StringVar(&g.file, "file", g.file, "")
	fs.StringVarP(&g.output, "output", "o", g.output, "")
	fs.BoolVarP(&g.verbose, "verbose", "v", g.verbose, "")
	fs.BoolVar(&g.noColor, "no-color", g.noColor, "")
	fs.StringVarP(&g.env, "env", "e", g.env, "")
	fs.BoolVar(&g.strictEnv, "strict-env", g.strictEnv, "")
	fs.BoolVarP(&f.follow, "follow", "f", false, "")
	fs.IntVar(&f.tail, "tail", -1, "")
	fs.BoolVarP(&f.help, "help", "h", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("cluster logs: %w", err)}
	}
	if fs.NArg() > 1 {
		return nil, usageErrorf("cluster logs takes at most one NODE, got %v", fs.Args())
	}
	return fs.Args(), g.setup()
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func (f *clusterLogsFlags) run(cmd *cobra.Command, g *globals, args []string) error {
	ctx := cmd.Context()
	e, err := g.openEngine(ctx, engineOptions{})
	if err != nil {
		return err
	}
	var nodes []string
	if len(args) == 1 {
		nodes = args
	} else {
		for _, n := range e.Cluster.Nodes() {
			nodes = append(nodes, n.ID)
		}
		if f.follow && len(nodes) > 1 {
			return usageErrorf("-f follows one node: give its id (%v)", nodes)
		}
	}
	for _, n := range nodes {
		inst, err := e.InstanceFor(ctx, n)
		if err != nil {
			return err
		}
		if inst == nil {
			if len(args) == 1 {
				return fmt.Errorf("node %s has no instance; run `cloud-compose cluster up`", n)
			}
			continue
		}
		var w io.Writer = g.streams.Out
		var lines *jsonLines
		if g.json() {
			lines = &jsonLines{w: g.streams.Out, node: n, instance: inst.ID}
			w = lines
			g.wroteOut = true
		} else if len(nodes) > 1 {
			fmt.Fprintf(g.streams.Out, "==> node %s (%s) <==\n", n, inst.ID)
		}
		err = e.Logs(ctx, inst.ID, w, f.follow, f.tail)
		if lines != nil {
			if ferr := lines.flush(); err == nil {
				err = ferr
			}
		}
		if err != nil {
			if f.follow && ctx.Err() != nil {
				return nil // Ctrl-C ends following
			}
			return err
		}
	}
	return nil
}

// jsonLines turns a node's log into one JSON object per line (-o json):
// {"node", "instance_id", "line"}, known secrets masked, written as each
// line completes (so -f streams).
type jsonLines struct {
	w        io.Writer
	node     string
	instance string
	buf      []byte
}

type logLineJSON struct {
	Node       string `json:"node"`
	InstanceID string `json:"instance_id"`
	Line       string `json:"line"`
}

func (j *jsonLines) Write(p []byte) (int, error) {
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(j.buf[:i])
		j.buf = j.buf[i+1:]
		if err := j.emit(line); err != nil {
			return 0, err
		}
	}
}

// flush writes a last line that has no newline.
func (j *jsonLines) flush() error {
	if len(j.buf) == 0 {
		return nil
	}
	line := string(j.buf)
	j.buf = nil
	return j.emit(line)
}

func (j *jsonLines) emit(line string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	line = config.KnownSecrets.Scrub(strings.TrimSuffix(line, "\r"))
	if err := enc.Encode(logLineJSON{Node: j.node, InstanceID: j.instance, Line: line}); err != nil {
		return err
	}
	_, err := j.w.Write(b.Bytes())
	return err
}
