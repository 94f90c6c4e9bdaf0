package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runBinary runs the built cloud-compose in dir with env added to a clean
// environment (private HOME and local store), and returns stdout, stderr
// and the exit code.
func runBinary(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	home := t.TempDir()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "CLOUD_COMPOSE_") || k == "HOME" || k == "XDG_STATE_HOME" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "HOME="+home, "XDG_STATE_HOME="+filepath.Join(home, "state"),
		"CLOUD_COMPOSE_LOCAL_DIR="+filepath.Join(home, "store"))
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errOut.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), 0
}

// TestIntegrationUnknownSubcommand: a typo in a subcommand is a usage
// error (exit 2) with cobra's message and suggestions, not help and exit 0.
func TestIntegrationUnknownSubcommand(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"cluster", "dwon"}, []string{`error: unknown command "dwon" for "cloud-compose cluster"`, "Did you mean this?\n\tdown\n"}},
		{[]string{"image", "bake"}, []string{`error: unknown command "bake" for "cloud-compose image"`}},
		{[]string{"-C", dir, "cluster", "--verbose", "stauts", "x"}, []string{`unknown command "stauts" for "cloud-compose cluster"`, "Did you mean this?\n\tstatus\n"}},
		{[]string{"completion", "bsh"}, []string{`unknown command "bsh" for "cloud-compose completion"`, "\tbash\n"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := runBinary(t, dir, nil, tc.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d\nstderr: %s", code, ExitUsage, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if out != "" {
				t.Errorf("stdout is not empty (help printed?):\n%s", out)
			}
		})
	}
	// a group alone still prints its help, exit 0
	out, errOut, code := runBinary(t, dir, nil, "cluster")
	if code != 0 || !strings.Contains(out, "cloud-compose cluster [command]") || strings.Contains(out, "cloud-compose cluster [flags]") {
		t.Errorf("cluster alone: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// TestIntegrationWrongArgCount: every command given too many arguments
// exits 2 (usage), naming the command, and does nothing else.
func TestIntegrationWrongArgCount(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	dir := t.TempDir()
	root := newRootCommand(&globals{})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c.Runnable() && c != root {
			paths = append(paths, path)
		}
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(root, nil)
	if len(paths) < 15 {
		t.Fatalf("only %d commands found: %v", len(paths), paths)
	}
	for _, p := range paths {
		args := append(append([]string(nil), p...), "extra-1", "extra-2", "extra-3")
		t.Run(strings.Join(p, " "), func(t *testing.T) {
			out, errOut, code := runBinary(t, dir, nil, args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, ExitUsage, out, errOut)
			}
			if !strings.Contains(errOut, p[len(p)-1]) {
				t.Errorf("the error does not name the command:\n%s", errOut)
			}
		})
	}
	_, errOut, code := runBinary(t, dir, nil, "cluster", "up", "extra-arg")
	if code != ExitUsage || !strings.Contains(errOut, `unknown command "extra-arg" for "cloud-compose cluster up"`) ||
		!strings.Contains(errOut, "Usage: cloud-compose cluster up [flags]") {
		t.Errorf("cluster up extra-arg: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runBinary(t, dir, nil, "image", "import", "only-name")
	if code != ExitUsage || !strings.Contains(errOut, "cloud-compose image import: accepts 2 arg(s), received 1") {
		t.Errorf("image import NAME: exit %d\n%s", code, errOut)
	}
}

// TestIntegrationTemplateErrorsExit2: a template error is a configuration
// error, exit 2, from every command that renders.
func TestIntegrationTemplateErrorsExit2(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	config := "cluster:\n  name: exit-tpl\n  search_path: [templates]\n  local:\n    nodes:\n      - id: 1\n        ip: 127.0.77.31\n"
	for name, tpl := range map[string]string{
		"undefined": "#!/bin/sh\necho {{ nope.x }}\n",
		"syntax":    "#!/bin/sh\n{% if %}\n",
		"include":   "#!/bin/sh\n{% include 'missing.sh' %}\n",
	} {
		dir := writeProject(t, map[string]string{"cloud-compose.yml": config, "templates/cluster.sh": tpl})
		for _, args := range [][]string{
			{"cluster", "up"}, {"cluster", "plan"}, {"cluster", "build"}, {"cluster", "build", "--node", "1"}, {"cluster", "status"},
		} {
			t.Run(name+"/"+strings.Join(args, " "), func(t *testing.T) {
				_, errOut, code := runBinary(t, dir, nil, args...)
				if code != ExitUsage || !strings.Contains(errOut, "templates/cluster.sh") {
					t.Errorf("exit %d, want %d with the template's name\n%s", code, ExitUsage, errOut)
				}
			})
		}
	}
}
