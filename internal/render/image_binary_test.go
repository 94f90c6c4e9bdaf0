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
)

// TestIntegrationImageGoldensBinary runs every image golden case (but the
// unsupported-* ones) through `cloud-compose image build`, as the original
// was run: in a copy of the case (its workdir), with an empty environment
// but the case's env file. A want.sh case prints want.sh; an error-* case
// exits 2 with "error: TEMPLATE:LINE: message" at the original's template
// and line, or, for a template on no directory of the search path, names
// image.sh and the search path.
func TestIntegrationImageGoldensBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dirs, err := filepath.Glob(filepath.Join("testdata", "image", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no image golden cases: %v", err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() || strings.HasPrefix(name, "unsupported-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			copied := filepath.Join(t.TempDir(), "case")
			if err := os.CopyFS(copied, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			work, err := filepath.Rel(dir, imageCaseDir(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary, "image", "build")
			cmd.Dir = filepath.Join(copied, work)
			cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LC_CTYPE=C.UTF-8"}, readEnvFile(t, filepath.Join(dir, "env"))...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()

			if want, err := os.ReadFile(filepath.Join(dir, "want.err")); err == nil {
				var exit *exec.ExitError
				if !errors.As(runErr, &exit) || exit.ExitCode() != 2 || stdout.Len() != 0 {
					t.Fatalf("want exit 2 (the original fails with %s), got %v\nstdout:\n%s\nstderr:\n%s", want, runErr, stdout.String(), stderr.String())
				}
				var line string
				for _, l := range strings.Split(stderr.String(), "\n") {
					if strings.HasPrefix(l, "error: ") {
						line = strings.TrimPrefix(l, "error: ")
						break
					}
				}
				if where, _, _ := strings.Cut(string(want), "\n"); where == "-" {
					if !strings.HasPrefix(line, `image.sh: template "image.sh" is not in any directory of the search path (`) {
						t.Errorf("want image.sh not found, got:\n%s", stderr.String())
					}
					return
				}
				where, msg, _ := strings.Cut(line, ": ")
				template, n, _ := strings.Cut(where, ":")
				lineNo, _ := strconv.Atoi(n)
				if problem := wantTemplateError(string(want), template, lineNo, msg); problem != "" {
					t.Errorf("%s\nstderr:\n%s", problem, stderr.String())
				}
				return
			}
			want, err := os.ReadFile(filepath.Join(dir, "want.sh"))
			if err != nil {
				t.Fatal(err)
			}
			if runErr != nil {
				t.Fatalf("image build: %v\n%s", runErr, stderr.String())
			}
			if diff := cmp.Diff(string(want), stdout.String()); diff != "" {
				t.Errorf("image build differs from the Python original (-want +got):\n%s", diff)
			}
		})
	}
}
