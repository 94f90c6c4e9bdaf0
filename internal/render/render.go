package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	gonjaconfig "github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// EntryTemplate is the template a cluster's boot script starts from: the
// original rendered `<plugin>.sh`.
const EntryTemplate = "cluster.sh"

// Compose file names, first match on ['.'] + search_path wins, as in the original.
var (
	ComposeFiles         = []string{"docker-compose.yml", "docker-compose.yaml"}
	ComposeOverrideFiles = []string{"docker-compose.override.yml", "docker-compose.override.yaml"}
)

// Renderer renders a cluster's boot scripts.
type Renderer struct {
	dir        string
	searchPath []string // ['.'] + search_path
	env        map[string]string
	envOrder   []string
	compose    *string // raw docker-compose.yml, if any
	override   string  // path of the override template, if any
	env0       *exec.Environment
	// ctx stops rendering when cancelled. It is kept here because a
	// Renderer lives for one command and the engine's Build calls take no
	// context; see NewContext.
	ctx context.Context
}

// New prepares rendering for cluster c of the project in dir. environ is
// the process environment (os.Environ()); the cluster's `environment:`
// entries are added to it when not already set, each value first rendered
// as a template against the environment, as the original did.
func New(dir string, c *config.Cluster, environ []string) (*Renderer, error) {
	return NewContext(context.Background(), dir, c, environ)
}

// newRenderer is a renderer of the templates on ['.'] + searchPath under
// dir, with the environment environ (KEY=VALUE, the first of a key's
// order kept, the last value winning), stopping when ctx is cancelled.
func newRenderer(ctx context.Context, dir string, searchPath, environ []string) (*Renderer, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &Renderer{dir: abs, env: map[string]string{}, env0: environment(), ctx: ctx}
	r.searchPath = append([]string{"."}, searchPath...)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, dup := r.env[k]; !dup {
			r.envOrder = append(r.envOrder, k)
		}
		r.env[k] = v
	}
	return r, nil
}

// templateData completes a section's data for templates as the original
// did: '.' in front of search_path, and every environment variable the
// section has no key for.
func (r *Renderer) templateData(data *config.Mapping) {
	sp := []any{"."}
	if v, ok := data.Get("search_path"); ok {
		if l, ok := v.([]any); ok {
			sp = append(sp, l...)
		}
	}
	data.Set("search_path", sp)
	for _, k := range r.envOrder {
		if !data.Has(k) {
			data.Set(k, r.env[k])
		}
	}
}

// NewContext is New for a command that can be interrupted: rendering
// (here and in every Build) stops when ctx is cancelled, with an error that
// wraps ErrInterrupted and ctx.Err().
func NewContext(ctx context.Context, dir string, c *config.Cluster, environ []string) (*Renderer, error) {
	r, err := newRenderer(ctx, dir, c.SearchPath, environ)
	if err != nil {
		return nil, err
	}
	for _, kv := range c.Environment {
		if _, set := r.env[kv.Key]; set {
			continue
		}
		v, err := r.renderString(kv.Value)
		if err != nil {
			if errors.Is(err, ErrInterrupted) {
				return nil, err
			}
			return nil, environmentError(c, kv.Key, err)
		}
		if config.NewRedactor().SecretPath("environment." + kv.Key) {
			config.KnownSecrets.Add(v) // the rendered value is as secret as the template
		}
		r.env[kv.Key] = v
		r.envOrder = append(r.envOrder, kv.Key)
	}
	if p := r.find(ComposeFiles); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		s := string(b)
		r.compose = &s
	}
	r.override = r.find(ComposeOverrideFiles)
	return r, nil
}

// Env returns the environment used for rendering: the process environment
// plus the cluster's `environment:` entries.
func (r *Renderer) Env() map[string]string { return r.env }

