// Package secrets keeps KMS-encrypted values under `cluster.secrets:` of
// cloud-compose.yml: it lists them, edits the one line a new ciphertext
// needs (leaving every other byte of the file as it was), and encrypts and
// decrypts with AWS KMS. It never prints, logs or returns a plaintext in
// an error; printing one is the CLI's decision.
package secrets
