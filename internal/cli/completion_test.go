package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

// completions runs cobra's hidden `__complete ARGS...` through the binary
// and returns the candidates (without descriptions), the candidates with
// descriptions, and stderr.
func completions(t *testing.T, dir string, env []string, args ...string) ([]string, []string, string) {
	t.Helper()
	out, errOut, code := runBinary(t, dir, env, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d\n%s", args, code, errOut)
	}
	var names, full []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(line, ":") || line == "" {
			break // the directive ends the candidates
		}
		name, _, _ := strings.Cut(line, "\t")
		names = append(names, name)
		full = append(full, line)
	}
	return names, full, errOut
}

// TestIntegrationCompletion: shell completion completes node ids (from the
// config, as the command reads it, quietly), -o values and the external
// plugins on PATH.
func TestIntegrationCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	// a config with an unset variable and a key given twice: completion
	// must not print their warnings
	proj := writeProject(t, map[string]string{
		"cloud-compose.yml": "cluster:\n  name: comp\n  search_path: [templates]\n  name: comp\n  tags:\n    owner: ${CC_COMPLETION_UNSET}\n" +
			"  local:\n    nodes:\n      - id: 1\n        ip: 127.0.77.41\n      - id: web2\n        ip: 127.0.77.42\n      - id: web3\n        ip: 127.0.77.43\n",
		"other.yml": "cluster:\n  name: other\n  search_path: [templates]\n  local:\n    nodes:\n      - id: db\n        ip: 127.0.77.51\n",
	})
	bin := t.TempDir()
	for name, mode := range map[string]os.FileMode{"cloud-compose-hello": 0o755, "cloud-compose-notexec": 0o644, "cloud-compose-cluster": 0o755} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	elsewhere := t.TempDir()
	nodes := []string{"1", "web2", "web3"}

	for _, tc := range []struct {
		dir  string
		args []string
		want []string
	}{
		{proj, []string{"cluster", "logs", ""}, nodes},
		{proj, []string{"cluster", "logs", "w"}, []string{"web2", "web3"}},
		{proj, []string{"cluster", "logs", "-f", "--tail", "5", ""}, nodes},
		{proj, []string{"cluster", "logs", "1", ""}, nil},
		{elsewhere, []string{"-C", proj, "cluster", "logs", ""}, nodes},
		{elsewhere, []string{"cluster", "logs", "-C", proj, "--file", "other.yml", ""}, []string{"db"}},
		{elsewhere, []string{"cluster", "logs", ""}, nil},
		{proj, []string{"cluster", "logs", "-o", ""}, []string{"text", "json"}},
		{proj, []string{"cluster", "build", "--node", ""}, nodes},
		{proj, []string{"cluster", "build", "--node", "web3"}, []string{"web3"}},
		{elsewhere, []string{"-C", proj, "-f", "other.yml", "cluster", "build", "--node", ""}, []string{"db"}},
		{elsewhere, []string{"cluster", "build", "--node", ""}, nil},
		{proj, []string{"cluster", "up", "--snapshot-node", ""}, nodes},
		{proj, []string{"cluster", "rollout", "--node", ""}, nodes},
		{proj, []string{"cluster", "rollout", "--node", "1", "--node", "w"}, []string{"web2", "web3"}},
		{proj, []string{"cluster", "rollback", "--node", ""}, nodes},
		{proj, []string{"cluster", "rollback", "--to", ""}, nil}, // no generations yet
		{proj, []string{"-o", ""}, []string{"text", "json"}},
		{proj, []string{"cluster", "status", "-o", "j"}, []string{"json"}},
		{proj, []string{"cluster", "status", "--output", ""}, []string{"text", "json"}},
		{proj, []string{"he"}, []string{"help", "hello"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, _, errOut := completions(t, tc.dir, env, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if strings.Contains(errOut, "warning") || strings.Contains(errOut, "error") {
				t.Errorf("completion is not quiet:\n%s", errOut)
			}
		})
	}

	// completion reads the coordinator, never creates it
	if _, err := os.Stat(filepath.Join(proj, ".cloud-compose")); !os.IsNotExist(err) {
		t.Errorf("completion created the project's state directory: %v", err)
	}
	// rollback --to: the cluster's generations, newest first, with state
	ctx := context.Background()
	b, err := state.Open(ctx, "", proj)
	if err != nil {
		t.Fatal(err)
	}
	for n, st := range map[int]string{1: state.GenOld, 2: state.GenActive, 12: state.GenPending} {
		if err := b.PutGeneration(ctx, state.Key{Cluster: "comp"}, state.Generation{Number: n, State: st, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	if got, full, _ := completions(t, proj, env, "cluster", "rollback", "--to", "1"); !slices.Equal(got, []string{"12", "1"}) || !strings.Contains(strings.Join(full, "\n"), "12\tpending") {
		t.Errorf("rollback --to 1: %v %v", got, full)
	}

	// the top level lists the built-in commands and the plugins on PATH
	// (executable, not shadowing a built-in), with the plugin's path
	got, full, _ := completions(t, proj, env, "")
	for _, w := range []string{"cluster", "config", "image", "hello"} {
		if !contains(got, w) {
			t.Errorf("top level lacks %q: %v", w, got)
		}
	}
	for _, w := range []string{"notexec"} {
		if contains(got, w) {
			t.Errorf("top level offers %q: %v", w, got)
		}
	}
	if !contains(full, "hello\texternal plugin: "+filepath.Join(bin, "cloud-compose-hello")) {
		t.Errorf("the plugin's description is not its path: %v", full)
	}
	if n := strings.Count(strings.Join(got, " "), "cluster"); n != 1 {
		t.Errorf("cluster offered %d times: %v", n, got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestIntegrationEnvCompletion: -e/--env completes the project's
// environments (overlay files and `environments:` entries, each named
// once, described by where it is defined); node ids follow the selected
// environment.
func TestIntegrationEnvCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	proj := writeProject(t, map[string]string{
		"cloud-compose.yml": "cluster:\n  name: comp\n  search_path: [templates]\n  local:\n    nodes:\n      - {id: db1, ip: 127.0.77.61}\n" +
			"environments:\n  staging: {}\n  stage-eu: {extends: staging}\n",
		"environments/production.yml": "cluster:\n  local:\n    nodes:\n      - {id: p1, ip: 127.0.77.71}\n      - {id: p2, ip: 127.0.77.72}\n",
		"environments/preview.yaml":   "{}\n",
		"environments/README.md":      "not an environment\n",
		"other/cloud-compose.yml":     "cluster:\n  name: other\n  search_path: [templates]\n",
		"other/environments/qa.yml":   "{}\n",
	})
	elsewhere := t.TempDir()
	all := []string{"preview", "production", "stage-eu", "staging"}
	for _, tc := range []struct {
		dir  string
		env  []string
		args []string
		want []string
	}{
		{proj, nil, []string{"-e", ""}, all},
		{proj, nil, []string{"--env", "p"}, []string{"preview", "production"}},
		{proj, nil, []string{"cluster", "plan", "-e", "st"}, []string{"stage-eu", "staging"}},
		{proj, nil, []string{"config", "--env", ""}, all},
		{elsewhere, nil, []string{"-C", proj, "-e", "prod"}, []string{"production"}},
		{elsewhere, nil, []string{"-C", filepath.Join(proj, "other"), "-e", ""}, []string{"qa"}},
		{elsewhere, nil, []string{"-e", ""}, nil},
		{proj, nil, []string{"cluster", "logs", "-e", ""}, all},
		{elsewhere, nil, []string{"cluster", "logs", "-C", proj, "--env", "pre"}, []string{"preview"}},
		// node ids are those of the selected environment
		{proj, nil, []string{"cluster", "build", "--node", ""}, []string{"db1"}},
		{proj, nil, []string{"-e", "production", "cluster", "build", "--node", ""}, []string{"p1", "p2"}},
		{proj, []string{EnvVar + "=production"}, []string{"cluster", "build", "--node", ""}, []string{"p1", "p2"}},
		{proj, nil, []string{"cluster", "logs", "-e", "production", ""}, []string{"p1", "p2"}},
		{proj, []string{EnvVar + "=production"}, []string{"cluster", "logs", ""}, []string{"p1", "p2"}},
	} {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			got, _, errOut := completions(t, tc.dir, tc.env, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if strings.Contains(errOut, "warning") || strings.Contains(errOut, "error") {
				t.Errorf("completion is not quiet:\n%s", errOut)
			}
		})
	}
	_, full, _ := completions(t, proj, nil, "-e", "")
	for _, w := range []string{"staging\tenvironment, cloud-compose.yml:8", "production\tenvironment, environments/production.yml", "preview\tenvironment, environments/preview.yaml"} {
		if !contains(full, w) {
			t.Errorf("no %q in %q", w, full)
		}
	}
}

// converge and plan complete GROUP= for the project's node groups not yet
// given, with their count and minimum.
func TestIntegrationCompletionGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	dir := writeProject(t, map[string]string{"cloud-compose.yml": "cluster:\n  name: g\n  search_path: [templates]\n  groups:\n    web: {count: 2, zones: [a, b], min_per_zone: 1}\n    worker: {count: 1}\n  local:\n    network: 127.0.9.0/24\n"})
	names, full, _ := completions(t, dir, nil, "cluster", "converge", "")
	if strings.Join(names, " ") != "web= worker=" || full[0] != "web=\tnode group, count 2, at least 2" {
		t.Errorf("converge: %q", full)
	}
	if names, _, _ := completions(t, dir, nil, "cluster", "plan", "web=3", "w"); strings.Join(names, " ") != "worker=" {
		t.Errorf("plan web=3 w: %q", names)
	}
}
