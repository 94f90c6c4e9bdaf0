package render

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"

	ccconfig "github.com/cloud-compose/cloud-compose-go/internal/config"
)

// jinjaConfig is Jinja2's defaults: no trim_blocks, no lstrip_blocks, the
// final newline of a template dropped.
func jinjaConfig(strict bool) *config.Config {
	c := config.New()
	c.StrictUndefined = strict
	c.KeepTrailingNewline = false
	return c
}

// environment is gonja's builtins with the changes that make it behave like
// Jinja2 on cloud-compose data: mappings keep their document order in
// items()/keys()/values() and dictsort works on them, `default` replaces only
// undefined values unless its boolean argument is true, and include errors
// name the chain of templates.
func environment() *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{})
	filters.Update(builtins.Filters)
	_ = filters.Replace("dictsort", filterDictSort)
	_ = filters.Replace("default", strictFilter(filterDefault))
	_ = filters.Replace("d", strictFilter(filterDefault))

	dict := map[string]exec.Method[map[string]any]{}
	for _, name := range []string{"items", "keys", "values"} {
		if m, ok := builtins.Methods.Dict.Get(name); ok {
			dict[name] = orderedDictMethod(name, m)
		}
	}
	dict["get"] = dictGet
	for name := range py2Methods {
		dict[name] = py2Method(name)
	}
	for _, name := range []string{"copy", "pop", "update", "setdefault", "popitem"} {
		if m, ok := builtins.Methods.Dict.Get(name); ok {
			dict[name] = m
		}
	}
	methods := builtins.Methods
	methods.Dict = exec.NewMethodSet(dict)
	str := map[string]exec.Method[string]{}
	for _, name := range strMethodNames {
		if m, ok := builtins.Methods.Str.Get(name); ok {
			str[name] = m
		}
	}
	str["split"] = strSplit
	str["replace"] = strReplace
	str["count"] = strCount
	str["rsplit"] = strRSplit
	str["strip"] = strStrip(strings.Trim, strings.TrimSpace)
	str["lstrip"] = strStrip(strings.TrimLeft, func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) })
	str["rstrip"] = strStrip(strings.TrimRight, func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) })
	methods.Str = exec.NewMethodSet(str)

	tests := exec.NewTestSet(map[string]exec.TestFunction{})
	tests.Update(builtins.Tests)
	_ = tests.Replace("none", testNone)
	strictTests(tests)

	cs := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{})
	cs.Update(builtins.ControlStructures)
	_ = cs.Replace("include", includeParser)
	guardControlStructures(cs)

	return &exec.Environment{
		Context: exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables).
			Update(exec.NewContext(map[string]any{"none": None, "None": None})),
		Filters:           filters,
		Tests:             tests,
		ControlStructures: cs,
		Methods:           methods,
	}
}

// pairs returns the ordered pairs of a mapping value, or false.
func pairs(v *exec.Value) ([]*exec.Pair, bool) {
	if v == nil || !v.Val.IsValid() {
		return nil, false
	}
	switch d := v.Interface().(type) {
	case *exec.Dict:
		return d.Pairs, true
	case exec.Dict:
		return d.Pairs, true
	}
	return nil, false
}

func orderedDictMethod(name string, fallback exec.Method[map[string]any]) exec.Method[map[string]any] {
	return func(self map[string]any, selfValue *exec.Value, args *exec.VarArgs) (any, error) {
		ps, ok := pairs(selfValue)
		if !ok {
			return fallback(self, selfValue, args)
		}
		if err := args.Take(); err != nil {
			return nil, exec.ErrInvalidCall(err)
		}
		out := make([]any, 0, len(ps))
		for _, p := range ps {
			switch name {
			case "keys":
				out = append(out, p.Key.Interface())
			case "values":
				out = append(out, p.Value.Interface())
			default:
				out = append(out, tuple{p.Key.Interface(), p.Value.Interface()})
			}
		}
		return out, nil
	}
}

