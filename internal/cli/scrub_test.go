package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// Every print path of the CLI masks known secrets: the error (Execute's
// result), warnings, and -v debug logs.
func TestSecretsAreScrubbedOnEveryPrintPath(t *testing.T) {
	const secret = "p{{ass-hunter2"
	config.KnownSecrets.Add(secret)
	var errOut bytes.Buffer
	g := &globals{streams: IOStreams{Out: &bytes.Buffer{}, ErrOut: &errOut}, dir: t.TempDir(), output: OutputText, verbose: true}
	if err := g.setup(); err != nil {
		t.Fatal(err)
	}
	g.warnf("value %q is odd", secret)
	g.log.Debug("rendered", "value", secret)
	err := scrubbed(&ExitError{Code: ExitUsage, Err: errors.New("template failed near " + secret)})
	if strings.Contains(errOut.String(), "hunter2") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a secret was printed:\n%s\n%s", errOut.String(), err)
	}
	if strings.Count(errOut.String(), config.Redacted) != 2 || !strings.Contains(err.Error(), config.Redacted) {
		t.Errorf("not masked:\n%s\n%s", errOut.String(), err)
	}
	if ExitCode(err) != ExitUsage {
		t.Errorf("exit code %d", ExitCode(err))
	}
}
