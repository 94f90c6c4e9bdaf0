package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConfigExplain: `config --explain [KEY]` prints each leaf key's value
// and origin — the overlay or base file and line, ${VAR} from the
// environment or its default, the tool's default — secrets redacted; text
// and JSON goldens.
func TestConfigExplain(t *testing.T) {
	envTest(t)
	for _, tc := range []struct {
		name   string
		args   []string
		golden string
	}{
		{"no environment", []string{"config", "--explain"}, "envgolden/explain.golden"},
		{"production", []string{"-e", "production", "config", "--explain"}, "envgolden/production.explain.golden"},
		{"production json", []string{"-e", "production", "config", "--explain", "-o", "json"}, "envgolden/production.explain.json.golden"},
		{"one key and below", []string{"-e", "staging", "config", "--explain", "cluster.aws.nodes[0]"}, "envgolden/staging.explain-node.golden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, append([]string{"-C", envProject}, tc.args...)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d:\n%s", code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}

	// the JSON shape
	out, _, _ := run(t, "-C", envProject, "-e", "production", "config", "--explain", "cluster.aws.instance_type", "-o", "json")
	var rows []struct {
		Key    string `json:"key"`
		Value  any    `json:"value"`
		Source struct {
			File     string `json:"file"`
			Line     int    `json:"line"`
			Column   int    `json:"column"`
			Variable string `json:"variable"`
			Kind     string `json:"kind"`
		} `json:"source"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("%v:\n%s", err, out)
	}
	if r := rows[0]; r.Value != "m5.large" || r.Source.Kind != "file" || r.Source.Line != 6 || r.Source.Column != 20 ||
		r.Source.File != "testdata/envproject/environments/production.yml" {
		t.Errorf("%+v", r)
	}

	// a secret's value never shows, nor the default it came from
	t.Setenv("CC_ENV_TEST_DB_PASSWORD", "hunter2-very-secret")
	out, errOut, _ := run(t, "-C", envProject, "config", "--explain", "cluster.environment")
	if strings.Contains(out+errOut, "hunter2") || strings.Contains(out, "changeme") ||
		!strings.Contains(out, "<redacted>  ${CC_ENV_TEST_DB_PASSWORD} from the environment (testdata/envproject/cloud-compose.yml:6)") {
		t.Errorf("secret:\n%s%s", out, errOut)
	}
}

// TestConfigExplainErrors: an unknown KEY is a usage error (exit 2) that
// names the nearest keys; arguments need --explain.
func TestConfigExplainErrors(t *testing.T) {
	envTest(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"config", "--explain", "cluster.aws.instance_typ"}, "config --explain: the configuration has no key cluster.aws.instance_typ; the nearest: cluster.aws.instance_type"},
		{[]string{"config", "--explain", "cluster.aws.nodes[1]"}, "the configuration has no key cluster.aws.nodes[1]; the nearest: cluster.aws.nodes[0], cluster.aws.nodes"},
		{[]string{"config", "--explain", "cluster.aws.zzzzzzzzzz"}, "the nearest: cluster.aws.ami, cluster.aws.keypair, cluster.aws.security_groups, cluster.aws.instance_type, cluster.aws.volumes, cluster.aws.nodes"},
		{[]string{"config", "--explain", "a", "b"}, "config --explain takes at most one KEY, not 2"},
		{[]string{"config", "cluster.name"}, "config takes no arguments (did you mean `config --explain cluster.name`?)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := run(t, append([]string{"-C", envProject}, tc.args...)...)
			if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant %q", code, out, errOut, tc.want)
			}
		})
	}
}
