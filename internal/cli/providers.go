package cli

// The providers compiled into the binary; each registers itself by name.
import (
	_ "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
	_ "github.com/cloud-compose/cloud-compose-go/internal/provider/local"
)
