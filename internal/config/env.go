package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Environments (docs/configuration.md, "Environments"): an environment is
// an overlay shaped like cloud-compose.yml, defined in a file
// environments/NAME.yml next to the config file or under the top-level
// `environments:` key, that may extend another one. The overlays of the
// selected environment's chain are merged onto the base file's node tree
// before interpolation and validation, and every node keeps its position
// and remembers its file, so that problems point at the layer that set the
// value.

// EnvironmentsKey is the top-level key that defines environments inline.
// It is reserved: never a plugin, never template data, never printed.
const EnvironmentsKey = "environments"

// EnvironmentsDir is the directory, next to the config file, of the
// environment overlay files (EnvironmentsDir/NAME.yml).
const EnvironmentsDir = "environments"

// ExtendsKey is the key of an overlay naming the environment it extends.
const ExtendsKey = "extends"

// EnvNameRE is what an environment name may contain: letters, digits, '-'
// and '_' (the name becomes part of instance names, tags and file names).
var EnvNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// MaxEnvNameLen bounds an environment name, as MaxNodeIDLen bounds a node
// id: both are parts of instance names and tags.
const MaxEnvNameLen = MaxNodeIDLen

// CheckEnvName returns what is wrong with an environment name, or "".
func CheckEnvName(name string) string {
	switch {
	case name == "":
		return "an environment name cannot be empty"
	case !EnvNameRE.MatchString(name):
		return fmt.Sprintf("environment name %q has characters an environment name cannot have (%s): use only letters, digits, - and _", name, badEnvChars(name))
	case len(name) > MaxEnvNameLen:
		return fmt.Sprintf("environment name %q is %d characters long; at most %d (it is part of instance names and tags)", name, len(name), MaxEnvNameLen)
	}
	return ""
}

// badEnvChars lists, quoted, the characters of s outside EnvNameRE.
func badEnvChars(s string) string {
	bad := badChars(s)
	if strings.Contains(s, ".") {
		bad = strings.TrimSpace(bad + " '.'")
	}
	return bad
}

// Environment is one environment a project defines.
type Environment struct {
	Name string
	// File is where it is defined, relative to the config file's
	// directory: environments/NAME.yml, or the config file's name for an
	// entry of its `environments:` mapping.
	File string
	// Line is the line of the entry in the `environments:` mapping; 0 for
	// a file.
	Line int
}

// Where is File, with the line when there is one.
func (e Environment) Where() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return e.File
}

// ListEnvironments returns the environments of the project whose config
// file is path: the overlay files and the entries of its `environments:`
// mapping, sorted by name (a name defined in both places is listed twice).
// It reads what it can and reports no problem: it is for completion and
// listings; loading with Options.Env checks everything.
func ListEnvironments(path string) []Environment {
	var out []Environment
	for name, rel := range envFiles(filepath.Dir(path)) {
		out = append(out, Environment{Name: name, File: rel})
	}
	if src, err := os.ReadFile(path); err == nil {
		var root yaml.Node
		if yaml.Unmarshal(src, &root) == nil && len(root.Content) == 1 {
			if n := resolve(mappingValue(root.Content[0], EnvironmentsKey)); n != nil && n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					k := n.Content[i]
					if CheckEnvName(k.Value) == "" {
						out = append(out, Environment{Name: k.Value, File: filepath.Base(path), Line: k.Line})
					}
				}
			}
		}
	}
	sortEnvironments(out)
	return out
}

func sortEnvironments(es []Environment) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Name != es[j].Name {
			return es[i].Name < es[j].Name
		}
		return es[i].File < es[j].File
	})
}

// envFiles maps each environment name to its overlay file in dir's
// EnvironmentsDir, relative to dir (NAME.yml, or NAME.yaml when there is
// no NAME.yml). Names that are not environment names are left out.
func envFiles(dir string) map[string]string {
	out := map[string]string{}
	ents, err := os.ReadDir(filepath.Join(dir, EnvironmentsDir))
	if err != nil {
		return out
	}
	for _, e := range ents {
		ext := filepath.Ext(e.Name())
		name := strings.TrimSuffix(e.Name(), ext)
		if (ext != ".yml" && ext != ".yaml") || CheckEnvName(name) != "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, EnvironmentsDir, e.Name())); err != nil || st.IsDir() {
			continue
		}
		if _, ok := out[name]; ok && ext == ".yaml" {
			continue // NAME.yml wins
		}
		out[name] = filepath.Join(EnvironmentsDir, e.Name())
	}
	return out
}

