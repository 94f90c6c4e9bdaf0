package cli

import (
	"errors"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

func newConfigCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Check cloud-compose.yml and print the effective configuration",
		Long: `Reads cloud-compose.yml, interpolates ${VAR} references, checks every key the
tool reads, and prints the result: YAML, or JSON with -o json. Values under
secrets: (and keys that name a secret) are shown as <redacted>.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
		},
	}
}
