package quickstart_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// TestIntegrationHealthAddressHeldByAnotherStore runs the same quickstart
// against two local stores: the first runs the nodes, so the second up must
// fail naming the process that holds the health address, and create
// nothing — not report `created` while another store's services answer
// its health checks.
func TestIntegrationHealthAddressHeldByAnotherStore(t *testing.T) {
	q := newQuickstart(t, nil)
	q.up()
	holder := q.service(0)
	if len(holder) != 1 {
		t.Fatalf("node 0's service processes: %v", holder)
	}

	other := *q
	other.t = t
	other.store = filepath.Join(t.TempDir(), "other-store")
	t.Cleanup(func() {
		if pids := testbin.KillAll(other.store); len(pids) > 0 {
			t.Errorf("processes of the second store left running (killed): %v", pids)
		}
	})
	out, errOut, code := other.run("cluster", "up")
	t.Logf("second up: exit %d\n%s%s", code, out, errOut)
	if code != 1 {
		t.Errorf("second up: exit %d, want 1", code)
	}
	if strings.Contains(out, "created") {
		t.Errorf("second up says created:\n%s", out)
	}
	want := "process " + strconv.Itoa(holder[0]) + " ("
	if all := out + errOut; !strings.Contains(all, want) || !strings.Contains(all, q.ips[0]+":8080") {
		t.Errorf("second up does not name the holder of %s:8080 (%q):\n%s", q.ips[0], want, all)
	}
	if pids := q.processes(other.store); len(pids) > 0 {
		t.Errorf("the second store runs processes: %v", pids)
	}
	for _, r := range other.status() {
		if r.InstanceID != "" {
			t.Errorf("the second store has an instance: %+v", r)
		}
	}
	// The first store's nodes are untouched.
	for i := range q.ips {
		if code, _ := q.get(i, "/health"); code != 200 {
			t.Errorf("node %d of the first store: /health %d", i, code)
		}
	}
	q.downForce()
}

// TestIntegrationNodeEnvironmentAndUserData checks that neither a
// supervisor nor a node's processes keep the caller's credentials, and that
// down leaves no rendered boot script in the store.
func TestIntegrationNodeEnvironmentAndUserData(t *testing.T) {
	const secret = "sekrit-4e1f0c"
	q := newQuickstart(t, nil)
	cmd := q.command(t.Context(), "cluster", "up")
	cmd.Env = append(cmd.Env, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_ACCESS_KEY_ID=AKIA"+secret, "LC_TIME=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	sups := q.processes("__local-supervisor")
	var mine []int
	for _, pid := range sups {
		if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); bytes.Contains(cmdline, []byte(q.store)) {
			mine = append(mine, pid)
		}
	}
	nodes := q.processes("INSTANCE_ID=")
	var procs []int
	procs = append(procs, mine...)
	for _, pid := range nodes {
		if env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ"); bytes.Contains(env, []byte(q.store)) {
			procs = append(procs, pid)
		}
	}
	if len(mine) != 3 || len(procs) < 6 {
		t.Fatalf("found %d supervisors and %d processes in all, want 3 and at least 6", len(mine), len(procs))
	}
	for _, pid := range procs {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(env, []byte(secret)) {
			t.Errorf("process %d (%s) has the caller's AWS credentials in its environment", pid, cmdOf(pid))
		}
		if !bytes.Contains(env, []byte("\x00LC_TIME=C\x00")) && !bytes.HasPrefix(env, []byte("LC_TIME=C\x00")) {
			t.Errorf("process %d (%s) lost LC_TIME", pid, cmdOf(pid))
		}
	}

	// The rendered boot script is in the store while the nodes run, and
	// gone after down.
	const marker = "Boot script of quickstart node 0, rendered by cloud-compose"
	if files := testbin.FilesContaining(t, q.store, marker); len(files) == 0 {
		t.Fatalf("no file in the store holds the user data while the cluster runs")
	}
	q.downForce()
	if files := testbin.FilesContaining(t, q.store, marker); len(files) > 0 {
		t.Errorf("user data left in the store after down: %v", files)
	}
}

func cmdOf(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))
}
