package cli

import (
	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/demo"
	"github.com/cloud-compose/cloud-compose-go/internal/lb"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/local"
)

// newLocalSupervisorCommand is the detached process that runs one local
// instance; the local provider starts it as
// `cloud-compose __local-supervisor ARGS...`.
func newLocalSupervisorCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "__local-supervisor",
		Short:              "Supervise one local instance",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return local.Supervise(cmd.Context(), args)
		},
	}
}

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

// newLBProxyCommand is the local provider's load balancer, a detached
// process the provider starts as `cloud-compose __lb-proxy --dir DIR
// --listen IP:PORT ...`; SIGTERM stops it once requests in flight finish.
func newLBProxyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:                lb.Command,
		Short:              "The local provider's load balancer proxy",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return lb.Main(cmd.Context(), args, g.streams.Out)
		},
	}
}
