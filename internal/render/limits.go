package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	gonjaconfig "github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Recursion limits. gonja, unlike Jinja2, has no recursion limit of its
// own: an include loop, a macro that calls itself, a block that renders
// itself through self.NAME() or a recursive loop() that does not end grew
// the Go stack to 1 GB and crashed the process. Jinja2 (CPython's default recursion limit
// of 1000 frames) fails the same templates with a RecursionError after
// about 990 nested includes and about 250 nested macro calls; these limits
// are the same, so a template that renders with the Python tool renders
// here, and one that cannot fails in the same way, as a template error.
const (
	// MaxIncludeDepth is how deep templates may include, extend or import
	// one another.
	MaxIncludeDepth = 990
	// MaxMacroDepth is how deep calls may nest: macro calls, a block's
	// self.NAME() and a recursive for loop's loop(...), counted together,
	// as they share Python's stack in Jinja2.
	MaxMacroDepth = 250
)

// ErrInterrupted is wrapped by the error of a render stopped by a signal,
// with the context's own error.
var ErrInterrupted = errors.New("interrupted")

// renderState is shared by everything one render runs: the loaders of the
// templates it includes and the macros they define. gonja renders on one
// goroutine, so it needs no lock.
type renderState struct {
	ctx       context.Context
	callDepth int // nested macro, self.NAME() and loop() calls
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
	return guardCall(st, "macro "+name+": calls", "a macro that calls itself without end?", template, line, fn)
}

// guardCall wraps fn, a macro or something a template calls the way it
// calls a macro (a block's self.NAME(), a recursive loop's loop(...)), so
// that all such calls together nest at most MaxMacroDepth deep. calls and
// why describe them in the error.
func guardCall(st *renderState, calls, why, template string, line int, fn exec.Macro) exec.Macro {
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
		if st.callDepth >= MaxMacroDepth {
			return exec.AsValue(st.fail(&Error{Template: template, Line: line, Msg: fmt.Sprintf(
				"%s nest more than %d deep (%s); "+
					"Jinja2 stops this with a RecursionError at about the same depth", calls, MaxMacroDepth, why)}))
		}
		st.callDepth++
		defer func() { st.callDepth-- }()
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
// templates, define macros or blocks, or loop recursively with the guarded
// ones.
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
	if block, ok := cs.Get("block"); ok {
		_ = cs.Replace("block", blockParser(block))
	}
	if loop, ok := cs.Get("for"); ok {
		_ = cs.Replace("for", forParser(loop))
	}
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

// guardSelf replaces the `self` gonja gives a renderer with one whose
// self.NAME() calls are guarded by guardCall and fail with the error of
// the block they render, as in Jinja2 (gonja's drop it). A block that
// renders itself through self would otherwise recurse without end.
func guardSelf(r *exec.Renderer) {
	st := stateOf(r.Loader)
	if st == nil {
		return
	}
	self := map[string]exec.Macro{}
	for tpl := r.RootNode; tpl != nil; tpl = tpl.Parent {
		for name, block := range tpl.Blocks {
			if _, ok := self[name]; ok {
				continue // overridden by a template that extends tpl
			}
			blocks := r.RootNode.GetBlocks(name) // block and the ones it overrides
			self[name] = guardCall(st, fmt.Sprintf("block %s: self.%s() calls", name, name),
				"a block that renders itself without end?", templateName(r, tpl), block.Position().Line,
				func(*exec.VarArgs) *exec.Value {
					sub := r.Inherit()
					sub.Environment.Context.Set("super", superOf(sub, blocks[1:]))
					return renderBlock(sub, blocks[0], st.ctx)
				})
		}
	}
	r.Environment.Context.Set("self", self)
}

// templateName is how errors name tpl.
func templateName(r *exec.Renderer, tpl *nodes.Template) string {
	if l, ok := r.Loader.(*searchLoader); ok {
		return l.rel(tpl.Identifier)
	}
	return tpl.Identifier
}

// renderBlock renders a block for self.NAME() or super(): its output, or
// its error.
func renderBlock(r *exec.Renderer, block *nodes.Wrapper, ctx context.Context) *exec.Value {
	sub := r.Inherit()
	out := &ctxWriter{ctx: ctx}
	sub.Output = out
	if err := sub.ExecuteWrapper(block); err != nil {
		return exec.AsValue(err)
	}
	return exec.AsSafeValue(out.String())
}

// blockControlStructure is gonja's {% block %} with a guarded `self`
// (guardSelf) and a super() that reports errors.
type blockControlStructure struct {
	location *tokens.Token
	name     string
}

func (b *blockControlStructure) Position() *tokens.Token { return b.location }

func (b *blockControlStructure) String() string {
	return fmt.Sprintf("Block(%s line %d)", b.name, b.location.Line)
}

func (b *blockControlStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	blocks := r.RootNode.GetBlocks(b.name)
	if len(blocks) == 0 {
		return fmt.Errorf("unable to find block %q", b.name)
	}
	sub := r.Inherit()
	sub.Environment.Context.Set("super", superOf(sub, blocks[1:]))
	guardSelf(sub)
	return sub.ExecuteWrapper(blocks[0])
}

// superOf is super() in a block: the block it overrides, rendered.
func superOf(r *exec.Renderer, overridden []*nodes.Wrapper) exec.Macro {
	return func(*exec.VarArgs) *exec.Value {
		if len(overridden) == 0 {
			return exec.AsValue("")
		}
		ctx := context.Background()
		if st := stateOf(r.Loader); st != nil {
			ctx = st.ctx
		}
		sub := r.Inherit()
		sub.Environment.Context.Set("super", superOf(sub, overridden[1:]))
		guardSelf(sub)
		return renderBlock(sub, overridden[0], ctx)
	}
}

func blockParser(builtin parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		location, name := p.Current(), args.Current()
		cs, err := builtin(p, args)
		if err != nil {
			return nil, err
		}
		if _, ok := cs.(*controlStructures.BlockControlStructure); ok && name != nil {
			return &blockControlStructure{location: location, name: name.Val}, nil
		}
		return cs, nil
	}
}

