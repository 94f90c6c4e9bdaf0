package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// envProject uses $SUFFIX and $WHO twice each without a default (WHO once
// after a form compose-go substitutes on its own, where it used to log
// through logrus), and forms that never warn: $$ (a literal $) and
// ${NOTE:-} (an empty default).
const envProject = `cluster:
  name: env${SUFFIX}
  search_path: [templates]
  environment:
    GREETING: "hello ${WHO}"
    PRICE: $$5 ${NOTE:-}
    TAG: x$SUFFIX
    MOTD: "${NOTE:-hi} ${WHO}"
  local:
    image: empty
    nodes: [{id: 0, ip: 127.0.0.91}]
`

func writeEnvProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"cloud-compose.yml":    envProject,
		"templates/cluster.sh": "echo {{ name }} \"{{ environment.GREETING }}\" '{{ environment.PRICE }}' {{ environment.TAG }}\n",
	}
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runEnv runs the binary in dir with the test's environment, minus the
// project's variables, plus env.
func runEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs the binary (not built under -short)")
	}
	cmd := exec.Command(binary, append([]string{"-C", dir}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "SUFFIX", "WHO", "NOTE", "CLOUD_COMPOSE_STRICT_ENV":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String()}
}

const (
	warnSuffix = "warning: cloud-compose.yml:2:12: ${SUFFIX} is not set; using an empty string " +
		"(set it, give a default with ${SUFFIX:-value}, or make it required with ${SUFFIX:?message}); also used on line 7\n"
	warnWho = "warning: cloud-compose.yml:5:15: ${WHO} is not set; using an empty string " +
		"(set it, give a default with ${WHO:-value}, or make it required with ${WHO:?message}); also used on line 8\n"
)

func TestUnsetVariablesWarn(t *testing.T) {
	dir := writeEnvProject(t)

	// config and build: exit 0, one warning per variable on stderr
	for _, args := range [][]string{{"config"}, {"cluster", "build"}, {"-o", "json", "config"}} {
		r := runEnv(t, dir, nil, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		if r.stderr != warnSuffix+warnWho {
			t.Errorf("%v: stderr:\n%s\nwant:\n%s", args, r.stderr, warnSuffix+warnWho)
		}
		if strings.Contains(r.stdout, "warning") {
			t.Errorf("%v: a warning on stdout:\n%s", args, r.stdout)
		}
	}

	// build prints what it prints with the variables set to empty strings
	unset := runEnv(t, dir, nil, "cluster", "build")
	empty := runEnv(t, dir, []string{"SUFFIX=", "WHO="}, "cluster", "build")
	if empty.code != 0 || empty.stderr != "" {
		t.Fatalf("variables set to empty: exit %d, stderr:\n%s", empty.code, empty.stderr)
	}
	if unset.stdout != empty.stdout {
		t.Errorf("build output with unset variables:\n%s\nwith empty ones:\n%s", unset.stdout, empty.stdout)
	}
	if want := "echo env \"hello \" '$5 ' x\n"; unset.stdout != want {
		t.Errorf("build output %q, want %q", unset.stdout, want)
	}

	// every variable set: no warning
	set := runEnv(t, dir, []string{"SUFFIX=-a", "WHO=me"}, "cluster", "build")
	if set.code != 0 || set.stderr != "" || set.stdout != "echo env-a \"hello me\" '$5 ' x-a\n" {
		t.Errorf("variables set: exit %d, stdout %q, stderr:\n%s", set.code, set.stdout, set.stderr)
	}
}

func TestUnsetVariablesStrict(t *testing.T) {
	dir := writeEnvProject(t)
	cfg := filepath.Join(dir, "cloud-compose.yml")
	want := "error: 2 problems in the configuration:\n" +
		cfg + ":2:12: ${SUFFIX} is not set (an error with --strict-env): set it, give a default with ${SUFFIX:-value}, " +
		"or write ${SUFFIX:-} for an empty string; also used on line 7\n" +
		cfg + ":5:15: ${WHO} is not set (an error with --strict-env): set it, give a default with ${WHO:-value}, " +
		"or write ${WHO:-} for an empty string; also used on line 8\n"
	for _, tc := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"--strict-env", "config"}},
		{nil, []string{"cluster", "build", "--strict-env"}},
		{[]string{"CLOUD_COMPOSE_STRICT_ENV=1"}, []string{"config"}},
		{[]string{"CLOUD_COMPOSE_STRICT_ENV=true"}, []string{"cluster", "build"}},
		{[]string{"CLOUD_COMPOSE_STRICT_ENV=1"}, []string{"cluster", "up"}},
	} {
		r := runEnv(t, dir, tc.env, tc.args...)
		if r.code != 2 || r.stdout != "" || r.stderr != want {
			t.Errorf("%v %v: exit %d (want 2), stdout %q, stderr:\n%s\nwant:\n%s", tc.env, tc.args, r.code, r.stdout, r.stderr, want)
		}
	}

	// strict with every variable set (an empty value is set), or turned off
	for _, tc := range []struct {
		env    []string
		args   []string
		stderr string
	}{
		{[]string{"SUFFIX=", "WHO=me"}, []string{"--strict-env", "cluster", "build"}, ""},
		{[]string{"CLOUD_COMPOSE_STRICT_ENV=0"}, []string{"cluster", "build"}, warnSuffix + warnWho},
	} {
		r := runEnv(t, dir, tc.env, tc.args...)
		if r.code != 0 || r.stderr != tc.stderr {
			t.Errorf("%v %v: exit %d, stderr:\n%s\nwant:\n%s", tc.env, tc.args, r.code, r.stderr, tc.stderr)
		}
	}

	r := runEnv(t, dir, []string{"CLOUD_COMPOSE_STRICT_ENV=yes"}, "config")
	if r.code != 2 || !strings.Contains(r.stderr, "CLOUD_COMPOSE_STRICT_ENV=yes: use 1") {
		t.Errorf("CLOUD_COMPOSE_STRICT_ENV=yes: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
