package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// run executes the CLI in-process and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Execute(context.Background(), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	if err != nil && !IsSilent(err) {
		errOut.WriteString("error: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), ExitCode(err)
}

// project writes files (path -> content) into a new directory.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fixture(name string) string {
	return filepath.Join("..", "render", "testdata", "fixtures", name)
}

// The original's golden tests, through the command line.
func TestClusterBuildFixtures(t *testing.T) {
	for _, name := range []string{"simple", "subtree", "subtree-with-overrides"} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := run(t, "-C", fixture(name), "cluster", "build")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			want, err := os.ReadFile(filepath.Join(fixture(name), "cloud_init.sh"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

const minimalConfig = `cluster:
  name: demo
  search_path:
    - templates
  aws:
    security_groups: sg-1
    nodes:
      - id: 0
        ip: 10.0.0.10
      - id: web
        ip: 10.0.0.11
`

func TestClusterBuildNode(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"cloud-compose.yml":     minimalConfig,
		"templates/cluster.sh":  "node={{ _node_id }} int={{ _node_id is number }}{% if _node_id == 0 %} first{% endif %}\n",
		"templates/unused.sh":   "",
		"docker-compose.yml":    "x: 1\n",
		"templates/ignored.txt": "",
	})
	for _, tc := range []struct{ node, want string }{
		{"0", "node=0 int=True first\n"},
		{"web", "node=web int=False\n"},
	} {
		out, errOut, code := run(t, "-C", dir, "cluster", "build", "--node", tc.node)
		if code != 0 || out != tc.want {
			t.Errorf("--node %s: exit %d, out %q (want %q), stderr %s", tc.node, code, out, tc.want, errOut)
		}
	}
	out, errOut, code := run(t, "-C", dir, "cluster", "build", "--node", "7")
	if code != 2 || out != "" || !strings.Contains(errOut, "no such node; the nodes are 0, web") {
		t.Errorf("unknown node: exit %d, out %q, stderr %s", code, out, errOut)
	}
}

// Bad input: one clear error, exit 2, nothing on stdout.
func TestBadInput(t *testing.T) {
	tpl := map[string]string{"templates/cluster.sh": "#!/bin/bash\n{{ name }}\n"}
	with := func(files map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range tpl {
			out[k] = v
		}
		for k, v := range files {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name  string
		files map[string]string
		args  []string
		want  []string // substrings of stderr
	}{
		{
			name:  "no config file",
			files: map[string]string{"README": "x"},
			want:  []string{"no configuration file", "cloud-compose/cloud-compose.yml", "cloud-compose/cloud-compose.yaml", "cloud-compose.yml", "cloud-compose.yaml"},
		},
		{
			name:  "yaml syntax error",
			files: with(map[string]string{"cloud-compose.yml": "cluster:\n  name: a\n  search_path: [templates\n  aws: {}\n"}),
			want:  []string{"cloud-compose.yml:3: YAML syntax error: did not find expected ',' or ']'"},
		},
		{
			name: "required variables unset, every one listed",
			files: with(map[string]string{"cloud-compose.yml": "cluster:\n  name: ${CC_TEST_NAME:?set the cluster name}\n  search_path:\n    - templates\n" +
				"  aws:\n    keypair: ${CC_TEST_KEY?}\n    instance_type: ${CC_TEST_TYPE:-t3.small}\n"}),
			want: []string{"2 problems", "cloud-compose.yml:2:9: cluster.name: required variable CC_TEST_NAME is not set: set the cluster name",
				"cloud-compose.yml:6:14: cluster.aws.keypair: required variable CC_TEST_KEY is not set"},
		},
		{
			name: "wrong types for known keys",
			files: with(map[string]string{"cloud-compose.yml": "cluster:\n  name: a\n  search_path: templates\n  aws:\n    terminate_protection: maybe\n" +
				"    volumes:\n      - name: data\n        size: 10X\n    nodes:\n      - id: 0\n        ip: 10.0.0.300\n"}),
			want: []string{"cluster.search_path: must be a list", "(write it as a list: [templates])",
				"cloud-compose.yml:5:27: cluster.aws.terminate_protection: must be true or false",
				"cluster.aws.volumes[0].size: \"10X\" is not a size", "cluster.aws.nodes[0].ip: \"10.0.0.300\" is not an IPv4 address"},
		},
		{
			name:  "missing required keys",
			files: with(map[string]string{"cloud-compose.yml": "cluster:\n  aws: {}\n"}),
			want:  []string{"missing required key `name`", "missing required key `search_path`"},
		},
		{
			name:  "template uses an undefined name",
			files: with(map[string]string{"cloud-compose.yml": minimalConfig, "templates/cluster.sh": "#!/bin/bash\n{% include \"mounts.sh\" %}\n", "templates/mounts.sh": "a\n{{ aws.volumez }}\n"}),
			want:  []string{"templates/mounts.sh:2: aws.volumez is undefined", "included from templates/cluster.sh:2"},
		},
		{
			name:  "include not on the search path",
			files: with(map[string]string{"cloud-compose.yml": minimalConfig, "templates/cluster.sh": "#!/bin/bash\n{% include \"missing.sh\" %}\n", "other/missing.sh": "x"}),
			want:  []string{"templates/cluster.sh:2", `template "missing.sh" is not in any directory of the search path (., templates)`},
		},
		{
			name:  "template syntax error",
			files: with(map[string]string{"cloud-compose.yml": minimalConfig, "templates/cluster.sh": "#!/bin/bash\n{% if name %}\nx\n"}),
			want:  []string{"templates/cluster.sh", "syntax error"},
		},
		{
			name:  "bad output format",
			files: with(map[string]string{"cloud-compose.yml": minimalConfig}),
			args:  []string{"-o", "yaml", "cluster", "build"},
			want:  []string{"the output format must be text or json"},
		},
		{
			name:  "unknown flag",
			files: with(map[string]string{"cloud-compose.yml": minimalConfig}),
			args:  []string{"cluster", "build", "--nod", "0"},
			want:  []string{"unknown flag: --nod"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, tc.files)
			args := tc.args
			if args == nil {
				args = []string{"cluster", "build"}
			}
			out, errOut, code := run(t, append([]string{"-C", dir}, args...)...)
			if code != 2 {
				t.Errorf("exit code %d, want 2; stderr: %s", code, errOut)
			}
			if out != "" {
				t.Errorf("stdout should be empty, got %q", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if n := strings.Count("\n"+errOut, "\nerror:"); n != 1 {
				t.Errorf("want the error printed once, got %d times:\n%s", n, errOut)
			}
		})
	}
}

func TestInterpolation(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"cloud-compose.yml": "cluster:\n  name: ${CC_TEST_CLUSTER}\n  search_path: [templates]\n  environment:\n    PRICE: $$5\n" +
			"  aws:\n    instance_type: ${CC_TEST_UNSET:-m5.large}\n    terminate_protection: ${CC_TEST_TP}\n    tags:\n      team: $CC_TEST_TEAM\n",
		"templates/cluster.sh": "{{ name }} {{ aws.instance_type }} {{ aws.terminate_protection is sameas false }} {{ aws.tags.team }} {{ PRICE }}\n",
	})
	t.Setenv("CC_TEST_CLUSTER", "prod")
	t.Setenv("CC_TEST_TP", "false")
	t.Setenv("CC_TEST_TEAM", "db")
	out, errOut, code := run(t, "-C", dir, "cluster", "build")
	if code != 0 || out != "prod m5.large True db $5\n" {
		t.Errorf("exit %d out %q stderr %s", code, out, errOut)
	}
}

func TestWarnings(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"cloud-compose.yml":    "cluster:\n  name: a\n  search_path: [templates]\n  aws:\n    instance_typ: t3.micro\n    volumes:\n      - name: tmp\n        size: 900M\n",
		"templates/cluster.sh": "ok\n",
	})
	out, errOut, code := run(t, "-C", dir, "cluster", "build")
	if code != 0 || out != "ok\n" {
		t.Fatalf("exit %d out %q stderr %s", code, out, errOut)
	}
	for _, w := range []string{"cloud-compose.yml:5:5: cluster.aws.instance_typ: unknown key; did you mean `instance_type`?",
		"cloud-compose.yml:8:15: cluster.aws.volumes[0].size: 900M is less than 1 GB; the original tool turned it into 0 GB, it is rounded up to 1 GB"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

func TestConfigCommandRedactsSecrets(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"cloud-compose/cloud-compose.yml": "cluster:\n  name: a\n  search_path: [templates]\n  secrets:\n    MONGO_PASSWORD: AQICAHhsupersecret\n    nested: {key: hidden}\n  environment:\n    DB_PASSWORD: hunter2\n    REGION: us-east-1\nmongo:\n  admin_token: tok123\n  replicas: 3\n",
	})
	out, errOut, code := run(t, "-C", dir, "config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, secret := range []string{"AQICAHhsupersecret", "hidden", "hunter2", "tok123"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("secret %q in output:\n%s", secret, out)
		}
	}
	for _, w := range []string{"MONGO_PASSWORD: <redacted>", "REGION: us-east-1", "replicas: 3"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	out, _, code = run(t, "-C", dir, "-o", "json", "config")
	var doc map[string]map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("json: %v (exit %d) %s", err, code, out)
	}
	if doc["mongo"]["replicas"] != 3.0 || doc["cluster"]["secrets"].(map[string]any)["MONGO_PASSWORD"] != "<redacted>" {
		t.Errorf("json document: %v", doc)
	}
}

