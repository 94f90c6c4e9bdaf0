package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// configFlags are `config`'s flags.
type configFlags struct {
	explain bool
}

func newConfigCommand(g *globals) *cobra.Command {
	f := &configFlags{}
	cmd := &cobra.Command{
		Use:   "config [--explain [KEY]]",
		Short: "Check cloud-compose.yml and print the effective configuration",
		Long: `Reads cloud-compose.yml, merges the selected environment's overlays (-e),
interpolates ${VAR} references, checks every key the tool reads (cluster:
and image:), and prints
the result: YAML, or JSON with -o json. Values under secrets: (and keys that
name a secret) are shown as <redacted>.

With --explain, prints every leaf key instead (or only KEY and the keys under
it, like cluster.aws or cluster.aws.nodes[0].ip): its value and where it came
from — a file and line, a ${VAR} from the environment or its default, or the
tool's default.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if !f.explain && len(args) > 0 {
				return usageErrorf("config takes no arguments (did you mean `config --explain %s`?)", args[0])
			}
			if len(args) > 1 {
				return usageErrorf("config --explain takes at most one KEY, not %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(g, args)
		},
	}
	cmd.Flags().BoolVar(&f.explain, "explain", false, "print each key's value and where it came from (file:line, ${VAR}, default); KEY limits it to KEY and below")
	return cmd
}

func (f *configFlags) run(g *globals, args []string) error {
	p, err := g.loadDocument()
	if err != nil {
		return err
	}
	if _, _, ok := p.doc.Section("cluster"); ok {
		c, err := config.LoadCluster(p.doc)
		if c != nil {
			for _, w := range c.Warnings {
				g.warnf("%s", w)
			}
		}
		if err != nil {
			return err
		}
		// What only a launch needs (the original's own fixtures
		// lack it, and build works on them): a warning here, an
		// error for up and plan.
		var ce *config.Error
		if errors.As(c.CheckUp(), &ce) {
			for _, pr := range ce.Problems {
				g.warnf("%s (cluster up and plan refuse this)", pr)
			}
		}
	}
	if _, _, ok := p.doc.Section("image"); ok {
		img, err := config.LoadImage(p.doc)
		if img != nil {
			for _, w := range img.Warnings {
				g.warnf("%s", w)
			}
		}
		if err != nil {
			return err
		}
	}
	if f.explain {
		key := ""
		if len(args) == 1 {
			key = args[0]
		}
		return g.explain(p.doc, key)
	}
	data := config.NewRedactor().Mapping(p.doc.Data)
	out := g.streams.Out
	if g.json() {
		return g.printJSON(data)
	}
	enc := yaml.NewEncoder(out)
	enc.SetIndent(2)
	if err := enc.Encode(data); err != nil {
		return err
	}
	return enc.Close()
}

// explain prints config --explain: a table KEY VALUE SOURCE, or with -o
// json a list of {key, value, source: {file, line, column, variable,
// kind}} (docs/commands.md).
func (g *globals) explain(doc *config.Document, key string) error {
	rows, err := doc.Explain(key)
	var uk *config.UnknownKeyError
	if errors.As(err, &uk) {
		return usageErrorf("config --explain: %s", uk)
	}
	if err != nil {
		return err
	}
	if g.json() {
		if rows == nil {
			rows = []config.Explained{}
		}
		return g.printJSON(rows)
	}
	tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Key, explainValue(r.Value), r.Source)
	}
	return tw.Flush()
}

// explainValue writes a leaf value on one line, as YAML would write it
// (a string as is unless it would be misread: empty, or with a line break
// or tab in it, then quoted).
func explainValue(v any) string {
	if s, ok := v.(string); ok {
		if s == "" || strings.ContainsAny(s, "\n\r\t") {
			return strconv.Quote(s)
		}
		return s
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}
