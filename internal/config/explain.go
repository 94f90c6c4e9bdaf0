package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Kinds of Origin: where a value of the effective configuration came from.
const (
	// OriginFile: written as is in a file (the config file or an overlay).
	OriginFile = "file"
	// OriginEnv: from ${VAR} forms whose variables are all set.
	OriginEnv = "env"
	// OriginEnvDefault: from ${VAR...} forms where a variable was unset
	// and the form's default (${VAR:-default}, ${VAR-default}) applied.
	OriginEnvDefault = "env-default"
	// OriginEnvUnset: a plain ${VAR} was unset, and is an empty string.
	OriginEnvUnset = "env-unset"
	// OriginDefault: not in the configuration; the tool's default
	// (only the defaults the config package exports as constants).
	OriginDefault = "default"
)

// Origin says where the value of a key came from.
type Origin struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	// Variable is the value as written, with its ${VAR} forms (only the
	// forms when the key holds a secret), for the env kinds.
	Variable string `json:"variable,omitempty"`
	Kind     string `json:"kind"`
}

func (o Origin) String() string {
	at := o.File
	if o.Line > 0 {
		at = fmt.Sprintf("%s:%d", o.File, o.Line)
	}
	switch o.Kind {
	case OriginDefault:
		return "default"
	case OriginEnv:
		return fmt.Sprintf("%s from the environment (%s)", o.Variable, at)
	case OriginEnvDefault:
		return fmt.Sprintf("%s default (%s)", o.Variable, at)
	case OriginEnvUnset:
		return fmt.Sprintf("%s unset, empty (%s)", o.Variable, at)
	}
	return at
}

// Explained is one leaf key of the effective configuration, its value
// (secrets redacted as `config` redacts them) and where it came from.
type Explained struct {
	// Key is the dotted path, list items as [N]: cluster.aws.nodes[0].ip.
	Key string `json:"key"`
	// Value is a string, number, boolean, null, or an empty list or
	// mapping.
	Value  any    `json:"value"`
	Source Origin `json:"source"`
}

// UnknownKeyError is Explain's error for a key the configuration does not
// have; Nearest are the keys it has that are most like it.
type UnknownKeyError struct {
	Key     string
	Nearest []string
}

func (e *UnknownKeyError) Error() string {
	msg := fmt.Sprintf("the configuration has no key %s", e.Key)
	if len(e.Nearest) > 0 {
		msg += "; the nearest: " + strings.Join(e.Nearest, ", ")
	}
	return msg
}

// Explain returns every leaf key of the effective configuration (merged
// and interpolated) under key (all of them when key is ""), in document
// order, with its value and origin; the defaults the tool fills in come
// after the keys of their mapping. Secrets are redacted with NewRedactor.
func (d *Document) Explain(key string) ([]Explained, error) {
	e := &explainer{doc: d, redact: NewRedactor(), m: newMerger(nil)}
	e.walk("", e.redact.Mapping(d.Data), d.Root)
	if key == "" {
		return e.out, nil
	}
	key = strings.TrimSpace(key)
	var out []Explained
	for _, x := range e.out {
		if x.Key == key || strings.HasPrefix(x.Key, key+".") || strings.HasPrefix(x.Key, key+"[") {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil, &UnknownKeyError{Key: key, Nearest: nearestKeys(key, e.paths, 3)}
	}
	return out, nil
}

type explainer struct {
	doc    *Document
	redact *Redactor
	m      *merger
	out    []Explained
	paths  []string // every path, leaves and mappings and lists
}

// walk explains value v (from the redacted data) at path, written at node
// n (nil for a default).
func (e *explainer) walk(path string, v any, n *yaml.Node) {
	n = resolve(n)
	if path != "" {
		e.paths = append(e.paths, path)
	}
	switch t := v.(type) {
	case *Mapping:
		nodes := map[string]*yaml.Node{}
		if n != nil && n.Kind == yaml.MappingNode {
			for _, p := range e.m.pairs(n) {
				nodes[p.name] = p.v
			}
		}
		if t.Len() == 0 && path != "" {
			e.leaf(path, map[string]any{}, n)
		}
		for _, k := range t.Keys() {
			c, _ := t.Get(k)
			e.walk(joinKey(path, k), c, nodes[k])
		}
		for _, dv := range e.defaults(path, t) {
			e.paths = append(e.paths, joinKey(path, dv.key))
			e.out = append(e.out, Explained{Key: joinKey(path, dv.key), Value: dv.value, Source: Origin{Kind: OriginDefault}})
		}
	case []any:
		if len(t) == 0 {
			e.leaf(path, []any{}, n)
		}
		for i, c := range t {
			var cn *yaml.Node
			if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
				cn = n.Content[i]
			}
			e.walk(fmt.Sprintf("%s[%d]", path, i), c, cn)
		}
	default:
		e.leaf(path, t, n)
	}
}

