package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(m, func(b string) { binary = b }) }

// writeProject writes a local-provider project: cloud-compose.yml with
// extra lines under `cluster:`, and templates/.
func writeProject(t *testing.T, extra string, templates map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := "cluster:\n  name: hostile\n  search_path: [templates]\n" + extra +
		"  local:\n    image: empty\n    nodes: [{id: 0, ip: 127.0.0.91}]\n"
	if err := os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := templates["cluster.sh"]; !ok {
		templates["cluster.sh"] = "echo ok\n"
	}
	for name, src := range templates {
		if err := os.WriteFile(filepath.Join(dir, "templates", name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type result struct {
	code           int
	stdout, stderr string
	maxRSS         int64 // KB
	took           time.Duration
}

func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-C", dir}, args...)...)
	cmd.Dir = dir // messages name files relative to the working directory
	peak := testbin.Measure(cmd)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String(), took: time.Since(start)}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	r.code = cmd.ProcessState.ExitCode()
	r.maxRSS = peak()
	return r
}

func billionLaughs() string {
	var b strings.Builder
	b.WriteString("  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, l := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		fmt.Fprintf(&b, "  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", l, l, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = l
	}
	return b.String()
}

// Issue 7 item 8: a YAML bomb, include loops, a recursive macro, a block
// that renders itself and a recursive loop that does not end are clear errors, exit 2, in bounded memory (before: 11 GB, or the Go
// runtime's "stack overflow" at 3.2 GB).
func TestIntegrationHostileInputIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	cases := []struct {
		name      string
		extra     string
		templates map[string]string
		want      string
	}{
		{"billion laughs", billionLaughs(), map[string]string{},
			"cloud-compose.yml:7:19: the alias *c expands into too much data"},
		{"alias loop", "  a: &a [1, *a]\n", map[string]string{},
			"the alias *a is inside the value of its own anchor &a (line 4)"},
		{"self include", "", map[string]string{"cluster.sh": `{% include "cluster.sh" %}`},
			"templates/cluster.sh:1: templates include, extend or import one another more than 990 deep (templates/cluster.sh refers to itself)"},
		{"include loop", "", map[string]string{"cluster.sh": `{% include "a.sh" %}`, "a.sh": `{% include "b.sh" %}`, "b.sh": `{% include "a.sh" %}`},
			"more than 990 deep (a loop: templates/"},
		{"recursive macro", "", map[string]string{"cluster.sh": `{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(0) }}`},
			"templates/cluster.sh:1: macro f: calls nest more than 250 deep"},
		// before: "fatal error: stack overflow" at 1.1 GB
		{"block renders itself", "", map[string]string{"cluster.sh": `{% block a %}{{ self.a() }}{% endblock %}`},
			"templates/cluster.sh:1: block a: self.a() calls nest more than 250 deep"},
		// before: still running after 7 minutes, at 760 MB and growing
		{"recursive loop", "", map[string]string{"cluster.sh": `{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}`},
			"templates/cluster.sh:1: recursive loop: loop() calls nest more than 250 deep"},
		{"recursive loop over data that contains itself", "", map[string]string{"cluster.sh": `{% set ns = namespace(a=1) %}{% set ns.s = ns %}{% for x in [ns] recursive %}{{ loop([x.s]) }}{% endfor %}`},
			"templates/cluster.sh:1: recursive loop: loop() calls nest more than 250 deep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, writeProject(t, tc.extra, tc.templates), "cluster", "build")
			if r.code != 2 {
				t.Errorf("exit %d, want 2\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("stderr:\n%s\nwant %q", r.stderr, tc.want)
			}
			if r.maxRSS > 100<<10 {
				t.Errorf("peak RSS %d MB, want under 100 MB", r.maxRSS>>10)
			}
			t.Logf("exit %d in %s, peak RSS %d MB", r.code, r.took.Round(time.Millisecond), r.maxRSS>>10)
		})
	}
}

// Issue 7 item 8: SIGTERM stops the binary promptly in a slow stage (before:
// `timeout 20` did not stop the YAML bomb).
func TestIntegrationSignalStopsSlowStages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	var big strings.Builder
	big.WriteString("  items:\n")
	for i := 0; i < 400000; i++ {
		fmt.Fprintf(&big, "    - {id: %d, v: \"${X:-y}\"}\n", i)
	}
	cases := []struct {
		name      string
		extra     string
		templates map[string]string
	}{
		{"template loop", "", map[string]string{"cluster.sh": `{% for i in range(1000000000) %}{% endfor %}`}},
		{"large config", big.String(), map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, tc.extra, tc.templates)
			cmd := exec.Command(binary, "-C", dir, "cluster", "build")
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			sent := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("still running 5 s after SIGTERM; stderr:\n%s", errOut.String())
			}
			took := time.Since(sent)
			code := cmd.ProcessState.ExitCode()
			if code == 0 || took > 2*time.Second {
				t.Errorf("exit %d %s after SIGTERM, want non-zero within 2 s", code, took)
			}
			if !strings.Contains(errOut.String(), "error: interrupted by SIGTERM") {
				t.Errorf("stderr:\n%s", errOut.String())
			}
			t.Logf("exit %d %s after SIGTERM: %s", code, took.Round(time.Millisecond), strings.TrimSpace(errOut.String()))
		})
	}
}

// Issue 7 item 9: a key given twice is a warning with both lines.
func TestIntegrationDuplicateKeyWarning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	r := run(t, writeProject(t, "  name: second\n", map[string]string{}), "cluster", "build")
	want := "warning: cloud-compose.yml:4: key cluster.name is given twice (lines 2 and 4); the last one wins, as in the Python tool\n"
	if r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %q", r.code, r.stderr, want)
	}
}

// Issue 7 item 11: secret values never appear in an error.
func TestIntegrationSecretsNeverInErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	cases := []struct {
		name      string
		extra     string
		templates map[string]string
	}{
		// an environment value that is not a valid template (before: the
		// error quoted it whole)
		{"environment", "  secrets: {db_password: \"p{{ass-w0rd\"}\n  environment:\n    DB_PASSWORD: \"p{{ass-w0rd {{ secrets.db_password }}x{{\"\n", map[string]string{}},
		// a template error whose message carries the secret value
		{"template", "  secrets: {db_password: \"p{{ass-w0rd\"}\n", map[string]string{"cluster.sh": "{{ secrets.db_password.split(1, 2, 3) }}"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, tc.extra, tc.templates)
			for _, args := range [][]string{{"cluster", "build"}, {"-v", "cluster", "build"}, {"-v", "cluster", "up"}} {
				r := run(t, dir, args...)
				if r.code == 0 {
					t.Errorf("%v: exit 0", args)
				}
				if strings.Contains(r.stderr, "ass-w0rd") {
					t.Errorf("%v: the secret is printed:\n%s", args, r.stderr)
				}
				t.Logf("%v: exit %d: %s", args, r.code, strings.TrimSpace(r.stderr))
			}
		})
	}
}
