package config

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with the configuration, located like a
// compiler error: file:line:column, the key path, what is wrong.
type Problem struct {
	File   string
	Line   int
	Column int
	Key    string // key path, e.g. cluster.aws.volumes[0].size
	Msg    string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem found in a configuration. It is a configuration
// error: the CLI exits 2 and nothing has been created or changed.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	if len(e.Problems) > 1 {
		lines = append(lines, fmt.Sprintf("%d problems in the configuration:", len(e.Problems)))
	}
	for _, p := range e.Problems {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// problems collects problems and warnings while a document is checked.
type problems struct {
	file string
	// src, when set, says which file each node came from (a document
	// merged from environment overlays); without it every node is in file.
	src      *Document
	errs     []Problem
	warnings []Problem
}

// problemsFor returns a collector for the nodes of doc.
func problemsFor(doc *Document) *problems {
	return &problems{file: doc.Path, src: doc}
}

// fileOf is the file node n was read from, as messages show it.
func (p *problems) fileOf(n *yaml.Node) string {
	if p.src != nil {
		return p.src.FileOf(n)
	}
	return p.file
}

// add records an error about the value (or key) node n.
func (p *problems) add(n *yaml.Node, key, format string, args ...any) {
	p.errs = append(p.errs, Problem{File: p.fileOf(n), Line: n.Line, Column: n.Column, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// warn records a warning about the value (or key) node n.
func (p *problems) warn(n *yaml.Node, key, format string, args ...any) {
	p.warnings = append(p.warnings, Problem{File: p.fileOf(n), Line: n.Line, Column: n.Column, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	p.sort(p.errs)
	return &Error{Problems: p.errs}
}

// sort orders problems by file (the base file first, then the overlays in
// the order they were applied), then by line and column.
func (p *problems) sort(ps []Problem) {
	sortProblems(ps)
	if p.src != nil {
		p.src.sortByFile(ps)
	}
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}
