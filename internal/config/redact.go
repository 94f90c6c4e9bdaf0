package config

import (
	"os"
	"regexp"
	"strings"
)

// Redacted replaces every secret value in output.
const Redacted = "<redacted>"

// RedactEnv names an environment variable with more key patterns to redact
// (regular expressions, comma-separated), on top of DefaultRedactKeys.
const RedactEnv = "CLOUD_COMPOSE_REDACT"

// DefaultRedactKeys matches key names whose values are never shown: every
// value under `secrets:`, and keys that name a secret.
var DefaultRedactKeys = regexp.MustCompile(`(?i)^secrets$|secret|password|passwd|token|private_key|access_key`)

// Redactor hides secret values in configuration output.
type Redactor struct{ keys []*regexp.Regexp }

// NewRedactor returns a redactor for the default patterns and those in
// CLOUD_COMPOSE_REDACT. A pattern that does not compile is matched literally.
func NewRedactor() *Redactor {
	r := &Redactor{keys: []*regexp.Regexp{DefaultRedactKeys}}
	for _, p := range strings.Split(os.Getenv(RedactEnv), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			re = regexp.MustCompile(regexp.QuoteMeta(p))
		}
		r.keys = append(r.keys, re)
	}
	return r
}

func (r *Redactor) secretKey(k string) bool {
	for _, re := range r.keys {
		if re.MatchString(k) {
			return true
		}
	}
	return false
}

// Mapping returns a copy of m with secret values replaced by Redacted;
// the keys stay, so the shape of the configuration is still visible.
func (r *Redactor) Mapping(m *Mapping) *Mapping {
	return r.value(m, false).(*Mapping)
}

func (r *Redactor) value(v any, secret bool) any {
	switch t := v.(type) {
	case *Mapping:
		out := NewMapping()
		for _, k := range t.Keys() {
			e, _ := t.Get(k)
			out.Set(k, r.value(e, secret || r.secretKey(k)))
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = r.value(e, secret)
		}
		return out
	case nil:
		return nil
	}
	if secret {
		return Redacted
	}
	return v
}
