// Command lb benchmarks the local provider's load balancer (internal/lb,
// the `__lb-proxy` process `cluster up` starts) on the quickstart (3 nodes
// of the demo service, real processes on loopback IPs), with fortio as the
// load generator (a library; see load.go):
//
//   - -rollout: requests through the load balancer while `cluster
//     rollout` replaces the 3 nodes (a new VERSION each time), at least
//     10,000 per case: GET / with the graceful service, and GET / plus slow
//     POST /work?ms=150 with the service started with --abrupt (it cuts
//     requests in flight on SIGTERM: only the drain protects them).
//     Failed requests, p50/p99/max. Target: 0 failed. The peer: the same
//     rollouts of a quickstart without a load balancer, the same load sent
//     to node 0 directly.
//   - -steady: no rollout, 1,000 requests/s of GET / through the load
//     balancer and directly to node 0, alternately; the proxy's added p99.
//     Target: under 1 ms.
//
// It prints markdown tables and exits 1 when a target is missed or an
// invariant breaks (fewer than 10,000 requests, a rollout that fails, a
// process left after `down`). See README.md.
package main

import (
	"flag"
	"fmt"
	"github.com/cloud-compose/cloud-compose-go/bench/internal/benchutil"
	"log"
	"os"
	"runtime"
	"strings"
	"time"
)

var (
	flagRollout  = flag.Bool("rollout", false, "(a) requests during rollouts: failed requests, latency")
	flagSteady   = flag.Bool("steady", false, "(b) steady state: the proxy's added latency at a fixed rate")
	flagBin      = flag.String("bin", "", "the cloud-compose binary (default: go build ./cmd/cloud-compose)")
	flagRounds   = flag.Int("rounds", 3, "-rollout: rollouts per case (a new VERSION each)")
	flagRate     = flag.Float64("rate", 600, "-rollout: requests/s per case (all kinds)")
	flagPostPct  = flag.Float64("post-share", 10, "-rollout, --abrupt case: percent of the rate that is POST /work?ms=150")
	flagMin      = flag.Int("min-requests", 10000, "-rollout: fewer requests than this in a case is a failure")
	flagNoPeer   = flag.Bool("no-peer", false, "-rollout: skip the peer (no load balancer, clients on node 0)")
	flagSRate    = flag.Float64("steady-rate", 1000, "-steady: requests/s")
	flagSPath    = flag.String("steady-path", "/health,/", "-steady: the paths requested (GET), comma separated; the target applies to the first. /health answers from memory; / writes the counter to the node's data volume")
	flagSDur     = flag.Duration("steady-duration", 20*time.Second, "-steady: length of each run")
	flagSRounds  = flag.Int("steady-rounds", 2, "-steady: rounds of runs (direct, bare proxy, load balancer), the order reversed every other round")
	flagNoBare   = flag.Bool("no-bare", false, "-steady: skip the bare proxy (httputil.ReverseProxy alone)")
	flagBarePool = flag.Bool("bare-pool", false, "-steady: give the bare proxy a buffer pool (ReverseProxy.BufferPool)")
	flagLBEnv    = flag.String("lb-env", "", "-steady: also measure a second load balancer proxy (same binary) started with this environment, e.g. GOMAXPROCS=1 (space separated)")
	flagBare     = flag.String("bare-proxy", "", "internal: serve as the bare proxy on this address")
	flagBareTo   = flag.String("bare-targets", "", "internal: the bare proxy's targets, IP:PORT,…")
	flagThreads  = flag.Int("threads", 16, "load generator goroutines (each its own connection) for GET /")
	flagSTarget  = flag.Duration("steady-target", time.Millisecond, "-steady: the most the proxy may add to p99")
	flagKeepTemp = flag.Bool("keep", false, "keep the temporary directory (copies, stores, logs)")
)

// lg is this program's log (fortio's log package writes through the
// standard library's default logger, which initFortio takes over).
var lg = log.New(os.Stderr, "", log.Ltime)

func logf(format string, args ...any) { lg.Printf(format, args...) }

func main() {
	flag.Parse()
	if *flagBare != "" {
		if err := bareProxyMain(*flagBare, strings.Split(*flagBareTo, ","), *flagBarePool); err != nil {
			lg.Fatal(err)
		}
		return
	}
	if !*flagRollout && !*flagSteady {
		*flagRollout, *flagSteady = true, true
	}
	initFortio()
	root, tmp, bin, err := benchutil.Setup("bench-lb-", *flagBin, logf)
	if err != nil {
		lg.Fatal(err)
	}
	fmt.Printf("%s, %d cores (%s), %s %s/%s, load generator fortio %s\n", time.Now().Format(time.DateOnly), runtime.NumCPU(), cpuModel(),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, fortioVersion())
	var failed []string
	if *flagSteady {
		failed = append(failed, benchSteady(root, tmp, bin)...)
	}
	if *flagRollout {
		failed = append(failed, benchRollouts(root, tmp, bin)...)
	}
	if *flagKeepTemp {
		logf("kept %s", tmp)
	} else {
		os.RemoveAll(tmp)
	}
	if len(failed) > 0 {
		for _, f := range failed {
			lg.Printf("FAILED: %s", f)
		}
		os.Exit(1)
	}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "?"
}

// ms formats d in milliseconds (µs precision below 10 ms).
func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second || d <= -10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < 10*time.Millisecond && d > -10*time.Millisecond:
		return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// median is the median of ds, 0 when there are none.
var median = benchutil.Median[time.Duration]
