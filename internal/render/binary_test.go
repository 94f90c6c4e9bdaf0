package render

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// binary is the cloud-compose binary testbin.Main builds (not under -short).
var binary string

func TestMain(m *testing.M) {
	testbin.Main(m, func(b string) { binary = b })
}

// TestIntegrationJinjaGoldensBinary runs every golden case (but the
// unsupported-* ones) through `cloud-compose cluster build`, as the
// original was run: a copy of the case, an empty environment but the case's
// env file. A want.sh case prints want.sh; an error-* case exits 2 with
// "error: TEMPLATE:LINE: message" at the original's template and line,
// naming what the original names.
func TestIntegrationJinjaGoldensBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dirs, err := filepath.Glob(filepath.Join("testdata", "jinja", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() || strings.HasPrefix(name, "unsupported-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			project := dir
			if p, err := os.ReadFile(filepath.Join(dir, "project")); err == nil {
				project = filepath.Join(dir, strings.TrimSpace(string(p)))
			}
			work := filepath.Join(t.TempDir(), "project")
			if err := os.CopyFS(work, os.DirFS(project)); err != nil {
				t.Fatal(err)
			}
			home := t.TempDir()
			cmd := exec.Command(binary, "cluster", "build")
			cmd.Dir = work
			cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + home, "LC_CTYPE=C.UTF-8"}, readEnvFile(t, filepath.Join(dir, "env"))...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			checkGoldenRun(t, dir, "cluster build", stdout.String(), stderr.String(), runErr, false)
		})
	}
}

// checkGoldenRun checks one golden case's run of `cloud-compose command`:
// with a want.err, exit 2 (and, with quiet, nothing on stdout) and
// "error: TEMPLATE:LINE: message" at the original's template and line —
// or, for a want.err whose place is "-", the error of a template on no
// directory of the search path; else stdout is want.sh byte for byte.
func checkGoldenRun(t *testing.T, dir, command, stdout, stderr string, runErr error, quiet bool) {
	t.Helper()
	if want, err := os.ReadFile(filepath.Join(dir, "want.err")); err == nil {
		var exit *exec.ExitError
		if !errors.As(runErr, &exit) || exit.ExitCode() != 2 || (quiet && stdout != "") {
			t.Fatalf("want exit 2 (the original fails with %s), got %v\nstdout:\n%s\nstderr:\n%s", want, runErr, stdout, stderr)
		}
		var line string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "error: ") {
				line = strings.TrimPrefix(l, "error: ")
				break
			}
		}
		if where, _, _ := strings.Cut(string(want), "\n"); where == "-" {
			if !strings.HasPrefix(line, `image.sh: template "image.sh" is not in any directory of the search path (`) {
				t.Errorf("want image.sh not found, got:\n%s", stderr)
			}
			return
		}
		where, msg, _ := strings.Cut(line, ": ")
		template, n, _ := strings.Cut(where, ":")
		lineNo, _ := strconv.Atoi(n)
		if problem := wantTemplateError(string(want), template, lineNo, msg); problem != "" {
			t.Errorf("%s\nstderr:\n%s", problem, stderr)
		}
		return
	}
	want, err := os.ReadFile(filepath.Join(dir, "want.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if runErr != nil {
		t.Fatalf("%s: %v\n%s", command, runErr, stderr)
	}
	if diff := cmp.Diff(string(want), stdout); diff != "" {
		t.Errorf("%s differs from the Python original (-want +got):\n%s", command, diff)
	}
}
