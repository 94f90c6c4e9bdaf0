package render

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// gonja reports some syntax errors without a line (`{% if %}`); the error
// still names the template line, found by parsing prefixes.
func TestSyntaxErrorsWithoutALineGetOne(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line      int
	}{
		{"if without a test", "#!/bin/bash\necho a\n{% if %}\necho x\n{% endif %}\n", 3},
		{"for without a target", "a\n\n\n{% for %}{% endfor %}\n", 4},
		{"first line", "{% if %}{% endif %}\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
				t.Fatal(err)
			}
			must(t, os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte("cluster:\n  name: t\n  search_path: [templates]\n"), 0o644))
			must(t, os.WriteFile(filepath.Join(dir, "templates", "cluster.sh"), []byte(tc.src), 0o644))
			_, err := build(t, dir, nil)
			var te *Error
			if !errors.As(err, &te) || te.Line != tc.line || te.Template != "templates/cluster.sh" {
				t.Fatalf("want templates/cluster.sh:%d, got %v", tc.line, err)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
