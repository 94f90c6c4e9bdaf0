package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// imageCaseDir is the directory an image golden case runs in: the case,
// or its `workdir` subdirectory (a project whose search_path is ../x).
func imageCaseDir(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "workdir"))
	if os.IsNotExist(err) {
		return dir
	}
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, strings.TrimSpace(string(b)))
}

// buildImage loads the project in dir and renders its image.sh.
func buildImage(t *testing.T, dir string, environ []string) (string, error) {
	t.Helper()
	doc := loadDoc(t, dir, environ)
	img, err := config.LoadImage(doc)
	if err != nil {
		t.Fatal(err)
	}
	return BuildImage(context.Background(), dir, img, environ)
}

// wantImageError compares an image build's error with an error case's
// want.err; "" when they agree. A first line "-" is a template on no
// directory of the search path (Jinja2's TemplateNotFound): ours must be
// ErrTemplateNotFound for image.sh. Otherwise as wantTemplateError.
func wantImageError(want string, err error) string {
	var te *Error
	if !errors.As(err, &te) {
		return "want a template error, got " + err.Error()
	}
	where, what, _ := strings.Cut(strings.TrimSpace(want), "\n")
	if where == "-" {
		if !strings.Contains(what, "TemplateNotFound") {
			return "want.err: a first line - is for TemplateNotFound: " + what
		}
		if !errors.Is(err, ErrTemplateNotFound) || te.Template != ImageEntryTemplate || !strings.Contains(te.Msg, `"image.sh"`) {
			return "want a template-not-found error for image.sh, got " + err.Error()
		}
		return ""
	}
	return wantTemplateError(want, te.Template, te.Line, te.Error())
}

// Golden cases rendered by the Python original itself (scripts/gen-goldens):
// want.sh is cloud-compose-image 0.2.0's `image build` output, compared
// byte for byte (build prints the script and a newline); an error-* case's
// want.err says where and what the original failed with. An unsupported-*
// case is a known difference of the template engine (docs/migrating.md): it
// must still differ, so the case is renamed when the engine learns it.
func TestBuildImageGoldens(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "image", "*"))
	if err != nil || len(dirs) < 8 {
		t.Fatalf("image golden cases missing: %v (%d found)", err, len(dirs))
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue // README.md
		}
		t.Run(name, func(t *testing.T) {
			env := append([]string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "LC_CTYPE=C.UTF-8"}, readEnvFile(t, filepath.Join(dir, "env"))...)
			got, err := buildImage(t, imageCaseDir(t, dir), env)
			if strings.HasPrefix(name, "error-") {
				w, rerr := os.ReadFile(filepath.Join(dir, "want.err"))
				if rerr != nil {
					t.Fatal(rerr)
				}
				if err == nil {
					t.Fatalf("renders, but the original fails with %s", w)
				}
				if msg := wantImageError(string(w), err); msg != "" {
					t.Error(msg)
				}
				return
			}
			w, rerr := os.ReadFile(filepath.Join(dir, "want.sh"))
			if rerr != nil {
				t.Fatal(rerr)
			}
			if strings.HasPrefix(name, "unsupported-") {
				var te *Error
				switch {
				case err != nil && (!errors.As(err, &te) || te.Msg == ""):
					t.Errorf("want a template error with a message, got %T %v", err, err)
				case err == nil && got+"\n" == string(w):
					t.Errorf("%s now renders as the original does: rename the case and drop it from docs/migrating.md", name)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(w), got+"\n"); diff != "" {
				t.Errorf("image build differs from the Python original (-want +got):\n%s", diff)
			}
		})
	}
}

// Rendering stops when the context is cancelled.
func TestBuildImageInterrupted(t *testing.T) {
	dir := filepath.Join("testdata", "image", "include-search-path")
	path, err := config.Find(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	img, err := config.LoadImage(doc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BuildImage(ctx, dir, img, nil); !errors.Is(err, ErrInterrupted) {
		t.Errorf("cancelled build: %v, want ErrInterrupted", err)
	}
}
