package main

import (
	"fmt"
	"log"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/bench/internal/benchutil"
	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// localTarget is issue 10's target for the tool's own time per node.
const localTarget = 100 * time.Millisecond

const localNodes = benchutil.Nodes

// poller probes every node's /health from outside, each on its own
// schedule, and records when each node was down (no 200) and how many
// were down at once.
type poller struct {
	q    *benchutil.Quickstart
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	down     []time.Time // zero: up
	outages  [][]time.Duration
	maxDown  int
	maxWhen  time.Time
	maxNodes []int
	probes   int
}

func startPoller(q *benchutil.Quickstart, every time.Duration) *poller {
	p := &poller{q: q, stop: make(chan struct{}), down: make([]time.Time, len(q.IPs)), outages: make([][]time.Duration, len(q.IPs))}
	for i := range q.IPs {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				up := q.Version(i) != ""
				p.record(i, up, time.Now())
				select {
				case <-p.stop:
					return
				case <-tick.C:
				}
			}
		}()
	}
	return p
}

func (p *poller) record(i int, up bool, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probes++
	switch {
	case up && !p.down[i].IsZero():
		p.outages[i] = append(p.outages[i], now.Sub(p.down[i]))
		p.down[i] = time.Time{}
	case !up && p.down[i].IsZero():
		p.down[i] = now
		var nodes []int
		for j, d := range p.down {
			if !d.IsZero() {
				nodes = append(nodes, j)
			}
		}
		if len(nodes) > p.maxDown {
			p.maxDown, p.maxWhen, p.maxNodes = len(nodes), now, nodes
		}
	}
}

func (p *poller) finish() {
	close(p.stop)
	p.wg.Wait()
}

// localRound is one rollout's figures.
type localRound struct {
	wall    time.Duration
	res     *cluster.RolloutResult
	waits   time.Duration // Σ terminate + running + healthy + hold
	outside time.Duration // (wall − waits − start-up) / 3
}

func benchLocal(root, tmp, bin string) (failed []string) {
	q, err := benchutil.New(root, tmp, bin, "local")
	if err != nil {
		return []string{"local: " + err.Error()}
	}
	log.Printf("local: quickstart on %s, store %s", strings.Join(q.IPs, ", "), q.Store)
	defer func() {
		if _, errOut, _, err := q.CLI("cluster", "down", "--force", "--yes"); err != nil {
			log.Printf("local: down: %v\n%s", err, errOut)
		}
		if pids := testbin.KillAll(q.Store); len(pids) > 0 {
			log.Printf("local: killed processes left after down: %v", pids)
		}
	}()

	// the CLI's start-up: a process that parses its flags and exits
	var startups []time.Duration
	for range *flagStartup + 1 {
		_, _, d, err := benchutil.Run(q.Dir, q.Env, []string{bin, "--version"})
		if err != nil {
			return []string{"local: --version: " + err.Error()}
		}
		startups = append(startups, d)
	}
	startup := median(startups[1:])

	if _, errOut, d, err := q.CLI("cluster", "up"); err != nil {
		return []string{fmt.Sprintf("local: up: %v\n%s", err, errOut)}
	} else {
		log.Printf("local: up %s", ms(d))
	}
	if err := q.WaitVersion("1", 10*time.Second); err != nil {
		return []string{"local: after up: " + err.Error()}
	}
	var statuses []time.Duration
	for range 6 {
		_, errOut, d, err := q.CLI("-o", "json", "cluster", "status")
		if err != nil {
			return []string{fmt.Sprintf("local: status: %v\n%s", err, errOut)}
		}
		statuses = append(statuses, d)
	}
	status := median(statuses[1:])

	poll := startPoller(q, *flagPoll)
	var rounds []localRound
	for r := range *flagRounds {
		v := strconv.Itoa(r + 2)
		if err := q.SetVersion(v); err != nil {
			failed = append(failed, "local: "+err.Error())
			break
		}
		out, errOut, wall, err := q.CLI("-o", "json", "cluster", "rollout", "--yes")
		if err != nil {
			failed = append(failed, fmt.Sprintf("local: round %d: rollout: %v\n%s%s", r+1, err, out, errOut))
			break
		}
		res, err := benchutil.DecodeRollout(out, localNodes)
		if err == nil {
			err = oneAtATime(res)
		}
		if err == nil {
			err = q.WaitVersion(v, 5*time.Second)
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("local: round %d: %v", r+1, err))
			break
		}
		lr := localRound{wall: wall, res: res}
		var own []string
		for _, nd := range res.Nodes {
			t := nd.Timings
			lr.waits += t.Terminate + t.Running + t.Healthy + t.Hold
			own = append(own, ms(t.Overhead))
		}
		lr.outside = (wall - lr.waits - startup) / localNodes
		rounds = append(rounds, lr)
		log.Printf("local: round %d: wall %s, duration %s, waits %s, own per node: outside %s, self-reported %s",
			r+1, ms(wall), ms(res.Duration), ms(lr.waits), ms(lr.outside), strings.Join(own, " "))
	}
	poll.finish()
	if poll.maxDown > 1 {
		failed = append(failed, fmt.Sprintf("local: %d nodes down at once (nodes %v at %s)", poll.maxDown, poll.maxNodes, poll.maxWhen.Format(time.StampMilli)))
	}
	if len(rounds) == 0 {
		return failed
	}
	failed = append(failed, localTable(rounds, startup, status, poll)...)
	return failed
}

