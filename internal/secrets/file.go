package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// ErrNotEditable: the file's `cluster:` or `secrets:` is written in a way
// a one-line edit cannot change safely (flow style, anchors, aliases).
var ErrNotEditable = errors.New("cannot edit safely")

// Entry is one key under `cluster.secrets`.
type Entry struct {
	Name   string
	Line   int    // the key's line, from 1
	Value  string // the scalar's text; "" when not a scalar
	Scalar bool   // false for a mapping, a list or null
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// ValidName reports whether name can be a secret's name: a letter or _,
// then letters, digits, _ or - (templates read it as secrets.NAME).
func ValidName(name string) bool { return nameRE.MatchString(name) }

// List returns the entries of `cluster.secrets` in file order. A key given
// twice counts once, at its last place (the value YAML loaders keep).
func List(src []byte) ([]Entry, error) {
	top, err := parse(src)
	if err != nil {
		return nil, err
	}
	_, cluster := lastValue(top, "cluster")
	cluster = deref(cluster)
	if cluster == nil || cluster.Kind != yaml.MappingNode {
		return nil, errors.New("the file has no `cluster:` mapping")
	}
	_, sv := lastValue(cluster, "secrets")
	sv = deref(sv)
	if sv == nil || isNull(sv) {
		return nil, nil
	}
	if sv.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("cluster.secrets (line %d) must be a mapping of names to ciphertext", sv.Line)
	}
	var out []Entry
	index := map[string]int{}
	for i := 0; i+1 < len(sv.Content); i += 2 {
		k, v := sv.Content[i], deref(sv.Content[i+1])
		e := Entry{Name: k.Value, Line: k.Line}
		if v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
			e.Value, e.Scalar = v.Value, true
		}
		if j, ok := index[k.Value]; ok {
			out = append(out[:j], out[j+1:]...)
			for n, at := range index {
				if at > j {
					index[n] = at - 1
				}
			}
		}
		index[k.Value] = len(out)
		out = append(out, e)
	}
	return out, nil
}

// Set returns src with `cluster.secrets.NAME: value`, and the line it is
// on. Only that line changes (or is inserted, with a `secrets:` line under
// `cluster:` when there is none); every other byte, comments and
// indentation included, stays as it was. A value that spanned several
// lines is replaced by one line. The result is parsed again and must be
// the same document with just that value set.
func Set(src []byte, name, value string) ([]byte, int, error) {
	if !ValidName(name) {
		return nil, 0, fmt.Errorf("%q is not a secret name: use letters, digits, _ and - (starting with a letter or _)", name)
	}
	top, err := parse(src)
	if err != nil {
		return nil, 0, err
	}
	e := &editor{lines: splitLines(src), eol: "\n"}
	if bytes.Contains(src, []byte("\r\n")) {
		e.eol = "\r\n"
	}
	scalar := formatScalar(value)
	ck, cv := lastValue(top, "cluster")
	if cv == nil {
		return nil, 0, errors.New("the file has no `cluster:` section")
	}
	if !blockMapping(ck, cv) {
		return nil, 0, fmt.Errorf("%w: `cluster:` (line %d) is not a block mapping", ErrNotEditable, ck.Line)
	}
	step := cv.Content[0].Column - ck.Column
	if step < 1 {
		step = 2
	}
	sk, sv := lastValue(cv, "secrets")
	var line int
	switch {
	case sk == nil:
		indent := strings.Repeat(" ", cv.Content[0].Column-1)
		line = e.insertAfter(e.entryEnd(cv.Content[len(cv.Content)-2], cv.Content[len(cv.Content)-1]),
			indent+"secrets:",
			indent+strings.Repeat(" ", step)+name+": "+scalar)
	case blockMapping(sk, sv):
		nk, nv := lastValue(sv, name)
		if nk == nil {
			indent := strings.Repeat(" ", sv.Content[0].Column-1)
			line = e.insertAfter(e.entryEnd(sv.Content[len(sv.Content)-2], sv.Content[len(sv.Content)-1]), indent+name+": "+scalar)
			break
		}
		if line, err = e.replace(nk, nv, name, scalar); err != nil {
			return nil, 0, err
		}
	case sv.Anchor == "" && sv.Line == sk.Line && (isNull(sv) || (sv.Kind == yaml.MappingNode && len(sv.Content) == 0)):
		// `secrets:`, `secrets: ~` or `secrets: {}`: becomes a block mapping
		if sv.Value != "" || sv.Kind == yaml.MappingNode {
			if err := e.dropValue(sk, sv); err != nil {
				return nil, 0, err
			}
		}
		indent := strings.Repeat(" ", sk.Column-1+step)
		line = e.insertAfter(sk.Line-1, indent+name+": "+scalar)
	default:
		return nil, 0, fmt.Errorf("%w: cluster.secrets (line %d) is not a block mapping (write it as `secrets:` with one `NAME: ciphertext` per line)", ErrNotEditable, sk.Line)
	}
	out := []byte(strings.Join(e.lines, ""))
	if err := verify(src, out, name, value); err != nil {
		return nil, 0, err
	}
	return out, line, nil
}

