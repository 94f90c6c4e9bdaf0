package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

func TestReadConfigWarnsAndStops(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cloud-compose.yml")
	src := "cluster:\n  name: a\n  search_path: [.]\n  name: b\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster.sh"), []byte("{% for i in range(1000000000) %}{% endfor %}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	g := &globals{ctx: context.Background(), streams: IOStreams{Out: &bytes.Buffer{}, ErrOut: &errOut}}
	doc, err := g.readConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "warning: " + shown(path) + ":4: key cluster.name is given twice (lines 2 and 4); the last one wins, as in the Python tool\n"
	if errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
	c, err := config.LoadCluster(doc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.ctx = ctx
	r, err := g.newRenderer(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := r.Build(c, render.Options{}); !errors.Is(err, render.ErrInterrupted) || !IsInterrupted(err) {
		t.Errorf("build after cancel: %v", err)
	}
	if _, err := g.readConfig(path); !errors.Is(err, config.ErrInterrupted) || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("read after cancel: %v", err)
	}
}
