//go:build !noaws

package cli

// The S3 backend (cluster.state: s3://bucket/prefix) needs the AWS SDK;
// `-tags noaws` leaves it out with the AWS provider.
import (
	_ "github.com/cloud-compose/cloud-compose-go/internal/state/s3"
)
