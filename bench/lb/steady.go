package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// The steady state's targets: node 0 itself (the peer), the bare proxy
// (httputil.ReverseProxy alone, bare.go) and the load balancer, each over
// the quickstart's 3 nodes.
var targetNames = map[string]string{
	"direct": "direct to node 0",
	"bare":   "bare proxy (httputil.ReverseProxy alone)",
	"lb":     "through the load balancer",
}

// steadyRun is one run of the steady state.
type steadyRun struct {
	target string
	st     stats
	rate   float64 // achieved
	busy   float64 // the machine's CPU busy, in cores
	// cpu is what each process spent a request, µs: "proxy" (the load
	// balancer's or the bare one, whichever the run used), "nodes" (the 3
	// demo services), "generator" (this process).
	cpu     map[string]float64
	samples []sample
}

func benchSteady(root, tmp, bin string) (failed []string) {
	q, err := newQuickstart(root, tmp, bin, "steady", variant{})
	if err != nil {
		return []string{"steady: " + err.Error()}
	}
	defer func() { failed = append(failed, q.down()...) }()
	if err := q.up(); err != nil {
		return []string{err.Error()}
	}
	// base URLs, without the path
	urls := map[string]string{"direct": "http://" + q.IPs[0] + ":8080", "lb": "http://" + q.lb}
	pids := map[string][]int{"lb": {q.lbPID()}}
	targets := []string{"direct", "lb"}
	if !*flagNoBare {
		var nodes []string
		for _, ip := range q.IPs {
			nodes = append(nodes, ip+":8080")
		}
		bp, err := startBareProxy(q.Prefix+"20:8080", nodes)
		if err != nil {
			return []string{"steady: " + err.Error()}
		}
		defer bp.stop() // before down: it runs on the copy's prefix
		urls["bare"] = "http://" + bp.addr
		pids["bare"] = []int{bp.pid()}
		targets = []string{"direct", "bare", "lb"}
	}
	var le *lbEnv
	if *flagLBEnv != "" {
		var nodes []string
		for _, ip := range q.IPs {
			nodes = append(nodes, ip+":8080")
		}
		var err error
		le, err = startLBEnv(bin, filepath.Join(tmp, "lb-env"), q.Prefix+"21:8080", strings.Fields(*flagLBEnv), nodes)
		if err != nil {
			return append(failed, "steady: "+err.Error())
		}
		defer le.stop()
		urls["lb-env"] = "http://" + le.addr
		pids["lb-env"] = []int{le.pid()}
		targets = append(targets, "lb-env")
		targetNames["lb-env"] = "load balancer with " + *flagLBEnv
	}
	var nodePIDs []int
	for _, ip := range q.IPs {
		nodePIDs = append(nodePIDs, testbin.Processes(" --addr "+ip+":8080")...)
	}
	paths := strings.Split(*flagSPath, ",")
	// warm every path up (connections, the proxies' pools, the page cache)
	for _, t := range targets {
		if _, err := steadyOnce(urls[t]+paths[0], 2*time.Second, nil, nil); err != nil {
			return []string{"steady: warm-up " + t + ": " + err.Error()}
		}
	}
	for i, path := range paths {
		flogs.take()
		var runs []steadyRun
		var gcs int // the -lb-env proxy's collections (GODEBUG=gctrace=1)
		var gcMark, gcSTW []float64
		for r := range *flagSRounds {
			order := targets
			if r%2 == 1 {
				order = make([]string, len(targets))
				for j, t := range targets {
					order[len(targets)-1-j] = t
				}
			}
			for _, t := range order {
				var off int64
				if t == "lb-env" {
					off, _, _, _ = le.gcTrace(0)
				}
				run, err := steadyOnce(urls[t]+path, *flagSDur, pids[t], nodePIDs)
				if t == "lb-env" {
					_, n, mark, stw := le.gcTrace(off)
					gcs += n
					gcMark, gcSTW = append(gcMark, mark...), append(gcSTW, stw...)
				}
				if err != nil {
					return append(failed, fmt.Sprintf("steady: GET %s %s: %v", path, t, err))
				}
				run.target = t
				logf("steady: GET %s %s: %s requests at %.0f/s, %d failed, p50 %s, p99 %s, max %s, machine busy %.2f cores; CPU a request: proxy %.0f µs, nodes %.0f µs, generator %.0f µs",
					path, t, thousands(run.st.n), run.rate, run.st.failed, ms(run.st.p50), ms(run.st.p99), ms(run.st.max), run.busy, run.cpu["proxy"], run.cpu["nodes"], run.cpu["generator"])
				runs = append(runs, run)
			}
		}
		if errs := flogs.take(); errs != "" {
			fmt.Printf("\nsteady: GET %s: the load generator's errors: %s\n", path, errs)
		}
		failed = append(failed, steadyTables(runs, targets, path, i == 0)...)
		if gcs > 0 {
			var sum float64
			for _, m := range gcMark {
				sum += m
			}
			slices.Sort(gcMark)
			slices.Sort(gcSTW)
			span := time.Duration(*flagSRounds) * *flagSDur
			fmt.Printf("\nThe -lb-env proxy's garbage collector (gctrace) over its runs: %d collections (%.1f a second, %.0f requests apart), concurrent mark median %.2f ms (max %.2f), %.1f%% of the time marking, stop-the-world median %.3f ms (max %.3f).\n",
				gcs, float64(gcs)/span.Seconds(), *flagSRate*span.Seconds()/float64(gcs), gcMark[len(gcMark)/2], gcMark[len(gcMark)-1], sum/float64(span.Milliseconds())*100,
				gcSTW[len(gcSTW)/2], gcSTW[len(gcSTW)-1])
		}
	}
	return failed
}