// filterDictSort is Jinja2's dictsort, for ordered and plain mappings.
func filterDictSort(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	var caseSensitive, reverse bool
	by := "key"
	if err := params.Take(
		exec.PositionalArgument("case_sensitive", exec.AsValue(false), exec.BoolArgument(&caseSensitive)),
		exec.PositionalArgument("by", exec.AsValue("key"), exec.StringArgument(&by)),
		exec.KeywordArgument("reverse", exec.AsValue(false), exec.BoolArgument(&reverse)),
	); err != nil {
		return exec.AsValue(exec.ErrInvalidCall(err))
	}
	ps, ok := pairs(in)
	if !ok {
		for _, k := range in.Keys() {
			item, _ := in.GetItem(k.Interface())
			ps = append(ps, &exec.Pair{Key: k, Value: item})
		}
	}
	sorted := append([]*exec.Pair(nil), ps...)
	sortKey := func(p *exec.Pair) *exec.Value {
		if by == "value" {
			return p.Value
		}
		return p.Key
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sortKey(sorted[i]), sortKey(sorted[j])
		if a.IsNumber() && b.IsNumber() {
			return a.Float() < b.Float()
		}
		as, bs := a.String(), b.String()
		if !caseSensitive {
			as, bs = strings.ToLower(as), strings.ToLower(bs)
		}
		return as < bs
	})
	if reverse {
		for i, j := 0, len(sorted)-1; i < j; i, j = i+1, j-1 {
			sorted[i], sorted[j] = sorted[j], sorted[i]
		}
	}
	out := make([]any, len(sorted))
	for i, p := range sorted {
		out[i] = tuple{p.Key.Interface(), p.Value.Interface()}
	}
	return exec.AsValue(out)
}

// tuple prints as a Python tuple.
type tuple []any

func (t tuple) String() string { return "(" + joinRepr(t) + ")" }

func joinRepr(items []any) string {
	parts := make([]string, len(items))
	for i, e := range items {
		parts[i] = repr(e)
	}
	return strings.Join(parts, ", ")
}

func repr(v any) string {
	switch t := v.(type) {
	case string, ccconfig.Date, bool, int, float64:
		return ccconfig.PyRepr(t)
	case pyFloat:
		return ccconfig.PyFloat(float64(t))
	case *exec.Value:
		return repr(t.Interface())
	}
	return exec.AsValue(v).String()
}

// pyList is a list from the config: it prints as Python's repr of a list
// (gonja quotes strings naively and prints dates as strings).
type pyList []any

func (l pyList) String() string { return "[" + joinRepr(l) + "]" }

// pyFloat is a float from the config: it prints as Python's repr (inf, 1e+20).
type pyFloat float64

func (f pyFloat) String() string { return ccconfig.PyFloat(float64(f)) }

// filterDefault is Jinja2's default(value, default_value=”, boolean=False):
// it replaces an undefined value, and a false one only when boolean is true.
func filterDefault(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	var def *exec.Value
	var boolean bool
	if err := params.Take(
		exec.PositionalArgument("default_value", exec.AsValue(""), func(v *exec.Value) error { def = v; return nil }),
		exec.PositionalArgument("boolean", exec.AsValue(false), exec.BoolArgument(&boolean)),
	); err != nil {
		return exec.AsValue(exec.ErrInvalidCall(err))
	}
	if in.IsError() || in.IsNil() || (boolean && !in.IsTrue()) {
		return def
	}
	return in
}

// includeControlStructure is Jinja2's include over the search path; errors
// inside the included template say which template and include led there.
type includeControlStructure struct {
	location      *tokens.Token
	filename      nodes.Expression
	ignoreMissing bool
}

func (ics *includeControlStructure) Position() *tokens.Token { return ics.location }

func (ics *includeControlStructure) String() string {
	return fmt.Sprintf("Include(%s line %d)", ics.filename, ics.location.Line)
}

