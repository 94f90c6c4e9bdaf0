// Command cc stands in for cloud-compose in the local provider's tests
// until the hidden commands are wired into cmd/cloud-compose: it runs the
// supervisor and the demo service, nothing else.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloud-compose/cloud-compose-go/internal/demo"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/local"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == local.SupervisorCommand:
		err = local.Supervise(ctx, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == demo.Command:
		err = demo.Main(ctx, os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("usage: cc %s|%s ARGS", local.SupervisorCommand, demo.Command)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		stop()
		os.Exit(1)
	}
}
