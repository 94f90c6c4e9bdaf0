package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The golden files of these tests are refreshed with
// `go test ./internal/cli -run 'Env|Explain' -update`.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

// updating reports whether -update was given.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// envProject is a project with an inline environment (staging) and an
// overlay file (production, extends staging).
var envProject = filepath.Join("testdata", "envproject")

// envTest clears the variables the environment tests read.
func envTest(t *testing.T) {
	t.Setenv(EnvVar, "")
	t.Setenv("CC_ENV_TEST_REGION", "eu-west-1")
	t.Setenv("CC_ENV_TEST_DB_PASSWORD", "")
	t.Setenv("CC_ENV_TEST_ITYPE", "")
	os.Unsetenv("CC_ENV_TEST_DB_PASSWORD")
	os.Unsetenv("CC_ENV_TEST_ITYPE")
}

// TestEnvConfig: `config -e NAME` prints the merged configuration, as
// CLOUD_COMPOSE_ENV=NAME does (the flag wins); with no environment the
// output is what it was before environments (the environments: key is
// neither printed nor a plugin).
func TestEnvConfig(t *testing.T) {
	envTest(t)
	for _, tc := range []struct {
		name   string
		args   []string
		env    string // CLOUD_COMPOSE_ENV
		golden string
	}{
		{"no environment", []string{"config"}, "", "envgolden/config.golden"},
		{"-e staging", []string{"-e", "staging", "config"}, "", "envgolden/staging.golden"},
		{"--env after the command", []string{"config", "--env", "staging"}, "", "envgolden/staging.golden"},
		{"CLOUD_COMPOSE_ENV", []string{"config"}, "staging", "envgolden/staging.golden"},
		{"the flag wins over CLOUD_COMPOSE_ENV", []string{"-e", "staging", "config"}, "nope", "envgolden/staging.golden"},
		{"-e production (extends staging)", []string{"-e", "production", "config"}, "", "envgolden/production.golden"},
		{"-e production -o json", []string{"-e", "production", "config", "-o", "json"}, "", "envgolden/production.json.golden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvVar, tc.env)
			out, errOut, code := run(t, append([]string{"-C", envProject}, tc.args...)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d:\n%s", code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}

	// byte-identical to the same file without its environments: key
	src, err := os.ReadFile(filepath.Join(envProject, "cloud-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := strings.Cut(string(src), "environments:\n")
	dir := writeProject(t, map[string]string{"cloud-compose.yml": base})
	for _, args := range [][]string{{"config"}, {"config", "-o", "json"}} {
		want, _, _ := run(t, append([]string{"-C", dir}, args...)...)
		got, _, _ := run(t, append([]string{"-C", envProject}, args...)...)
		if want != got {
			t.Errorf("%v: the environments: key changed the output:\n%s", args, cmp.Diff(want, got))
		}
	}
	if out, _, _ := run(t, "-C", envProject); strings.Contains(out, "environments") {
		t.Errorf("environments is listed as a plugin:\n%s", out)
	}
}

// TestEnvErrors: a wrong environment is a configuration error (exit 2)
// that says what to fix, with the file and line of the layer at fault.
func TestEnvErrors(t *testing.T) {
	envTest(t)
	bad := writeProject(t, map[string]string{
		"cloud-compose.yml":           "cluster:\n  name: shop\n  search_path: [templates]\n  aws:\n    instance_type: t3.micro\n    nodes:\n      - {id: 1, ip: 10.0.0.1}\n",
		"environments/production.yml": "# bigger\ncluster:\n  aws:\n    instance_type: M5-large\n",
		"environments/loop.yml":       "extends: loop2\n",
		"environments/loop2.yml":      "extends: loop\n",
		"environments/list.yml":       "- a\n",
	})
	for _, tc := range []struct {
		name string
		dir  string
		args []string
		env  string
		want []string
	}{
		{"unknown environment", envProject, []string{"-e", "prod", "config"}, "",
			[]string{`cloud-compose.yml: unknown environment "prod"; the environments are: production (environments/production.yml), staging (cloud-compose.yml:20)`}},
		{"unknown environment from CLOUD_COMPOSE_ENV", envProject, []string{"cluster", "plan"}, "qa",
			[]string{`unknown environment "qa"`}},
		{"a bad value in an overlay, at the overlay's line", bad, []string{"-e", "production", "config"}, "",
			[]string{`environments/production.yml:4:20: cluster.aws.instance_type: "M5-large" is not an EC2 instance type`}},
		{"a cycle", bad, []string{"-e", "loop", "cluster", "build"}, "",
			[]string{"environments/loop2.yml:1:10: extends: environments extend each other in a cycle: loop → loop2 → loop"}},
		{"an overlay that is not a mapping", bad, []string{"-e", "list", "config"}, "",
			[]string{"environments/list.yml:1:1: an environment overlay must be a mapping"}},
		{"a name that cannot be one", bad, []string{"-e", "../x", "config"}, "",
			[]string{`cloud-compose.yml: environment name "../x" has characters an environment name cannot have`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvVar, tc.env)
			out, errOut, code := run(t, append([]string{"-C", tc.dir}, tc.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2:\n%s", code, errOut)
			}
			if out != "" {
				t.Errorf("stdout: %q", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestEnvFlagBeforePlugin: -e takes a value, so the word after it is not
// taken for an external plugin's name.
func TestEnvFlagBeforePlugin(t *testing.T) {
	envTest(t)
	_, errOut, code := run(t, "-C", envProject, "-e", "staging", "cloud-compose-env-test-no-such-plugin")
	if code != 2 || !strings.Contains(errOut, `unknown command "cloud-compose-env-test-no-such-plugin"`) {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
}