// steadyOnce sends GET / to url at the steady rate for d and measures the
// CPU the machine and the processes spent.
func steadyOnce(url string, d time.Duration, proxyPIDs, nodePIDs []int) (steadyRun, error) {
	spec := loadSpec{name: "GET", url: url, rate: *flagSRate, threads: *flagThreads}
	busy0, total0 := machineCPU()
	px0, nd0, self0 := procsCPU(proxyPIDs), procsCPU(nodePIDs), procsCPU([]int{os.Getpid()})
	l, err := startLoad([]loadSpec{spec}, d)
	if err != nil {
		return steadyRun{}, err
	}
	res := l.wait()[0]
	busy1, total1 := machineCPU()
	px1, nd1, self1 := procsCPU(proxyPIDs), procsCPU(nodePIDs), procsCPU([]int{os.Getpid()})
	if res.err != nil {
		return steadyRun{}, res.err
	}
	r := steadyRun{st: statsOf(res.samples), samples: res.samples, cpu: map[string]float64{}}
	if el := r.st.last.Sub(r.st.first); el > 0 {
		r.rate = float64(r.st.n-1) / el.Seconds()
	}
	if total1 > total0 {
		perCore := float64(total1-total0) / float64(cores()) // the wall time, in ticks
		r.busy = float64(busy1-busy0) / perCore
	}
	if r.st.n > 0 {
		per := func(ticks int64) float64 { return float64(ticks) * 1e6 / clockTicks / float64(r.st.n) }
		r.cpu["proxy"], r.cpu["nodes"], r.cpu["generator"] = per(px1-px0), per(nd1-nd0), per(self1-self0)
	}
	return r, nil
}

