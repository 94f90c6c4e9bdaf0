// Package ec2mongodb tests the example's rollout commands
// (bin/order-primary-last and bin/health-replset) with a fake mongo shell:
// no MongoDB is needed.
package ec2mongodb

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeShell answers as a mongo shell would for the host after --host: the
// state written in states/<host> (PRIMARY, SECONDARY, STARTUP2, ...), as
// `true`/`false` when asked for isMaster.ismaster, as the state when asked
// for it (health-replset); a host without a file does not answer. Every call
// appends its arguments to calls.
const fakeShell = `#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
host= eval=
while [ $# -gt 0 ]; do
  case $1 in
    --host) host=$2; shift ;;
    --eval) eval=$2; shift ;;
  esac
  shift
done
if ! state=$(cat "$dir/states/$host" 2>/dev/null); then
  echo "MongoServerSelectionError: connect ECONNREFUSED $host" >&2
  exit 1
fi
case $eval in
  *secondary*) echo "$state" ;;
  *) if [ "$state" = PRIMARY ]; then echo true; else echo false; fi ;;
esac
`

// fake is a directory with a fake mongo shell, first on PATH.
type fake struct {
	t   *testing.T
	dir string
}

// newFake writes the fake shell as name (mongosh or mongo) and one state
// per host ("" for a host that does not answer).
func newFake(t *testing.T, name string, states map[string]string) *fake {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatal("the scripts are POSIX sh: /bin/sh is needed")
	}
	f := &fake{t: t, dir: t.TempDir()}
	if name != "" {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(fakeShell), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(f.dir, "states"), 0o755); err != nil {
		t.Fatal(err)
	}
	for host, state := range states {
		if state == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(f.dir, "states", host), []byte(state+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// run runs command as cloud-compose does (sh -c, in the project
// directory), with the fake first on PATH and env added.
func (f *fake) run(command string, env ...string) (stdout, stderr string, code int) {
	f.t.Helper()
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), "PATH="+f.dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		f.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func (f *fake) calls() string {
	b, _ := os.ReadFile(filepath.Join(f.dir, "calls"))
	return string(b)
}

var cluster = []string{"CLUSTER_NAME=mongodb-prod", "NODE_IDS=0 1 2", "NODE_IPS=10.20.1.10 10.20.2.10 10.20.3.10"}

func TestScriptsAreExecutable(t *testing.T) {
	for _, name := range []string{"bin/order-primary-last", "bin/health-replset"} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable (%s): `sh -c ./%s` cannot run it", name, st.Mode(), name)
		}
	}
}

func TestOrderPrimaryLast(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states map[string]string
		want   string
		stderr string // in what the script prints to stderr, "" for nothing
	}{
		{
			name:   "primary in the middle",
			states: map[string]string{"10.20.1.10": "SECONDARY", "10.20.2.10": "PRIMARY", "10.20.3.10": "SECONDARY"},
			want:   "0\n2\n1\n",
		},
		{
			name:   "primary first",
			states: map[string]string{"10.20.1.10": "PRIMARY", "10.20.2.10": "SECONDARY", "10.20.3.10": "SECONDARY"},
			want:   "1\n2\n0\n",
		},
		{
			name:   "primary last already",
			states: map[string]string{"10.20.1.10": "SECONDARY", "10.20.2.10": "SECONDARY", "10.20.3.10": "PRIMARY"},
			want:   "0\n1\n2\n",
		},
		{
			name:   "a node that does not answer is not primary",
			states: map[string]string{"10.20.1.10": "PRIMARY", "10.20.2.10": "", "10.20.3.10": "RECOVERING"},
			want:   "1\n2\n0\n",
		},
		{
			name:   "no primary: config order",
			states: map[string]string{"10.20.1.10": "", "10.20.2.10": "SECONDARY", "10.20.3.10": "STARTUP2"},
			want:   "0\n1\n2\n",
			stderr: "no node of mongodb-prod answered as PRIMARY",
		},
		{
			name:   "two primaries: both last",
			states: map[string]string{"10.20.1.10": "PRIMARY", "10.20.2.10": "SECONDARY", "10.20.3.10": "PRIMARY"},
			want:   "1\n0\n2\n",
			stderr: "more than one node answered as PRIMARY (0 2)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "mongosh", tc.states)
			out, errOut, code := f.run("./bin/order-primary-last", cluster...)
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d, printed %q, want 0 and %q\nstderr: %s", code, out, tc.want, errOut)
			}
			if tc.stderr == "" && errOut != "" || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr = %q, want %q", errOut, tc.stderr)
			}
			calls := f.calls()
			for _, want := range []string{"--quiet --host 10.20.1.10 --port 27018", "--host 10.20.2.10", "--host 10.20.3.10", "isMaster"} {
				if !strings.Contains(calls, want) {
					t.Errorf("the shell was not called with %q:\n%s", want, calls)
				}
			}
		})
	}
}

