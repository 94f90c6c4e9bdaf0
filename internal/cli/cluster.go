package cli

import "github.com/spf13/cobra"

func newClusterCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Launch, inspect and retire the servers of cluster:",
		Long: `The cluster plugin: the servers described under cluster: in cloud-compose.yml,
each booted with cluster.sh rendered from the template search path.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newClusterBuildCommand(g),
		newClusterPlanCommand(g),
		newClusterUpCommand(g),
		newClusterRolloutCommand(g),
		newClusterConvergeCommand(g),
		newClusterRollbackCommand(g),
		newClusterDownCommand(g),
		newClusterStatusCommand(g),
		newClusterLogsCommand(g),
		newClusterCleanupCommand(g),
		newClusterSnapshotCommand(g),
		newClusterHistoryCommand(g),
		newClusterGenerationsCommand(g),
		newClusterUnlockCommand(g),
	)
	return cmd
}
