package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloud-compose/cloud-compose-go/bench/internal/benchutil"
	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
)

// rolloutCase is one quickstart variant under load during rollouts.
type rolloutCase struct {
	name  string
	about string
	v     variant
	posts bool // a share of POST /work?ms=150
}

func rolloutCases() []rolloutCase {
	cs := []rolloutCase{
		{name: "lb", about: "through the load balancer, graceful service", v: variant{}},
		{name: "lb-abrupt", about: "through the load balancer, service with --abrupt, GETs and slow POSTs", v: variant{abrupt: true}, posts: true},
	}
	if !*flagNoPeer {
		cs = append(cs,
			rolloutCase{name: "peer", about: "no load balancer, clients on node 0, graceful service", v: variant{noLB: true}},
			rolloutCase{name: "peer-abrupt", about: "no load balancer, clients on node 0, service with --abrupt, GETs and slow POSTs", v: variant{noLB: true, abrupt: true}, posts: true},
		)
	}
	return cs
}

// caseResult is a case's figures over its rounds.
type caseResult struct {
	c              rolloutCase
	rounds         int
	byKind         map[string][]sample // by loadSpec.name
	kinds          []string
	walls          []time.Duration
	drains         []time.Duration // per node
	regs           []time.Duration // per node
	window         time.Duration   // Σ load windows
	perNode        map[string]int  // failures by the node being replaced then ("" none)
	failedPerRound []int
	spans          []time.Duration // per round: first failed request's start to last one's end
	errors         string          // the load generator's errors, by kind
}

func (cr *caseResult) all() []sample {
	var out []sample
	for _, k := range cr.kinds {
		out = append(out, cr.byKind[k]...)
	}
	return out
}

func benchRollouts(root, tmp, bin string) (failed []string) {
	var results []*caseResult
	for _, c := range rolloutCases() {
		cr, f := runCase(root, tmp, bin, c)
		failed = append(failed, f...)
		if cr != nil && cr.rounds > 0 {
			results = append(results, cr)
		}
	}
	failed = append(failed, rolloutTables(results)...)
	return failed
}

func runCase(root, tmp, bin string, c rolloutCase) (cr *caseResult, failed []string) {
	q, err := newQuickstart(root, tmp, bin, c.name, c.v)
	if err != nil {
		return nil, []string{c.name + ": " + err.Error()}
	}
	defer func() { failed = append(failed, q.down()...) }()
	if err := q.up(); err != nil {
		return nil, []string{err.Error()}
	}
	url := "http://" + q.IPs[0] + ":8080/"
	if q.lb != "" {
		url = "http://" + q.lb + "/"
	}
	getRate := *flagRate
	var specs []loadSpec
	if c.posts {
		postRate := *flagRate * *flagPostPct / 100
		getRate -= postRate
		// each thread busy at most half the time with 150 ms requests
		postThreads := max(8, int(math.Ceil(postRate*0.150/0.5)))
		specs = append(specs, loadSpec{name: "POST /work?ms=150", url: url + "work?ms=150", post: true, rate: postRate, threads: postThreads})
	}
	specs = append([]loadSpec{{name: "GET /", url: url, rate: getRate, threads: *flagThreads}}, specs...)
	cr = &caseResult{c: c, byKind: map[string][]sample{}, perNode: map[string]int{}}
	for _, s := range specs {
		cr.kinds = append(cr.kinds, s.name)
	}
	flogs.take()
	for r := range *flagRounds {
		v := strconv.Itoa(r + 2)
		if err := q.SetVersion(v); err != nil {
			return cr, append(failed, c.name+": "+err.Error())
		}
		l, err := startLoad(specs, 0)
		if err != nil {
			return cr, append(failed, fmt.Sprintf("%s: round %d: %v", c.name, r+1, err))
		}
		start := time.Now()
		time.Sleep(200 * time.Millisecond)
		out, errOut, wall, rerr := q.CLI("-o", "json", "cluster", "rollout", "--yes")
		time.Sleep(200 * time.Millisecond)
		res := l.stop()
		window := time.Since(start)
		if rerr != nil {
			return cr, append(failed, fmt.Sprintf("%s: round %d: rollout: %v\n%s%s", c.name, r+1, rerr, out, errOut))
		}
		ro, err := benchutil.DecodeRollout(out, nodes)
		if err == nil {
			err = q.WaitVersion(v, 5*time.Second)
		}
		if err == nil && q.lb != "" && !strings.Contains(errOut, ": draining ") {
			err = fmt.Errorf("the rollout did not drain the nodes from the load balancer:\n%s", errOut)
		}
		if err == nil {
			err = q.waitTargets(10 * time.Second)
		}
		if err != nil {
			return cr, append(failed, fmt.Sprintf("%s: round %d: %v", c.name, r+1, err))
		}
		cr.rounds++
		cr.walls = append(cr.walls, wall)
		cr.window += window
		for _, nd := range ro.Nodes {
			cr.drains = append(cr.drains, nd.Timings.Drain)
			cr.regs = append(cr.regs, nd.Timings.Register)
		}
		var line []string
		failedN := 0
		var firstFail, lastFail time.Time
		for _, sr := range res {
			if sr.err != nil {
				failed = append(failed, fmt.Sprintf("%s: round %d: load %s: %v", c.name, r+1, sr.spec.name, sr.err))
			}
			cr.byKind[sr.spec.name] = append(cr.byKind[sr.spec.name], sr.samples...)
			st := statsOf(sr.samples)
			for _, s := range sr.samples {
				if s.ok {
					continue
				}
				end := s.at.Add(s.latency)
				cr.perNode[replacing(ro, end)]++
				failedN++
				if firstFail.IsZero() || s.at.Before(firstFail) {
					firstFail = s.at
				}
				if end.After(lastFail) {
					lastFail = end
				}
			}
			if got := fortioCount(sr.retCodes); got != int64(st.n) {
				failed = append(failed, fmt.Sprintf("%s: round %d: %s: fortio counted %d requests, the access logger %d", c.name, r+1, sr.spec.name, got, st.n))
			}
			line = append(line, fmt.Sprintf("%s %s requests (%.0f/s), %d failed, p99 %s", sr.spec.name, thousands(st.n), float64(st.n)/window.Seconds(), st.failed, ms(st.p99)))
		}
		cr.failedPerRound = append(cr.failedPerRound, failedN)
		cr.spans = append(cr.spans, lastFail.Sub(firstFail))
		logf("%s: round %d: rollout %s; %s", c.name, r+1, ms(wall), strings.Join(line, "; "))
	}
	cr.errors = flogs.take()
	return cr, failed
}