// layer is one file of a merged document: [0] is the config file.
type layer struct {
	rel string // relative to the config file's directory ("" for the config file)
}

// envDef is one environment definition found while loading.
type envDef struct {
	Environment
	overlay *yaml.Node // the overlay mapping (nil: empty)
	extends *yaml.Node // the value of its extends key, nil without one
	key     *yaml.Node // the entry's key in `environments:`; nil for a file
}

// envLoader applies the selected environment's chain to a document.
type envLoader struct {
	ctx    context.Context
	doc    *Document
	dir    string // the config file's real directory
	p      *problems
	w      *walker
	inline map[string]*envDef
	files  map[string]string // name -> path relative to dir
	defs   map[string]*envDef
}

// FileOf returns the file node n of the document was read from, as
// messages show it: the config file (Path) or an overlay file next to it.
func (d *Document) FileOf(n *yaml.Node) string {
	i := d.origin[n]
	if i <= 0 || i >= len(d.layers) {
		return d.Path
	}
	return filepath.Join(filepath.Dir(d.Path), d.layers[i].rel)
}

// files are the document's files in the order they were applied.
func (d *Document) files() []string {
	out := []string{d.Path}
	for _, i := range d.applied {
		out = append(out, filepath.Join(filepath.Dir(d.Path), d.layers[i].rel))
	}
	return out
}

// sortByFile orders problems by file: the config file, then the overlays
// in the order they were applied (problems of one file keep their order).
func (d *Document) sortByFile(ps []Problem) {
	if len(d.layers) <= 1 {
		return
	}
	rank := map[string]int{}
	for i, f := range d.files() {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	r := func(f string) int {
		if i, ok := rank[f]; ok {
			return i
		}
		return len(rank)
	}
	sort.SliceStable(ps, func(i, j int) bool { return r(ps[i].File) < r(ps[j].File) })
}

// Environments returns the environments the project defines (the overlay
// files next to the config file and the `environments:` entries), sorted
// by name, as found when the document was loaded.
func (d *Document) Environments() []Environment {
	return append([]Environment(nil), d.envs...)
}

// apply removes the `environments:` key from top (the document's base
// mapping), finds the environments, and, when env is set, merges its
// chain of overlays onto top. It returns the tree to interpolate; the
// problems found are in l.p.
func (l *envLoader) apply(top *yaml.Node, env string) *yaml.Node {
	l.inline = map[string]*envDef{}
	l.defs = map[string]*envDef{}
	var inlineNode *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if k := top.Content[i]; k.Kind == yaml.ScalarNode && k.Value == EnvironmentsKey {
			inlineNode = top.Content[i+1]
			top.Content = append(top.Content[:i:i], top.Content[i+2:]...)
			i -= 2
		}
	}
	l.files = map[string]string{}
	if inlineNode != nil || env != "" {
		l.files = envFiles(l.dir)
	}
	if inlineNode != nil {
		l.readInline(inlineNode)
	}
	for name, rel := range l.files {
		l.doc.envs = append(l.doc.envs, Environment{Name: name, File: rel})
	}
	sortEnvironments(l.doc.envs)
	if env == "" || len(l.p.errs) > 0 {
		return top
	}
	if msg := CheckEnvName(env); msg != "" {
		l.p.errs = append(l.p.errs, Problem{File: l.doc.Path, Msg: msg})
		return top
	}
	chain := l.chain(env)
	if chain == nil {
		return top
	}
	m := newMerger(l.doc.origin)
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i].overlay != nil {
			top = m.merge(top, chain[i].overlay)
		}
		if idx := l.doc.origin[chain[i].overlay]; chain[i].key == nil && idx > 0 {
			l.doc.applied = append(l.doc.applied, idx)
		}
	}
	return top
}

