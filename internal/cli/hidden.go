package cli

import (
	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/demo"
)

// newDemoServiceCommand is the quickstart's HTTP service, shipped inside the
// binary so the quickstart needs nothing else installed. Boot scripts call
// `cloud-compose __demo-service --addr IP:PORT --data DIR --node ID`.
func newDemoServiceCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:                "__demo-service",
		Short:              "The quickstart's demo HTTP service",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return demo.Main(cmd.Context(), args, g.streams.Out)
		},
	}
}
