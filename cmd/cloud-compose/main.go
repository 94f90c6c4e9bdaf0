// Command cloud-compose launches and replaces servers described in
// cloud-compose.yml. See the README.
package main

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
)

func main() {
	ctx, stop := app.NotifyContext(context.Background(), os.Stderr, func(code int) { os.Exit(code) },
		os.Interrupt, syscall.SIGTERM)
	err := app.Run(ctx, app.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:])
	stop()
	if app.Report(err) {
		fmt.Fprintln(os.Stderr, "error: "+app.Message(ctx, err))
	}
	os.Exit(app.ExitCode(err))
}
