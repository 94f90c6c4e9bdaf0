package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v3"
)

// LookupFunc finds an environment variable, like os.LookupEnv.
type LookupFunc func(string) (string, bool)

// Document is a loaded cloud-compose.yml: the selected environment's
// overlays merged onto it, then interpolated.
type Document struct {
	// Path is the file as it is shown in messages.
	Path string
	// Root is the top-level mapping node, merged and interpolated, with
	// positions (FileOf says which file a node is in). The reserved
	// `environments:` key is not in it.
	Root *yaml.Node
	// Data is the whole document as PyYAML would have loaded it.
	Data *Mapping
	// Warnings are problems that do not stop the command (a key given
	// twice in one mapping). The CLI prints them to stderr.
	Warnings []Problem
	// Env is the environment whose overlays were merged (Options.Env),
	// "" for none. LoadCluster copies it to Cluster.Env.
	Env string

	// layers are the files of the document: [0] the config file, then
	// the environment overlay files read; origin says which layer each
	// node of an overlay file came from (absent: the config file);
	// applied are the overlay layers merged, in order.
	layers  []layer
	origin  map[*yaml.Node]int
	applied []int
	// envs are the environments the project defines.
	envs []Environment
	// interp records the scalars that had ${VAR} forms, before
	// interpolation (for Explain).
	interp map[*yaml.Node]*interpolation
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
	return LoadContext(context.Background(), path, lookup)
}

// LoadContext is Load that stops when ctx is cancelled (Ctrl-C, SIGTERM),
// whatever stage it is in, with an error that wraps ctx.Err().
func LoadContext(ctx context.Context, path string, lookup LookupFunc) (*Document, error) {
	return LoadWithOptions(ctx, path, lookup, Options{})
}

// Options change how a document is loaded.
type Options struct {
	// StrictEnv makes each unset variable used without a default (a plain
	// $VAR or ${VAR}) an error. Without it, as in compose, the variable is
	// an empty string and the document has a warning for it.
	StrictEnv bool
	// Env selects an environment: its overlays (and those it extends)
	// are merged onto the config file before interpolation. "" for none.
	Env string
	// Dir is the directory whose environments/ holds the overlay files;
	// default: the directory of the config file (of name for Parse).
	Dir string
}

// LoadWithOptions is LoadContext with options.
func LoadWithOptions(ctx context.Context, path string, lookup LookupFunc, opts Options) (*Document, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(path)
	}
	return ParseWithOptions(ctx, path, src, lookup, opts)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse is Load for bytes already read; name is used in messages.
func Parse(name string, src []byte, lookup LookupFunc) (*Document, error) {
	return ParseContext(context.Background(), name, src, lookup)
}

// ParseContext is Parse that stops when ctx is cancelled.
func ParseContext(ctx context.Context, name string, src []byte, lookup LookupFunc) (*Document, error) {
	return ParseWithOptions(ctx, name, src, lookup, Options{})
}

