package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/google/go-cmp/cmp"
)

func mapLookup(env map[string]string) LookupFunc {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// The interpolator walks the nesting itself (to see unset variables that
// compose-go only logs); its values must stay compose-go's.
func TestInterpolatorMatchesComposeGo(t *testing.T) {
	templates := []string{
		"plain", "$A", "${A}", "x${A}y", "$A$B", "${A}${B}", "$$A", "$${A}", "$$$A", "a $$ b",
		"${A:-d}", "${A-d}", "${A:+p}", "${A+p}", "${A:-}", "${A-}",
		"${A:-${B}}", "${A-${B:-x}}", "${A:+${B}}", "${A:-x} and ${B}", "${A:-${B:-${C}}} $C",
		"${A:-{x}}", "${A:-x}}", "pre-$A-post", "${A:-a-b}", "${A-a:-b}", "${E:-d}", "${E-d}", "${E:+p}", "${E+p}",
		"${A:?m}", "${E:?m}", "${E?m}",
	}
	envs := []map[string]string{
		{},
		{"A": "1"},
		{"A": "1", "B": "2", "C": "3", "E": ""},
		{"B": "2", "E": ""},
	}
	for _, env := range envs {
		for _, tmpl := range templates {
			want, werr := template.SubstituteWithOptions(tmpl, template.Mapping(mapLookup(env)), template.WithoutLogging)
			ip := &interpolator{lookup: template.Mapping(mapLookup(env))}
			got := ip.substitute(tmpl)
			if (werr != nil) != (len(ip.errs) > 0) {
				t.Errorf("%q with %v: errors: compose-go %v, here %v", tmpl, env, werr, ip.errs)
				continue
			}
			if werr == nil && got != want {
				t.Errorf("%q with %v: %q, compose-go gives %q", tmpl, env, got, want)
			}
		}
	}
}

func TestInterpolatorUnset(t *testing.T) {
	env := map[string]string{"SET": "v", "EMPTY": ""}
	for _, tc := range []struct {
		tmpl  string
		unset []string
	}{
		{"${X}", []string{"X"}},
		{"$X", []string{"X"}},
		{"pre-$X-post ${Y}", []string{"X", "Y"}},
		{"${EMPTY}", nil}, // set, if empty
		{"${SET}", nil},
		{"${X:-}", nil}, // a default, even an empty one
		{"${X-}", nil},
		{"${X:-d}", nil},
		{"${X+alt}", nil},
		{"${X:+alt}", nil},
		{"$$X", nil}, // a literal $, never a variable
		{"$${X}", nil},
		{"${X:?required}", nil}, // an error, not an unset variable
		{"${X:-${Y}}", []string{"Y"}},
		{"${SET:-${Y}}", nil}, // the default is not read
		{"${SET:+${Y}}", []string{"Y"}},
		{"${X:-a} ${Y} ${Z}", []string{"Y", "Z"}},
		{"${X:-${Y:-${Z}}}", []string{"Z"}},
	} {
		ip := &interpolator{lookup: template.Mapping(mapLookup(env))}
		ip.substitute(tc.tmpl)
		if diff := cmp.Diff(tc.unset, ip.unset); diff != "" {
			t.Errorf("%q: unset variables (-want +got):\n%s", tc.tmpl, diff)
		}
	}
}

const unsetDoc = `cluster:
  name: t
  aws:
    ami: ami-1
    instance_type: ${ITYPE}
    tags: {a: "x-${QUOTED}", b: pre-$ITYPE, c: $$LITERAL, d: "${DEF:-}"}
  other: ${ITYPE}/${SECOND}
`

func TestParseUnsetVariablesWarn(t *testing.T) {
	doc, err := Parse("cloud-compose.yml", []byte(unsetDoc), mapLookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range doc.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"cloud-compose.yml:5:20: ${ITYPE} is not set; using an empty string (set it, give a default with ${ITYPE:-value}, or make it required with ${ITYPE:?message}); also used on lines 6, 7",
		"cloud-compose.yml:6:15: ${QUOTED} is not set; using an empty string (set it, give a default with ${QUOTED:-value}, or make it required with ${QUOTED:?message})",
		"cloud-compose.yml:7:19: ${SECOND} is not set; using an empty string (set it, give a default with ${SECOND:-value}, or make it required with ${SECOND:?message})",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	aws, _ := doc.Data.Get("cluster")
	v, _ := aws.(*Mapping).Get("other")
	if v != "/" {
		t.Errorf("other = %#v, want %q", v, "/")
	}
}

func TestParseUnsetVariablesStrict(t *testing.T) {
	_, err := ParseWithOptions(context.Background(), "cloud-compose.yml", []byte(unsetDoc), mapLookup(nil), Options{StrictEnv: true})
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		"cloud-compose.yml:5:20: ${ITYPE} is not set (an error with --strict-env): set it, give a default with ${ITYPE:-value}, or write ${ITYPE:-} for an empty string; also used on lines 6, 7",
		"cloud-compose.yml:6:15: ${QUOTED} is not set (an error with --strict-env): set it, give a default with ${QUOTED:-value}, or write ${QUOTED:-} for an empty string",
		"cloud-compose.yml:7:19: ${SECOND} is not set (an error with --strict-env): set it, give a default with ${SECOND:-value}, or write ${SECOND:-} for an empty string",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	// every variable set: no problem, strict or not
	env := mapLookup(map[string]string{"ITYPE": "t3.small", "QUOTED": "q", "SECOND": "s"})
	doc, err := ParseWithOptions(context.Background(), "cloud-compose.yml", []byte(unsetDoc), env, Options{StrictEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range doc.Warnings {
		if strings.Contains(w.Msg, "is not set") {
			t.Errorf("unexpected warning %s", w)
		}
	}
}
