package cli

// The coordinator's backends compiled into every binary; each registers
// itself by URL scheme (cluster.state).
import (
	_ "github.com/cloud-compose/cloud-compose-go/internal/state/file"
	_ "github.com/cloud-compose/cloud-compose-go/internal/state/postgres"
)
