package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIntegrationSnapshotPerNodeCommandLine drives the binary: after
// `cluster snapshot` and `down`, `up` restores each node's volume from that
// node's own snapshot and says so per node; --snapshot-node 1 restores
// every node from node 1's; a node without snapshots is refused, exit 2,
// naming the nodes that have one; with --no-use-snapshots it is exit 2.
func TestIntegrationSnapshotPerNodeCommandLine(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	// The data volume goes with its instance: only a snapshot brings it back.
	src := fmt.Sprintf(`cluster:
  name: pernode
  search_path: [templates]
  local:
    image: empty
    volumes:
      - {name: data, mount: /data, delete_on_termination: true}
    nodes:
      - {id: 1, ip: %s}
      - {id: 2, ip: %s}
      - {id: 3, ip: %s}
`, h.ip(0), h.ip(1), h.ip(2))
	script := `#!/bin/bash
if [ -f "$VOLUME_DATA/who" ]; then echo "restored: node $(cat "$VOLUME_DATA/who")'s data"; fi
echo "$NODE_ID" > "$VOLUME_DATA/who"
echo written
exec sleep 600
`
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "cluster.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), EnvDir+"="+h.dir, EnvSelf+"="+binary)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		t.Logf("cloud-compose %s\n%s", strings.Join(args, " "), out.String())
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}
	must := func(args ...string) string {
		t.Helper()
		out, code := run(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d", strings.Join(args, " "), code)
		}
		return out
	}
	// waitLog waits until node's boot log says it wrote its file and
	// returns the log.
	waitLog := func(node string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			out := must("cluster", "logs", node)
			if strings.Contains(out, "written") {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s never wrote its file:\n%s", node, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	nodes := []string{"1", "2", "3"}

	must("cluster", "up")
	for _, n := range nodes {
		waitLog(n)
	}
	must("cluster", "snapshot")
	must("cluster", "down", "--yes", "--force")

	out := must("cluster", "up")
	for _, n := range nodes {
		if want := "node " + n + ": volume data from "; !strings.Contains(out, want) || !strings.Contains(out, "(node "+n+"'s newest)") {
			t.Errorf("up does not say which snapshot node %s got:\n%s", n, out)
		}
		if log, want := waitLog(n), "restored: node "+n+"'s data"; !strings.Contains(log, want) {
			t.Errorf("node %s: log %q, want %q", n, log, want)
		}
	}

	must("cluster", "down", "--yes", "--force")
	out = must("cluster", "up", "--snapshot-node", "1")
	if !strings.Contains(out, "node 3: volume data from ") || !strings.Contains(out, "(node 1's newest: --snapshot-node 1)") {
		t.Errorf("up --snapshot-node 1 does not say where node 3's volume comes from:\n%s", out)
	}
	for _, n := range nodes {
		if log, want := waitLog(n), "restored: node 1's data"; !strings.Contains(log, want) {
			t.Errorf("--snapshot-node 1: node %s: log %q, want %q", n, log, want)
		}
	}

	must("cluster", "down", "--yes", "--force")
	if out, code := run("cluster", "up", "--snapshot-node", "9"); code != 2 || !strings.Contains(out, "nodes with one: 1, 2, 3") {
		t.Errorf("up --snapshot-node 9: exit %d, want 1 naming the nodes with snapshots:\n%s", code, out)
	}
	if out, code := run("cluster", "plan", "--snapshot-node", "1", "--no-use-snapshots"); code != 2 {
		t.Errorf("--snapshot-node with --no-use-snapshots: exit %d, want 2:\n%s", code, out)
	}
	if out := must("cluster", "status"); strings.Contains(out, "running") {
		t.Errorf("a refused up launched something:\n%s", out)
	}
}