func TestPluginsListAndExternal(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"cloud-compose.yml": "cluster:\n  name: a\n  search_path: [templates]\nhello:\n  greeting: ${CC_TEST_GREETING:-hi}\n  count: 2\ndatadog:\n  x: 1\n",
	})
	bin := t.TempDir()
	script := "#!/bin/sh\necho \"args=$*\"\necho \"config=$CLOUD_COMPOSE_CONFIG\"\necho \"plugin=$CLOUD_COMPOSE_PLUGIN_CONFIG\"\nexit 3\n"
	if err := os.WriteFile(filepath.Join(bin, "cloud-compose-hello"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	out, errOut, code := run(t, "-C", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{"cluster  Launch", "config ", "hello    " + filepath.Join(bin, "cloud-compose-hello"), "datadog  not installed: no cloud-compose-datadog on PATH"} {
		if !strings.Contains(out, w) {
			t.Errorf("plugin list lacks %q:\n%s", w, out)
		}
	}

	out, errOut, code = run(t, "-C", dir, "hello", "world", "--loud")
	if code != 3 {
		t.Errorf("plugin exit code not passed through: %d (%s)", code, errOut)
	}
	want := "args=world --loud\nconfig=" + filepath.Join(dir, "cloud-compose.yml") + "\nplugin={\"greeting\":\"hi\",\"count\":2}\n"
	if out != want {
		t.Errorf("plugin output:\n%s\nwant:\n%s", out, want)
	}
	if strings.Contains(errOut, "error:") {
		t.Errorf("a plugin's own failure is not ours to report: %s", errOut)
	}

	_, errOut, code = run(t, "-C", dir, "datadog", "sync")
	if code != 2 || !strings.Contains(errOut, `unknown command "datadog": it is not built in and no cloud-compose-datadog is on PATH`) {
		t.Errorf("missing plugin: exit %d, %s", code, errOut)
	}
}

func TestClusterListsCommands(t *testing.T) {
	out, _, code := run(t, "cluster")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range []string{"build", "up", "down", "status", "logs", "cleanup", "snapshot"} {
		if !strings.Contains(out, "  "+c+" ") {
			t.Errorf("cluster help lacks %s:\n%s", c, out)
		}
	}
	out, _, code = run(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: exit %d", code)
	}
	out, _, code = run(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "cloud-compose version ") {
		t.Errorf("--version: %q", out)
	}
}
