package cli

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// project is a loaded project: its config document and, when asked for,
// its cluster and renderer.
type project struct {
	dir     string
	path    string
	doc     *config.Document
	cluster *config.Cluster
	render  *render.Renderer
}

// shown returns path relative to the working directory when that is shorter.
func shown(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "../../") && len(r) < len(path) {
			return r
		}
	}
	return path
}

// loadDocument finds and reads the config file.
func (g *globals) loadDocument() (*project, error) {
	path, err := config.Find(g.dir, g.file)
	if err != nil {
		return nil, err
	}
	doc, err := g.readConfig(path)
	if err != nil {
		return nil, err
	}
	return &project{dir: g.dir, path: path, doc: doc}, nil
}

// loadCluster reads the config and its `cluster:` section, prints the
// warnings, and prepares rendering.
func (g *globals) loadCluster() (*project, error) {
	p, err := g.loadDocument()
	if err != nil {
		return nil, err
	}
	c, err := config.LoadCluster(p.doc)
	if c != nil {
		for _, w := range c.Warnings {
			g.warnf("%s", w)
		}
	}
	if err != nil {
		return nil, err
	}
	p.cluster = c
	r, err := g.newRenderer(p.dir, c)
	if err != nil {
		return nil, err
	}
	p.render = r
	return p, nil
}
