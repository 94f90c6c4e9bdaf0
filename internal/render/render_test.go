package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// loadDoc loads the config in dir with environ (KEY=VALUE) as the
// environment.
func loadDoc(t *testing.T, dir string, environ []string) *config.Document {
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
	return doc
}

func build(t *testing.T, dir string, environ []string) (string, error) {
	t.Helper()
	doc := loadDoc(t, dir, environ)
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

// readEnvFile reads a case's env file: KEY=VALUE lines, # comments.
func readEnvFile(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		env = append(env, line)
	}
	return env
}

// Golden cases rendered by the Python original itself (scripts/gen-goldens):
// want.sh is its `cluster build` output, compared byte for byte (build
// prints the script and a newline).
//
// Cases named error-* fail in the original: want.err holds where (the
// innermost template frame, "templates/cluster.sh:2") and Jinja2's
// exception. Ours must be a template error at the same template and line
// naming the same thing (the last quoted word of Jinja2's message: the
// undefined name, or the missing attribute); see wantTemplateError.
//
// Cases named unsupported-* hold the Jinja2 constructs gonja does not
// support (docs/migrating.md lists them). They must still differ, so this
// list shrinks when gonja learns them, and an error they raise must be a
// template error with a message, never a crash or an empty message.
func TestBuildJinjaGoldens(t *testing.T) {
	wants, err := filepath.Glob(filepath.Join("testdata", "jinja", "*", "want.sh"))
	if err != nil || len(wants) < 30 {
		t.Fatalf("golden cases missing: %v (%d found)", err, len(wants))
	}
	errs, err := filepath.Glob(filepath.Join("testdata", "jinja", "error-*", "want.err"))
	if err != nil || len(errs) < 9 {
		t.Fatalf("error golden cases missing: %v (%d found)", err, len(errs))
	}
	for _, want := range append(wants, errs...) {
		dir := filepath.Dir(want)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			env := append([]string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "LC_CTYPE=C.UTF-8"}, readEnvFile(t, filepath.Join(dir, "env"))...)
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			project := dir
			if p, err := os.ReadFile(filepath.Join(dir, "project")); err == nil {
				project = filepath.Join(dir, strings.TrimSpace(string(p)))
			}
			got, err := build(t, project, env)
			if strings.HasPrefix(name, "error-") {
				if err == nil {
					t.Fatalf("renders, but the original fails with %s", w)
				}
				var te *Error
				if !errors.As(err, &te) {
					t.Fatalf("want a template error, got %T %v", err, err)
				}
				if msg := wantTemplateError(string(w), te.Template, te.Line, te.Error()); msg != "" {
					t.Error(msg)
				}
				return
			}
			if strings.HasPrefix(name, "unsupported-") {
				var te *Error
				switch {
				case err != nil && (!errors.As(err, &te) || te.Msg == ""):
					t.Errorf("want a template error with a message, got %T %v", err, err)
				case err == nil && got+"\n" == string(w):
					t.Errorf("%s now renders as Jinja2 does: rename the case and drop it from docs/migrating.md", name)
				}
				t.Logf("known difference: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(w), got+"\n"); diff != "" {
				t.Errorf("cluster build differs from the Python original (-want +got):\n%s", diff)
			}
		})
	}
}

var quotedWordRE = regexp.MustCompile(`'([^']+)'[^']*$`)

// wantTemplateError compares one of our template errors (where it happened,
// its message) with an error case's want.err; "" when they agree. A Python
// 2 method must be named as such, with the Python 3 replacement.
func wantTemplateError(want, template string, line int, msg string) string {
	where, what, _ := strings.Cut(strings.TrimSpace(want), "\n")
	if got := fmt.Sprintf("%s:%d", template, line); got != where {
		return fmt.Sprintf("error at %s, the original's at %s (%s)", got, where, msg)
	}
	m := quotedWordRE.FindStringSubmatch(what)
	if m == nil {
		return fmt.Sprintf("want.err names nothing: %q", what)
	}
	if !strings.Contains(msg, m[1]) {
		return fmt.Sprintf("error %q does not name %q (the original: %s)", msg, m[1], what)
	}
	if repl, ok := py2Methods[m[1]]; ok && (!strings.Contains(msg, "Python 2") || !strings.Contains(msg, repl)) {
		return fmt.Sprintf("error %q does not say that %s is Python 2 only and to use %s", msg, m[1], repl)
	}
	return ""
}
