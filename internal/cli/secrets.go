package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/secrets"
)

func newSecretsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "KMS-encrypted values under cluster.secrets",
		Long: `Values under cluster.secrets are KMS ciphertext (base64), which templates
pass to the node to decrypt there, as the Python tools' projects do. These
commands encrypt a value into the config file (changing only its line),
list the names, and decrypt one. A plaintext is never taken from the
command line and never printed unless asked for with --show.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newSecretsEncryptCommand(g), newSecretsDecryptCommand(g), newSecretsLsCommand(g))
	return cmd
}

// secretsFile finds the config file and reads it.
func (g *globals) secretsFile() (string, []byte, error) {
	path, err := config.Find(g.dir, g.file)
	if err != nil {
		return "", nil, err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	return path, src, nil
}

// secretsEntries lists cluster.secrets; a file it cannot read is a
// configuration error.
func secretsEntries(path string, src []byte) ([]secrets.Entry, error) {
	entries, err := secrets.List(src)
	if err != nil {
		return nil, &config.Error{Problems: []config.Problem{{File: shown(path), Msg: err.Error()}}}
	}
	return entries, nil
}

// cipherError adds advice to a KMS error.
func cipherError(err error) error {
	switch {
	case errors.Is(err, secrets.ErrKeyNotFound):
		return &UsageError{Err: fmt.Errorf("%w; --key takes a key id, key ARN, alias/NAME or alias ARN of the region (AWS_REGION)", err)}
	case errors.Is(err, secrets.ErrNotCiphertext):
		return fmt.Errorf("%w; was it encrypted in another account or region (AWS_REGION)?", err)
	}
	return err
}

// ---- encrypt

type secretsEncryptFlags struct{ key string }

func newSecretsEncryptCommand(g *globals) *cobra.Command {
	f := &secretsEncryptFlags{}
	cmd := &cobra.Command{
		Use:   "encrypt NAME",
		Short: "Encrypt a value from stdin (or a prompt) into cluster.secrets.NAME",
		Long: `Encrypt a value with KMS and write its ciphertext into cluster.secrets.NAME
of the config file. The value is read from stdin when stdin is not a
terminal (one trailing newline is dropped), otherwise from a prompt that
does not echo, asked twice. It is never an argument.

The key is --key, else $` + secrets.KeyEnv + `, else the key of NAME's
current value, else the key of the first secret in the file (each found
by decrypting it). Only NAME's line changes (a secrets: line is added
under cluster: when there is none); comments and indentation stay.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("secrets encrypt takes NAME only: the value comes from stdin or a prompt, never from an argument")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(g, args[0]) },
	}
	cmd.Flags().StringVar(&f.key, "key", "", "KMS key: key id, key ARN, alias/NAME or alias ARN (default: $"+secrets.KeyEnv+" or the key of the file's secrets)")
	return cmd
}

func (f *secretsEncryptFlags) run(g *globals, name string) error {
	ctx := g.context()
	if !secrets.ValidName(name) {
		return usageErrorf("%q is not a secret name: use letters, digits, _ and - (starting with a letter or _)", name)
	}
	path, src, err := g.secretsFile()
	if err != nil {
		return err
	}
	entries, err := secretsEntries(path, src)
	if err != nil {
		return err
	}
	if _, _, err := secrets.Set(src, name, "AAAAAAAAAAAAAAAAAAAAAAAA"); err != nil {
		// refuse before asking for the value
		return &config.Error{Problems: []config.Problem{{File: shown(path), Key: "cluster.secrets." + name, Msg: err.Error()}}}
	}
	value, err := readSecretValue(g, name)
	if err != nil {
		return err
	}
	config.KnownSecrets.Add(string(value))
	c, err := newSecretsCipher(ctx)
	if err != nil {
		return err
	}
	key, from, err := f.chooseKey(g, c, name, entries)
	if err != nil {
		return err
	}
	sealed, err := c.Encrypt(ctx, key, value)
	if err != nil {
		return cipherError(fmt.Errorf("encrypt %s: %w", name, err))
	}
	// read again: the file may have changed while KMS answered
	if src, err = os.ReadFile(path); err != nil {
		return err
	}
	out, line, err := secrets.Set(src, name, sealed.Ciphertext)
	if err != nil {
		return err
	}
	if err := secrets.WriteFile(path, out); err != nil {
		return fmt.Errorf("write %s: %w", shown(path), err)
	}
	if g.json() {
		return g.printJSON(map[string]any{"name": name, "file": shown(path), "line": line, "key_id": sealed.KeyID})
	}
	fmt.Fprintf(g.streams.Out, "%s:%d: cluster.secrets.%s encrypted with %s%s\n", shown(path), line, name, sealed.KeyID, from)
	return nil
}

