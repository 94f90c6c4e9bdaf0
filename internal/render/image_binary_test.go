package render

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
			checkGoldenRun(t, dir, "image build", stdout.String(), stderr.String(), runErr, true)
		})
	}
}
