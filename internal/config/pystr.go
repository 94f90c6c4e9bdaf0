package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// PyStr formats v as Python's str() would: the original stringified
// environment values and tags that way (True, None, 1.0, ['a', 'b']).
func PyStr(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case Date:
		return t.String() // str(datetime.date): 2016-01-02; repr is datetime.date(2016, 1, 2)
	default:
		return PyRepr(v)
	}
}

// PyRepr formats v as Python's repr().
func PyRepr(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(t)
	case float64:
		return PyFloat(t)
	case string:
		return pyQuote(t)
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = PyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *Mapping:
		parts := make([]string, 0, t.Len())
		for _, k := range t.Keys() {
			e, _ := t.Get(k)
			parts = append(parts, pyQuote(k)+": "+PyRepr(e))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case Date:
		return fmt.Sprintf("datetime.date(%d, %d, %d)", t.Year(), t.Month(), t.Day())
	case fmt.Stringer:
		return t.String()
	}
	return fmt.Sprint(v)
}

// PyFloat formats f as Python's repr(float).
func PyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	if exp < -4 || exp >= 16 {
		if !strings.Contains(mant, ".") {
			return fmt.Sprintf("%se%+03d", mant, exp)
		}
		return fmt.Sprintf("%se%+03d", mant, exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

func pyQuote(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
