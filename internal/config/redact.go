package config

import (
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// SecretPath reports whether a key path (cluster.environment.DB_PASSWORD,
// cluster.secrets.x[0]) has a component whose value is never shown.
func (r *Redactor) SecretPath(path string) bool {
	for _, part := range strings.Split(path, ".") {
		if i := strings.IndexByte(part, '['); i >= 0 {
			part = part[:i]
		}
		if part != "" && r.secretKey(part) {
			return true
		}
	}
	return false
}

// Values returns every secret value in m (the ones Mapping replaces), as
// the strings output would show them.
func (r *Redactor) Values(m *Mapping) []string {
	var out []string
	var walk func(v any, secret bool)
	walk = func(v any, secret bool) {
		switch t := v.(type) {
		case *Mapping:
			for _, k := range t.Keys() {
				e, _ := t.Get(k)
				walk(e, secret || r.secretKey(k))
			}
		case []any:
			for _, e := range t {
				walk(e, secret)
			}
		case nil, bool:
			// None, True, False: not secrets anyone could recognise
		default:
			if secret {
				out = append(out, PyStr(t))
			}
		}
	}
	if m != nil {
		walk(m, false)
	}
	return out
}

// MinSecretLen is the shortest value Scrub masks. Shorter values ("", "1",
// "yes") are not secrets anyone could use, and masking every "1" in a
// message would make it unreadable.
const MinSecretLen = 4

// Secrets is a set of values that must never be printed.
type Secrets struct {
	mu     sync.Mutex
	values []string // longest first, so a longer secret is masked whole
	seen   map[string]bool
}

// KnownSecrets are the secret values of every configuration this process
// has loaded: values under `secrets:` and under the keys the Redactor hides
// (also their rendered form, which render adds). It is process-wide on
// purpose, like GitHub Actions' add-mask: a value known to be secret is
// masked in every line the process prints — errors, warnings, logs —
// whichever code path printed it and whether or not it saw the config.
var KnownSecrets = &Secrets{}

// Add registers values. A value shorter than MinSecretLen is skipped; a
// multi-line value is registered whole and line by line (each line that is
// long enough), since messages often quote just one line.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	add := func(v string) {
		if len(v) < MinSecretLen || s.seen[v] {
			return
		}
		s.seen[v] = true
		s.values = append(s.values, v)
	}
	for _, v := range values {
		add(v)
		if q := strconv.Quote(v); q[1:len(q)-1] != v {
			add(q[1 : len(q)-1]) // as %q shows it inside a message
		}
		if strings.ContainsAny(v, "\r\n") {
			for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
				add(strings.TrimSpace(line))
			}
		}
	}
	sort.SliceStable(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
}

// Scrub returns text with every known secret value replaced by Redacted.
func (s *Secrets) Scrub(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.values {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, Redacted)
		}
	}
	return text
}
