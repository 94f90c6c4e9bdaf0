package cli

// The providers compiled into every binary; each registers itself by name.
import (
	_ "github.com/cloud-compose/cloud-compose-go/internal/provider/local"
)
