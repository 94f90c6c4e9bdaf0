// Package app is the program behind cmd/cloud-compose: it runs the command
// line and maps errors to exit codes. Only main calls os.Exit.
package app

import (
	"context"

	"github.com/cloud-compose/cloud-compose-go/internal/cli"
)

// Streams are the program's standard streams.
type Streams = cli.IOStreams

// Run runs cloud-compose with args (without the program name). With -o
// json, a failed command also prints {"error": {...}} on s.Out (see
// cli.WriteJSONError); main still prints the one-line error on stderr.
func Run(ctx context.Context, s Streams, args []string) error {
	err := cli.Execute(ctx, s, args)
	if Report(err) && cli.WantsJSON(err) {
		// the exit code says the command failed; a failed write adds nothing
		_ = cli.WriteJSONError(s.Out, Message(ctx, err), err)
	}
	return err
}

// ExitCode is the process exit code for err: 0 success, 1 the operation
// failed, 2 usage or configuration error.
func ExitCode(err error) int { return cli.ExitCode(err) }

// Report says whether err still has to be printed.
func Report(err error) bool { return err != nil && !cli.IsSilent(err) }
