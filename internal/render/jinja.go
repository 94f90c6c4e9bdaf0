package render

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

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
	_ = filters.Replace("default", filterDefault)
	_ = filters.Replace("d", filterDefault)

	dict := map[string]exec.Method[map[string]any]{}
	for _, name := range []string{"items", "keys", "values"} {
		if m, ok := builtins.Methods.Dict.Get(name); ok {
			dict[name] = orderedDictMethod(name, m)
		}
	}
	for _, name := range []string{"get", "copy", "pop", "update", "setdefault", "popitem"} {
		if m, ok := builtins.Methods.Dict.Get(name); ok {
			dict[name] = m
		}
	}
	methods := builtins.Methods
	methods.Dict = exec.NewMethodSet(dict)

	cs := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{})
	cs.Update(builtins.ControlStructures)
	_ = cs.Replace("include", includeParser)

	return &exec.Environment{
		Context:           exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables),
		Filters:           filters,
		Tests:             builtins.Tests,
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
				out = append(out, []any{p.Key.Interface(), p.Value.Interface()})
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

func (t tuple) String() string {
	parts := make([]string, len(t))
	for i, e := range t {
		parts[i] = repr(e)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func repr(v any) string {
	switch t := v.(type) {
	case string:
		return ccconfig.PyRepr(t)
	case *exec.Value:
		return repr(t.Interface())
	}
	return exec.AsValue(v).String()
}

// filterDefault is Jinja2's default(value, default_value='', boolean=False):
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
	if in.IsError() || (boolean && !in.IsTrue()) {
		return def
	}
	if in.IsNil() && !boolean {
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
	name := v.String()
	file, err := r.Loader.Resolve(name)
	if err != nil {
		if ics.ignoreMissing {
			return nil
		}
		return &Error{Template: from, Line: ics.location.Line, Msg: err.Error(), Err: err}
	}
	inherited, _ := r.Loader.Inherit(file)
	loader := inherited.(*searchLoader)
	tpl, err := exec.NewTemplate(file, r.Config, loader, r.Environment)
	if err != nil {
		return addFrame(parseError(loader, file, err), from, ics.location.Line)
	}
	if err := exec.NewRenderer(r.Environment, r.Output, r.Config.Inherit(), loader, tpl).Execute(); err != nil {
		return addFrame(executionError(loader, file, err), from, ics.location.Line)
	}
	return nil
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
		te.Chain = append(te.Chain, Frame{Template: template, Line: line})
		return te
	}
	return err
}

var (
	lineRE      = regexp.MustCompile(`(?i)\bline[: ]+(\d+)`)
	undefNameRE = regexp.MustCompile(`Unable to evaluate name "([^"]+)"`)
	undefAttrRE = regexp.MustCompile(`Unable to evaluate ([^:]+): attribute '([^']+)' not found`)
	undefItemRE = regexp.MustCompile(`Unable to evaluate ([^:]+): item '?([^' ]+)'? not found`)
)

// executionError turns a gonja execution error into an *Error for file.
func executionError(l *searchLoader, file string, err error) error {
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	msg := err.Error()
	e := &Error{Template: l.rel(file), Msg: cleanMessage(msg), Err: err}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

// parseError turns a gonja parse error into an *Error for file.
func parseError(l *searchLoader, file string, err error) error {
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	inner := err
	for u := errors.Unwrap(inner); u != nil; u = errors.Unwrap(inner) {
		inner = u
	}
	msg := inner.Error()
	e := &Error{Template: l.rel(file), Msg: "syntax error: " + cleanMessage(msg), Err: err}
	var nf *notFoundError
	if errors.As(err, &nf) {
		e.Msg = nf.Error()
	}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

// cleanMessage keeps the part of a gonja message a user can act on.
func cleanMessage(msg string) string {
	if m := undefNameRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%q is undefined (no config key, template variable or environment variable has that name)", m[1])
	}
	if m := undefAttrRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is undefined: %q has no key %q (guard it with `is defined` or `|default(...)`)", m[1], strings.TrimSuffix(m[1], "."+m[2]), m[2])
	}
	if m := undefItemRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is undefined: no item %s", m[1], m[2])
	}
	msg = strings.TrimPrefix(msg, "unable to execute template: ")
	if i := strings.LastIndex(msg, ": "); i > 0 && strings.HasPrefix(msg, "Unable to render") {
		msg = msg[i+2:]
	}
	return msg
}
