package quickstart_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// slowBoot makes each node's boot script wait before it serves, so that an
// up holds the lock long enough for others to collide with it.
func (q *quickstart) slowBoot(d string) {
	q.t.Helper()
	tpl := filepath.Join(q.dir, "templates", "cluster.sh")
	b, err := os.ReadFile(tpl)
	if err != nil {
		q.t.Fatal(err)
	}
	s := strings.Replace(string(b), "set -euo pipefail\n", "set -euo pipefail\nsleep "+d+"\n", 1)
	if err := os.WriteFile(tpl, []byte(s), 0o644); err != nil {
		q.t.Fatal(err)
	}
}

type historyJSON struct {
	Events []struct {
		ID, Command, Result string
		Generation          int
		Actions             []struct{ Node, Action string }
	}
}

func (q *quickstart) history() historyJSON {
	q.t.Helper()
	var h historyJSON
	out := q.must("-o", "json", "cluster", "history", "-n", "0")
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		q.t.Fatalf("history -o json: %v\n%s", err, out)
	}
	return h
}

// startHolder starts `cluster up` in q and returns once it holds the lock:
// its journal event, read through observer (q itself, or another checkout
// of the same cluster), is running. It returns the command and the lock id.
func startHolder(t *testing.T, q, observer *quickstart) (*exec.Cmd, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := q.command(ctx, "cluster", "up")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, ev := range observer.history().Events {
			if ev.Result == "running" {
				return cmd, ev.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the up never held the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// services counts the demo services of q's nodes, from the process table.
func (q *quickstart) services() int {
	return len(q.processes("__demo-service --addr " + q.ips[0][:strings.LastIndex(q.ips[0], ".")+1]))
}

// concurrentUps runs n `cluster up` at once, round robin over the given
// checkouts, and returns how many ran (exit 0); every other one must exit
// 1 naming the lock's holder.
func concurrentUps(t *testing.T, n int, checkouts ...*quickstart) int {
	t.Helper()
	type result struct {
		code   int
		stderr string
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errOut, code := checkouts[i%len(checkouts)].run("cluster", "up")
			results[i] = result{code, errOut}
		}(i)
	}
	wg.Wait()
	won := 0
	for _, r := range results {
		switch {
		case r.code == 0:
			won++
		case r.code == 1 && strings.Contains(r.stderr, "is locked by") && strings.Contains(r.stderr, `running "cloud-compose`) && strings.Contains(r.stderr, "cloud-compose cluster unlock "):
		default:
			t.Errorf("a concurrent up exited %d:\n%s", r.code, r.stderr)
		}
	}
	return won
}

// TestIntegrationConcurrentUp: 10 `up` at once on one cluster make exactly
// its 3 instances; every run that did not get the lock exits 1 naming the
// holder; the journal has the winner's event with generation 1.
func TestIntegrationConcurrentUp(t *testing.T) {
	q := newQuickstart(t, nil)
	q.slowBoot("1")
	won := concurrentUps(t, 10, q)
	if won != 1 {
		t.Errorf("%d of 10 concurrent ups ran; want exactly 1 (the others refused)", won)
	}
	if n := q.services(); n != 3 {
		t.Errorf("%d services run, want 3", n)
	}
	h := q.history()
	if len(h.Events) != 1 || h.Events[0].Result != "ok" || h.Events[0].Generation != 1 || len(h.Events[0].Actions) != 3 {
		t.Errorf("journal after the concurrent ups: %+v", h.Events)
	}
	var gens struct {
		Generations []struct {
			Number int
			State  string
		}
	}
	if err := json.Unmarshal([]byte(q.must("-o", "json", "cluster", "generations")), &gens); err != nil {
		t.Fatal(err)
	}
	if len(gens.Generations) != 1 || gens.Generations[0].Number != 1 || gens.Generations[0].State != "active" {
		t.Errorf("generations: %+v", gens.Generations)
	}
	q.downForce()
}

// TestIntegrationKilledHolder: kill -9 of an up that holds the lock, then
// up proceeds; the killed run's event is marked interrupted.
func TestIntegrationKilledHolder(t *testing.T) {
	q := newQuickstart(t, nil)
	q.slowBoot("2")
	first, _ := startHolder(t, q, q)
	if _, errOut, code := q.run("cluster", "up"); code != 1 || !strings.Contains(errOut, "is locked by") {
		t.Fatalf("a second up while the first holds the lock: exit %d\n%s", code, errOut)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	_, errOut, code := q.run("cluster", "up")
	if code != 0 {
		t.Fatalf("up after the holder was killed: exit %d\n%s", code, errOut)
	}
	h := q.history()
	results := map[string]int{}
	for _, ev := range h.Events {
		results[ev.Result]++
	}
	if results["interrupted"] != 1 || results["ok"] != 1 {
		t.Errorf("journal: %+v", h.Events)
	}
	q.downForce()
}

// TestIntegrationPostgresLockAcrossProjects: two project directories (two
// operators' checkouts) share one PostgreSQL coordinator. kill -9 of a
// holder frees the lock with its connection; then 6 concurrent ups from
// both make exactly 3 instances, and every loser names the holder.
func TestIntegrationPostgresLockAcrossProjects(t *testing.T) {
	pg := os.Getenv("CLOUD_COMPOSE_TEST_POSTGRES")
	if pg == "" && !testing.Short() {
		t.Fatal("CLOUD_COMPOSE_TEST_POSTGRES is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL")
	}
	// the database outlives the test (and -count=N runs it again): a name
	// of its own keeps its journal its own
	name := fmt.Sprintf("quickstart-pg-%d", time.Now().UnixNano())
	q := newQuickstart(t, func(s string) string {
		s = strings.Replace(s, "  name: quickstart\n", "  name: "+name+"\n", 1)
		return strings.Replace(s, "  search_path:", "  state: "+pg+"\n  search_path:", 1)
	})
	q.slowBoot("1")
	// the second checkout: the same files in another directory
	other := *q
	other.dir = filepath.Join(t.TempDir(), "checkout-2")
	if out, err := exec.Command("cp", "-r", q.dir, other.dir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}

	// kill -9 of a holder: its connection closes, its lock with it
	first, _ := startHolder(t, q, &other)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	won := concurrentUps(t, 6, q, &other)
	if won < 1 {
		t.Errorf("none of 6 concurrent ups ran")
	}
	if n := q.services(); n != 3 {
		t.Errorf("%d services run, want 3", n)
	}
	results2 := map[string]int{}
	for _, ev := range other.history().Events {
		results2[ev.Result]++
	}
	if results2["interrupted"] != 1 || results2["ok"] != won {
		t.Errorf("journal seen from the other checkout: %v (%d ups ran)", results2, won)
	}
	other.downForce()
}

// TestIntegrationUnlock: `cluster unlock` with a wrong id changes nothing;
// with the holder's id it frees the lock, and the journal says who did it.
func TestIntegrationUnlock(t *testing.T) {
	q := newQuickstart(t, nil)
	q.slowBoot("3")
	first, id := startHolder(t, q, q)
	if _, errOut, code := q.run("cluster", "unlock", "0123456789abcdef"); code != 1 || !strings.Contains(errOut, "no lock 0123456789abcdef is held") {
		t.Fatalf("unlock with a wrong id: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := q.run("cluster", "snapshot"); code != 1 || !strings.Contains(errOut, "lock "+id) {
		t.Fatalf("the lock must still be held after a wrong unlock: exit %d\n%s", code, errOut)
	}
	if out, errOut, code := q.run("cluster", "unlock", id); code != 0 || !strings.Contains(out, "lock "+id) {
		t.Fatalf("unlock %s: exit %d\n%s%s", id, code, out, errOut)
	}
	if _, errOut, code := q.run("cluster", "cleanup"); code != 0 {
		t.Fatalf("a command after unlock: exit %d\n%s", code, errOut)
	}
	found := false
	for _, ev := range q.history().Events {
		for _, a := range ev.Actions {
			found = found || a.Action == "unlocked "+id
		}
	}
	if !found {
		t.Errorf("the journal does not record the unlock: %+v", q.history().Events)
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	q.downForce()
}

// TestIntegrationWaitingUpLooksAgain: ups that wait for the lock
// (--lock-timeout) find the cluster the first one made: they look again
// once they hold the lock, so no node is launched twice.
func TestIntegrationWaitingUpLooksAgain(t *testing.T) {
	q := newQuickstart(t, nil)
	q.slowBoot("1")
	outs := make([]string, 3)
	codes := make([]int, 3)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			outs[i], _, codes[i] = q.run("-o", "json", "cluster", "up", "--lock-timeout", "60s")
		}(i)
	}
	wg.Wait()
	created := 0
	for i, out := range outs {
		if codes[i] != 0 {
			t.Fatalf("up %d exited %d", i, codes[i])
		}
		created += strings.Count(out, `"action": "created"`)
	}
	if created != 3 {
		t.Errorf("%d nodes created by 3 waiting ups, want 3 (each node once)", created)
	}
	if n := q.services(); n != 3 {
		t.Errorf("%d services run, want 3", n)
	}
	if h := q.history(); len(h.Events) != 3 {
		t.Errorf("journal: %+v", h.Events)
	}
	q.downForce()
}
