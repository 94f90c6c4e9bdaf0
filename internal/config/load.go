package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v3"
)

// LookupFunc finds an environment variable, like os.LookupEnv.
type LookupFunc func(string) (string, bool)

// Document is a loaded cloud-compose.yml after interpolation.
type Document struct {
	// Path is the file as it is shown in messages.
	Path string
	// Root is the top-level mapping node, interpolated, with positions.
	Root *yaml.Node
	// Data is the whole document as PyYAML would have loaded it.
	Data *Mapping
}

// Plugins returns the top-level keys: the original listed them as plugins.
func (d *Document) Plugins() []string { return d.Data.Keys() }

// Section returns the node and data of a top-level key.
func (d *Document) Section(name string) (*yaml.Node, *Mapping, bool) {
	n := mappingValue(d.Root, name)
	if n == nil {
		return nil, nil, false
	}
	v, _ := d.Data.Get(name)
	m, _ := v.(*Mapping)
	return n, m, true
}

// Load reads, parses and interpolates the file at path. Every required
// variable that is unset is reported, each with its line, in one *Error.
func Load(path string, lookup LookupFunc) (*Document, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, src, lookup)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse is Load for bytes already read; name is used in messages.
func Parse(name string, src []byte, lookup LookupFunc) (*Document, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Problems: []Problem{{File: name, Msg: "the file is empty; it needs at least a `cluster:` section"}}}
		}
		return nil, yamlSyntaxError(name, err)
	}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return nil, &Error{Problems: []Problem{{File: name, Line: top.Line, Column: top.Column,
			Msg: fmt.Sprintf("the top level must be a mapping of plugin names (like `cluster:`), not %s", kindName(top))}}}
	}
	p := &problems{file: name}
	interpolate(top, "", lookup, p)
	if err := p.err(); err != nil {
		return nil, err
	}
	data, _ := toValue(top).(*Mapping)
	return &Document{Path: name, Root: top, Data: data}, nil
}

func yamlSyntaxError(name string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		// yaml.v3 gives parser errors at the 0-based line of the mapping or
		// list being parsed (scanner errors are already 1-based).
		if strings.HasPrefix(msg, "did not find expected") {
			line++
			msg += " (in the list or mapping that starts on this line)"
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return &Error{Problems: []Problem{{File: name, Line: line, Msg: "YAML syntax error: " + msg}}}
}

// interpolate substitutes ${VAR} forms in every string value (never in
// keys), with compose-spec semantics. A plain scalar is re-typed after
// substitution, so `count: ${N}` is a number when N is one.
func interpolate(n *yaml.Node, path string, lookup LookupFunc, p *problems) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			interpolate(n.Content[i+1], joinKey(path, n.Content[i].Value), lookup, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			interpolate(c, fmt.Sprintf("%s[%d]", path, i), lookup, p)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		var missing []error
		collect := func(sub string, m template.Mapping, cfg *template.Config) (string, error) {
			v, err := template.DefaultReplacementFunc(sub, m, cfg)
			if err != nil {
				missing = append(missing, err)
				return "", nil
			}
			return v, nil
		}
		out, err := template.SubstituteWithOptions(n.Value, template.Mapping(lookup),
			template.WithReplacementFunction(collect), template.WithoutLogging)
		if err != nil {
			missing = append(missing, err)
		}
		for _, e := range missing {
			var req *template.MissingRequiredError
			var inv *template.InvalidTemplateError
			switch {
			case errors.As(e, &req):
				msg := fmt.Sprintf("required variable %s is not set", req.Variable)
				if req.Reason != "" {
					msg += ": " + req.Reason
				}
				p.add(n.Line, n.Column, path, "%s (set it in the environment, or give a default with ${%s:-value})", msg, req.Variable)
			case errors.As(e, &inv):
				p.add(n.Line, n.Column, path, "invalid interpolation in %q (write $$ for a literal $)", n.Value)
			default:
				p.add(n.Line, n.Column, path, "interpolation: %v", e)
			}
		}
		if len(missing) == 0 && out != n.Value {
			n.Value = out
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0 {
				n.Tag = "" // let the decoder resolve the substituted value's type
			}
		}
	}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// toValue converts a node to the value PyYAML would have produced,
// following aliases and `<<` merge keys.
func toValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return toValue(n.Content[0])
		}
		return nil
	case yaml.AliasNode:
		return toValue(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = toValue(c)
		}
		return out
	case yaml.MappingNode:
		// PyYAML's flatten_mapping: the pairs of `<<` merges come first
		// (of a list of merges, the last one first), then the mapping's
		// own; a later pair overrides the value of an earlier one with the
		// same key, which keeps its place.
		type pair struct {
			k string
			v any
		}
		var merged, own []pair
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Style == 0 {
				var subs []*Mapping
				switch mv := toValue(v).(type) {
				case *Mapping:
					subs = append(subs, mv)
				case []any:
					for _, e := range mv {
						if em, ok := e.(*Mapping); ok {
							subs = append(subs, em)
						}
					}
				}
				for j := len(subs) - 1; j >= 0; j-- {
					for _, sk := range subs[j].Keys() {
						sv, _ := subs[j].Get(sk)
						merged = append(merged, pair{sk, cloneValue(sv)})
					}
				}
				continue
			}
			own = append(own, pair{keyString(k), toValue(v)})
		}
		m := NewMapping()
		for _, p := range append(merged, own...) {
			m.Set(p.k, p.v)
		}
		return m
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil
}

func keyString(k *yaml.Node) string {
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return fmt.Sprint(toValue(k))
}

// mappingValue returns the value node of key in mapping node n.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch scalarValue(n).(type) {
		case nil:
			return "empty"
		case bool:
			return fmt.Sprintf("a boolean (%s)", n.Value)
		case int, float64:
			return fmt.Sprintf("a number (%s)", n.Value)
		}
		return fmt.Sprintf("a string (%q)", n.Value)
	case yaml.AliasNode:
		return kindName(n.Alias)
	}
	return "unknown"
}
