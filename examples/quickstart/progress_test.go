package quickstart_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stampedLine is a progress line when stderr is not a terminal.
var stampedLine = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ node (\d+): (\w+) `)

// TestIntegrationUpProgress: piped, up prints one timestamped line per
// transition of each node and the typo warning once; --quiet prints only
// the warning; on a terminal (under script(1)) the lines have no
// timestamp.
func TestIntegrationUpProgress(t *testing.T) {
	q := newQuickstart(t, func(s string) string {
		return strings.Replace(s, "  health:\n", "  helth: 1\n  health:\n", 1)
	})
	_, errOut, code := q.run("cluster", "up")
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	if n := strings.Count(errOut, "did you mean `health`"); n != 1 {
		t.Errorf("the typo warning printed %d times, want once:\n%s", n, errOut)
	}
	steps := map[string]bool{}
	for _, m := range stampedLine.FindAllStringSubmatch(errOut, -1) {
		steps[m[1]+" "+m[2]] = true
	}
	for _, node := range []string{"0", "1", "2"} {
		for _, step := range []string{"launched", "running", "healthy"} {
			if !steps[node+" "+step] {
				t.Errorf("piped up: no timestamped line %q:\n%s", "node "+node+": "+step, errOut)
			}
		}
	}

	_, errOut, code = q.run("--quiet", "cluster", "up")
	if code != 0 || strings.Contains(errOut, "node ") || strings.Count(errOut, "did you mean `health`") != 1 {
		t.Errorf("up --quiet: exit %d, want only the warning on stderr:\n%s", code, errOut)
	}

	script, err := exec.LookPath("script")
	if err != nil {
		t.Log("no script(1): the terminal mode is tested by the cli package's unit test only")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", binary+" -C "+q.dir+" cluster up", os.DevNull)
	cmd.Env = append(os.Environ(), "CLOUD_COMPOSE_LOCAL_DIR="+q.store, "CLOUD_COMPOSE_SELF="+binary)
	out, err := cmd.CombinedOutput()
	tty := strings.ReplaceAll(string(out), "\r", "")
	if err != nil {
		t.Fatalf("up on a terminal: %v\n%s", err, tty)
	}
	if !regexp.MustCompile(`(?m)^node 1: healthy i-\S+ \(http://`).MatchString(tty) || stampedLine.MatchString(tty) {
		t.Errorf("up on a terminal: want plain per-node lines without timestamps:\n%s", tty)
	}
	if n := strings.Count(tty, "did you mean `health`"); n != 1 {
		t.Errorf("on a terminal the typo warning printed %d times, want once:\n%s", n, tty)
	}
	q.downForce()
}

// unhealthyWhenServiceStops makes the boot script run the demo service in
// the background and then wait: killing the service leaves a running
// instance that fails its health check.
func (q *quickstart) unhealthyWhenServiceStops() {
	q.t.Helper()
	tpl := filepath.Join(q.dir, "templates", "cluster.sh")
	b, err := os.ReadFile(tpl)
	if err != nil {
		q.t.Fatal(err)
	}
	s := strings.Replace(string(b), `exec "$CLOUD_COMPOSE_BIN" __demo-service`, `"$CLOUD_COMPOSE_BIN" __demo-service`, 1)
	s = strings.TrimRight(s, "\n") + " &\nexec sleep 3600\n"
	if err := os.WriteFile(tpl, []byte(s), 0o644); err != nil {
		q.t.Fatal(err)
	}
}

// TestIntegrationUpReportsUnhealthyNodes: a node whose instance runs but
// whose service is gone makes up exit 1, naming the node and `cluster
// logs`, although up launched nothing.
func TestIntegrationUpReportsUnhealthyNodes(t *testing.T) {
	q := newQuickstart(t, func(s string) string { return strings.Replace(s, "timeout: 30", "timeout: 5", 1) })
	q.unhealthyWhenServiceStops()
	q.up()
	pids := q.service(1)
	if len(pids) == 0 {
		t.Fatal("no demo service process for node 1")
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	out, errOut, code := q.run("cluster", "up")
	if code != 1 {
		t.Fatalf("up with node 1 unhealthy: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !regexp.MustCompile(`(?m)^1\s+unchanged\s+i-\S+\s+\S+\s+\S+\s+\S+\s+unhealthy`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^0\s+unchanged.*\shealthy`).MatchString(out) {
		t.Errorf("up's table should give every node's health:\n%s", out)
	}
	if !strings.Contains(errOut, "(1)") || !strings.Contains(errOut, "cloud-compose cluster logs 1") {
		t.Errorf("up should name node 1 and `cloud-compose cluster logs 1`:\n%s", errOut)
	}
	q.downForce()
}

// TestIntegrationUpAfterInterruptWaitsForHealth: after an up interrupted
// once its nodes were launched, the next up waits until they are healthy.
func TestIntegrationUpAfterInterruptWaitsForHealth(t *testing.T) {
	q := newQuickstart(t, nil)
	q.slowBoot("4")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := q.command(ctx, "cluster", "up")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// interrupt once every node's boot script runs (and sleeps)
	deadline := time.Now().Add(20 * time.Second)
	for booted := 0; booted < len(q.ips); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s, %d of %d boot scripts run", booted, len(q.ips))
		}
		booted = 0
		for _, ip := range q.ips {
			if len(q.processes("INSTANCE_IP="+ip+"\x00")) > 0 {
				booted++
			}
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()

	res := q.up()
	for i, n := range res.Nodes {
		if code, _ := q.get(i, "/health"); code != 200 || n.Action != "unchanged" {
			t.Errorf("node %d: %s, /health answered %d right after up", i, n.Action, code)
		}
	}
	q.downForce()
}
