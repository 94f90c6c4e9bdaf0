package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The Python original read YAML with PyYAML, which follows YAML 1.1: `yes`,
// `on` and `off` are booleans, `0755` is octal, `1_000` is an integer and
// `2016-01-02` is a date. Templates print these values, so the data handed to
// them is resolved with PyYAML's own implicit resolvers (resolver.py), not
// with YAML 1.2 rules.
var (
	yamlBool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	yamlInt   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yamlFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	yamlNull  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	yamlTime  = regexp.MustCompile(`^(?:([0-9]{4})-([0-9]{2})-([0-9]{2})|([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$`)
)

// Date is a YAML date (`2016-01-02`). It prints as Python's str(date).
type Date struct{ time.Time }

func (d Date) String() string { return d.Format("2006-01-02") }

// MarshalYAML keeps the date a date.
func (d Date) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the date as a string.
func (d Date) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }

// Timestamp is a YAML timestamp. It prints as Python's str(datetime).
type Timestamp struct {
	time.Time
	zone bool
}

func (t Timestamp) String() string {
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	if t.zone {
		_, off := t.Zone()
		sign := '+'
		if off < 0 {
			sign, off = '-', -off
		}
		s += fmt.Sprintf("%c%02d:%02d", sign, off/3600, off/60%60)
	}
	return s
}

// MarshalYAML writes the timestamp as its string form.
func (t Timestamp) MarshalYAML() (any, error) { return t.String(), nil }

// MarshalJSON writes the timestamp as a string.
func (t Timestamp) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(t.String())), nil }

// scalarValue turns a scalar node into the value PyYAML would have produced.
func scalarValue(n *yaml.Node) any {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Value
	}
	if n.Style&yaml.TaggedStyle != 0 {
		switch n.ShortTag() {
		case "!!str":
			return n.Value
		case "!!int":
			if v, ok := resolveInt(n.Value); ok {
				return v
			}
		case "!!float":
			if v, ok := resolveFloat(n.Value); ok {
				return v
			}
		case "!!bool":
			return resolveBool(n.Value)
		case "!!null":
			return nil
		}
	}
	return resolvePlain(n.Value)
}

func resolvePlain(s string) any {
	switch {
	case yamlNull.MatchString(s):
		return nil
	case yamlBool.MatchString(s):
		return resolveBool(s)
	case yamlInt.MatchString(s):
		if v, ok := resolveInt(s); ok {
			return v
		}
	case yamlFloat.MatchString(s):
		if v, ok := resolveFloat(s); ok {
			return v
		}
	case yamlTime.MatchString(s):
		if v, ok := resolveTime(s); ok {
			return v
		}
	}
	return s
}

func resolveBool(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "true", "on":
		return true
	}
	return false
}

func sexagesimal(s string) (sign float64, parts []string) {
	sign = 1
	if s[0] == '-' {
		sign, s = -1, s[1:]
	} else if s[0] == '+' {
		s = s[1:]
	}
	return sign, strings.Split(s, ":")
}

func resolveInt(s string) (int, bool) {
	s = strings.ReplaceAll(s, "_", "")
	if strings.Contains(s, ":") {
		sign, parts := sexagesimal(s)
		v := 0
		for _, p := range parts {
			d, err := strconv.Atoi(p)
			if err != nil {
				return 0, false
			}
			v = v*60 + d
		}
		return int(sign) * v, true
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(s, "0b"):
		base, s = 2, s[2:]
	case strings.HasPrefix(s, "0x"):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	v, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return int(v), true
}

func resolveFloat(s string) (float64, bool) {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	switch strings.TrimLeft(s, "+-") {
	case ".inf":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case ".nan":
		return math.NaN(), true
	}
	if strings.Contains(s, ":") {
		sign, parts := sexagesimal(s)
		v := 0.0
		for _, p := range parts {
			d, err := strconv.ParseFloat(p, 64)
			if err != nil {
				return 0, false
			}
			v = v*60 + d
		}
		return sign * v, true
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

func resolveTime(s string) (any, bool) {
	m := yamlTime.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	if m[1] != "" {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, false
		}
		return Date{t}, true
	}
	atoi := func(x string) int { v, _ := strconv.Atoi(x); return v }
	frac := 0
	if m[10] != "" {
		f := (m[10] + "000000")[:6]
		frac = atoi(f) * 1000
	}
	loc := time.UTC
	zone := m[11] != ""
	if zone && m[11] != "Z" {
		sign := 1
		if m[11][0] == '-' {
			sign = -1
		}
		hm := strings.SplitN(m[11][1:], ":", 2)
		off := atoi(hm[0]) * 3600
		if len(hm) == 2 {
			off += atoi(hm[1]) * 60
		}
		loc = time.FixedZone("", sign*off)
	}
	t := time.Date(atoi(m[4]), time.Month(atoi(m[5])), atoi(m[6]), atoi(m[7]), atoi(m[8]), atoi(m[9]), frac, loc)
	return Timestamp{Time: t, zone: zone}, true
}
