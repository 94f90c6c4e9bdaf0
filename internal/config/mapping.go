package config

import (
	"bytes"
	"encoding/json"

	"go.yaml.in/yaml/v3"
)

// Mapping is a YAML mapping that keeps its keys in document order, as the
// Python original's dicts did (PyYAML on Python 3.7+). Templates iterate
// mappings in this order.
type Mapping struct {
	keys []string
	vals map[string]any
}

// NewMapping returns an empty mapping.
func NewMapping() *Mapping { return &Mapping{vals: map[string]any{}} }

// Keys returns the keys in insertion order. The slice must not be modified.
func (m *Mapping) Keys() []string { return m.keys }

// Len is the number of keys.
func (m *Mapping) Len() int { return len(m.keys) }

// Get returns the value for key.
func (m *Mapping) Get(key string) (any, bool) {
	v, ok := m.vals[key]
	return v, ok
}

// Has reports whether key is present.
func (m *Mapping) Has(key string) bool {
	_, ok := m.vals[key]
	return ok
}

// Set sets key, appending it if it is new and keeping its place otherwise.
func (m *Mapping) Set(key string, v any) {
	if _, ok := m.vals[key]; !ok {
		m.keys = append(m.keys, key)
	}
	m.vals[key] = v
}

// Clone returns a deep copy: templates and the engine may change their copy.
func (m *Mapping) Clone() *Mapping {
	out := &Mapping{keys: append([]string(nil), m.keys...), vals: make(map[string]any, len(m.vals))}
	for k, v := range m.vals {
		out.vals[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case *Mapping:
		return t.Clone()
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}

// MarshalJSON writes the mapping with its keys in order.
func (m *Mapping) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := json.Marshal(m.vals[k])
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// MarshalYAML writes the mapping with its keys in order.
func (m *Mapping) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range m.keys {
		var vn yaml.Node
		if err := vn.Encode(m.vals[k]); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &vn)
	}
	return n, nil
}
