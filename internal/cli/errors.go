package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// Exit codes.
const (
	ExitOK     = 0 // success
	ExitFailed = 1 // the operation failed
	ExitUsage  = 2 // usage or configuration error
)

// UsageError is a wrong command line: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an exit code. Silent ones have already said everything
// (an external plugin's own output, a table of failed nodes).
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var ue *UsageError
	var ce *config.Error
	var nf *config.NotFoundError
	var te *render.Error
	switch {
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &nf), errors.As(err, &te),
		errors.Is(err, provider.ErrNoProvider), errors.Is(err, render.ErrUserDataTooLarge), errors.Is(err, provider.ErrNoNodeSnapshot),
		errors.Is(err, provider.ErrNoHardware): // the config asks for hardware no zone offers
		return ExitUsage
	}
	return ExitFailed
}

// IsSilent reports whether the error was already reported.
func IsSilent(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Silent
}

// scrubbed returns err with every known secret (config.KnownSecrets)
// masked in its message; errors.Is/As still see the original chain, so the
// exit code is the same. Every error the program prints comes from Execute,
// so this is the one place where errors are scrubbed.
func scrubbed(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbedError{err: err}
}

type scrubbedError struct {
	err  error
	json bool // print as a JSON document too (see failed)
}

func (e *scrubbedError) Error() string { return config.KnownSecrets.Scrub(e.err.Error()) }
func (e *scrubbedError) Unwrap() error { return e.err }

// IsInterrupted reports whether err is a command stopped by a signal.
func IsInterrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, config.ErrInterrupted) || errors.Is(err, render.ErrInterrupted)
}

// failed is what Execute returns for err: scrubbed, and marked for a JSON
// error document when -o json was asked for (parsed, or seen in args when
// parsing stopped before it) and the command has not printed anything on
// stdout yet (stdout holds one document: a command that already printed
// its result, such as down's terminated instances, reports the error on
// stderr only).
func (g *globals) failed(args []string, err error) error {
	if err == nil {
		return nil
	}
	return &scrubbedError{err: err, json: !g.wroteOut && (g.json() || jsonRequested(args))}
}

// jsonRequested reports whether args ask for -o json, as pflag reads them:
// -o json, -ojson, -o=json, --output json, --output=json, shorthands
// grouped (-vo json); the last one wins; nothing after "--".
func jsonRequested(args []string) bool {
	out := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch {
		case a == "--output":
			out = next()
		case strings.HasPrefix(a, "--output="):
			out = strings.TrimPrefix(a, "--output=")
		case strings.HasPrefix(a, "--"):
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				switch a[j] {
				case 'o':
					if v := strings.TrimPrefix(a[j+1:], "="); v != "" {
						out = v
					} else {
						out = next()
					}
					j = len(a)
				case 'C', 'f':
					if j == len(a)-1 {
						next()
					}
					j = len(a)
				}
			}
		}
	}
	return out == OutputJSON
}

// WantsJSON reports whether the error Execute returned is to be printed as
// a JSON document on stdout (see WriteJSONError) as well as on stderr.
func WantsJSON(err error) bool {
	var se *scrubbedError
	return errors.As(err, &se) && se.json
}

// jsonErrorDoc is the document a failed command prints with -o json.
type jsonErrorDoc struct {
	Error jsonError `json:"error"`
}

type jsonError struct {
	Message  string        `json:"message"`
	ExitCode int           `json:"exit_code"`
	Problems []jsonProblem `json:"problems"`
}

// jsonProblem is one problem of a configuration or template error: line,
// column and key are 0 or "" where unknown.
type jsonProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Key     string `json:"key"`
	Message string `json:"message"`
}

// WriteJSONError writes err as {"error": {"message", "exit_code",
// "problems"}} to w: message is what stderr says (msg), problems list a
// configuration error's problems (file, line, column, key) or a template
// error's file and line, else []. Known secrets are masked.
func WriteJSONError(w io.Writer, msg string, err error) error {
	doc := jsonErrorDoc{Error: jsonError{Message: msg, ExitCode: ExitCode(err), Problems: []jsonProblem{}}}
	var ce *config.Error
	var te *render.Error
	switch {
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			doc.Error.Problems = append(doc.Error.Problems, jsonProblem{File: p.File, Line: p.Line, Column: p.Column, Key: p.Key, Message: p.Msg})
		}
	case errors.As(err, &te):
		doc.Error.Problems = append(doc.Error.Problems, jsonProblem{File: te.Template, Line: te.Line, Message: te.Msg})
	}
	return writeJSON(w, doc, true)
}

// writeJSON writes v as one indented JSON document to w, with <, > and &
// as they are (a `<redacted>` reads as such), and every known secret
// masked when scrub is set.
func writeJSON(w io.Writer, v any, scrub bool) error {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	s := unescapeHTML(b.String())
	if scrub {
		s = config.KnownSecrets.Scrub(s)
	}
	_, err := io.WriteString(w, s)
	return err
}

// unescapeHTML turns the \u003c, \u003e and \u0026 escapes that a
// json.Marshaler's own json.Marshal call leaves (SetEscapeHTML reaches no
// further than the encoder) back into <, > and &; an escaped backslash
// followed by "u003c" is left alone.
func unescapeHTML(s string) string {
	if !strings.Contains(s, `\u00`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == 'u' && i+6 <= len(s) {
			switch s[i+2 : i+6] {
			case "003c":
				b.WriteByte('<')
				i += 5
				continue
			case "003e":
				b.WriteByte('>')
				i += 5
				continue
			case "0026":
				b.WriteByte('&')
				i += 5
				continue
			}
		}
		b.WriteString(s[i : i+2])
		i++
	}
	return b.String()
}