// forParser is gonja's {% for %}; the body of a recursive loop starts with
// a loopGuard.
func forParser(builtin parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		location := p.Current()
		cs, err := builtin(p, args)
		if err != nil {
			return nil, err
		}
		if f, ok := cs.(*controlStructures.ForControlStructure); ok && f.Recursive && f.BodyWrapper != nil {
			guard := &nodes.ControlStructureBlock{Location: location, Name: "for", ControlStructure: loopGuard{location}}
			f.BodyWrapper.Nodes = append([]nodes.Node{guard}, f.BodyWrapper.Nodes...)
		}
		return cs, nil
	}
}

// loopGuard runs first in each pass of a recursive loop's body: it
// replaces the loop(...) gonja gives the body, which renders the loop
// again, with one guarded by guardCall. A loop over data that contains
// itself, or one that always recurses, would otherwise not end.
type loopGuard struct{ location *tokens.Token }

func (g loopGuard) Position() *tokens.Token { return g.location }

func (g loopGuard) String() string { return fmt.Sprintf("LoopGuard(line %d)", g.location.Line) }

func (g loopGuard) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	v, _ := r.Environment.Context.Get("loop")
	if fn, ok := v.(func(*exec.VarArgs) *exec.Value); ok {
		r.Environment.Context.Set("loop", guardCall(stateOf(r.Loader), "recursive loop: loop() calls",
			"data that contains itself, or a loop that recurses without end?", currentTemplate(r), g.location.Line, fn))
	}
	return nil
}

// executeTemplate is tpl.Execute with `self` guarded (guardSelf). env
// and cfg are those tpl was made with.
func executeTemplate(tpl *exec.Template, env *exec.Environment, cfg *gonjaconfig.Config, l loaders.Loader, w io.Writer, data *exec.Context) error {
	r := exec.NewRenderer(&exec.Environment{
		Context:           env.Context.Inherit().Update(data),
		Filters:           env.Filters,
		Tests:             env.Tests,
		ControlStructures: env.ControlStructures,
		Methods:           env.Methods,
	}, w, cfg, l, tpl)
	guardSelf(r)
	if err := r.Execute(); err != nil {
		return fmt.Errorf("unable to execute template: %w", err)
	}
	return nil
}
