package render

import (
	"errors"
	"io"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// prefixLoader serves the first lines of one template and everything else
// from the loader it wraps.
type prefixLoader struct {
	loaders.Loader
	file, src string
}

func (p prefixLoader) Read(name string) (io.Reader, error) {
	if name == p.file {
		return strings.NewReader(p.src), nil
	}
	return p.Loader.Read(name)
}

// syntaxErrorLine finds the line of a syntax error gonja reports without
// one (e.g. `{% if %}`): the first line at which parsing the template cut
// after that line fails with the same message. 0 when none does. It runs
// only on an error, over one template's lines.
func syntaxErrorLine(l loaders.Loader, file, msg string) int {
	r, err := l.Read(file)
	if err != nil {
		return 0
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0
	}
	lines := strings.SplitAfter(string(b), "\n")
	env := environment()
	for i := range lines {
		pl := prefixLoader{Loader: l, file: file, src: strings.Join(lines[:i+1], "")}
		_, err := exec.NewTemplate(file, jinjaConfig(true), pl, env)
		if err != nil && innermost(err).Error() == msg {
			return i + 1
		}
	}
	return 0
}

// innermost unwraps err to the error that wraps nothing.
func innermost(err error) error {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return err
}