func (e *explainer) leaf(path string, v any, n *yaml.Node) {
	x := Explained{Key: path, Value: v, Source: Origin{Kind: OriginFile}}
	if n != nil {
		x.Source.File, x.Source.Line, x.Source.Column = e.doc.FileOf(n), n.Line, n.Column
		if ip := e.doc.interp[n]; ip != nil && len(ip.looked) > 0 {
			x.Source.Kind = OriginEnv
			for _, l := range ip.looked {
				// unset, or empty where ${VAR:-default} reads empty as unset
				if !l.set || (l.empty && strings.Contains(ip.raw, "${"+l.name+":-")) {
					x.Source.Kind = OriginEnvDefault
				}
			}
			if len(ip.unset) > 0 {
				x.Source.Kind = OriginEnvUnset
			}
			x.Source.Variable = ip.raw
			if e.redact.SecretPath(path) {
				x.Source.Variable = strings.Join(varNames(ip.raw), " ")
			}
		}
	}
	e.out = append(e.out, x)
}

// varFormRE finds the ${...} and $NAME forms of a value (one level).
var varFormRE = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// varNames are the variables of raw's ${VAR} forms, each written ${VAR}:
// what a secret's origin shows (not its text, not its defaults).
func varNames(raw string) []string {
	var out []string
	for _, f := range varFormRE.FindAllString(strings.ReplaceAll(raw, "$$", ""), -1) {
		name := strings.TrimPrefix(strings.TrimPrefix(f, "$"), "{")
		if i := strings.IndexAny(name, ":-?+}"); i >= 0 {
			name = name[:i]
		}
		out = append(out, "${"+name+"}")
	}
	return out
}

type defaultValue struct {
	key   string
	value any
}

// defaults are the values the tool fills in for keys mapping m (at path)
// leaves out: only the exported default constants.
func (e *explainer) defaults(path string, m *Mapping) []defaultValue {
	var want []defaultValue
	switch {
	case path == "cluster.aws":
		want = []defaultValue{{"instance_type", DefaultInstanceType}}
	case path == "cluster.aws.asg":
		want = []defaultValue{{"redundancy", DefaultASGRedundancy}}
	case path == "cluster.logging.meta":
		want = []defaultValue{{"retention", DefaultLogRetention}}
	case path == "cluster.rollout":
		want = []defaultValue{{"max_unavailable", DefaultMaxUnavailable}, {"min_healthy_time", seconds(DefaultMinHealthyTime)}}
		if health, _ := get(mapping(e.doc.Data, "cluster"), "health").(*Mapping); get(health, "timeout") == nil {
			want = append(want, defaultValue{"healthy_deadline", seconds(DefaultHealthyDeadline)})
		}
	case path == "cluster.load_balancer":
		want = []defaultValue{{"drain", seconds(DefaultDrain)}}
	case path == "image.aws":
		want = []defaultValue{{"instance_type", DefaultImageInstanceType}}
	case volumePathRE.MatchString(path):
		want = []defaultValue{{"size", DefaultVolumeSize}, {"volume_type", DefaultVolumeType}}
	}
	var out []defaultValue
	for _, dv := range want {
		if !m.Has(dv.key) {
			out = append(out, dv)
		}
	}
	return out
}

var volumePathRE = regexp.MustCompile(`^cluster\.(aws|local)\.volumes\[\d+\]$`)

// seconds writes a duration as the config does: 120s.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// nearestKeys returns up to n of paths within edit distance 3 of key,
// closest first; when none is that close, the keys right under the
// longest path that key starts with (the top-level keys at worst).
func nearestKeys(key string, paths []string, n int) []string {
	type cand struct {
		p string
		d int
	}
	var cs []cand
	seen := map[string]bool{}
	for _, p := range paths {
		if d := editDistance(key, p); d <= 3 && !seen[p] {
			seen[p] = true
			cs = append(cs, cand{p, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].p)
	}
	if len(out) > 0 {
		return out
	}
	parent := ""
	for _, p := range paths {
		if len(p) > len(parent) && (strings.HasPrefix(key, p+".") || strings.HasPrefix(key, p+"[")) {
			parent = p
		}
	}
	for _, p := range paths {
		if child(parent, p) && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// child reports whether path p is right under parent ("" for the top).
func child(parent, p string) bool {
	rest := p
	if parent != "" {
		var ok bool
		if rest, ok = strings.CutPrefix(p, parent+"."); !ok {
			if rest, ok = strings.CutPrefix(p, parent+"["); !ok {
				return false
			}
			rest = strings.TrimSuffix(rest, "]")
		}
	}
	return rest != "" && !strings.ContainsAny(rest, ".[")
}
