package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Recursion limits. gonja, unlike Jinja2, has no recursion limit of its
// own: an include loop or a macro that calls itself grew the Go stack to
// 1 GB and crashed the process. Jinja2 (CPython's default recursion limit
// of 1000 frames) fails the same templates with a RecursionError after
// about 990 nested includes and about 250 nested macro calls; these limits
// are the same, so a template that renders with the Python tool renders
// here, and one that cannot fails in the same way, as a template error.
const (
	// MaxIncludeDepth is how deep templates may include, extend or import
	// one another.
	MaxIncludeDepth = 990
	// MaxMacroDepth is how deep macro calls may nest.
	MaxMacroDepth = 250
)

// ErrInterrupted is wrapped by the error of a render stopped by a signal,
// with the context's own error.
var ErrInterrupted = errors.New("interrupted")

// renderState is shared by everything one render runs: the loaders of the
// templates it includes and the macros they define. gonja renders on one
// goroutine, so it needs no lock.
type renderState struct {
	ctx        context.Context
	macroDepth int
	// err is the recursion error, kept to be reported as it is rather than
	// as gonja wraps it once per level.
	err *Error
}

func newRenderState(ctx context.Context) *renderState {
	if ctx == nil {
		ctx = context.Background()
	}
	return &renderState{ctx: ctx}
}

// stateOf returns the render state a loader carries.
func stateOf(l any) *renderState {
	switch t := l.(type) {
	case *searchLoader:
		return t.state
	case *stringLoader:
		return t.state
	}
	return nil
}

// fail records the first recursion error.
func (s *renderState) fail(e *Error) *Error {
	e.recursion = true
	if s.err == nil {
		s.err = e
	}
	return s.err
}

// interrupted is the error for a render stopped by ctx.
func interrupted(ctx context.Context, template string) error {
	return fmt.Errorf("render %s: %w (%w)", template, ErrInterrupted, ctx.Err())
}

// ctxWriter is a template's output: a write after ctx is cancelled fails,
// which stops gonja at the next piece of output.
type ctxWriter struct {
	ctx context.Context
	strings.Builder
}

func (w *ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.Builder.Write(p)
}

func (w *ctxWriter) WriteString(s string) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.Builder.WriteString(s)
}

var _ io.StringWriter = (*ctxWriter)(nil)

// runCancellable runs f on its own goroutine and returns its result, or an
// interrupted error as soon as ctx is cancelled: gonja cannot be stopped in
// the middle of a loop that writes nothing, and a process that was told to
// stop must not wait for it. The abandoned goroutine stops at its next
// write, include or macro call; the process is about to exit anyway.
func runCancellable(ctx context.Context, template string, f func() (string, error)) (string, error) {
	if ctx.Err() != nil {
		return "", interrupted(ctx, template)
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		defer recoverPanic(&r.err)
		r.out, r.err = f()
	}()
	select {
	case r := <-done:
		if r.err != nil && ctx.Err() != nil {
			return "", interrupted(ctx, template)
		}
		return r.out, r.err
	case <-ctx.Done():
		return "", interrupted(ctx, template)
	}
}

// guardMacro wraps a macro so that calls nest at most MaxMacroDepth deep.
func guardMacro(st *renderState, name, template string, line int, fn exec.Macro) exec.Macro {
	if st == nil {
		return fn
	}
	return func(params *exec.VarArgs) *exec.Value {
		if st.err != nil {
			return exec.AsValue(st.err)
		}
		if st.ctx.Err() != nil {
			return exec.AsValue(interrupted(st.ctx, template))
		}
		if st.macroDepth >= MaxMacroDepth {
			return exec.AsValue(st.fail(&Error{Template: template, Line: line, Msg: fmt.Sprintf(
				"macro %s: calls nest more than %d deep (a macro that calls itself without end?); "+
					"Jinja2 stops this with a RecursionError at about the same depth", name, MaxMacroDepth)}))
		}
		st.macroDepth++
		defer func() { st.macroDepth-- }()
		return fn(params)
	}
}

// macroControlStructure is gonja's {% macro %} with guardMacro.
type macroControlStructure struct {
	*controlStructures.MacroControlStructure
}

func (m macroControlStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	fn, err := exec.MacroNodeToFunc(m.Macro, r)
	if err != nil {
		return err
	}
	r.Environment.Context.Set(m.Name, guardMacro(stateOf(r.Loader), m.Name, currentTemplate(r), m.Location.Line, fn))
	return nil
}

// wrapParser returns the builtin parser of a control structure with its
// result changed by wrap.
func wrapParser(builtin parser.ControlStructureParser, wrap func(nodes.ControlStructure) nodes.ControlStructure) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		cs, err := builtin(p, args)
		if err != nil {
			return nil, err
		}
		return wrap(cs), nil
	}
}

