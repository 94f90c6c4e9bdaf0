package quickstart_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// bigCluster is the quickstart with n nodes (one per loopback IP of the
// test's prefix) and a 2 s termination grace, for tests that kill things.
func bigCluster(t *testing.T, n int) *quickstart {
	t.Helper()
	var ips []string
	q := newQuickstart(t, func(src string) string {
		i := strings.Index(src, "    nodes:")
		if i < 0 {
			t.Fatal("the quickstart config has no nodes: section")
		}
		// the test's prefix, from the first node's ip: 127.A.B.11
		first := strings.Fields(src[strings.Index(src, "ip: "):])[1]
		prefix := first[:strings.LastIndex(first, ".")+1]
		var b strings.Builder
		b.WriteString(src[:i] + "    nodes:\n")
		for k := range n {
			ip := prefix + strconv.Itoa(11+k)
			ips = append(ips, ip)
			fmt.Fprintf(&b, "      - id: %d\n        ip: %s\n", k, ip)
		}
		return b.String()
	})
	q.ips = ips
	return q
}

// liveInstance reports whether instance id has a live process on this
// machine: its supervisor (not a reaper finishing its termination), or a
// process of the node (INSTANCE_ID in its environment). Read from /proc,
// not from the store.
func liveInstance(id string) bool {
	if len(testbin.Processes("INSTANCE_ID="+id)) > 0 {
		return true
	}
	for _, pid := range testbin.Processes("--instance " + id) {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if bytes.Contains(cmdline, []byte("__local-supervisor")) && !bytes.Contains(cmdline, []byte("--reap")) {
			return true
		}
	}
	return false
}

// TestIntegrationKilledUpStatusIsTruthful kills `cluster up` of 20 nodes
// with SIGKILL at several moments, then checks that status calls failed
// only instances whose processes are really gone, and that the next up
// replaces no instance that is alive.
func TestIntegrationKilledUpStatusIsTruthful(t *testing.T) {
	q := bigCluster(t, 20)
	down := func() {
		t.Helper()
		q.must("cluster", "down", "--force", "--yes", "--grace", "2s")
	}

	start := time.Now()
	q.up()
	full := time.Since(start)
	t.Logf("a full up of 20 nodes took %s", full.Round(time.Millisecond))
	down()

	falseFailed, replacedAlive, failedRows := 0, 0, 0
	for _, frac := range []float64{0.05, 0.15, 0.3, 0.5, 0.7, 0.9} {
		after := time.Duration(frac * float64(full))
		cmd := q.command(context.Background(), "cluster", "up")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		// Status right after the kill: a failed row must have no live
		// process.
		alive := map[string]bool{}
		for _, r := range q.status() {
			if r.InstanceID == "" {
				continue
			}
			live := liveInstance(r.InstanceID)
			if live {
				alive[r.InstanceID] = true
			}
			if r.State == "failed" {
				failedRows++
				if live {
					falseFailed++
					t.Errorf("killed after %s: node %s (%s) shows failed but its processes run", after, r.ID, r.InstanceID)
				}
			}
		}

		// The next up keeps every instance that is alive.
		res := q.up()
		kept := map[string]bool{}
		for _, n := range res.Nodes {
			kept[n.InstanceID] = true
		}
		for id := range alive {
			if !kept[id] {
				replacedAlive++
				t.Errorf("killed after %s: the next up replaced instance %s, which was alive", after, id)
			}
		}
		t.Logf("killed after %s: %d instances alive, next up: %d kept", after, len(alive), len(alive)-countMissing(alive, kept))
		for i := range q.ips {
			q.waitHealthy(i)
		}
		down()
	}
	t.Logf("after 6 kills of up: %d failed rows, %d of them with live processes; %d live instances replaced by the next up",
		failedRows, falseFailed, replacedAlive)
}

func countMissing(want, have map[string]bool) int {
	n := 0
	for id := range want {
		if !have[id] {
			n++
		}
	}
	return n
}