// chooseKey picks the KMS key; from says where it came from.
func (f *secretsEncryptFlags) chooseKey(g *globals, c secrets.Cipher, name string, entries []secrets.Entry) (key, from string, err error) {
	if f.key != "" {
		return f.key, "", nil
	}
	if k := os.Getenv(secrets.KeyEnv); k != "" {
		return k, " (from " + secrets.KeyEnv + ")", nil
	}
	var first *secrets.Entry
	for i := range entries {
		e := &entries[i]
		if e.Name == name && e.Scalar {
			first = e
			break
		}
		if first == nil && e.Scalar {
			first = e
		}
	}
	if first == nil {
		return "", "", usageErrorf("--key is required: the file has no secret to take the key from (or set %s)", secrets.KeyEnv)
	}
	plain, keyID, err := c.Decrypt(g.context(), first.Value)
	if err != nil {
		return "", "", cipherError(fmt.Errorf("find the key of cluster.secrets.%s (line %d), pass --key to choose one: %w", first.Name, first.Line, err))
	}
	config.KnownSecrets.Add(string(plain))
	clear(plain)
	return keyID, " (the key of cluster.secrets." + first.Name + ")", nil
}

// readSecretValue reads the value from stdin, or from a no-echo prompt on
// a terminal.
func readSecretValue(g *globals, name string) ([]byte, error) {
	if f, ok := g.streams.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(g.streams.ErrOut, "Value of %s: ", name)
		v, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.streams.ErrOut)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(g.streams.ErrOut, "Value of %s again: ", name)
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.streams.ErrOut)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(v, again) {
			return nil, usageErrorf("the two values differ; nothing was changed")
		}
		return checkSecretValue(v)
	}
	v, err := io.ReadAll(io.LimitReader(g.streams.In, secrets.MaxPlaintext+2))
	if err != nil {
		return nil, fmt.Errorf("read the value from stdin: %w", err)
	}
	v = bytes.TrimSuffix(v, []byte("\n"))
	v = bytes.TrimSuffix(v, []byte("\r"))
	return checkSecretValue(v)
}

func checkSecretValue(v []byte) ([]byte, error) {
	switch {
	case len(v) == 0:
		return nil, usageErrorf("the value is empty: pipe it to stdin (printf %%s \"$VALUE\" | cloud-compose secrets encrypt NAME) or type it at the prompt")
	case len(v) > secrets.MaxPlaintext:
		return nil, usageErrorf("the value is longer than %d bytes, the most KMS encrypts", secrets.MaxPlaintext)
	}
	return v, nil
}

// ---- decrypt

type secretsDecryptFlags struct{ show, forcePlain bool }

