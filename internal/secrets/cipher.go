package secrets

import (
	"context"
	"errors"
)

// MaxPlaintext is the largest value KMS Encrypt takes, in bytes.
const MaxPlaintext = 4096

// KeyEnv names the environment variable with the default KMS key for
// `secrets encrypt` (a key id, key ARN, alias/NAME or alias ARN).
const KeyEnv = "CLOUD_COMPOSE_SECRETS_KEY"

var (
	// ErrKeyNotFound: KMS has no such key (or alias) in the region.
	ErrKeyNotFound = errors.New("no such KMS key")
	// ErrNotCiphertext: the value is not base64 KMS ciphertext, or no key
	// of this account and region can decrypt it.
	ErrNotCiphertext = errors.New("not KMS ciphertext this account can decrypt")
)

// Sealed is an encrypted value.
type Sealed struct {
	Ciphertext string // base64, as it is written under `secrets:`
	KeyID      string // the key's ARN, as KMS reports it
}

// Cipher encrypts and decrypts single values. KMS ciphertext names its
// key, so Decrypt needs none.
type Cipher interface {
	Encrypt(ctx context.Context, keyID string, plaintext []byte) (Sealed, error)
	Decrypt(ctx context.Context, ciphertext string) (plaintext []byte, keyID string, err error)
}
