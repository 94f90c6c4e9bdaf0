package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
}

// New prepares rendering for cluster c of the project in dir. environ is
// the process environment (os.Environ()); the cluster's `environment:`
// entries are added to it when not already set, each value first rendered
// as a template against the environment, as the original did.
func New(dir string, c *config.Cluster, environ []string) (*Renderer, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &Renderer{dir: abs, env: map[string]string{}, env0: environment()}
	r.searchPath = append([]string{"."}, c.SearchPath...)
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
	for _, kv := range c.Environment {
		if _, set := r.env[kv.Key]; set {
			continue
		}
		v, err := r.renderString(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: cluster.environment.%s: %w", c.File, kv.Key, err)
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
	l := newStringLoader(src)
	tpl, err := exec.NewTemplate(stringTemplateName, jinjaConfig(false), l, r.env0)
	if err != nil {
		return "", err
	}
	data := make(map[string]any, len(r.env))
	for k, v := range r.env {
		data[k] = v
	}
	return tpl.ExecuteToString(exec.NewContext(data))
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
	data.Set("search_path", append([]any{"."}, sp...))
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
	file, err := l.Resolve(name)
	if err != nil {
		return "", &Error{Template: name, Msg: err.Error(), Err: err}
	}
	inherited, _ := l.Inherit(file)
	fl := inherited.(*searchLoader)
	tpl, err := exec.NewTemplate(file, jinjaConfig(true), fl, r.env0)
	if err != nil {
		return "", parseError(fl, file, err)
	}
	ctx := exec.NewContext(toContext(data))
	out, err := execute(tpl, ctx)
	if err != nil {
		return "", executionError(fl, file, err)
	}
	return out, nil
}

// execute runs a template; a panic in gonja becomes an error (recoverPanic).
func execute(tpl *exec.Template, ctx *exec.Context) (out string, err error) {
	defer recoverPanic(&err)
	return tpl.ExecuteToString(ctx)
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
