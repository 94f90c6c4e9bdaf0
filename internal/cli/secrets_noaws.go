//go:build noaws

package cli

import (
	"context"
	"errors"

	"github.com/cloud-compose/cloud-compose-go/internal/secrets"
)

// newSecretsCipher: a binary built with -tags noaws has no KMS client.
func newSecretsCipher(context.Context) (secrets.Cipher, error) {
	return nil, errors.New("this binary was built with -tags noaws: secrets need AWS KMS; use a build without it")
}