// readInline reads the `environments:` mapping n of the config file.
func (l *envLoader) readInline(n *yaml.Node) {
	v := resolve(n)
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		l.p.add(n, EnvironmentsKey, "must be a mapping of environment names to overlays (like `staging: {cluster: {aws: {instance_type: t3.small}}}`), not %s", kindName(v))
		return
	}
	for _, pr := range newMerger(nil).pairs(v) {
		key := joinKey(EnvironmentsKey, pr.name)
		if msg := CheckEnvName(pr.name); msg != "" {
			l.p.add(pr.k, key, "%s", msg)
			continue
		}
		def := &envDef{Environment: Environment{Name: pr.name, File: filepath.Base(l.doc.Path), Line: pr.k.Line}, key: pr.k}
		if rel, ok := l.files[pr.name]; ok {
			l.p.add(pr.k, key, "environment %s is defined twice: here (%s:%d) and in %s; keep one of them",
				pr.name, filepath.Base(l.doc.Path), pr.k.Line, rel)
			continue
		}
		body := resolve(pr.v)
		switch {
		case isNull(body):
		case body.Kind == yaml.MappingNode:
			def.overlay = l.overlayBody(body, key)
			def.extends = l.extends(body, key)
		default:
			l.p.add(pr.v, key, "an environment must be a mapping shaped like cloud-compose.yml (like `cluster: {aws: {instance_type: m5.large}}`), not %s", kindName(body))
			continue
		}
		l.inline[pr.name] = def
		l.doc.envs = append(l.doc.envs, def.Environment)
	}
}

// overlayBody returns the overlay mapping n without its extends key,
// after checking that it does not define environments itself. path is
// where n is, for messages ("" for a file's top level).
func (l *envLoader) overlayBody(n *yaml.Node, path string) *yaml.Node {
	out := *n
	out.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode {
			switch k.Value {
			case ExtendsKey:
				continue
			case EnvironmentsKey:
				l.p.add(k, joinKey(path, EnvironmentsKey), "environments cannot be defined inside an environment: define each one in %s/NAME.yml or in the config file's `environments:`", EnvironmentsDir)
				continue
			}
		}
		out.Content = append(out.Content, k, n.Content[i+1])
	}
	if i, ok := l.doc.origin[n]; ok {
		l.doc.origin[&out] = i
	}
	return &out
}

// extends returns the value node of the overlay's extends key, checked:
// nil when there is none or it is wrong (a problem is recorded).
func (l *envLoader) extends(n *yaml.Node, path string) *yaml.Node {
	v := mappingValue(n, ExtendsKey)
	if v == nil {
		return nil
	}
	key := joinKey(path, ExtendsKey)
	r := resolve(v)
	if r.Kind != yaml.ScalarNode || isNull(r) {
		l.p.add(v, key, "must be the name of another environment (a string), not %s", kindName(r))
		return nil
	}
	if _, ok := scalarValue(r).(string); !ok {
		l.p.add(v, key, "must be the name of another environment (a string), not %s", kindName(r))
		return nil
	}
	if msg := CheckEnvName(r.Value); msg != "" {
		l.p.add(v, key, "%s", msg)
		return nil
	}
	return v
}

// lookup returns the definition of the environment name, reading its
// file the first time; nil when there is none (or it could not be read:
// the problem is recorded).
func (l *envLoader) lookup(name string) *envDef {
	if d, ok := l.defs[name]; ok {
		return d
	}
	d := l.inline[name]
	if d == nil {
		if rel, ok := l.files[name]; ok {
			d = l.readFile(name, rel)
		}
	}
	l.defs[name] = d
	return d
}

