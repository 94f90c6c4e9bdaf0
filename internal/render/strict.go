package render

import (
	"fmt"
	"regexp"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Jinja2's StrictUndefined, as the original used it, lets a template test
// or filter an undefined value (`x is defined`, `a.missing|default(1)`),
// but attribute or item access ON an undefined value raises: with `secrets`
// undefined, `secrets.ZK_PASSWORD is defined` fails with "'secrets' is
// undefined", and `a.missing.deeper|default(1)` with "no attribute
// 'missing'". gonja hands tests and filters the error of the whole chain and
// lets `defined`/`default` swallow it; strictTest and strictFilter let only
// a plain undefined (the last name, attribute or item of the chain) through
// and return every other error, as Jinja2 raises it.

var plainUndefinedRE = regexp.MustCompile(`^(Unable to evaluate name "[^"]+"|(?i:unable to evaluate) [^:]+: (attribute|item) .+ not found)$`)

// chainError returns the error of v when v is an error Jinja2 would have
// raised before the test or filter ran: anything but a plain undefined.
func chainError(v *exec.Value) error {
	if v == nil || !v.IsError() {
		return nil
	}
	err, _ := v.Interface().(error)
	if _, wrapped := err.(interface{ Cause() error }); !wrapped && plainUndefinedRE.MatchString(err.Error()) {
		return nil
	}
	return err
}

// testNames are gonja's builtin tests (builtins.Tests cannot be listed).
var testNames = []string{"boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even",
	"false", "filter", "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower",
	"lt", "lessthan", "<", "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test",
	"true", "undefined", "upper"}

// strictTests wraps every test of set so that an error in the chain
// before the tested value is the test's error.
func strictTests(set *exec.TestSet) {
	for _, name := range testNames {
		fn, ok := set.Get(name)
		if !ok {
			continue
		}
		var wrapped func(*exec.Evaluator, *exec.Value, *exec.VarArgs) (bool, error)
		switch f := fn.(type) {
		case func(*exec.Context, *exec.Value, *exec.VarArgs) (bool, error):
			wrapped = func(e *exec.Evaluator, in *exec.Value, args *exec.VarArgs) (bool, error) {
				if err := chainError(in); err != nil {
					return false, err
				}
				return f(e.Environment.Context, in, args)
			}
		case func(*exec.Evaluator, *exec.Value, *exec.VarArgs) (bool, error):
			wrapped = func(e *exec.Evaluator, in *exec.Value, args *exec.VarArgs) (bool, error) {
				if err := chainError(in); err != nil {
					return false, err
				}
				return f(e, in, args)
			}
		default:
			continue
		}
		_ = set.Replace(name, wrapped)
	}
}

// strictFilter returns the chain's error instead of running filter f.
func strictFilter(f exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if err := chainError(in); err != nil {
			return exec.AsValue(err)
		}
		return f(e, in, params)
	}
}

// Python 2 dict methods, which Jinja2 on Python 3 (as the original runs)
// does not have: templates written for the Python 2 original fail there.
var py2Methods = map[string]string{
	"iteritems":  "items()",
	"iterkeys":   "keys()",
	"itervalues": "values()",
	"has_key":    "`KEY in MAPPING`",
}

const py2Phrase = "is a Python 2 method"

var py2MethodRE = regexp.MustCompile(`\w+\(\) ` + py2Phrase + `[^\n]*`)

func py2Method(name string) exec.Method[map[string]any] {
	return func(map[string]any, *exec.Value, *exec.VarArgs) (any, error) {
		return nil, fmt.Errorf("%s() %s: Python 3, which the original's Jinja2 runs on, has no such method (the original fails here with \"'dict object' has no attribute '%s'\"); use %s",
			name, py2Phrase, name, py2Methods[name])
	}
}