// replacing is the node whose replacement (its timings' span) covers t
// (when a failed request ended), "" when none does.
func replacing(ro *cluster.RolloutResult, t time.Time) string {
	for _, nd := range ro.Nodes {
		tm := nd.Timings
		if !t.Before(tm.Completed.Add(-tm.Total)) && !t.After(tm.Completed) {
			return "node " + nd.ID
		}
	}
	return ""
}

func fortioCount(codes map[int]int64) int64 {
	var n int64
	for _, c := range codes {
		n += c
	}
	return n
}

func rolloutTables(results []*caseResult) (missed []string) {
	if len(results) == 0 {
		return nil
	}
	fmt.Printf("\n### (a) during rollouts: the quickstart's 3 nodes replaced one at a time (`cluster rollout --yes`, min_healthy_time 2s), %d rollouts per case\n\n", *flagRounds)
	fmt.Println("| case | requests | failed | p50 | p99 | max | answers (-1: none) |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, cr := range results {
		rows := cr.kinds
		if len(rows) > 1 {
			rows = append([]string{"all"}, rows...)
		}
		for _, k := range rows {
			ss := cr.byKind[k]
			if k == "all" {
				ss = cr.all()
			}
			st := statsOf(ss)
			fmt.Printf("| %s: %s | %s | %s | %s | %s | %s | %s |\n", cr.c.name, k, thousands(st.n), thousands(st.failed),
				ms(st.p50), ms(st.p99), ms(st.max), codesString(st.codes))
		}
	}
	fmt.Println()
	fmt.Println("| case | what | load (achieved) | rollout, median | drain per node, median (max) | register per node, median (max) | failed per rollout | first to last failure, per rollout | failures by the node being replaced then | the load generator's errors |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
	for _, cr := range results {
		st := statsOf(cr.all())
		var per []string
		for _, k := range slices.Sorted(maps.Keys(cr.perNode)) {
			name := k
			if k == "" {
				name = "none"
			}
			per = append(per, fmt.Sprintf("%s: %d", name, cr.perNode[k]))
		}
		var fails, spans []string
		for i, n := range cr.failedPerRound {
			fails = append(fails, strconv.Itoa(n))
			if n > 0 {
				spans = append(spans, ms(cr.spans[i]))
			}
		}
		drain, reg := "–", "–"
		if !cr.c.v.noLB {
			drain = fmt.Sprintf("%s (%s)", ms(median(cr.drains)), ms(maxOf(cr.drains)))
			reg = fmt.Sprintf("%s (%s)", ms(median(cr.regs)), ms(maxOf(cr.regs)))
		}
		fmt.Printf("| %s | %s | %.0f/s | %s | %s | %s | %s | %s | %s | %s |\n", cr.c.name, cr.c.about, float64(st.n)/cr.window.Seconds(),
			ms(median(cr.walls)), drain, reg, strings.Join(fails, ", "), dash(strings.Join(spans, ", ")), dash(strings.Join(per, ", ")), dash(cr.errors))
	}
	for _, cr := range results {
		st := statsOf(cr.all())
		if cr.c.v.noLB {
			continue // the peer: its failures are the figure
		}
		if st.failed > 0 {
			missed = append(missed, fmt.Sprintf("%s: %d of %d requests failed during the rollouts (target 0)", cr.c.name, st.failed, st.n))
		}
		if st.n < *flagMin {
			missed = append(missed, fmt.Sprintf("%s: only %d requests during the rollouts (want ≥ %d: raise -rate or -rounds)", cr.c.name, st.n, *flagMin))
		}
		if cr.rounds < *flagRounds {
			missed = append(missed, fmt.Sprintf("%s: %d of %d rollouts done", cr.c.name, cr.rounds, *flagRounds))
		}
	}
	return missed
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