func (ics *includeControlStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	from := currentTemplate(r)
	v := r.Eval(ics.filename)
	if v.IsError() {
		return &Error{Template: from, Line: ics.location.Line, Msg: cleanMessage(v.Error())}
	}
	names := []string{v.String()}
	if v.IsList() {
		names = names[:0]
		for i := 0; i < v.Len(); i++ {
			names = append(names, v.Index(i).String())
		}
	}
	var file string
	var err error
	for _, name := range names {
		if file, err = r.Loader.Resolve(name); err == nil {
			break
		}
	}
	if err != nil {
		if ics.ignoreMissing {
			return nil
		}
		return &Error{Template: from, Line: ics.location.Line, Msg: err.Error(), Err: err}
	}
	inherited, err := r.Loader.Inherit(file)
	if err != nil {
		return depthError(r.Loader, err, ics.location.Line)
	}
	loader := inherited.(*searchLoader)
	tpl, err := exec.NewTemplate(file, r.Config, loader, r.Environment)
	if err != nil {
		return addFrame(parseError(loader, file, err), from, ics.location.Line)
	}
	// Jinja2 gives an included template the context and the loop
	// variables, but not `loop` itself.
	env := *r.Environment
	env.Context = r.Environment.Context.Inherit()
	env.Context.Set("loop", nil)
	sub := exec.NewRenderer(&env, r.Output, r.Config.Inherit(), loader, tpl)
	guardSelf(sub)
	if err := renderIncluded(sub); err != nil {
		return addFrame(executionError(loader, file, err), from, ics.location.Line)
	}
	return nil
}

// renderIncluded runs an included template; a panic in gonja becomes an
// error of that template (see execute).
func renderIncluded(r *exec.Renderer) (err error) {
	defer recoverPanic(&err)
	return r.Execute()
}

// recoverPanic turns a panic inside gonja (it has a few, such as Python's
// "%s" % x string formatting, which it treats as an integer modulo) into a
// template error instead of a crash. Use it deferred.
func recoverPanic(err *error) {
	if p := recover(); p != nil {
		if e, ok := p.(*Error); ok {
			*err = e
			return
		}
		*err = &Error{Msg: fmt.Sprintf("the template engine failed on an expression it does not support (%v); see docs/migrating.md, \"Templates\"", p)}
	}
}

func includeParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	cs := &includeControlStructure{location: p.Current()}
	expr, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	cs.filename = expr
	if args.MatchName("ignore") != nil {
		if args.MatchName("missing") != nil {
			cs.ignoreMissing = true
		} else {
			args.Stream().Backup()
		}
	}
	if tok := args.MatchName("with", "without"); tok != nil {
		if args.MatchName("context") == nil {
			args.Stream().Backup()
		}
	}
	if !args.End() {
		return nil, args.Error("malformed include tag", nil)
	}
	return cs, nil
}

func currentTemplate(r *exec.Renderer) string {
	if l, ok := r.Loader.(*searchLoader); ok {
		return l.rel(l.current)
	}
	return ""
}

// Error is a template problem: the template, the line, what is wrong, and
// the chain of includes that led there (innermost first).
type Error struct {
	Template string
	Line     int
	Msg      string
	Chain    []Frame
	Err      error

	recursion bool // a MaxIncludeDepth/MaxMacroDepth error: no include chain
}

