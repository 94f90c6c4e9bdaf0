package config

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v3"
)

// interpolator substitutes the ${VAR} forms of one scalar with compose-go's
// template package, and records what compose only logs: each plain $VAR or
// ${VAR} (no default, no `?`) that is unset, at any depth (`${A:-${B}}`
// reads B only when A is unset, and then B is recorded).
//
// compose-go substitutes nested forms (a default, the text after the first
// `}` of a match) with its own Substitute, which logs an unset variable
// through logrus and cannot tell us about it; so the nesting is walked
// here, and compose-go resolves one `$...` at a time.
type interpolator struct {
	lookup template.Mapping
	unset  []string // plain variables found unset, in order, with repeats
	errs   []error  // every required-variable and syntax error
}

func (ip *interpolator) substitute(s string) string {
	out, err := template.SubstituteWithOptions(s, ip.lookup,
		template.WithReplacementFunction(ip.replace),
		template.WithSubstitutionFunction(ip.operator),
		template.WithoutLogging)
	if err != nil {
		ip.errs = append(ip.errs, err)
	}
	return out
}

// replace resolves one match of template.DefaultPattern. A braced match
// runs to the last `}` of the string (the pattern is greedy); as compose-go
// does, it is cut after the `}` that closes the first `${`, and the rest is
// substituted again.
func (ip *interpolator) replace(sub string, m template.Mapping, cfg *template.Config) (string, error) {
	head, rest := sub, ""
	if i := closingBrace(sub); i > -1 {
		head, rest = sub[:i+1], sub[i+1:]
	}
	v, applied, err := template.DefaultReplacementAppliedFunc(head, m, cfg)
	if err != nil {
		// collected, and the rest is still read, so that every problem
		// of the scalar is reported at once
		ip.errs = append(ip.errs, err)
		v = ""
	} else if !applied {
		// not `$$`, not a form with an operator (operator applies those):
		// a plain variable that the mapping does not have
		ip.unset = append(ip.unset, plainName(head))
	}
	if rest != "" {
		v += ip.substitute(rest)
	}
	return v, nil
}

// operator applies ${NAME<op>WORD} as compose-go does (its
// getSubstitutionFunctionForTemplate and the six functions it chooses
// from), except that WORD is substituted by ip, so that unset variables in
// it are recorded. It reports false for a plain ${NAME}.
func (ip *interpolator) operator(substitution string, m template.Mapping) (string, bool, error) {
	op, at := "", -1
	for _, o := range []string{":?", "?", ":-", "-", ":+", "+"} {
		if i := strings.Index(substitution, o); i >= 0 && (at < 0 || i < at) {
			op, at = o, i
		}
	}
	if op == "" {
		return "", false, nil
	}
	name, word := substitution[:at], substitution[at+len(op):]
	value, set := m(name)
	nonEmpty := set && value != ""
	switch op {
	case ":-", "-":
		if !set || (op == ":-" && !nonEmpty) {
			return ip.substitute(word), true, nil
		}
		return value, true, nil
	case ":+", "+":
		if set && (op == "+" || nonEmpty) {
			return ip.substitute(word), true, nil
		}
		return value, true, nil
	default: // ":?", "?"
		if !set || (op == ":?" && !nonEmpty) {
			return "", true, &template.MissingRequiredError{Variable: name, Reason: ip.substitute(word)}
		}
		return value, true, nil
	}
}

// closingBrace is compose-go's getFirstBraceClosingIndex: the index of the
// `}` that closes the first `{` of s, or -1.
func closingBrace(s string) int {
	open := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '}' {
			open--
			if open == 0 {
				return i
			}
		}
		if s[i] == '{' {
			open++
			i++
		}
	}
	return -1
}

// plainName is NAME of `$NAME` or `${NAME}`.
func plainName(s string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "$"), "{"), "}")
}

// unsetUse is where a plain variable that is unset is used.
type unsetUse struct {
	line, col int
	node      *yaml.Node // the scalar, for its file
}

// lookedUp is one variable an interpolation looked up.
type lookedUp struct {
	name       string
	set, empty bool
}

// interpolation is what a scalar with ${VAR} forms was before
// interpolation, and the variables it read.
type interpolation struct {
	raw    string
	looked []lookedUp
	unset  []string // plain variables that were unset (empty strings)
}

// unsetVars collects the unset plain variables of a document.
type unsetVars map[string][]unsetUse

// add records the unset variables of scalar value (as written) at line,
// col. The column is the variable's own when the scalar is plain and on
// one line (its text is then the value); otherwise the scalar's.
func (u unsetVars) add(names []string, value string, n *yaml.Node, plain bool) {
	line, col := n.Line, n.Column
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		c := col
		if plain && !strings.Contains(value, "\n") {
			for _, form := range []string{"${" + name + "}", "$" + name} {
				if i := strings.Index(value, form); i >= 0 {
					c = col + utf8.RuneCountInString(value[:i])
					break
				}
			}
		}
		u[name] = append(u[name], unsetUse{line: line, col: c, node: n})
	}
}

// problems returns one problem per variable, at its first use, in file
// order (the config file first, then the environment overlays); the
// message names the other lines it is used on.
func (u unsetVars) problems(doc *Document, strict bool) []Problem {
	rank := map[string]int{}
	for i, f := range doc.files() {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	names := make([]string, 0, len(u))
	for name := range u {
		names = append(names, name)
	}
	sort.Strings(names) // the order of two variables in one quoted scalar
	var out []Problem
	for _, name := range names {
		uses := u[name]
		sort.SliceStable(uses, func(i, j int) bool {
			fi, fj := rank[doc.FileOf(uses[i].node)], rank[doc.FileOf(uses[j].node)]
			if fi != fj {
				return fi < fj
			}
			if uses[i].line != uses[j].line {
				return uses[i].line < uses[j].line
			}
			return uses[i].col < uses[j].col
		})
		first := uses[0]
		msg := "${" + name + "} is not set; using an empty string (set it, give a default with ${" + name +
			":-value}, or make it required with ${" + name + ":?message})"
		if strict {
			msg = "${" + name + "} is not set (an error with --strict-env): set it, give a default with ${" + name +
				":-value}, or write ${" + name + ":-} for an empty string"
		}
		var lines []string
		file := doc.FileOf(first.node)
		last, lastFile := first.line, file
		for _, o := range uses[1:] {
			of := doc.FileOf(o.node)
			if o.line != last || of != lastFile {
				if of != file {
					lines = append(lines, of+":"+strconv.Itoa(o.line))
				} else {
					lines = append(lines, strconv.Itoa(o.line))
				}
				last, lastFile = o.line, of
			}
		}
		switch len(lines) {
		case 0:
		case 1:
			msg += "; also used on line " + lines[0]
		default:
			msg += "; also used on lines " + strings.Join(lines, ", ")
		}
		out = append(out, Problem{File: file, Line: first.line, Column: first.col, Msg: msg})
	}
	sortProblems(out)
	doc.sortByFile(out)
	return out
}