// readFile reads the overlay file rel (relative to the config file's
// directory) of environment name.
func (l *envLoader) readFile(name, rel string) *envDef {
	def := &envDef{Environment: Environment{Name: name, File: rel}}
	shown := filepath.Join(filepath.Dir(l.doc.Path), rel)
	src, err := os.ReadFile(filepath.Join(l.dir, rel))
	if err != nil {
		l.p.errs = append(l.p.errs, Problem{File: shown, Msg: fmt.Sprintf("read environment %s: %v", name, err)})
		return nil
	}
	root, err := decode(l.ctx, shown, src, true)
	if err != nil {
		if e, ok := err.(*Error); ok {
			l.p.errs = append(l.p.errs, e.Problems...)
		} else {
			l.p.errs = append(l.p.errs, Problem{File: shown, Msg: err.Error()})
		}
		return nil
	}
	idx := len(l.doc.layers)
	l.doc.layers = append(l.doc.layers, layer{rel: rel})
	if root == nil {
		return def // an empty file: an overlay that changes nothing
	}
	top := root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	markLayer(top, idx, l.doc.origin)
	if isNull(top) {
		return def
	}
	if top.Kind != yaml.MappingNode {
		l.p.add(top, "", "an environment overlay must be a mapping shaped like cloud-compose.yml (like `cluster: {aws: {instance_type: m5.large}}`), not %s", kindName(top))
		return nil
	}
	l.w.duplicates(top, "")
	def.overlay = l.overlayBody(top, "")
	def.extends = l.extends(top, "")
	return def
}

// markLayer records that n and every node under it (aliases not
// followed: their anchors are in the same file) come from layer idx.
func markLayer(n *yaml.Node, idx int, origin map[*yaml.Node]int) {
	if n == nil {
		return
	}
	if _, ok := origin[n]; ok {
		return
	}
	origin[n] = idx
	for _, c := range n.Content {
		markLayer(c, idx, origin)
	}
}

// chain returns env's definition followed by the ones it extends, the
// last one extending nothing; nil when the chain is broken (the problem is
// recorded).
func (l *envLoader) chain(env string) []*envDef {
	d := l.lookup(env)
	if d == nil {
		if len(l.p.errs) > 0 {
			return nil // the file could not be read
		}
		l.p.errs = append(l.p.errs, Problem{File: l.doc.Path, Msg: l.unknown(env)})
		return nil
	}
	chain := []*envDef{d}
	names := []string{env}
	for d.extends != nil {
		next := resolve(d.extends).Value
		for i, n := range names {
			if n == next {
				cycle := append(append([]string(nil), names[i:]...), next)
				l.p.add(d.extends, d.extendsKey(), "environments extend each other in a cycle: %s; one of them must extend nothing", strings.Join(cycle, " → "))
				return nil
			}
		}
		nd := l.lookup(next)
		if nd == nil {
			if len(l.p.errs) == 0 {
				l.p.add(d.extends, d.extendsKey(), "environment %s extends %s", d.Name, l.unknown(next))
			}
			return nil
		}
		names = append(names, next)
		chain = append(chain, nd)
		d = nd
	}
	return chain
}

func (d *envDef) extendsKey() string {
	if d.key != nil {
		return joinKey(joinKey(EnvironmentsKey, d.Name), ExtendsKey)
	}
	return ExtendsKey
}

