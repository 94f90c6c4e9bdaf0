//go:build !noaws

package secrets

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	awsprovider "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)

// KMS is a Cipher on AWS KMS.
type KMS struct {
	client *kms.Client
	region string
}

var _ Cipher = (*KMS)(nil)

// NewKMS loads the AWS configuration as the AWS provider does
// (environment, shared files, profiles, instance role, AWS_ENDPOINT_URL),
// with the region defaulting to the provider's.
func NewKMS(ctx context.Context) (*KMS, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = awsprovider.DefaultRegion
	}
	return &KMS{client: kms.NewFromConfig(cfg), region: cfg.Region}, nil
}

// Region is the region the keys are looked up in.
func (k *KMS) Region() string { return k.region }

// Encrypt encrypts plaintext with the key (id, ARN, alias/NAME, alias ARN).
func (k *KMS) Encrypt(ctx context.Context, keyID string, plaintext []byte) (Sealed, error) {
	if len(plaintext) > MaxPlaintext {
		return Sealed{}, fmt.Errorf("the value has %d bytes; KMS encrypts at most %d", len(plaintext), MaxPlaintext)
	}
	out, err := k.client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: plaintext})
	if err != nil {
		var nf *types.NotFoundException
		if errors.As(err, &nf) {
			return Sealed{}, fmt.Errorf("%w: %q in %s", ErrKeyNotFound, keyID, k.region)
		}
		return Sealed{}, fmt.Errorf("KMS encrypt with %s: %w", keyID, err)
	}
	return Sealed{
		Ciphertext: base64.StdEncoding.EncodeToString(out.CiphertextBlob),
		KeyID:      aws.ToString(out.KeyId),
	}, nil
}

// Decrypt decrypts base64 ciphertext; white space in it (a folded YAML
// value) is ignored.
func (k *KMS) Decrypt(ctx context.Context, ciphertext string) ([]byte, string, error) {
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(ciphertext), ""))
	if err != nil || len(blob) == 0 {
		return nil, "", fmt.Errorf("%w: the value is not base64", ErrNotCiphertext)
	}
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	if err != nil {
		var ic *types.InvalidCiphertextException
		var nf *types.NotFoundException
		if errors.As(err, &ic) || errors.As(err, &nf) {
			return nil, "", fmt.Errorf("%w (region %s): %w", ErrNotCiphertext, k.region, err)
		}
		return nil, "", fmt.Errorf("KMS decrypt: %w", err)
	}
	return out.Plaintext, aws.ToString(out.KeyId), nil
}
