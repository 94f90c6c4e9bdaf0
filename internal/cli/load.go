package cli

import (
	"os"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// readConfig is config.Load for a command: it stops on the first
// SIGINT/SIGTERM (g.ctx) and prints the document's warnings (a key given
// twice). The secret values it finds are masked in everything printed
// after it (config.KnownSecrets).
func (g *globals) readConfig(path string) (*config.Document, error) {
	doc, err := config.LoadContext(g.context(), path, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	doc.Path = shown(path)
	for _, w := range doc.Warnings {
		w.File = doc.Path
		g.warnf("%s", w)
	}
	return doc, nil
}

// newRenderer is render.New for a command: rendering stops on the first
// SIGINT/SIGTERM (g.ctx).
func (g *globals) newRenderer(dir string, c *config.Cluster) (*render.Renderer, error) {
	return render.NewContext(g.context(), dir, c, os.Environ())
}