// unknown says that environment name does not exist and which ones do.
func (l *envLoader) unknown(name string) string {
	if len(l.doc.envs) == 0 {
		return fmt.Sprintf("unknown environment %q: the project defines no environments; add %s/%s.yml next to %s, or an `environments:` mapping to it",
			name, EnvironmentsDir, name, filepath.Base(l.doc.Path))
	}
	var known []string
	for _, e := range l.doc.envs {
		known = append(known, e.Name+" ("+e.Where()+")")
	}
	return fmt.Sprintf("unknown environment %q; the environments are: %s", name, strings.Join(known, ", "))
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// merger deep-merges overlay trees onto a base tree: mappings merge by
// key, lists and scalars replace, a null deletes the key (as in JSON Merge
// Patch, RFC 7386). Neither tree is changed: a mapping both sides have is
// a new node, with the position of the base's (and its file), whose pairs
// are the nodes of the layers that set them.
type merger struct {
	origin map[*yaml.Node]int
	memo   map[*yaml.Node][]pair
	busy   map[*yaml.Node]bool
	nulls  map[*yaml.Node]bool // hasNull's answers
}

func newMerger(origin map[*yaml.Node]int) *merger {
	return &merger{origin: origin, memo: map[*yaml.Node][]pair{}, busy: map[*yaml.Node]bool{}, nulls: map[*yaml.Node]bool{}}
}

// pair is one key and value of a mapping.
type pair struct {
	k, v *yaml.Node
	name string
}

// pairs returns the pairs of mapping n as the loader reads them (PyYAML's
// flatten_mapping): those of `<<` merges first (of a list of merges, the
// last one first), then n's own; a later pair replaces the value of an
// earlier one with the same key, which keeps its place.
func (m *merger) pairs(n *yaml.Node) []pair {
	n = resolve(n)
	if ps, ok := m.memo[n]; ok {
		return ps
	}
	if m.busy[n] {
		return nil // an alias inside its own anchor: the converter reports it
	}
	m.busy[n] = true
	defer delete(m.busy, n)
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 {
			var subs []*yaml.Node
			switch mv := resolve(v); mv.Kind {
			case yaml.MappingNode:
				subs = append(subs, mv)
			case yaml.SequenceNode:
				for _, e := range mv.Content {
					if re := resolve(e); re.Kind == yaml.MappingNode {
						subs = append(subs, re)
					}
				}
			}
			for j := len(subs) - 1; j >= 0; j-- {
				merged = append(merged, m.pairs(subs[j])...)
			}
			continue
		}
		own = append(own, pair{k: k, v: v, name: keyString(k)})
	}
	var out []pair
	at := map[string]int{}
	for _, p := range append(merged, own...) {
		if i, ok := at[p.name]; ok {
			out[i].k, out[i].v = p.k, p.v
			continue
		}
		at[p.name] = len(out)
		out = append(out, p)
	}
	m.memo[n] = out
	return out
}

// copyOf returns a copy of mapping n with the given pairs, from n's file.
func (m *merger) copyOf(n *yaml.Node, ps []pair) *yaml.Node {
	out := *n
	out.Anchor = ""
	out.Content = make([]*yaml.Node, 0, 2*len(ps))
	for _, p := range ps {
		out.Content = append(out.Content, p.k, p.v)
	}
	if i, ok := m.origin[n]; ok && m.origin != nil {
		m.origin[&out] = i
	}
	return &out
}

// merge returns over merged onto base (both mappings, or aliases of one).
func (m *merger) merge(base, over *yaml.Node) *yaml.Node {
	base, over = resolve(base), resolve(over)
	ps := append([]pair(nil), m.pairs(base)...)
	for _, op := range m.pairs(over) {
		i := -1
		for j := range ps {
			if ps[j].name == op.name {
				i = j
				break
			}
		}
		ov := resolve(op.v)
		switch {
		case isNull(ov):
			if i >= 0 {
				ps = append(ps[:i], ps[i+1:]...)
			}
		case i >= 0 && ov.Kind == yaml.MappingNode && resolve(ps[i].v).Kind == yaml.MappingNode:
			ps[i].v = m.merge(ps[i].v, ov)
		default:
			np := pair{k: op.k, v: m.clean(op.v), name: op.name}
			if i >= 0 {
				ps[i] = np
			} else {
				ps = append(ps, np)
			}
		}
	}
	return m.copyOf(base, ps)
}

// clean returns n without the null values of its mappings (at any depth,
// lists excepted): an overlay's null deletes, even where the base has
// nothing to delete. n itself when it has none.
func (m *merger) clean(n *yaml.Node) *yaml.Node {
	r := resolve(n)
	if r.Kind != yaml.MappingNode || !m.hasNull(r) {
		return n
	}
	var ps []pair
	for _, p := range m.pairs(r) {
		if isNull(resolve(p.v)) {
			continue
		}
		ps = append(ps, pair{k: p.k, v: m.clean(p.v), name: p.name})
	}
	return m.copyOf(r, ps)
}

func (m *merger) hasNull(n *yaml.Node) bool {
	if has, ok := m.nulls[n]; ok {
		return has
	}
	m.nulls[n] = false // a cycle: the converter reports it
	has := false
	for _, p := range m.pairs(n) {
		v := resolve(p.v)
		if isNull(v) || (v.Kind == yaml.MappingNode && m.hasNull(v)) {
			has = true
			break
		}
	}
	m.nulls[n] = has
	return has
}
