package render

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/nikolalohinski/gonja/v2/loaders"
)

// searchLoader finds templates the way Jinja2's FileSystemLoader does: a
// name is looked up in each directory of the search path in turn, whichever
// template asked for it. (gonja's own loaders resolve names relative to the
// including file, which is not what cloud-compose projects expect.)
type searchLoader struct {
	base    string    // project directory; names in errors are relative to it
	dirs    []string  // search path, absolute
	current string    // the template this loader was inherited for ("" at the top)
	cache   *sync.Map // file -> []byte, shared by inherited loaders
	state   *renderState
	depth   int           // how many templates deep current is
	parent  *searchLoader // the loader current was inherited from
}

var _ loaders.Loader = (*searchLoader)(nil)

func newSearchLoader(base string, dirs []string) *searchLoader {
	abs := make([]string, len(dirs))
	for i, d := range dirs {
		if filepath.IsAbs(d) {
			abs[i] = d
		} else {
			abs[i] = filepath.Join(base, d)
		}
	}
	return &searchLoader{base: base, dirs: abs, cache: &sync.Map{}}
}

// ErrTemplateNotFound is wrapped by the error for a template that is on no
// directory of the search path.
var ErrTemplateNotFound = fmt.Errorf("template not found")

// Resolve returns the file for a template name.
func (l *searchLoader) Resolve(name string) (string, error) {
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err == nil {
			return name, nil
		}
	}
	clean := path.Clean("/" + filepath.ToSlash(name))[1:]
	if clean == "" || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") {
		return "", fmt.Errorf("%w: %q is not a valid template name", ErrTemplateNotFound, name)
	}
	for _, d := range l.dirs {
		p := filepath.Join(d, filepath.FromSlash(clean))
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", &notFoundError{name: name, dirs: l.shownDirs()}
}

func (l *searchLoader) shownDirs() []string {
	out := make([]string, len(l.dirs))
	for i, d := range l.dirs {
		out[i] = l.rel(d)
	}
	return out
}

// rel shows a path relative to the project directory.
func (l *searchLoader) rel(p string) string {
	if r, err := filepath.Rel(l.base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// Read returns the content of a template, by name or resolved file.
func (l *searchLoader) Read(name string) (io.Reader, error) {
	p, err := l.Resolve(name)
	if err != nil {
		return nil, err
	}
	if b, ok := l.cache.Load(p); ok {
		return bytes.NewReader(b.([]byte)), nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	b = trimRawBlocks(b)
	l.cache.Store(p, b)
	return bytes.NewReader(b), nil
}

// Inherit returns a loader for a template included from this one: the same
// search path, remembering which template is current for error messages.
// Every include, extends and import goes through it, so it is where their
// nesting is bounded (MaxIncludeDepth).
func (l *searchLoader) Inherit(from string) (loaders.Loader, error) {
	if l.depth >= MaxIncludeDepth {
		e := &Error{Template: l.rel(l.current), Msg: fmt.Sprintf(
			"templates include, extend or import one another more than %d deep (%s); "+
				"Jinja2 stops this with a RecursionError at about the same depth: break the loop",
			MaxIncludeDepth, l.loop(from))}
		if l.state != nil {
			e = l.state.fail(e)
		} else {
			e.recursion = true
		}
		return nil, e
	}
	if l.state != nil && l.state.ctx.Err() != nil {
		return nil, interrupted(l.state.ctx, l.rel(from))
	}
	c := *l
	c.current = from
	c.depth++
	c.parent = l
	return &c, nil
}

// loop describes the cycle that led to next: the templates from next's
// previous appearance down to the current one.
func (l *searchLoader) loop(next string) string {
	names := []string{l.rel(next)}
	for a := l; a != nil && a.current != ""; a = a.parent {
		names = append(names, l.rel(a.current))
		if a.current == next {
			break
		}
		if len(names) > 10 {
			names = append(names, "…")
			break
		}
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	if len(names) == 2 && names[0] == names[1] {
		return names[0] + " refers to itself"
	}
	return "a loop: " + strings.Join(names, " → ")
}

type notFoundError struct {
	name string
	dirs []string
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("template %q is not in any directory of the search path (%s)", e.name, strings.Join(e.dirs, ", "))
}

func (e *notFoundError) Unwrap() error { return ErrTemplateNotFound }

// rawBlock matches {% raw %}...{% endraw %} with its whitespace-control marks.
var rawBlock = regexp.MustCompile(`(?s)\{%([-+]?)\s*raw\s*([-+]?)%\}(.*?)\{%([-+]?)\s*endraw\s*([-+]?)%\}`)

// trimRawBlocks applies the whitespace control inside raw blocks, which
// gonja's lexer ignores: `{% raw -%}` strips the white space that follows
// it and `{%- endraw %}` the white space before it, as Jinja2 does. The
// marks on the outer sides are left to the lexer.
func trimRawBlocks(src []byte) []byte {
	if !bytes.Contains(src, []byte("raw")) {
		return src
	}
	return rawBlock.ReplaceAllFunc(src, func(m []byte) []byte {
		g := rawBlock.FindSubmatch(m)
		body := g[3]
		if string(g[2]) == "-" {
			body = bytes.TrimLeft(body, " \t\r\n")
		}
		if string(g[4]) == "-" {
			body = bytes.TrimRight(body, " \t\r\n")
		}
		out := make([]byte, 0, len(m))
		out = append(out, "{%"...)
		out = append(out, g[1]...)
		out = append(out, " raw %}"...)
		out = append(out, body...)
		out = append(out, "{% endraw "...)
		out = append(out, g[5]...)
		out = append(out, "%}"...)
		return out
	})
}