// ParseWithOptions is ParseContext with options.
//
// Hostile input is bounded: aliases expand at most as yaml.v3 lets them
// expand when it decodes (see aliasBudget), an alias inside its own anchor
// is an error, and every stage checks ctx.
func ParseWithOptions(ctx context.Context, name string, src []byte, lookup LookupFunc, opts Options) (*Document, error) {
	root, err := decode(ctx, name, src, false)
	if err != nil {
		return nil, err
	}
	top := root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return nil, &Error{Problems: []Problem{{File: name, Line: top.Line, Column: top.Column,
			Msg: fmt.Sprintf("the top level must be a mapping of plugin names (like `cluster:`), not %s", kindName(top))}}}
	}
	doc := &Document{Path: name, Env: opts.Env, layers: []layer{{}}, origin: map[*yaml.Node]int{},
		interp: map[*yaml.Node]*interpolation{}}
	p := problemsFor(doc)
	w := &walker{ctx: ctx, p: p, redact: NewRedactor(), unset: unsetVars{}, interp: doc.interp}
	w.duplicates(top, "")
	dir := opts.Dir
	if dir == "" {
		dir = filepath.Dir(name)
	}
	envs := &envLoader{ctx: ctx, doc: doc, dir: dir, p: p, w: w}
	top = envs.apply(top, opts.Env)
	if err := w.interrupted(name); err != nil {
		return nil, err
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	if len(doc.applied) > 0 || opts.Env != "" {
		// a merged tree: an anchor may now be reachable only through
		// its aliases
		w.seen = map[*yaml.Node]bool{}
	}
	w.interpolate(top, "", lookup)
	if err := w.interrupted(name); err != nil {
		return nil, err
	}
	if unset := w.unset.problems(doc, opts.StrictEnv); opts.StrictEnv {
		p.errs = append(p.errs, unset...)
	} else {
		p.warnings = append(p.warnings, unset...)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	conv := &converter{ctx: ctx, file: name, doc: doc}
	v, err := conv.value(top)
	if err != nil {
		return nil, err
	}
	data, _ := v.(*Mapping)
	KnownSecrets.Add(w.redact.Values(data)...)
	p.sort(p.warnings)
	doc.Root, doc.Data, doc.Warnings = top, data, p.warnings
	return doc, nil
}

// decode parses src into a node tree. yaml.v3 cannot be stopped while it
// decodes, so a huge file is decoded on its own goroutine and abandoned
// when ctx is cancelled (the process is about to exit then).
// With emptyOK, an empty document (nothing but comments) is nil, nil.
func decode(ctx context.Context, name string, src []byte, emptyOK bool) (*yaml.Node, error) {
	type result struct {
		root *yaml.Node
		err  error
	}
	if ctx.Err() != nil {
		return nil, interruptedError(ctx, name)
	}
	done := make(chan result, 1)
	go func() {
		var root yaml.Node
		err := yaml.NewDecoder(bytes.NewReader(src)).Decode(&root)
		done <- result{&root, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return nil, interruptedError(ctx, name)
	}
	if r.err != nil {
		if errors.Is(r.err, io.EOF) && emptyOK {
			return nil, nil
		}
		if errors.Is(r.err, io.EOF) {
			return nil, &Error{Problems: []Problem{{File: name, Msg: "the file is empty; it needs at least a `cluster:` section"}}}
		}
		return nil, yamlSyntaxError(name, src, r.err)
	}
	return r.root, nil
}

// ErrInterrupted is wrapped by the error of a load or render stopped by a
// signal (with the context's own error).
var ErrInterrupted = errors.New("interrupted")

func interruptedError(ctx context.Context, name string) error {
	return fmt.Errorf("read configuration %s: %w (%w)", name, ErrInterrupted, ctx.Err())
}

// unknownAnchorRE is yaml.v3's error for an alias to no anchor, which
// carries no line.
var unknownAnchorRE = regexp.MustCompile(`unknown anchor '([^']*)' referenced`)

// aliasPosition finds where `*anchor` is first used in src: the line and
// column yaml.v3 does not give for an unknown anchor (0, 0 if not found).
func aliasPosition(src []byte, anchor string) (line, col int) {
	alias := regexp.MustCompile(`\*` + regexp.QuoteMeta(anchor) + `($|[\s,\]}])`)
	for i, l := range strings.Split(string(src), "\n") {
		if loc := alias.FindStringIndex(l); loc != nil {
			return i + 1, loc[0] + 1
		}
	}
	return 0, 0
}

func yamlSyntaxError(name string, src []byte, err error) error {
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
	col := 0
	if m := unknownAnchorRE.FindStringSubmatch(msg); m != nil && line == 0 {
		line, col = aliasPosition(src, m[1])
		msg += ": define it with &" + m[1] + " before this alias, or quote the value if `*` is meant literally"
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return &Error{Problems: []Problem{{File: name, Line: line, Column: col, Msg: "YAML syntax error: " + msg}}}
}

// walker walks the node tree once (aliases are not followed: an alias
// shares its anchor's node, which is walked where it is written), checking
// ctx as it goes.
type walker struct {
	ctx    context.Context
	p      *problems
	redact *Redactor
	unset  unsetVars // plain ${VAR}s that are unset
	// interp, when set, records each scalar that has ${VAR} forms
	interp map[*yaml.Node]*interpolation
	// seen, when set, makes the walk follow aliases, each node walked
	// once: in a merged tree an anchor's own place may be gone
	seen  map[*yaml.Node]bool
	steps int
	err   error // ctx's error, once seen
}

// stop reports whether the walk must stop: ctx is checked every 1024 nodes.
func (w *walker) stop() bool {
	if w.err != nil {
		return true
	}
	if w.steps++; w.steps%1024 == 0 {
		w.err = w.ctx.Err()
	}
	return w.err != nil
}

func (w *walker) interrupted(name string) error {
	if w.err == nil && w.ctx.Err() == nil {
		return nil
	}
	return interruptedError(w.ctx, name)
}

// interpolate substitutes ${VAR} forms in every string value (never in
// keys), with compose-spec semantics. A plain scalar is re-typed after
// substitution, so `count: ${N}` is a number when N is one.
func (w *walker) interpolate(n *yaml.Node, path string, lookup LookupFunc) {
	if w.stop() {
		return
	}
	if w.seen != nil {
		if w.seen[n] {
			return
		}
		w.seen[n] = true
	}
	switch n.Kind {
	case yaml.AliasNode:
		if w.seen != nil && n.Alias != nil {
			w.interpolate(n.Alias, path, lookup)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.interpolate(n.Content[i+1], joinKey(path, n.Content[i].Value), lookup)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			w.interpolate(c, fmt.Sprintf("%s[%d]", path, i), lookup)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		var looked []lookedUp
		ip := &interpolator{lookup: func(name string) (string, bool) {
			v, ok := lookup(name)
			looked = append(looked, lookedUp{name: name, set: ok, empty: v == ""})
			return v, ok
		}}
		raw := n.Value
		out := ip.substitute(n.Value)
		missing := ip.errs
		w.unset.add(ip.unset, n.Value, n, n.Style == 0)
		if w.interp != nil {
			w.interp[n] = &interpolation{raw: raw, looked: looked, unset: ip.unset}
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
				w.p.add(n, path, "%s (set it in the environment, or give a default with ${%s:-value})", msg, req.Variable)
			case errors.As(e, &inv) && w.redact.SecretPath(path):
				// the value of a secret key is never quoted
				w.p.add(n, path, "invalid interpolation in the value (not shown: the key holds a secret); write $$ for a literal $")
			case errors.As(e, &inv):
				w.p.add(n, path, "invalid interpolation in %q (write $$ for a literal $)", n.Value)
			default:
				w.p.add(n, path, "interpolation: %v", e)
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

// duplicates warns about each key given twice in one mapping. PyYAML keeps
// the last value (in the first one's place), and so does toValue; the
// Python tool said nothing, which hid typos like a second `name:`.
// Merge keys (`<<`) are not duplicates: each one merges.
func (w *walker) duplicates(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		first := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 {
				continue
			}
			name := keyString(k)
			key := joinKey(path, name)
			if f, ok := first[name]; ok {
				w.p.warnings = append(w.p.warnings, Problem{File: w.p.fileOf(k), Line: k.Line,
					Msg: fmt.Sprintf("key %s is given twice (lines %d and %d); the last one wins, as in the Python tool", key, f.Line, k.Line)})
			} else {
				first[name] = k
			}
			w.duplicates(n.Content[i+1], key)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			w.duplicates(c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// The alias budget is yaml.v3's own (decode.go, allowedAliasRatio): once
// more than 1000 values have been read and more than 100 of them came from
// aliases, aliases may account for at most 99% of the values read in a
// document of up to 400,000 values, falling to 10% at 4,000,000. A
// "billion laughs" document trips it after a few thousand values, in
// kilobytes of memory; a real config never comes near it.
const (
	aliasRatioRangeLow  = 400000
	aliasRatioRangeHigh = 4000000
)

func allowedAliasRatio(count int) float64 {
	switch {
	case count <= aliasRatioRangeLow:
		return 0.99
	case count >= aliasRatioRangeHigh:
		return 0.10
	default:
		return 0.99 - 0.89*(float64(count-aliasRatioRangeLow)/float64(aliasRatioRangeHigh-aliasRatioRangeLow))
	}
}

// converter turns nodes into values as PyYAML would, within the alias
// budget, refusing an alias inside its own anchor, and checking ctx.
type converter struct {
	ctx        context.Context
	file       string
	doc        *Document           // when set, says which file each node is in
	count      int                 // values produced
	aliased    int                 // of which through an alias
	outer      *yaml.Node          // the outermost alias being expanded
	inProgress map[*yaml.Node]bool // nodes being converted (cycle check)
}

func (c *converter) fileOf(n *yaml.Node) string {
	if c.doc != nil {
		return c.doc.FileOf(n)
	}
	return c.file
}

// failure stops a conversion; value recovers it into an error.
type failure struct{ err error }

func (c *converter) fail(err error) { panic(failure{err}) }

// value converts n, or returns the problem that stopped it.
func (c *converter) value(n *yaml.Node) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			v, err = nil, f.err
		}
	}()
	return c.toValue(n), nil
}

func (c *converter) tick() {
	c.count++
	if c.outer != nil {
		c.aliased++
	}
	if c.count%1024 == 0 && c.ctx.Err() != nil {
		c.fail(interruptedError(c.ctx, c.file))
	}
	if c.aliased > 100 && c.count > 1000 && float64(c.aliased)/float64(c.count) > allowedAliasRatio(c.count) {
		a := c.outer
		c.fail(&Error{Problems: []Problem{{File: c.fileOf(a), Line: a.Line, Column: a.Column,
			Msg: fmt.Sprintf("the alias *%s expands into too much data: %d of the %d values read so far come from aliases "+
				"(a \"billion laughs\" document?). cloud-compose refuses this much aliasing, as yaml.v3 does "+
				"(at most %.0f%% of a document this size); write the values out or nest fewer aliases",
				a.Value, c.aliased, c.count, allowedAliasRatio(c.count)*100)}}})
	}
}

// toValue converts a node to the value PyYAML would have produced,
// following aliases and `<<` merge keys.
func (c *converter) toValue(n *yaml.Node) any {
	c.tick()
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return c.toValue(n.Content[0])
		}
		return nil
	case yaml.AliasNode:
		return c.alias(n)
	case yaml.SequenceNode:
		defer c.enter(n)()
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			out[i] = c.toValue(e)
		}
		return out
	case yaml.MappingNode:
		defer c.enter(n)()
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
				switch mv := c.toValue(v).(type) {
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
						merged = append(merged, pair{sk, sv})
					}
				}
				continue
			}
			own = append(own, pair{c.keyString(k), c.toValue(v)})
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

// enter marks n as being converted; an alias to it before it is done is a
// cycle (`a: &a [*a]`), which PyYAML turns into a self-containing list that
// no template could print.
func (c *converter) enter(n *yaml.Node) func() {
	if c.inProgress == nil {
		c.inProgress = map[*yaml.Node]bool{}
	}
	c.inProgress[n] = true
	return func() { delete(c.inProgress, n) }
}

func (c *converter) alias(n *yaml.Node) any {
	if n.Alias == nil {
		return nil
	}
	if c.inProgress[n.Alias] {
		c.fail(&Error{Problems: []Problem{{File: c.fileOf(n), Line: n.Line, Column: n.Column,
			Msg: fmt.Sprintf("the alias *%s is inside the value of its own anchor &%s (line %d): that would be an endless value; use a separate anchor",
				n.Value, n.Value, n.Alias.Line)}}})
	}
	if c.outer == nil {
		c.outer = n
		defer func() { c.outer = nil }()
	}
	return c.toValue(n.Alias)
}

func (c *converter) keyString(k *yaml.Node) string {
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return fmt.Sprint(c.toValue(k))
}

// keyString is a key as the loader stores it (for messages and lookups).
func keyString(k *yaml.Node) string {
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	v, err := (&converter{ctx: context.Background()}).value(k)
	if err != nil {
		return "?"
	}
	return fmt.Sprint(v)
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