func TestOrderPrimaryLastLegacyShell(t *testing.T) {
	f := newFake(t, "mongo", map[string]string{"10.20.1.10": "PRIMARY", "10.20.2.10": "SECONDARY", "10.20.3.10": "SECONDARY"})
	env := append(cluster, "MONGODB_PORT=27017")
	if _, err := exec.LookPath("mongosh"); err == nil {
		env = append(env, "MONGO_SHELL=mongo") // a real mongosh would come first
	}
	out, errOut, code := f.run("./bin/order-primary-last", env...)
	if code != 0 || out != "1\n2\n0\n" {
		t.Fatalf("with mongo: exit %d, printed %q\n%s", code, out, errOut)
	}
	if !strings.Contains(f.calls(), "--port 27017") {
		t.Errorf("MONGODB_PORT not used:\n%s", f.calls())
	}
}

func TestOrderPrimaryLastErrors(t *testing.T) {
	f := newFake(t, "mongosh", nil)
	if out, errOut, code := f.run("./bin/order-primary-last", "NODE_IDS=0 1 2", "NODE_IPS=10.20.1.10 10.20.2.10"); code == 0 || out != "" || !strings.Contains(errOut, "3 node id(s) but 2 IP(s)") {
		t.Errorf("3 ids, 2 IPs: exit %d, printed %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := f.run("unset NODE_IDS; ./bin/order-primary-last"); code == 0 || !strings.Contains(errOut, "NODE_IDS is not set") {
		t.Errorf("no NODE_IDS: exit %d, stderr %q", code, errOut)
	}
	_, errMongosh := exec.LookPath("mongosh")
	_, errMongo := exec.LookPath("mongo")
	if errMongosh == nil || errMongo == nil {
		return // a real shell is installed: the next case cannot be made
	}
	none := newFake(t, "", nil)
	if out, errOut, code := none.run("./bin/order-primary-last", cluster...); code == 0 || out != "" || !strings.Contains(errOut, "neither mongosh nor mongo") {
		t.Errorf("no shell: exit %d, printed %q, stderr %q", code, out, errOut)
	}
}

func TestHealthReplset(t *testing.T) {
	f := newFake(t, "mongosh", map[string]string{
		"10.0.0.1": "PRIMARY", "10.0.0.2": "SECONDARY", "10.0.0.3": "STARTUP2", "10.0.0.4": "RECOVERING", "10.0.0.5": "",
	})
	for ip, want := range map[string]int{"10.0.0.1": 0, "10.0.0.2": 0, "10.0.0.3": 1, "10.0.0.4": 1, "10.0.0.5": 1} {
		_, errOut, code := f.run("./bin/health-replset", "NODE_IP="+ip, "NODE_ID=x", "CLUSTER_NAME=mongodb-prod")
		if code != want {
			t.Errorf("NODE_IP=%s: exit %d, want %d\n%s", ip, code, want, errOut)
		}
	}
	if !strings.Contains(f.calls(), "--host 10.0.0.1 --port 27018") {
		t.Errorf("calls:\n%s", f.calls())
	}
	if _, errOut, code := f.run("unset NODE_IP; ./bin/health-replset"); code == 0 || !strings.Contains(errOut, "NODE_IP is not set") {
		t.Errorf("no NODE_IP: exit %d, stderr %q", code, errOut)
	}
}
