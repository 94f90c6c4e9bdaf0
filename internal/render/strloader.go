package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/nikolalohinski/gonja/v2/loaders"
)

const stringTemplateName = "<string>"

// stringLoader serves one in-memory template and nothing else, like
// jinja2.Template(source): it cannot include other files.
type stringLoader struct {
	src   string
	state *renderState
}

func newStringLoader(src string, st *renderState) *stringLoader {
	return &stringLoader{src: src, state: st}
}

func (l *stringLoader) Read(name string) (io.Reader, error) {
	if name != stringTemplateName {
		return nil, fmt.Errorf("%w: %q (a string template cannot include files)", ErrTemplateNotFound, name)
	}
	return strings.NewReader(l.src), nil
}

func (l *stringLoader) Resolve(name string) (string, error) { return name, nil }

func (l *stringLoader) Inherit(string) (loaders.Loader, error) { return l, nil }