// Frame is one include on the way to an error.
type Frame struct {
	Template string
	Line     int
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Template)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	for _, f := range e.Chain {
		fmt.Fprintf(&b, "\n  included from %s:%d", f.Template, f.Line)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func addFrame(err error, template string, line int) error {
	var te *Error
	if errors.As(err, &te) {
		if !te.recursion {
			te.Chain = append(te.Chain, Frame{Template: template, Line: line})
		}
		return te
	}
	return err
}

var (
	lineRE       = regexp.MustCompile(`(?i)\bline[: ]+(\d+)`)
	undefNameRE  = regexp.MustCompile(`Unable to evaluate name "([^"]+)"`)
	undefAttrRE  = regexp.MustCompile(`Unable to evaluate ([^:]+): attribute '([^']+)' not found`)
	renderExprRE = regexp.MustCompile(`(?s)^Unable to render expression at line \d+: (.*)$`)
	undefItemRE  = regexp.MustCompile(`(?i)unable to evaluate ([^:]+): item '*([^' ]+?)'* not found`)
	// gonja's "unknown method" message repeats the whole value (a mapping
	// of secrets, say): only the method name is kept.
	unknownMethodRE = regexp.MustCompile(`(?s)invalid call to method '([^']+)' of .*: unknown method '[^']+' for '`)
)

// executionError turns a gonja execution error into an *Error for file.
func executionError(l *searchLoader, file string, err error) error {
	if l.state != nil && l.state.err != nil {
		return l.state.err
	}
	var te *Error
	if errors.As(err, &te) {
		if te.Template == "" {
			te.Template = l.rel(file)
		}
		return te
	}
	msg := err.Error()
	return &Error{Template: l.rel(file), Line: lineOf(msg), Msg: cleanMessage(msg), Err: err}
}

// lineOf finds the template line gonja names in a message (0: none).
func lineOf(msg string) int {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// parseError turns a gonja parse error into an *Error for file.
func parseError(l *searchLoader, file string, err error) error {
	if l.state != nil && l.state.err != nil {
		return l.state.err
	}
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	msg := innermost(err).Error()
	e := &Error{Template: l.rel(file), Line: lineOf(msg), Msg: "syntax error: " + cleanMessage(msg), Err: err}
	var nf *notFoundError
	if errors.As(err, &nf) {
		e.Msg = nf.Error()
	} else if e.Line == 0 {
		e.Line = syntaxErrorLine(l, file, msg)
	}
	return e
}

// cleanMessage keeps the part of a gonja message a user can act on.
func cleanMessage(msg string) string {
	if m := py2MethodRE.FindString(msg); m != "" {
		return m
	}
	if m := unknownMethodRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("no method %s() on this value (Jinja2: it has no attribute %q)", m[1], m[1])
	}
	if m := undefNameRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%q is undefined (no config key, template variable or environment variable has that name)", m[1])
	}
	if m := undefAttrRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is undefined: %q has no key %q (guard it with `is defined` or `|default(...)`)", m[1], strings.TrimSuffix(m[1], "."+m[2]), m[2])
	}
	if m := undefItemRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is undefined: no item %q", m[1], m[2])
	}
	msg = strings.TrimPrefix(msg, "unable to execute template: ")
	if m := renderExprRE.FindStringSubmatch(msg); m != nil {
		msg = m[1]
	}
	msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), ":"))
	return msg
}

// NoneValue is YAML's null as templates see it: Jinja2 prints None as
// "None", treats it as false, and as defined. gonja's nil is none of these
// (it prints nothing and counts as undefined), so null values are handed to
// templates as this integer-kinded sentinel: false in `if`, "None" when
// printed, `is none` true.
type NoneValue int

// None is the one NoneValue.
const None NoneValue = 0

func (NoneValue) String() string { return "None" }

func testNone(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
	if in.IsNil() {
		return true, nil
	}
	_, ok := in.Interface().(NoneValue)
	return ok, nil
}

var strMethodNames = []string{"capitalize", "casefold", "center", "count", "endswith", "expandtabs", "find", "format",
	"index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
	"isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "partition", "removeprefix",
	"removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "splitlines", "startswith",
	"strip", "swapcase", "title", "upper", "zfill"}

// strSplit is Python's str.split: without a separator it splits on runs of
// white space and drops empty strings.
func strSplit(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	sep, maxsplit, err := splitArgs(args)
	if err != nil {
		return nil, err
	}
	var parts []string
	if sep == nil || sep.IsNil() {
		fields := strings.Fields(self)
		if maxsplit >= 0 && len(fields) > maxsplit {
			// keep the rest of the string after maxsplit fields, left-trimmed
			rest := self
			for i := 0; i < maxsplit; i++ {
				rest = strings.TrimLeft(rest, " \t\n\r\v\f")
				rest = rest[len(fields[i]):]
			}
			fields = append(fields[:maxsplit], strings.TrimLeft(rest, " \t\n\r\v\f"))
		}
		parts = fields
	} else {
		if sep.String() == "" {
			return nil, errors.New("empty separator")
		}
		parts = strings.SplitN(self, sep.String(), maxsplit+boolInt(maxsplit >= 0))
		if maxsplit < 0 {
			parts = strings.Split(self, sep.String())
		}
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// strStrip is Python's strip family: without an argument white space goes,
// with one, any of its characters.
func strStrip(chars func(string, string) string, space func(string) string) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		var arg *exec.Value
		if err := args.Take(
			exec.PositionalArgument("chars", exec.AsValue(nil), func(v *exec.Value) error { arg = v; return nil }),
		); err != nil {
			return nil, exec.ErrInvalidCall(err)
		}
		if arg == nil || arg.IsNil() {
			return space(self), nil
		}
		return chars(self, arg.String()), nil
	}
}