func newSecretsDecryptCommand(g *globals) *cobra.Command {
	f := &secretsDecryptFlags{}
	cmd := &cobra.Command{
		Use:   "decrypt NAME",
		Short: "Print the plaintext of cluster.secrets.NAME (with --show, to a terminal)",
		Long: `Decrypt cluster.secrets.NAME with KMS (the ciphertext names its key) and
print the plaintext. It needs --show, and stdout must be a terminal unless
--force-plain is given too (for a pipe: the value is written as is, with
no newline added). Otherwise it exits 2 and prints nothing.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("secrets decrypt takes one NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(g, args[0]) },
	}
	cmd.Flags().BoolVar(&f.show, "show", false, "print the plaintext")
	cmd.Flags().BoolVar(&f.forcePlain, "force-plain", false, "with --show: print it even when stdout is not a terminal")
	return cmd
}

func (f *secretsDecryptFlags) run(g *globals, name string) error {
	tty := isTerminal(g.streams.Out)
	switch {
	case f.forcePlain && !f.show:
		return usageErrorf("--force-plain goes with --show")
	case !f.show:
		return usageErrorf("secrets decrypt prints a plaintext: pass --show (to check that secrets decrypt without printing them, run `cloud-compose secrets ls --check`)")
	case !tty && !f.forcePlain:
		return usageErrorf("stdout is not a terminal: the plaintext would land in a file, a pipe or a log; add --force-plain to print it anyway")
	}
	path, src, err := g.secretsFile()
	if err != nil {
		return err
	}
	entries, err := secretsEntries(path, src)
	if err != nil {
		return err
	}
	var entry *secrets.Entry
	for i := range entries {
		if entries[i].Name == name {
			entry = &entries[i]
		}
	}
	if entry == nil {
		return usageErrorf("%s has no cluster.secrets.%s (see `cloud-compose secrets ls`)", shown(path), name)
	}
	if !entry.Scalar {
		return &config.Error{Problems: []config.Problem{{File: shown(path), Line: entry.Line, Key: "cluster.secrets." + name, Msg: "not a string of ciphertext"}}}
	}
	c, err := newSecretsCipher(g.context())
	if err != nil {
		return err
	}
	plain, keyID, err := c.Decrypt(g.context(), entry.Value)
	if err != nil {
		return cipherError(fmt.Errorf("decrypt cluster.secrets.%s (%s:%d): %w", name, shown(path), entry.Line, err))
	}
	config.KnownSecrets.Add(string(plain)) // masked in everything but this output
	if g.json() {
		// the one output that shows the plaintext: not scrubbed
		g.wroteOut = true
		return writeJSON(g.streams.Out, map[string]string{"name": name, "key_id": keyID, "value": string(plain)}, false)
	}
	if tty && !bytes.HasSuffix(plain, []byte("\n")) {
		plain = append(plain, '\n')
	}
	_, err = g.streams.Out.Write(plain)
	return err
}

// ---- ls

type secretsLsFlags struct{ check bool }

type secretJSON struct {
	Name     string `json:"name"`
	Line     int    `json:"line"`
	KeyID    string `json:"key_id,omitempty"`
	Decrypts *bool  `json:"decrypts,omitempty"`
	Error    string `json:"error,omitempty"`
}

func newSecretsLsCommand(g *globals) *cobra.Command {
	f := &secretsLsFlags{}
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the names under cluster.secrets (never the values)",
		Long: `List the names under cluster.secrets with their lines. With --check, each is
decrypted with KMS (the plaintext is dropped at once) and the key it was
encrypted with is shown; the command exits 1 if any does not decrypt.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(g) },
	}
	cmd.Flags().BoolVar(&f.check, "check", false, "decrypt each one with KMS and show its key")
	return cmd
}

func (f *secretsLsFlags) run(g *globals) error {
	path, src, err := g.secretsFile()
	if err != nil {
		return err
	}
	entries, err := secretsEntries(path, src)
	if err != nil {
		return err
	}
	rows := make([]secretJSON, len(entries))
	failed := 0
	var c secrets.Cipher
	if f.check && len(entries) > 0 {
		if c, err = newSecretsCipher(g.context()); err != nil {
			return err
		}
	}
	for i, e := range entries {
		rows[i] = secretJSON{Name: e.Name, Line: e.Line}
		if c == nil {
			continue
		}
		ok := false
		if !e.Scalar {
			rows[i].Error = "not a string of ciphertext"
		} else if plain, keyID, err := c.Decrypt(g.context(), e.Value); err != nil {
			rows[i].Error = err.Error()
		} else {
			config.KnownSecrets.Add(string(plain))
			clear(plain)
			ok, rows[i].KeyID = true, keyID
		}
		rows[i].Decrypts = &ok
		if !ok {
			failed++
		}
	}
	if g.json() {
		if err := g.printJSON(map[string]any{"file": shown(path), "secrets": rows}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
		if f.check {
			fmt.Fprintln(tw, "NAME\tLINE\tKEY\tSTATUS")
		} else {
			fmt.Fprintln(tw, "NAME\tLINE")
		}
		for _, r := range rows {
			switch {
			case !f.check:
				fmt.Fprintf(tw, "%s\t%d\n", r.Name, r.Line)
			case r.Error != "":
				fmt.Fprintf(tw, "%s\t%d\t-\t%s\n", r.Name, r.Line, config.KnownSecrets.Scrub(r.Error))
			default:
				fmt.Fprintf(tw, "%s\t%d\t%s\tok\n", r.Name, r.Line, r.KeyID)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%d of %d secrets do not decrypt", failed, len(rows))}
	}
	return nil
}
