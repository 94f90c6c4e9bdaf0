// Command state measures what the coordinator costs a command: the lock
// and journal overhead of a mutating command (Acquire, PutEvent running,
// PutEvent ok, Unlock), the same as the CLI pays it with a long journal
// (open, Events(all) to mark interrupted runs, close), and `cluster
// history` (Events(20), Events(all)) over 10,000 events. It runs on the
// file backend, and on PostgreSQL when CLOUD_COMPOSE_TEST_POSTGRES is set
// (a postgres:// URL). It prints a markdown table of medians and p90s and
// exits 1 when a median misses its target. See README.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
	_ "github.com/cloud-compose/cloud-compose-go/internal/state/file"
	_ "github.com/cloud-compose/cloud-compose-go/internal/state/postgres"
)

var (
	runs    = flag.Int("n", 200, "timed runs of each lock + journal case")
	hruns   = flag.Int("history-runs", 30, "timed runs of each history case")
	nevents = flag.Int("events", 10000, "events in the journal for the history cases")
)

func main() {
	log.SetFlags(0)
	flag.Parse()
	if err := run(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

type backend struct {
	name     string
	location string
	// lockTarget is the lock + journal target; history's is the same
	// for every backend.
	lockTarget time.Duration
}

const historyTarget = 100 * time.Millisecond

type row struct {
	backend, what string
	n             int
	median, p90   time.Duration
	target        time.Duration
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bench-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	backends := []backend{{name: "file", location: "file:" + dir, lockTarget: 5 * time.Millisecond}}
	if pg := os.Getenv("CLOUD_COMPOSE_TEST_POSTGRES"); pg != "" {
		backends = append(backends, backend{name: "postgres", location: pg, lockTarget: 20 * time.Millisecond})
	} else {
		log.Print("CLOUD_COMPOSE_TEST_POSTGRES is not set: file backend only")
	}
	prefix := "bench-" + randomHex(4)
	var rows []row
	for _, b := range backends {
		log.Printf("%s: lock + journal, %d runs", b.name, *runs)
		small := state.Key{Cluster: prefix + "-small"}
		d, err := timeN(*runs, func() error { return mutating(ctx, b, small, false, -1) })
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		rows = append(rows, summarize(b.name, "lock + journal: Acquire, PutEvent running, PutEvent ok, Unlock (short journal)", d, b.lockTarget))

		log.Printf("%s: writing %d events (each running, then ok)", b.name, *nevents)
		long := state.Key{Cluster: prefix + "-long", Env: "prod"}
		if err := seed(ctx, b, long, *nevents); err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		d, err = timeN(*runs, func() error { return mutating(ctx, b, long, false, -1) })
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		rows = append(rows, summarize(b.name, fmt.Sprintf("lock + journal, journal of %d events", *nevents), d, b.lockTarget))

		for _, read := range []int{0, 10} {
			what := "Events(all)"
			if read > 0 {
				what = fmt.Sprintf("Events(%d)", read)
			}
			d, err = timeN(*hruns, func() error { return mutating(ctx, b, long, true, read) })
			if err != nil {
				return fmt.Errorf("%s: %w", b.name, err)
			}
			rows = append(rows, summarize(b.name, fmt.Sprintf("as a command: Open, Acquire, %s, PutEvent ×2, Unlock, Close; %d events", what, *nevents), d, 0))
		}

		for _, n := range []int{20, 0} {
			what := fmt.Sprintf("history: Events(%d) of %d", n, *nevents)
			if n == 0 {
				what = fmt.Sprintf("history: Events(all) of %d", *nevents)
			}
			d, err := timeN(*hruns, func() error { return history(ctx, b, long, n) })
			if err != nil {
				return fmt.Errorf("%s: %w", b.name, err)
			}
			rows = append(rows, summarize(b.name, what, d, historyTarget))
		}
		closeAll()
	}
	fmt.Printf("\n%s, %d cores, %s %s/%s\n\n", time.Now().Format(time.DateOnly), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Println("| backend | operation | runs | median | p90 | target |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | --- |")
	missed := 0
	for _, r := range rows {
		target := "—"
		if r.target > 0 {
			ok := "met"
			if r.median > r.target {
				ok, missed = "MISSED", missed+1
			}
			target = fmt.Sprintf("< %s: %s", r.target, ok)
		}
		fmt.Printf("| %s | %s | %d | %s | %s | %s |\n", r.backend, r.what, r.n, ms(r.median), ms(r.p90), target)
	}
	if missed > 0 {
		return fmt.Errorf("%d median(s) missed the target", missed)
	}
	return nil
}

// mutating is what a mutating command pays for the coordinator, on a
// backend already open; asCLI adds opening the backend (a postgres
// connection) and closing it, and read >= 0 reads that many events after
// taking the lock (0: all), as the CLI does to mark unfinished runs
// interrupted.
func mutating(ctx context.Context, b backend, key state.Key, asCLI bool, read int) error {
	if !asCLI {
		be, err := pooled(ctx, b)
		if err != nil {
			return err
		}
		return once(ctx, be, key, read)
	}
	be, err := state.Open(ctx, b.location, "")
	if err != nil {
		return err
	}
	defer be.Close()
	return once(ctx, be, key, read)
}

// opened is one backend per location, kept open, for the plain cases.
var opened = map[string]state.Backend{}

func once(ctx context.Context, be state.Backend, key state.Key, read int) error {
	info := lockInfo()
	lk, err := state.Acquire(ctx, be, key, info, 0)
	if err != nil {
		return err
	}
	if read >= 0 {
		if _, err := be.Events(ctx, key, read); err != nil {
			return err
		}
	}
	ev := event(info.ID, time.Now().UTC())
	if err := be.PutEvent(ctx, key, ev); err != nil {
		return err
	}
	ev.Result, ev.Duration = state.ResultOK, time.Second
	if err := be.PutEvent(ctx, key, ev); err != nil {
		return err
	}
	return lk.Unlock(ctx)
}

func history(ctx context.Context, b backend, key state.Key, n int) error {
	be, err := pooled(ctx, b)
	if err != nil {
		return err
	}
	evs, err := be.Events(ctx, key, n)
	if err != nil {
		return err
	}
	want := n
	if n <= 0 {
		want = *nevents
	}
	if len(evs) < want {
		return fmt.Errorf("Events(%d) returned %d events, want at least %d", n, len(evs), want)
	}
	return nil
}

// pooled is one backend per location, kept open, for the reads.
func pooled(ctx context.Context, b backend) (state.Backend, error) {
	if be := opened[b.location]; be != nil {
		return be, nil
	}
	be, err := state.Open(ctx, b.location, "")
	if err != nil {
		return nil, err
	}
	opened[b.location] = be
	return be, nil
}

// seed writes n events to key as commands do: running, then ok.
func seed(ctx context.Context, b backend, key state.Key, n int) error {
	be, err := pooled(ctx, b)
	if err != nil {
		return err
	}
	t0 := time.Now().UTC().Add(-time.Duration(n) * time.Minute)
	for i := range n {
		ev := event(randomHex(8), t0.Add(time.Duration(i)*time.Minute))
		if err := be.PutEvent(ctx, key, ev); err != nil {
			return err
		}
		ev.Result, ev.Duration = state.ResultOK, 42*time.Second
		if err := be.PutEvent(ctx, key, ev); err != nil {
			return err
		}
	}
	return nil
}

// closeAll closes the kept backends. The contract has no Delete, so a
// postgres database keeps the run's keys (clusters named bench-*).
func closeAll() {
	for _, be := range opened {
		_ = be.Close()
	}
	clear(opened)
}

func lockInfo() state.LockInfo {
	host, _ := os.Hostname()
	return state.LockInfo{ID: randomHex(8), Who: "bench", Host: host, PID: os.Getpid(),
		Command: "cloud-compose cluster up -e prod", Created: time.Now().UTC()}
}

// event is a realistic event: three nodes replaced.
func event(id string, t time.Time) state.Event {
	host, _ := os.Hostname()
	return state.Event{
		ID: id, Time: t, Who: "bench", Host: host, Command: "cloud-compose cluster up -e prod",
		Env: "prod", Result: state.ResultRunning, Generation: 7,
		Actions: []state.NodeAction{
			{Node: "0", Action: "replace", InstanceID: "i-0123456789abcdef0"},
			{Node: "1", Action: "replace", InstanceID: "i-0123456789abcdef1"},
			{Node: "2", Action: "unchanged", InstanceID: "i-0123456789abcdef2"},
		},
	}
}

func timeN(n int, f func() error) ([]time.Duration, error) {
	if err := f(); err != nil { // warm-up
		return nil, err
	}
	d := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		d = append(d, time.Since(start))
	}
	return d, nil
}

func summarize(backend, what string, d []time.Duration, target time.Duration) row {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return row{backend: backend, what: what, n: len(d), median: d[len(d)/2], p90: d[len(d)*9/10], target: target}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
