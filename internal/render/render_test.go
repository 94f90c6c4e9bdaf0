package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

func build(t *testing.T, dir string, environ []string) (string, error) {
	t.Helper()
	path, err := config.Find(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := config.Load(path, func(k string) (string, bool) {
		for _, kv := range environ {
			if name, v, ok := strings.Cut(kv, "="); ok && name == k {
				return v, true
			}
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadCluster(doc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(dir, c, environ)
	if err != nil {
		return "", err
	}
	return r.Build(c, Options{})
}

// The Python original's own golden tests: `cluster build` output equals
// cloud_init.sh after stripping white space at both ends.
func TestBuildOriginalFixtures(t *testing.T) {
	for _, name := range []string{"simple", "subtree", "subtree-with-overrides"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "fixtures", name)
			got, err := build(t, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, "cloud_init.sh"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(got)); diff != "" {
				t.Errorf("cluster build mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
