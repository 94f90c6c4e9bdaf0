package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// Output formats for -o.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// globals are the flags every command has.
type globals struct {
	progressMu sync.Mutex      // serializes progress lines (nodes report concurrently)
	ctx        context.Context // cancelled by the first SIGINT/SIGTERM
	streams    IOStreams
	dir        string
	file       string
	output     string
	verbose    bool
	quiet      bool // no progress lines (warnings and errors still print)
	noColor    bool
	// strictEnv makes an unset ${VAR} without a default an error (also
	// CLOUD_COMPOSE_STRICT_ENV=1); see readConfig.
	strictEnv bool
	// env selects an environment (-e; also CLOUD_COMPOSE_ENV); see
	// readConfig.
	env string
	log *slog.Logger
	// wroteOut: a JSON result is on stdout (no error document after it)
	wroteOut bool
}

func (g *globals) json() bool { return g.output == OutputJSON }

// Version is set at build time (-ldflags "-X ...cli.Version=v1.2.3"); it
// falls back to the module version Go recorded.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Execute runs the command line args (without the program name).
func Execute(ctx context.Context, s IOStreams, args []string) error {
	g := &globals{ctx: ctx, streams: s}
	if name, rest, ok := externalPlugin(args); ok {
		return scrubbed(runExternal(ctx, g, args, name, rest))
	}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	// after SetOut: the completion command keeps the writer it sees
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	strictArgs(root)
	registerCompletions(root, g)
	_, err := root.ExecuteContextC(ctx)
	return g.failed(args, err)
}

// builtins are the top-level commands; any other first word is an external
// plugin `cloud-compose-<word>` on PATH.
var builtins = map[string]bool{
	"cluster": true, "config": true, "image": true, "secrets": true, "completion": true, "help": true,
	"__complete": true, "__completeNoDesc": true, "__local-supervisor": true, "__demo-service": true, "__lb-proxy": true,
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "cloud-compose",
		Short: "Immutable infrastructure from cloud-compose.yml",
		Long: `cloud-compose launches servers described in cloud-compose.yml, with a boot
script rendered from Jinja2 templates, and replaces them instead of changing
them in place. It reads projects written for the Python cloud-compose tools
unchanged.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listPlugins(cmd, g)
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&g.dir, "dir", "C", ".", "project directory")
	f.StringVarP(&g.file, "file", "f", "", "config file (default: the first of cloud-compose/cloud-compose.yml, cloud-compose/cloud-compose.yaml, cloud-compose.yml, cloud-compose.yaml)")
	f.StringVarP(&g.output, "output", "o", OutputText, "output format: text or json")
	f.BoolVarP(&g.verbose, "verbose", "v", false, "log debug details to stderr")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "no progress lines on stderr (warnings and errors still print)")
	f.BoolVar(&g.noColor, "no-color", false, "no colours in output (also when NO_COLOR is set)")
	f.StringVarP(&g.env, "env", "e", "", "environment: merge environments/NAME.yml (or the environments: entry NAME) onto the config (also "+EnvVar+")")
	f.BoolVar(&g.strictEnv, "strict-env", false, "an unset ${VAR} without a default is an error, not a warning (also when "+StrictEnvVar+"=1)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	root.AddCommand(
		newClusterCommand(g),
		newConfigCommand(g),
		newDemoServiceCommand(g),
		newLBProxyCommand(g),
		newLocalSupervisorCommand(),
		newImageCommand(g),
		newSecretsCommand(g),
	)
	return root
}

// setup checks the global flags and starts the logger.
func (g *globals) setup() error {
	if g.output != OutputText && g.output != OutputJSON {
		return usageErrorf("-o %s: the output format must be text or json", g.output)
	}
	if os.Getenv("NO_COLOR") != "" {
		g.noColor = true
	}
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	var w io.Writer = lockedWriter{&g.progressMu, scrubWriter{g.streams.ErrOut}}
	g.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	if st, err := os.Stat(g.dir); err != nil || !st.IsDir() {
		return usageErrorf("-C %s: not a directory", g.dir)
	}
	abs, err := filepath.Abs(g.dir)
	if err != nil {
		return err
	}
	g.dir = abs
	return nil
}

// warnf prints a warning to stderr, with every known secret masked.
func (g *globals) warnf(format string, args ...any) {
	g.progressMu.Lock()
	defer g.progressMu.Unlock()
	fmt.Fprint(g.streams.ErrOut, config.KnownSecrets.Scrub(fmt.Sprintf("warning: "+format+"\n", args...)))
}

// lockedWriter serializes writes to stderr from concurrent goroutines
// (progress of nodes, provider log lines, slog) with one mutex.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// scrubWriter masks every known secret (config.KnownSecrets) in what is
// written to it. It is for writers that get whole lines in one Write, like
// slog's handlers: a secret split over two writes would not be masked.
type scrubWriter struct{ w io.Writer }

func (s scrubWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, config.KnownSecrets.Scrub(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// context is the command's context: cancelled by the first SIGINT/SIGTERM.
func (g *globals) context() context.Context {
	if g.ctx == nil {
		return context.Background()
	}
	return g.ctx
}