// steadyTables prints a path's runs; the target applies when enforce
// (the first path), else the verdict is shown for reference.
func steadyTables(runs []steadyRun, targets []string, path string, enforce bool) (missed []string) {
	if len(runs) == 0 {
		return nil
	}
	fmt.Printf("\n### (b) steady state: GET %s at %.0f requests/s, %s a run, no rollout; %s in turn\n\n", path, *flagSRate, *flagSDur, strings.Join(targets, ", "))
	fmt.Println("| run | target | requests | rate | failed | p50 | p90 | p99 | p99.9 | max | machine CPU busy | CPU a request: proxy | nodes | load generator |")
	fmt.Println("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	pooled := map[string][]sample{}
	cpu := map[string]map[string][]float64{}
	for i, r := range runs {
		proxy := "–"
		if r.target != "direct" {
			proxy = fmt.Sprintf("%.0f µs", r.cpu["proxy"])
		}
		fmt.Printf("| %d | %s | %s | %.0f/s | %d | %s | %s | %s | %s | %s | %.2f cores | %s | %.0f µs | %.0f µs |\n", i+1, targetNames[r.target], thousands(r.st.n), r.rate, r.st.failed,
			ms(r.st.p50), ms(r.st.p90), ms(r.st.p99), ms(r.st.p999), ms(r.st.max), r.busy, proxy, r.cpu["nodes"], r.cpu["generator"])
		pooled[r.target] = append(pooled[r.target], r.samples...)
		if cpu[r.target] == nil {
			cpu[r.target] = map[string][]float64{}
		}
		for k, v := range r.cpu {
			cpu[r.target][k] = append(cpu[r.target][k], v)
		}
	}
	st := map[string]stats{}
	for _, t := range targets {
		st[t] = statsOf(pooled[t])
	}
	d, l := st["direct"], st["lb"]
	added := l.p99 - d.p99
	verdict := "met"
	if added >= *flagSTarget {
		verdict = "MISSED"
		if enforce {
			missed = append(missed, fmt.Sprintf("steady: GET %s: the load balancer adds %s to p99 (target < %s)", path, ms(added), ms(*flagSTarget)))
		}
	}
	if !enforce {
		verdict += ", for reference: the target applies to GET " + strings.Split(*flagSPath, ",")[0]
	}
	for _, t := range targets {
		if st[t].failed > 0 {
			missed = append(missed, fmt.Sprintf("steady: GET %s: %s: %d requests failed", path, t, st[t].failed))
		}
	}
	pick := func(s stats, what string) time.Duration {
		switch what {
		case "p50":
			return s.p50
		case "p90":
			return s.p90
		case "p99":
			return s.p99
		case "p99.9":
			return s.p999
		}
		return s.max
	}
	metrics := []string{"p50", "p90", "p99", "p99.9", "max"}
	fmt.Println()
	head, sep := "| all runs pooled |", "| --- |"
	for _, t := range targets {
		head += " " + targetNames[t] + " |"
		sep += " ---: |"
	}
	fmt.Println(head)
	fmt.Println(sep)
	row := "| requests |"
	for _, t := range targets {
		row += " " + thousands(st[t].n) + " |"
	}
	fmt.Println(row)
	for _, what := range metrics {
		row := "| " + what + " |"
		for _, t := range targets {
			row += " " + ms(pick(st[t], what)) + " |"
		}
		fmt.Println(row)
	}
	for _, k := range []string{"proxy", "nodes", "generator"} {
		row := "| CPU a request, " + k + " (mean of runs) |"
		for _, t := range targets {
			vs := cpu[t][k]
			if k == "proxy" && t == "direct" {
				row += " – |"
				continue
			}
			var sum float64
			for _, v := range vs {
				sum += v
			}
			row += fmt.Sprintf(" %.0f µs |", sum/float64(max(len(vs), 1)))
		}
		fmt.Println(row)
	}

	type diff struct{ name, a, b string }
	diffs := []diff{{"added by the load balancer (LB − direct)", "lb", "direct"}}
	if _, ok := st["bare"]; ok {
		diffs = append(diffs, diff{"added by a bare proxy hop (bare − direct)", "bare", "direct"}, diff{"the load balancer's own (LB − bare)", "lb", "bare"})
	}
	if _, ok := st["lb-env"]; ok {
		diffs = append(diffs, diff{"load balancer with " + *flagLBEnv + " − direct", "lb-env", "direct"})
	}
	fmt.Println()
	head, sep = "| pooled, differences |", "| --- |"
	for _, df := range diffs {
		head += " " + df.name + " |"
		sep += " ---: |"
	}
	fmt.Println(head + " LB / direct |")
	fmt.Println(sep + " ---: |")
	for _, what := range metrics {
		row := "| " + what + " |"
		for i, df := range diffs {
			row += " " + ms(pick(st[df.a], what)-pick(st[df.b], what))
			if i == 0 && what == "p99" {
				row += fmt.Sprintf(" (target < %s: %s)", ms(*flagSTarget), verdict)
			}
			row += " |"
		}
		row += fmt.Sprintf(" %.2f× |", pick(l, what).Seconds()/pick(d, what).Seconds())
		fmt.Println(row)
	}
	// the added p99 round by round
	var per []string
	byRound := len(targets)
	for i := 0; i+byRound <= len(runs); i += byRound {
		var dd, ll time.Duration
		for _, r := range runs[i : i+byRound] {
			switch r.target {
			case "direct":
				dd = r.st.p99
			case "lb":
				ll = r.st.p99
			}
		}
		per = append(per, ms(ll-dd))
	}
	fmt.Printf("\nAdded p99 (LB − direct) round by round: %s.\n", strings.Join(per, ", "))
	return missed
}

// machineCPU is the machine's busy and total CPU time from /proc/stat,
// in clock ticks.
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, s := range f[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		if i >= 8 { // guest, guest_nice: already in user, nice
			break
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// procsCPU is the processes' user + system CPU time, in clock ticks.
func procsCPU(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// from the state (field 3) on: utime and stime are fields 14 and 15
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		sum += u + st
	}
	return sum
}

// clockTicks is USER_HZ (100 on Linux).
const clockTicks = 100

func cores() int {
	b, _ := os.ReadFile("/proc/stat")
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return max(n, 1)
}
