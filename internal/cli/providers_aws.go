//go:build !noaws

package cli

// The AWS provider. `go build -tags noaws` leaves it out: the quickstart
// needs only the local provider, and EC2's generated SDK client takes over
// a minute to compile on a small machine with a cold build cache.
import (
	_ "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)
