package config

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// billionLaughs is the classic YAML bomb: 9 levels of 9 aliases, 9^9
// (387 million) strings when expanded, in under 1 KB.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("cluster:\n  name: bomb\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, l := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		fmt.Fprintf(&b, "  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", l, l, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = l
	}
	return b.String()
}

func TestAliasBombIsAConfigError(t *testing.T) {
	src := billionLaughs()
	if len(src) > 1024 {
		t.Fatalf("the bomb is %d bytes, want under 1 KB", len(src))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Parse("bomb.yml", []byte(src), noEnv)
	runtime.ReadMemStats(&after)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *config.Error", err)
	}
	msg := err.Error()
	// the outermost alias being expanded when the budget ran out
	if !strings.HasPrefix(msg, "bomb.yml:6:16: the alias *c expands into too much data") || !strings.Contains(msg, "billion laughs") {
		t.Errorf("message: %s", msg)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 50<<20 {
		t.Errorf("allocated %d MB", grew>>20)
	}
}

// A config with aliases well within the budget loads as before, merges
// included.
func TestAliasesWithinBudget(t *testing.T) {
	src := `cluster:
  base: &base {size: 10G, type: gp2}
  list: &l [1, 2, 3]
  a: *l
  vol:
    <<: *base
    size: 20G
  many: [` + strings.TrimSuffix(strings.Repeat("*base,", 500), ",") + `]
`
	doc, err := Parse("ok.yml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := doc.Data.Get("cluster")
	vol, _ := c.(*Mapping).Get("vol")
	if got := fmt.Sprint(vol.(*Mapping).Keys()); got != "[size type]" {
		t.Errorf("vol keys %s", got)
	}
	size, _ := vol.(*Mapping).Get("size")
	if size != "20G" {
		t.Errorf("size %v", size)
	}
	many, _ := c.(*Mapping).Get("many")
	if len(many.([]any)) != 500 {
		t.Errorf("many: %d", len(many.([]any)))
	}
}

func TestAliasInsideItsOwnAnchor(t *testing.T) {
	for name, src := range map[string]string{
		"list":    "cluster:\n  a: &a [1, *a]\n",
		"mapping": "cluster:\n  a: &a\n    b: *a\n",
		"merge":   "cluster:\n  a: &a\n    <<: *a\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("loop.yml", []byte(src), noEnv)
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "the alias *a is inside the value of its own anchor &a (line 2)") {
				t.Fatalf("got %v", err)
			}
			if !strings.HasPrefix(err.Error(), "loop.yml:") || ce.Problems[0].Line < 2 {
				t.Errorf("no line: %v", err)
			}
		})
	}
}

// Interpolation walks each node once: aliases share their anchor's node,
// so a bomb with ${VAR} in it costs no more than its text.
func TestInterpolationOverAliasesIsBounded(t *testing.T) {
	src := strings.Replace(billionLaughs(), `"lol"`, `"${LOL}"`, -1)
	calls := 0
	lookup := func(k string) (string, bool) { calls++; return "x", true }
	_, err := Parse("bomb.yml", []byte(src), lookup)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	if calls != 9 {
		t.Errorf("looked up %d variables, want 9 (one per scalar written)", calls)
	}
}

func TestParseStopsWhenCancelled(t *testing.T) {
	// a large legal document: 200,000 list items
	var b strings.Builder
	b.WriteString("cluster:\n  name: big\n  items:\n")
	for i := 0; i < 200000; i++ {
		fmt.Fprintf(&b, "    - {id: %d, ip: 10.0.0.1, v: ${X:-y}}\n", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := ParseContext(ctx, "big.yml", []byte(b.String()), noEnv)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "big.yml: interrupted") {
		t.Errorf("message: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("took %s to stop", d)
	}
}

func TestDuplicateKeysWarn(t *testing.T) {
	src := `cluster:
  name: first
  aws:
    ami: a
    ami: b
  name: second
  <<: {x: 1}
  <<: {y: 2}
`
	doc, err := Parse("dup.yml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range doc.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"dup.yml:5: key cluster.aws.ami is given twice (lines 4 and 5); the last one wins, as in the Python tool",
		"dup.yml:6: key cluster.name is given twice (lines 2 and 6); the last one wins, as in the Python tool",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c, _ := doc.Data.Get("cluster")
	if name, _ := c.(*Mapping).Get("name"); name != "second" {
		t.Errorf("name %v, want the last one", name)
	}
	if got := fmt.Sprint(c.(*Mapping).Keys()); got != "[x y name aws]" {
		t.Errorf("keys %s", got)
	}
}

func TestSecretsAreRegisteredAndScrubbed(t *testing.T) {
	src := `cluster:
  name: s
  secrets:
    db_password: "p{{ass-word"
    pem: |
      -----BEGIN KEY-----
      c2VjcmV0LWxpbmU=
      -----END KEY-----
    short: "ab"
  environment:
    API_TOKEN: tok-12345
    PLAIN: visible-value
`
	if _, err := Parse("s.yml", []byte(src), noEnv); err != nil {
		t.Fatal(err)
	}
	msg := KnownSecrets.Scrub(`bad "p{{ass-word" and c2VjcmV0LWxpbmU= and tok-12345 and visible-value and ab`)
	want := `bad "<redacted>" and <redacted> and <redacted> and visible-value and ab`
	if msg != want {
		t.Errorf("got  %s\nwant %s", msg, want)
	}
}

func TestInvalidInterpolationInASecretIsNotQuoted(t *testing.T) {
	src := "cluster:\n  secrets:\n    db: \"hunter2-${\"\n  other: \"plain-${\"\n"
	_, err := Parse("i.yml", []byte(src), noEnv)
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the secret is quoted: %v", err)
	}
	if !strings.Contains(err.Error(), "i.yml:3:9: cluster.secrets.db: invalid interpolation in the value (not shown: the key holds a secret)") ||
		!strings.Contains(err.Error(), `"plain-${"`) {
		t.Errorf("message: %v", err)
	}
}