func localTable(rounds []localRound, startup, status time.Duration, poll *poller) (missed []string) {
	var self, outside, launch, rest, term, running, healthy, hold, total, walls, durations []time.Duration
	var mongoNodes, mongoOwns, mongoRuns []time.Duration
	for _, r := range rounds {
		outside = append(outside, r.outside)
		walls = append(walls, r.wall)
		durations = append(durations, r.res.Duration)
		var l, o time.Duration
		for i, nd := range r.res.Nodes {
			t := nd.Timings
			self = append(self, t.Overhead)
			launch = append(launch, t.Launch)
			term = append(term, t.Terminate)
			running = append(running, t.Running)
			healthy = append(healthy, t.Healthy)
			hold = append(hold, t.Hold)
			total = append(total, t.Total)
			l += t.Launch
			o += t.Overhead
			if i < len(r.res.Nodes)-1 {
				mongoNodes = append(mongoNodes, mongoNode(t, false))
				mongoOwns = append(mongoOwns, mongoOwn(t))
			}
		}
		rest = append(rest, r.outside-(l+o)/localNodes)
		mongoRuns = append(mongoRuns, mongoRun(r.res))
	}
	verdict := func(d time.Duration) string {
		if d > localTarget {
			return fmt.Sprintf("< %s: MISSED", ms(localTarget))
		}
		return fmt.Sprintf("< %s: met", ms(localTarget))
	}
	fmt.Printf("\n### local: quickstart, %d nodes, 1 at a time, %d rollouts (%d node replacements)\n\n", localNodes, len(rounds), len(self))
	fmt.Println("| the tool's own time per node | median | max | target |")
	fmt.Println("| --- | ---: | ---: | --- |")
	fmt.Printf("| self-reported: `timings.overhead` (total − hooks, snapshot, terminate, launch, running, healthy, hold) | %s | %s | %s |\n", ms(median(self)), ms(maxOf(self)), verdict(median(self)))
	fmt.Printf("| from outside: (wall − Σ terminate + running + healthy + hold − CLI start-up) / %d | %s | %s | %s |\n", localNodes, ms(median(outside)), ms(maxOf(outside)), verdict(median(outside)))
	fmt.Printf("| … of which the Launch call (the local provider starts the node's supervisor) | %s | %s | — |\n", ms(median(launch)), ms(maxOf(launch)))
	fmt.Printf("| … of which the rest: prepare, lock + journal, probes between nodes, generation, output | %s | %s | — |\n", ms(median(rest)), ms(maxOf(rest)))
	fmt.Println()
	fmt.Println("| per node (the waits) | median | max |")
	fmt.Println("| --- | ---: | ---: |")
	for _, row := range []struct {
		what string
		ds   []time.Duration
	}{{"terminate (SIGTERM → processes gone, volume released)", term}, {"running (launch → running)", running}, {"healthy (running → first passing probe)", healthy},
		{"hold (min_healthy_time 2s)", hold}, {"node total", total}} {
		fmt.Printf("| %s | %s | %s |\n", row.what, ms(median(row.ds)), ms(maxOf(row.ds)))
	}
	fmt.Println()
	fmt.Println("| whole command | median | max |")
	fmt.Println("| --- | ---: | ---: |")
	fmt.Printf("| `cluster rollout --yes -o json`, spawn to exit | %s | %s |\n", ms(median(walls)), ms(maxOf(walls)))
	fmt.Printf("| its `duration` (ApplyRollout) | %s | %s |\n", ms(median(durations)), ms(maxOf(durations)))
	fmt.Printf("| CLI start-up, `cloud-compose --version` (subtracted above) | %s | – |\n", ms(startup))
	fmt.Printf("| `cluster status -o json` (start-up, observe, probe 3 nodes; not subtracted) | %s | – |\n", ms(status))
	var outages []time.Duration
	for _, o := range poll.outages {
		outages = append(outages, o...)
	}
	fmt.Printf("| outside poller: a node's downtime (no 200 on /health, probed every %s) | %s | %s |\n", *flagPoll, ms(median(outages)), ms(maxOf(outages)))
	fmt.Printf("| outside poller: most nodes down at once (%d probes) | %d | – |\n", poll.probes, poll.maxDown)
	fmt.Println()
	fmt.Println("| the same waits | this tool | the mongo plugin's design (10 s sleeps) | plugin / tool |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	fmt.Printf("| a node's replacement (median; not the last node) | %s | %s | %.1f× |\n", ms(median(total)), ms(median(mongoNodes)), median(mongoNodes).Seconds()/median(total).Seconds())
	fmt.Printf("| own time per node beyond terminate, running, healthy (the tool: and min_healthy_time; from outside; median) | %s | %s | %.0f× |\n",
		ms(median(outside)), ms(median(mongoOwns)), median(mongoOwns).Seconds()/median(outside).Seconds())
	fmt.Printf("| a %d-node rollout (median) | %s | %s | %.1f× |\n", localNodes, ms(median(walls)), ms(median(mongoRuns)), median(mongoRuns).Seconds()/median(walls).Seconds())
	fmt.Println("\nThe plugin's figures are a lower bound: its polls' calls and health queries count as free, its `up` as this tool's Launch call; it has no min_healthy_time (its sleep after a node stands in for one).")
	if median(self) > localTarget {
		missed = append(missed, fmt.Sprintf("local: self-reported own time per node, median %s > %s", ms(median(self)), ms(localTarget)))
	}
	if median(outside) > localTarget {
		missed = append(missed, fmt.Sprintf("local: own time per node measured from outside, median %s > %s", ms(median(outside)), ms(localTarget)))
	}
	return missed
}
