package cli

import (
	"os"
	"strconv"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// StrictEnvVar, set to 1 (or true), does what --strict-env does.
const StrictEnvVar = "CLOUD_COMPOSE_STRICT_ENV"

// EnvVar names the environment to select when -e/--env is not given.
const EnvVar = "CLOUD_COMPOSE_ENV"

// readConfig is config.Load for a command: it stops on the first
// SIGINT/SIGTERM (g.ctx), merges the selected environment's overlays (-e,
// or CLOUD_COMPOSE_ENV) and prints the document's warnings (a key given
// twice, an unset ${VAR} without a default: an error with --strict-env).
// The secret values it finds are masked in everything printed after it
// (config.KnownSecrets).
func (g *globals) readConfig(path string) (*config.Document, error) {
	strict, err := g.strictEnvSet()
	if err != nil {
		return nil, err
	}
	doc, err := config.LoadWithOptions(g.context(), path, os.LookupEnv, config.Options{StrictEnv: strict, Env: g.environment()})
	if err != nil {
		return nil, err
	}
	doc.Path = shown(path)
	for _, w := range doc.Warnings {
		w.File = shown(w.File)
		g.warnf("%s", w)
	}
	return doc, nil
}

// environment is the selected environment: -e/--env, else EnvVar; "" for
// none.
func (g *globals) environment() string {
	if g.env != "" {
		return g.env
	}
	return os.Getenv(EnvVar)
}

// strictEnvSet reports whether unset variables are errors: --strict-env,
// or StrictEnvVar set to a true value.
func (g *globals) strictEnvSet() (bool, error) {
	if g.strictEnv {
		return true, nil
	}
	v, ok := os.LookupEnv(StrictEnvVar)
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, usageErrorf("%s=%s: use 1 (unset variables are errors) or 0", StrictEnvVar, v)
	}
	return b, nil
}

// newRenderer is render.New for a command: rendering stops on the first
// SIGINT/SIGTERM (g.ctx).
func (g *globals) newRenderer(dir string, c *config.Cluster) (*render.Renderer, error) {
	return render.NewContext(g.context(), dir, c, os.Environ())
}
