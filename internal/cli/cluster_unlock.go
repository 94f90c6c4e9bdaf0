package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

func newClusterUnlockCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock LOCK_ID",
		Short: "Force-release the cluster's lock whose holder is gone",
		Long: `Releases the cluster's lock if its id is LOCK_ID (the id a refused command
printed); a wrong id changes nothing. Use it only when the run holding the lock
is gone (a crashed CI job, a lost laptop): the lock is what keeps two runs from
changing the cluster at once. The journal records who unlocked it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			b, key, err := g.openClusterState(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			if err := b.ForceUnlock(ctx, key, args[0]); err != nil {
				if errors.Is(err, state.ErrNoLock) {
					return &ExitError{Code: ExitFailed, Err: fmt.Errorf("cluster %s: no lock %s is held (nothing changed): %w", key, args[0], err)}
				}
				return fmt.Errorf("unlock cluster %s: %w", key, err)
			}
			info := newLockInfo()
			ev := state.Event{ID: info.ID, Time: time.Now().UTC(), Who: info.Who, Host: info.Host, Command: info.Command, Env: key.Env,
				Result: state.ResultOK, Actions: []state.NodeAction{{Action: "unlocked " + args[0]}}}
			if err := b.PutEvent(ctx, key, ev); err != nil {
				g.warnf("lock released, but the journal could not record it: %v", err)
			}
			fmt.Fprintf(g.streams.Out, "lock %s on cluster %s released\n", args[0], key)
			return nil
		},
	}
}