// WriteFile replaces the file at path (through a symlink) by data, keeping
// its permissions: a temporary file in the same directory, renamed over it.
func WriteFile(path string, data []byte) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(real)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(real), "."+filepath.Base(real)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(st.Mode().Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, real)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

func parse(src []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the file's top level is not a mapping")
	}
	return doc.Content[0], nil
}

// lastValue returns the last key named key of mapping m and its value.
func lastValue(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			k, v = m.Content[i], m.Content[i+1]
		}
	}
	return k, v
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// blockMapping reports whether v is a non-empty block mapping written
// below its key k, with plain keys and no anchor: one an edit can extend.
func blockMapping(k, v *yaml.Node) bool {
	if v == nil || v.Kind != yaml.MappingNode || v.Style&yaml.FlowStyle != 0 || v.Anchor != "" ||
		len(v.Content) == 0 || v.Line <= k.Line {
		return false
	}
	for i := 0; i < len(v.Content); i += 2 {
		if v.Content[i].Kind != yaml.ScalarNode || v.Content[i].Value == "<<" {
			return false // a merge key: the entries come from elsewhere
		}
	}
	return true
}

var base64RE = regexp.MustCompile(`^[A-Za-z0-9+/]+=*$`)

// formatScalar writes value as a plain scalar when YAML reads it back as
// the same string (base64 ciphertext), double-quoted otherwise.
func formatScalar(value string) string {
	if len(value) >= 16 && base64RE.MatchString(value) {
		var m map[string]any
		if yaml.Unmarshal([]byte("k: "+value), &m) == nil && m["k"] == value {
			return value
		}
	}
	return strconv.Quote(value)
}

// verify checks that out is src with cluster.secrets.NAME set to value.
func verify(src, out []byte, name, value string) error {
	fail := func(why string) error {
		return fmt.Errorf("%w: the edited file %s; add `%s: %s` under cluster.secrets by hand", ErrNotEditable, why, name, formatScalar(value))
	}
	entries, err := List(out)
	if err != nil {
		return fail("does not parse (" + err.Error() + ")")
	}
	found := false
	for _, e := range entries {
		if e.Name == name {
			found = e.Scalar && e.Value == value
		}
	}
	if !found {
		return fail("does not read back the value")
	}
	var before, after any
	if yaml.Unmarshal(src, &before) != nil {
		return nil // duplicate keys: yaml.v3 does not decode them into maps
	}
	if err := yaml.Unmarshal(out, &after); err != nil {
		return fail("does not parse (" + err.Error() + ")")
	}
	top, _ := before.(map[string]any)
	cluster, _ := top["cluster"].(map[string]any)
	if cluster == nil {
		return fail("has no cluster mapping")
	}
	secrets, _ := cluster["secrets"].(map[string]any)
	if secrets == nil {
		secrets = map[string]any{}
		cluster["secrets"] = secrets
	}
	secrets[name] = value
	if !reflect.DeepEqual(before, after) {
		return fail("changed more than the one value")
	}
	return nil
}

// editor edits a file as lines, each with its line ending.
type editor struct {
	lines []string
	eol   string
}