// ClusterEnv returns just the `environment:` values as they were exported
// (or the process's value where it was already set), in config order.
func ClusterEnv(r *Renderer, c *config.Cluster) []config.KeyValue {
	out := make([]config.KeyValue, 0, len(c.Environment))
	for _, kv := range c.Environment {
		out = append(out, config.KeyValue{Key: kv.Key, Value: r.env[kv.Key]})
	}
	return out
}

func (r *Renderer) find(names []string) string {
	for _, d := range r.searchPath {
		for _, n := range names {
			p := filepath.Join(r.dir, d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return ""
}

// renderString renders an `environment:` value the way the original did:
// a plain jinja2.Template (undefined names print as nothing) against the
// environment.
func (r *Renderer) renderString(src string) (string, error) {
	if !strings.Contains(src, "{") {
		return src, nil
	}
	st := newRenderState(r.ctx)
	return runCancellable(st.ctx, stringTemplateName, func() (string, error) {
		l := newStringLoader(src, st)
		cfg := jinjaConfig(false)
		tpl, err := exec.NewTemplate(stringTemplateName, cfg, l, r.env0)
		if err != nil {
			return "", err
		}
		data := make(map[string]any, len(r.env))
		for k, v := range r.env {
			data[k] = v
		}
		w := &ctxWriter{ctx: st.ctx}
		if err := executeTemplate(tpl, r.env0, cfg, l, w, exec.NewContext(data)); err != nil {
			if st.err != nil {
				return "", st.err
			}
			return "", err
		}
		return w.String(), nil
	})
}

var (
	posRE    = regexp.MustCompile(`\s*\(Line: (\d+) Col: (\d+).*$`)
	quotedRE = regexp.MustCompile(`'[^']*'|"[^"]*"`)
	syntaxRE = regexp.MustCompile(`^['"][^\pL\pN\s]{1,3}['"]$`) // '}}', "%}": syntax, not the value
)

// environmentError is a config error for an `environment:` value that is
// not a valid template. The value is never quoted: environment values are
// where passwords and tokens go, and gonja's messages repeat the template
// source ("failed to parse template 's3cr3t-{{ x'") and the tokens near the
// problem. Only gonja's reason and the position in the value are kept.
func environmentError(c *config.Cluster, key string, err error) error {
	var te *Error
	if errors.As(err, &te) && te.recursion {
		return envProblem(c, key, te.Msg)
	}
	inner := err
	for u := errors.Unwrap(inner); u != nil; u = errors.Unwrap(inner) {
		inner = u
	}
	msg := inner.Error()
	where := ""
	if m := posRE.FindStringSubmatch(msg); m != nil {
		if m[1] != "0" {
			where = fmt.Sprintf(" (line %s, column %s of the value)", m[1], m[2])
		}
		msg = msg[:len(msg)-len(m[0])]
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:] // gonja prefixes the expression, or a dump of its tokens
	}
	msg = quotedRE.ReplaceAllStringFunc(msg, func(q string) string {
		if syntaxRE.MatchString(q) {
			return q
		}
		return "…"
	})
	msg = strings.TrimSuffix(strings.TrimSpace(msg), ".")
	return envProblem(c, key, fmt.Sprintf("is rendered as a Jinja2 template, as in the Python tool, and it is not a valid one: %s%s "+
		"(the value is not shown: it may be a secret). Write {{ '{{' }} for a literal {{, or wrap the value in {%% raw %%}…{%% endraw %%}", msg, where))
}

func envProblem(c *config.Cluster, key, msg string) error {
	return &config.Error{Problems: []config.Problem{c.Problem([]string{"environment", key}, "%s", msg)}}
}

// Options selects what Build renders.
type Options struct {
	// Data is the `cluster:` mapping to render with; the provider may have
	// filled in aws.ami, aws.ami_name and volume snapshots. Nil: the config's.
	Data *config.Mapping
	// NodeID, when not nil, is given to templates as `_node_id` (the value
	// from the config, so an integer id stays an integer).
	NodeID any
}

// Build renders the boot script (cluster.sh) with the template data of the
// original: the cluster mapping, `_node_id`, `docker_compose.yaml` and
// `docker_compose.override_yaml`, and every environment variable no config
// key shadows.
func (r *Renderer) Build(c *config.Cluster, opts Options) (string, error) {
	src := opts.Data
	if src == nil {
		src = c.Data
	}
	data := src.Clone()
	if opts.NodeID != nil {
		data.Set("_node_id", opts.NodeID)
	}
	// The original inserted '.' into search_path each time it computed the
	// loader's path: once for the override, once for cluster.sh. Templates
	// that print search_path see that.
	r.templateData(data)
	dc := config.NewMapping()
	if r.compose != nil {
		dc.Set("yaml", *r.compose)
	}
	if r.override != "" {
		out, err := r.renderFile(filepath.Dir(r.override), filepath.Base(r.override), data)
		if err != nil {
			return "", err
		}
		dc.Set("override_yaml", out)
	}
	sp, _ := data.Get("search_path")
	data.Set("search_path", append([]any{"."}, sp.([]any)...))
	data.Set("docker_compose", dc)
	return r.renderFile("", EntryTemplate, data)
}

// renderFile renders template name from dir (or from the search path when
// dir is "") with data.
func (r *Renderer) renderFile(dir, name string, data *config.Mapping) (string, error) {
	var l *searchLoader
	if dir != "" {
		l = newSearchLoader(r.dir, []string{dir})
	} else {
		l = newSearchLoader(r.dir, r.searchPath)
	}
	st := newRenderState(r.ctx)
	l.state = st
	file, err := l.Resolve(name)
	if err != nil {
		return "", &Error{Template: name, Msg: err.Error(), Err: err}
	}
	return runCancellable(st.ctx, l.rel(file), func() (string, error) {
		inherited, _ := l.Inherit(file)
		fl := inherited.(*searchLoader)
		cfg := jinjaConfig(true)
		tpl, err := exec.NewTemplate(file, cfg, fl, r.env0)
		if err != nil {
			return "", parseError(fl, file, err)
		}
		out, err := execute(tpl, r.env0, cfg, fl, toContext(data))
		if err != nil {
			return "", executionError(fl, file, err)
		}
		return out, nil
	})
}

// execute runs a template, its output stopping on ctx; a panic in gonja
// becomes an error (recoverPanic).
func execute(tpl *exec.Template, env *exec.Environment, cfg *gonjaconfig.Config, l *searchLoader, data map[string]any) (out string, err error) {
	defer recoverPanic(&err)
	w := &ctxWriter{ctx: l.state.ctx}
	if err := executeTemplate(tpl, env, cfg, l, w, exec.NewContext(data)); err != nil {
		return "", err
	}
	return w.String(), nil
}

// toContext converts the template data to gonja values: ordered mappings
// become *exec.Dict (an empty one a plain map, so it is false in `if`).
func toContext(m *config.Mapping) map[string]any {
	out := make(map[string]any, m.Len())
	for _, k := range m.Keys() {
		v, _ := m.Get(k)
		out[k] = toGonja(v)
	}
	return out
}

func toGonja(v any) any {
	switch t := v.(type) {
	case *config.Mapping:
		if t.Len() == 0 {
			return map[string]any{}
		}
		d := &exec.Dict{Pairs: make([]*exec.Pair, 0, t.Len())}
		for _, k := range t.Keys() {
			e, _ := t.Get(k)
			d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(k), Value: exec.AsValue(toGonja(e))})
		}
		return d
	case []any:
		out := make(pyList, len(t))
		for i, e := range t {
			out[i] = toGonja(e)
		}
		return out
	case float64:
		return pyFloat(t)
	case nil:
		return None
	}
	return v
}

// IsTemplateError reports whether err is a problem in the project's
// templates (a configuration error, exit code 2).
func IsTemplateError(err error) bool {
	var te *Error
	return errors.As(err, &te)
}
