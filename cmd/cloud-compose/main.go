// Command cloud-compose launches and replaces servers described in
// cloud-compose.yml. See the README.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
)

// maxStack bounds each goroutine's stack. Template recursion is bounded
// where it happens (render.MaxIncludeDepth, render.MaxMacroDepth), and the
// deepest rendering those limits allow (985 nested includes, then 245
// nested macro and loop() calls) needs under 4 MiB of stack; 9,000-deep
// YAML data prints in under 16 MiB. Go's default, 1 GB, let a recursion
// nothing bounds (such as printing a namespace that contains itself) grow
// the process past 1 GB before it crashed; with 64 MiB it crashes at about
// 160 MB.
const maxStack = 64 << 20

func main() {
	debug.SetMaxStack(maxStack)
	ctx, stop := app.NotifyContext(context.Background(), os.Stderr, func(code int) { os.Exit(code) },
		os.Interrupt, syscall.SIGTERM)
	err := app.Run(ctx, app.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:])
	stop()
	if app.Report(err) {
		fmt.Fprintln(os.Stderr, "error: "+app.Message(ctx, err))
	}
	os.Exit(app.ExitCode(err))
}
