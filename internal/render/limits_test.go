package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// project writes a project with the given templates (under templates/)
// and extra lines under `cluster:`.
func project(t *testing.T, extra string, templates map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := "cluster:\n  name: t\n  search_path: [templates]\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range templates {
		if err := os.WriteFile(filepath.Join(dir, "templates", name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func buildCtx(ctx context.Context, t *testing.T, dir string) (string, error) {
	t.Helper()
	doc, err := config.Load(filepath.Join(dir, "cloud-compose.yml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadCluster(doc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewContext(ctx, dir, c, nil)
	if err != nil {
		return "", err
	}
	return r.Build(c, Options{})
}

func TestRecursionIsATemplateError(t *testing.T) {
	cases := []struct {
		name      string
		templates map[string]string
		want      string
	}{
		{"self include", map[string]string{"cluster.sh": `{% include "cluster.sh" %}`},
			"templates/cluster.sh:1: templates include, extend or import one another more than 990 deep (templates/cluster.sh refers to itself); Jinja2 stops this with a RecursionError"},
		{"include loop", map[string]string{"cluster.sh": `{% include "a.sh" %}`, "a.sh": `{% include "b.sh" %}`, "b.sh": "x\n{% include \"a.sh\" %}"},
			"more than 990 deep (a loop: templates/"},
		{"extends itself", map[string]string{"cluster.sh": `{% extends "cluster.sh" %}`},
			"templates/cluster.sh: templates include, extend or import one another more than 990 deep (templates/cluster.sh refers to itself)"},
		{"recursive macro", map[string]string{"cluster.sh": "\n{% macro f(n) %}{{ n }}{{ f(n+1) }}{% endmacro %}{{ f(0) }}"},
			"templates/cluster.sh:2: macro f: calls nest more than 250 deep (a macro that calls itself without end?); Jinja2 stops this with a RecursionError"},
		{"imported macro", map[string]string{"cluster.sh": `{% from "m.sh" import f %}{{ f() }}`, "m.sh": `{% from "m.sh" import f %}{% macro f() %}{{ f() }}{% endmacro %}`},
			"macro f: calls nest more than 250 deep"},
		{"call block", map[string]string{"cluster.sh": `{% macro f() %}{% call f() %}x{% endcall %}{% endmacro %}{{ f() }}`},
			"macro f: calls nest more than 250 deep"},
		{"block renders itself", map[string]string{"cluster.sh": "\n{% block a %}x{{ self.a() }}{% endblock %}"},
			"templates/cluster.sh:2: block a: self.a() calls nest more than 250 deep (a block that renders itself without end?); Jinja2 stops this with a RecursionError"},
		{"self outside the block", map[string]string{"cluster.sh": `{% if false %}{% block a %}{{ self.a() }}{% endblock %}{% endif %}{{ self.a() }}`},
			"block a: self.a() calls nest more than 250 deep"},
		{"self through super", map[string]string{"cluster.sh": `{% extends "base.sh" %}{% block a %}{{ super() }}{% endblock %}`, "base.sh": `{% block a %}{{ self.a() }}{% endblock %}`},
			"templates/cluster.sh:1: block a: self.a() calls nest more than 250 deep"}, // the block self.a() renders
		{"self in an included template", map[string]string{"cluster.sh": `{% include "i.sh" %}`, "i.sh": `{% block b %}{{ self.b() }}{% endblock %}`},
			"templates/i.sh:1: block b: self.b() calls nest more than 250 deep"},
		{"recursive loop", map[string]string{"cluster.sh": "\n\n{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}"},
			"templates/cluster.sh:3: recursive loop: loop() calls nest more than 250 deep (data that contains itself, or a loop that recurses without end?); Jinja2 stops this with a RecursionError"},
		{"loop over a namespace that contains itself", map[string]string{"cluster.sh": `{% set ns = namespace(a=1) %}{% set ns.s = ns %}{% for x in [ns] recursive %}{{ loop([x.s]) }}{% endfor %}`},
			"recursive loop: loop() calls nest more than 250 deep"},
		{"macro and loop together", map[string]string{"cluster.sh": `{% macro f(n) %}{% for x in [n] recursive %}{{ f(x) if x else loop([1]) }}{% endfor %}{% endmacro %}{{ f(0) }}`},
			"calls nest more than 250 deep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildCtx(context.Background(), t, project(t, "", tc.templates))
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *render.Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
			if n := strings.Count(err.Error(), "\n"); n > 3 {
				t.Errorf("message has %d lines", n)
			}
		})
	}
}

// Nesting within the limits still renders (Jinja2 renders these too).
func TestRecursionWithinLimits(t *testing.T) {
	dir := project(t, "", map[string]string{
		"cluster.sh": `{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{% else %}deep{% endif %}{% endmacro %}{{ f(200) }}
{% set d = 0 %}{% include "inc.sh" %}`,
		"inc.sh": `{% if d < 100 %}{% set d = d + 1 %}{% include "inc.sh" %}{% else %}{{ d }}{% endif %}`,
	})
	out, err := buildCtx(context.Background(), t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if out != "deep\n100" {
		t.Errorf("got %q", out)
	}
}

// self.NAME(), super() and loop(...) within the limits render as in
// Jinja2 (outputs from Jinja2 3.1), errors inside them included.
func TestCallsWithinLimits(t *testing.T) {
	cases := []struct {
		name      string
		templates map[string]string
		want      string
	}{
		{"self and super", map[string]string{"cluster.sh": `{% extends "base.sh" %}{% block a %}child[{{ super() }}]{% endblock %}`, "base.sh": `B{% block a %}base{% endblock %}|{{ self.a() }}`},
			"Bchild[base]|child[base]"},
		{"super chain through self", map[string]string{"cluster.sh": `{% extends "mid.sh" %}{% block a %}c[{{ super() }}]{% endblock %}`, "mid.sh": `{% extends "base.sh" %}{% block a %}m[{{ super() }}]{% endblock %}`, "base.sh": `{% block a %}b{% endblock %}{% block b %}-{{ self.a() }}{% endblock %}`},
			"c[m[b]]-c[m[b]]"},
		{"self 200 deep", map[string]string{"cluster.sh": `{% set n = namespace(i=0) %}{% block a %}{% set n.i = n.i + 1 %}{% if n.i < 200 %}{{ self.a() }}{% else %}{{ n.i }}{% endif %}{% endblock %}`},
			"200"},
		{"loop 240 deep", map[string]string{"cluster.sh": `{% for x in [1] recursive %}{% if x < 240 %}{{ loop([x+1]) }}{% else %}{{ x }}{% endif %}{% endfor %}`},
			"240"},
		{"tree", map[string]string{"cluster.sh": `{% for x in [{"n": "r", "c": [{"n": "a", "c": []}, {"n": "b", "c": [{"n": "b1", "c": []}]}]}] recursive %}{{ x.n }}({{ loop(x.c) }}){% endfor %}`},
			"r(a()b(b1()))"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := buildCtx(context.Background(), t, project(t, "", tc.templates))
			if err != nil {
				t.Fatal(err)
			}
			if out != tc.want {
				t.Errorf("got %q, want %q", out, tc.want)
			}
		})
	}
	// gonja dropped the error of a block rendered by self.NAME(); Jinja2
	// reports it.
	_, err := buildCtx(context.Background(), t, project(t, "", map[string]string{"cluster.sh": `{% if false %}{% block a %}{{ nosuch }}{% endblock %}{% endif %}{{ self.a() }}`}))
	if err == nil || !strings.Contains(err.Error(), `"nosuch" is undefined`) {
		t.Errorf("got %v, want nosuch is undefined", err)
	}
}

func TestBuildStopsWhenCancelled(t *testing.T) {
	dir := project(t, "", map[string]string{"cluster.sh": `{% for i in range(100000000) %}{% endfor %}`})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := buildCtx(ctx, t, dir)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s to stop", d)
	}
}

func TestEnvironmentTemplateErrorHidesTheValue(t *testing.T) {
	for i, v := range []string{`"s3cr3t-{{ x"`, `"{{ secrets.db_password }}x{{ s3cr3t }"`, `"s3cr3t{{ x | nosuchfilter }}"`} {
		t.Run(fmt.Sprint(i), func(t *testing.T) { // (the test name is in the temporary directory)
			dir := project(t, "  environment:\n    API_TOKEN: "+v+"\n", map[string]string{"cluster.sh": "x"})
			_, err := buildCtx(context.Background(), t, dir)
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %T %v, want a *config.Error", err, err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the value is quoted: %v", err)
			}
			if !strings.Contains(err.Error(), ":5:16: cluster.environment.API_TOKEN: is rendered as a Jinja2 template") {
				t.Errorf("message: %v", err)
			}
		})
	}
}