func splitLines(src []byte) []string {
	s := string(src)
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func body(line string) (text, eol string) {
	text = strings.TrimSuffix(line, "\n")
	eol = line[len(text):]
	if t := strings.TrimSuffix(text, "\r"); t != text {
		return t, "\r" + eol
	}
	return text, eol
}

func indentOf(text string) int { return len(text) - len(strings.TrimLeft(text, " ")) }

// offset is the byte offset of a 1-based column (yaml.v3 counts runes).
func offset(text string, column int) int {
	i := 0
	for n := 1; n < column && i < len(text); n++ {
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	return i
}

// entryEnd returns the index of the last line of a block mapping entry:
// the deepest line of its value, then every following line indented more
// than the key (or a `- ` item at its indentation), blank lines inside.
func (e *editor) entryEnd(k, v *yaml.Node) int {
	end := maxLine(v) - 1
	if end < k.Line-1 {
		end = k.Line - 1
	}
	keyIndent := k.Column - 1
	seq := deref(v) != nil && deref(v).Kind == yaml.SequenceNode
	for i := end + 1; i < len(e.lines); i++ {
		text, _ := body(e.lines[i])
		if strings.TrimSpace(text) == "" {
			continue
		}
		ind := indentOf(text)
		item := strings.HasPrefix(text[ind:], "- ") || text[ind:] == "-"
		if ind > keyIndent || (seq && ind == keyIndent && item) {
			end = i
			continue
		}
		break
	}
	return end
}

func maxLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	m := n.Line
	for _, c := range n.Content {
		if l := maxLine(c); l > m {
			m = l
		}
	}
	return m
}

// insertAfter inserts lines after index at and returns the 1-based line
// number of the last one.
func (e *editor) insertAfter(at int, lines ...string) int {
	add := make([]string, len(lines))
	for i, l := range lines {
		add[i] = l + e.eol
	}
	if at >= 0 && !strings.HasSuffix(e.lines[at], "\n") {
		// the file ended without a newline: it still does
		e.lines[at] += e.eol
		add[len(add)-1] = lines[len(lines)-1]
	}
	rest := append([]string{}, e.lines[at+1:]...)
	e.lines = append(append(e.lines[:at+1], add...), rest...)
	return at + 1 + len(lines)
}

// comment returns the comment at the end of text (with the blanks before
// it), or "".
func trailingComment(text string, comments ...string) string {
	for _, c := range comments {
		if c == "" || strings.Contains(c, "\n") {
			continue
		}
		if i := strings.LastIndex(text, c); i >= 0 && strings.TrimSpace(text[i:]) == c {
			j := i
			for j > 0 && (text[j-1] == ' ' || text[j-1] == '\t') {
				j--
			}
			return text[j:]
		}
	}
	return ""
}

// replace sets the value of an existing entry.
func (e *editor) replace(k, v *yaml.Node, name, scalar string) (int, error) {
	if v.Kind == yaml.AliasNode || v.Anchor != "" || v.Style&yaml.TaggedStyle != 0 {
		return 0, fmt.Errorf("%w: cluster.secrets.%s (line %d) has an anchor, alias or tag", ErrNotEditable, name, k.Line)
	}
	i := k.Line - 1
	text, eol := body(e.lines[i])
	if v.Kind == yaml.ScalarNode && v.Line == k.Line && v.Value != "" && e.entryEnd(k, v) == i {
		start := offset(text, v.Column)
		e.lines[i] = text[:start] + scalar + trailingComment(text[start:], v.LineComment, k.LineComment) + eol
		return k.Line, nil
	}
	// an empty value, or one over several lines: the entry becomes one line
	end := e.entryEnd(k, v)
	keyStart := offset(text, k.Column)
	newLine := text[:keyStart] + name + ": " + scalar
	if end == i {
		newLine += trailingComment(text[keyStart:], v.LineComment, k.LineComment)
	}
	if !strings.HasSuffix(e.lines[end], "\n") {
		eol = ""
	} else if eol == "" {
		eol = e.eol
	}
	e.lines = append(append(e.lines[:i:i], newLine+eol), e.lines[end+1:]...)
	return k.Line, nil
}

// dropValue removes `~`, `null` or `{}` after `secrets:` on its line.
func (e *editor) dropValue(k, v *yaml.Node) error {
	i := k.Line - 1
	text, eol := body(e.lines[i])
	start := offset(text, v.Column)
	rest := text[start:]
	tail := trailingComment(rest, v.LineComment, k.LineComment)
	token := strings.TrimSpace(strings.TrimSuffix(rest, tail))
	if token != v.Value && token != "{}" {
		return fmt.Errorf("%w: cluster.secrets (line %d)", ErrNotEditable, k.Line)
	}
	e.lines[i] = strings.TrimRight(text[:start], " \t") + tail + eol
	return nil
}
