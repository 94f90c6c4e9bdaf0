//go:build !noaws

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"golang.org/x/sys/unix"
)

// secretsProject is a config file with comments, odd indentation, a block
// scalar and CRLF-free but tab-free oddities everywhere: the secrets
// commands must leave every byte of it alone but the value's line.
const secretsProject = `# A project with comments everywhere.
cluster:      # the cluster
   name: sec-demo          # three spaces of indentation
   search_path:
   - templates             # a list at the key's indentation
   environment:
        GREETING: "hello"  # eight spaces
        MOTD: |
          first line

          # not a comment: part of the block
   # a comment at the keys' indentation
   aws:
       ami: ami-12345678
       nodes: [ {id: 0, ip: 10.0.0.10} ]   # flow style

# a trailing comment
`

// secretsRun runs the binary in dir with stdin; it returns stdout,
// stderr and the exit code.
func secretsRun(t *testing.T, dir, endpoint, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-C", dir}, args...)...)
	cmd.Env = secretsEnv(endpoint)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func secretsEnv(endpoint string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "CLOUD_COMPOSE_SECRETS_KEY=") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_ENDPOINT_URL="+endpoint, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=us-east-1", "HOME="+os.TempDir())
}

// changedLines returns the lines of before and of after between their
// common first and last lines.
func changedLines(before, after string) (removed, added []string) {
	a, b := strings.SplitAfter(before, "\n"), strings.SplitAfter(after, "\n")
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return a[p : len(a)-s], b[p : len(b)-s]
}

func TestIntegrationSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: the binary against moto's KMS")
	}
	moto := os.Getenv("CLOUD_COMPOSE_TEST_MOTO")
	if moto == "" {
		t.Fatal("CLOUD_COMPOSE_TEST_MOTO is not set: run the tests with scripts/test, which starts a moto server and sets AWS_ENDPOINT_URL (or use -short to skip integration tests)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, kv := range secretsEnv(moto) {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := kms.NewFromConfig(cfg)
	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("cloud-compose secrets test")})
	if err != nil {
		t.Fatal(err)
	}
	keyID, keyARN := aws.ToString(key.KeyMetadata.KeyId), aws.ToString(key.KeyMetadata.Arn)
	other, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("cloud-compose secrets test, other")})
	if err != nil {
		t.Fatal(err)
	}
	alias := "alias/cc-secrets-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: other.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "cloud-compose.yml")
	if err := os.WriteFile(path, []byte(secretsProject), 0o640); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const plain, plain2 = "s3cr3t-db-password", "zk-Pa55word"
	noPlain := func(t *testing.T, texts ...string) {
		t.Helper()
		for _, s := range texts {
			if strings.Contains(s, plain) || strings.Contains(s, plain2) {
				t.Errorf("a plaintext was printed:\n%s", s)
			}
		}
	}

	t.Run("no key to infer", func(t *testing.T) {
		out, errOut, code := secretsRun(t, dir, moto, plain+"\n", "secrets", "encrypt", "DB_PASSWORD")
		if code != 2 || !strings.Contains(errOut, "--key is required") {
			t.Errorf("exit %d, want 2 and `--key is required`:\n%s%s", code, out, errOut)
		}
		if read() != secretsProject {
			t.Error("the file changed")
		}
	})
	t.Run("wrong key id", func(t *testing.T) {
		out, errOut, code := secretsRun(t, dir, moto, plain+"\n", "secrets", "encrypt", "DB_PASSWORD", "--key", "alias/does-not-exist")
		if code != 2 || !strings.Contains(errOut, `no such KMS key: "alias/does-not-exist" in us-east-1`) {
			t.Errorf("exit %d, want 2 and a clear message:\n%s%s", code, out, errOut)
		}
		noPlain(t, out, errOut)
		if read() != secretsProject {
			t.Error("the file changed")
		}
	})
	t.Run("value never an argument", func(t *testing.T) {
		_, errOut, code := secretsRun(t, dir, moto, plain, "secrets", "encrypt", "DB_PASSWORD", plain, "--key", keyID)
		if code != 2 || !strings.Contains(errOut, "never from an argument") {
			t.Errorf("exit %d, want 2 and why: %s", code, errOut)
		}
		noPlain(t, errOut)
		if read() != secretsProject {
			t.Error("the file changed")
		}
	})

	// encrypt from stdin: a secrets: section appears under cluster:
	before := read()
	out, errOut, code := secretsRun(t, dir, moto, plain+"\n", "secrets", "encrypt", "DB_PASSWORD", "--key", keyID)
	if code != 0 {
		t.Fatalf("encrypt: exit %d:\n%s%s", code, out, errOut)
	}
	noPlain(t, out, errOut)
	if !strings.Contains(out, "cloud-compose.yml:17: cluster.secrets.DB_PASSWORD encrypted with "+keyARN) {
		t.Errorf("encrypt said:\n%s", out)
	}
	removed, added := changedLines(before, read())
	if len(removed) != 0 || len(added) != 2 || added[0] != "   secrets:\n" || !strings.HasPrefix(added[1], "      DB_PASSWORD: ") {
		t.Fatalf("want two lines added, got -%q +%q", removed, added)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("the file's mode changed: %v %v", st.Mode(), err)
	}

	// a second one without --key takes the key of the first, on one new line
	before = read()
	out, errOut, code = secretsRun(t, dir, moto, plain2, "secrets", "encrypt", "ZK_PASSWORD")
	if code != 0 || !strings.Contains(out, "encrypted with "+keyARN+" (the key of cluster.secrets.DB_PASSWORD)") {
		t.Fatalf("encrypt: exit %d:\n%s%s", code, out, errOut)
	}
	noPlain(t, out, errOut)
	if removed, added := changedLines(before, read()); len(removed) != 0 || len(added) != 1 || !strings.HasPrefix(added[0], "      ZK_PASSWORD: ") {
		t.Fatalf("want one line added, got -%q +%q", removed, added)
	}

	// replacing a value (with an alias) changes exactly one line
	before = read()
	out, errOut, code = secretsRun(t, dir, moto, plain+"\n", "secrets", "encrypt", "ZK_PASSWORD", "--key", alias)
	if code != 0 {
		t.Fatalf("encrypt: exit %d:\n%s%s", code, out, errOut)
	}
	if removed, added := changedLines(before, read()); len(removed) != 1 || len(added) != 1 || !strings.HasPrefix(added[0], "      ZK_PASSWORD: ") {
		t.Fatalf("want one line changed, got -%q +%q", removed, added)
	}
	final := read()
	if removed, added := changedLines(secretsProject, final); len(removed) != 0 || len(added) != 3 {
		t.Fatalf("every other byte must be unchanged: -%q +%q", removed, added)
	}

	t.Run("ls", func(t *testing.T) {
		out, errOut, code := secretsRun(t, dir, moto, "", "secrets", "ls")
		want := "NAME         LINE\nDB_PASSWORD  17\nZK_PASSWORD  18\n"
		if code != 0 || out != want {
			t.Errorf("exit %d\n%s\nwant\n%s%s", code, out, want, errOut)
		}
		out, errOut, code = secretsRun(t, dir, moto, "", "-o", "json", "secrets", "ls", "--check")
		noPlain(t, out, errOut)
		var doc struct {
			File    string `json:"file"`
			Secrets []struct {
				Name     string `json:"name"`
				Line     int    `json:"line"`
				KeyID    string `json:"key_id"`
				Decrypts bool   `json:"decrypts"`
			} `json:"secrets"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
			t.Fatalf("exit %d, %v:\n%s%s", code, err, out, errOut)
		}
		if len(doc.Secrets) != 2 || doc.Secrets[0].KeyID != keyARN || doc.Secrets[1].KeyID != aws.ToString(other.KeyMetadata.Arn) ||
			!doc.Secrets[0].Decrypts || !doc.Secrets[1].Decrypts {
			t.Errorf("ls --check: %+v", doc)
		}
	})
	t.Run("decrypt refuses without --show or to a pipe", func(t *testing.T) {
		for _, args := range [][]string{{"DB_PASSWORD"}, {"DB_PASSWORD", "--show"}, {"DB_PASSWORD", "--force-plain"}} {
			out, errOut, code := secretsRun(t, dir, moto, "", append([]string{"secrets", "decrypt"}, args...)...)
			if code != 2 || out != "" {
				t.Errorf("%v: exit %d, want 2 and nothing on stdout:\n%s%s", args, code, out, errOut)
			}
			noPlain(t, out, errOut)
		}
		_, errOut, _ := secretsRun(t, dir, moto, "", "secrets", "decrypt", "DB_PASSWORD", "--show")
		if !strings.Contains(errOut, "stdout is not a terminal") || !strings.Contains(errOut, "--force-plain") {
			t.Errorf("the refusal does not explain:\n%s", errOut)
		}
	})
	t.Run("decrypt round trip", func(t *testing.T) {
		out, errOut, code := secretsRun(t, dir, moto, "", "secrets", "decrypt", "DB_PASSWORD", "--show", "--force-plain")
		if code != 0 || out != plain {
			t.Errorf("exit %d: %q, want %q\n%s", code, out, plain, errOut)
		}
		out, _, code = secretsRun(t, dir, moto, "", "secrets", "decrypt", "ZK_PASSWORD", "--show", "--force-plain")
		if code != 0 || out != plain {
			t.Errorf("exit %d: %q, want %q (the replaced value)", code, out, plain)
		}
	})
	t.Run("decrypt to a terminal", func(t *testing.T) {
		m, s := openPTY(t)
		cmd := exec.Command(binary, "-C", dir, "secrets", "decrypt", "DB_PASSWORD", "--show")
		cmd.Env = secretsEnv(moto)
		var errOut bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, &errOut
		got := readPTY(t, m, cmd, s)
		if !strings.Contains(got, plain+"\r\n") {
			t.Errorf("the terminal shows %q, want the plaintext and a newline; stderr: %s", got, errOut.String())
		}
	})
	t.Run("encrypt from a prompt", func(t *testing.T) {
		m, s := openPTY(t)
		cmd := exec.Command(binary, "-C", dir, "secrets", "encrypt", "PROMPTED")
		cmd.Env = secretsEnv(moto)
		var out bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s, &out, s
		if _, err := io.WriteString(m, plain2+"\n"+plain2+"\n"); err != nil {
			t.Fatal(err)
		}
		screen := readPTY(t, m, cmd, s)
		if !strings.Contains(screen, "Value of PROMPTED again: ") || !strings.Contains(out.String(), "cluster.secrets.PROMPTED encrypted") {
			t.Fatalf("screen %q, stdout %q", screen, out.String())
		}
		got, _, _ := secretsRun(t, dir, moto, "", "secrets", "decrypt", "PROMPTED", "--show", "--force-plain")
		if got != plain2 {
			t.Errorf("decrypted %q, want %q", got, plain2)
		}
	})
}

// openPTY opens a pseudo-terminal: its master and slave ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// readPTY runs cmd with the slave end and returns what it wrote there.
func readPTY(t *testing.T, m *os.File, cmd *exec.Cmd, s *os.File) string {
	t.Helper()
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&screen, m) // ends with EIO once the slave is closed everywhere
		close(done)
	}()
	if err := cmd.Run(); err != nil {
		t.Errorf("%v: %v", cmd.Args, err)
	}
	s.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not close")
	}
	return screen.String()
}