// dictGet is dict.get(key, default=None) keeping the stored value as is
// (a null stays None).
func dictGet(self map[string]any, selfValue *exec.Value, args *exec.VarArgs) (any, error) {
	var key, def *exec.Value
	if err := args.Take(
		exec.PositionalArgument("key", nil, func(v *exec.Value) error { key = v; return nil }),
		exec.PositionalArgument("default", exec.AsValue(None), func(v *exec.Value) error { def = v; return nil }),
	); err != nil {
		return nil, exec.ErrInvalidCall(err)
	}
	if ps, ok := pairs(selfValue); ok {
		for _, p := range ps {
			if p.Key.EqualValueTo(key) {
				return p.Value.Interface(), nil
			}
		}
		return def.Interface(), nil
	}
	if v, ok := self[key.String()]; ok {
		return v, nil
	}
	return def.Interface(), nil
}

// strRSplit is Python's str.rsplit(sep=None, maxsplit=-1): splits from the right.
func strRSplit(self string, v *exec.Value, args *exec.VarArgs) (any, error) {
	sep, maxsplit, err := splitArgs(args)
	if err != nil {
		return nil, err
	}
	if maxsplit < 0 || sep == nil || sep.IsNil() {
		return strSplit(self, v, exec.NewVarArgs())
	}
	s := sep.String()
	if s == "" {
		return nil, errors.New("empty separator")
	}
	var rev []any
	rest := self
	for i := 0; i < maxsplit; i++ {
		j := strings.LastIndex(rest, s)
		if j < 0 {
			break
		}
		rev = append(rev, rest[j+len(s):])
		rest = rest[:j]
	}
	out := []any{rest}
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, rev[i])
	}
	return out, nil
}

// strReplace is Python's str.replace(old, new, count=-1).
func strReplace(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	var old, repl string
	count := -1
	if err := args.Take(
		exec.PositionalArgument("old", nil, exec.StringArgument(&old)),
		exec.PositionalArgument("new", nil, exec.StringArgument(&repl)),
		exec.PositionalArgument("count", exec.AsValue(-1), exec.IntArgument(&count)),
	); err != nil {
		return nil, exec.ErrInvalidCall(err)
	}
	return strings.Replace(self, old, repl, count), nil
}

// strCount is Python's str.count(sub[, start[, end]]).
func strCount(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	var sub string
	start, end := 0, len(self)
	if err := args.Take(
		exec.PositionalArgument("sub", nil, exec.StringArgument(&sub)),
		exec.PositionalArgument("start", exec.AsValue(0), exec.IntArgument(&start)),
		exec.PositionalArgument("end", exec.AsValue(len(self)), exec.IntArgument(&end)),
	); err != nil {
		return nil, exec.ErrInvalidCall(err)
	}
	clamp := func(i int) int {
		if i < 0 {
			i += len(self)
		}
		return max(0, min(i, len(self)))
	}
	start, end = clamp(start), clamp(end)
	if start > end {
		return 0, nil
	}
	return strings.Count(self[start:end], sub), nil
}

// splitArgs takes split's and rsplit's arguments: (sep=None, maxsplit=-1).
func splitArgs(args *exec.VarArgs) (sep *exec.Value, maxsplit int, err error) {
	maxsplit = -1
	if err := args.Take(
		exec.PositionalArgument("sep", exec.AsValue(nil), func(v *exec.Value) error { sep = v; return nil }),
		exec.PositionalArgument("maxsplit", exec.AsValue(-1), exec.IntArgument(&maxsplit)),
	); err != nil {
		return nil, 0, exec.ErrInvalidCall(err)
	}
	return sep, maxsplit, nil
}