// guardControlStructures replaces the control structures that nest
// templates or define macros with the guarded ones.
func guardControlStructures(cs *exec.ControlStructureSet) {
	if macro, ok := cs.Get("macro"); ok {
		_ = cs.Replace("macro", wrapParser(macro, func(c nodes.ControlStructure) nodes.ControlStructure {
			if m, ok := c.(*controlStructures.MacroControlStructure); ok {
				return macroControlStructure{m}
			}
			return c
		}))
	}
	if from, ok := cs.Get("from"); ok {
		_ = cs.Replace("from", wrapParser(from, func(c nodes.ControlStructure) nodes.ControlStructure {
			if f, ok := c.(*controlStructures.FromImportControlStructure); ok {
				return fromControlStructure{f}
			}
			return c
		}))
	}
	_ = cs.Replace("import", importParser)
}

// importControlStructure is Jinja2's {% import "file" as name %} over the
// search path, with the imported macros guarded.
type importControlStructure struct {
	location *tokens.Token
	filename nodes.Expression
	as       string
}

func (ics *importControlStructure) Position() *tokens.Token { return ics.location }

func (ics *importControlStructure) String() string {
	return fmt.Sprintf("Import(%s line %d)", ics.filename, ics.location.Line)
}

func (ics *importControlStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	tpl, from, err := loadImported(r, ics.filename, ics.location)
	if err != nil {
		return err
	}
	st := stateOf(r.Loader)
	macros := map[string]exec.Macro{}
	for name, node := range tpl.Macros() {
		fn, err := exec.MacroNodeToFunc(node, r)
		if err != nil {
			return err
		}
		macros[name] = guardMacro(st, name, from, node.Location.Line, fn)
	}
	r.Environment.Context.Set(ics.as, macros)
	return nil
}

func importParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	cs := &importControlStructure{location: p.Current()}
	if args.End() {
		return nil, args.Error("import needs a template name and `as NAME`", nil)
	}
	expr, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	cs.filename = expr
	if args.MatchName("as") == nil {
		return nil, args.Error(`expected "as" after the template name`, args.Current())
	}
	alias := args.Match(tokens.Name)
	if alias == nil {
		return nil, args.Error("expected a name after `as`", args.Current())
	}
	cs.as = alias.Val
	if tok := args.MatchName("with", "without"); tok != nil {
		if args.MatchName("context") == nil {
			args.Stream().Backup()
		}
	}
	if !args.End() {
		return nil, args.Error("malformed import tag", nil)
	}
	return cs, nil
}

// fromControlStructure is gonja's {% from "file" import a, b as c %} over
// the search path, with the imported macros guarded.
type fromControlStructure struct {
	*controlStructures.FromImportControlStructure
}

func (f fromControlStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	tpl, from, err := loadImported(r, f.FilenameExpression, f.Position())
	if err != nil {
		return err
	}
	st := stateOf(r.Loader)
	imported := tpl.Macros()
	for alias, name := range f.As {
		node, ok := imported[name]
		if !ok {
			return &Error{Template: from, Line: f.Position().Line, Msg: fmt.Sprintf("%s has no macro %q", tpl.Root().Identifier, name)}
		}
		fn, err := exec.MacroNodeToFunc(node, r)
		if err != nil {
			return err
		}
		r.Environment.Context.Set(alias, guardMacro(st, name, from, node.Location.Line, fn))
	}
	return nil
}

// loadImported parses the template an import names, over the search path
// and within MaxIncludeDepth.
func loadImported(r *exec.Renderer, filename nodes.Expression, at *tokens.Token) (*exec.Template, string, error) {
	from := currentTemplate(r)
	v := r.Eval(filename)
	if v.IsError() {
		return nil, from, &Error{Template: from, Line: at.Line, Msg: cleanMessage(v.Error())}
	}
	file, err := r.Loader.Resolve(v.String())
	if err != nil {
		return nil, from, &Error{Template: from, Line: at.Line, Msg: err.Error(), Err: err}
	}
	inherited, err := r.Loader.Inherit(file)
	if err != nil {
		return nil, from, depthError(r.Loader, err, at.Line)
	}
	loader := inherited.(*searchLoader)
	tpl, err := exec.NewTemplate(file, r.Config, loader, r.Environment)
	if err != nil {
		return nil, from, addFrame(parseError(loader, file, err), from, at.Line)
	}
	return tpl, from, nil
}

// depthError is the error of an Inherit that went too deep, with the line
// of the statement that asked for it when the error has none yet.
func depthError(l any, err error, line int) error {
	var te *Error
	if errors.As(err, &te) {
		if te.Line == 0 {
			te.Line = line
		}
		return te
	}
	if st := stateOf(l); st != nil && st.err != nil {
		return st.err
	}
	return err
}
