//go:build !noaws

package cli

import (
	"context"

	"github.com/cloud-compose/cloud-compose-go/internal/secrets"
)

// newSecretsCipher is KMS, configured as the AWS provider is.
func newSecretsCipher(ctx context.Context) (secrets.Cipher, error) {
	return secrets.NewKMS(ctx)
}
