// Command rollout benchmarks `cloud-compose cluster rollout`, one node at
// a time, against what it has to wait for, and against the original mongo
// plugin's upgrade (a fixed 10 s sleep between steps) for the same waits:
//
//   - -local: the quickstart (3 nodes, real processes on loopback IPs), N
//     rounds of a new VERSION; the tool's own time per node, self-reported
//     (timings.overhead) and measured from outside (the command's wall time
//     minus the waits minus the CLI's start-up, over 3); target under
//     100 ms, median. A poller checks that never more than one node is down.
//   - -aws: 9 static nodes with a data volume on moto behind a proxy with
//     EC2's latencies (bench/aws's model), a new instance_type rolled out;
//     the command's wall time against the sum of the inherent waits
//     (snapshot, terminate, launch, running); target within 1.1×, median.
//
// It prints markdown tables and exits 1 when a median misses its target or
// an invariant breaks (a rollout that fails or is incomplete, two nodes
// down or replaced at once). See README.md.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/cloud-compose/cloud-compose-go/bench/internal/benchutil"
	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
)

var (
	flagLocal    = flag.Bool("local", false, "the local benchmark (quickstart, 3 nodes)")
	flagAWS      = flag.Bool("aws", false, "the AWS benchmark (moto behind a latency proxy, 9 nodes)")
	flagRounds   = flag.Int("rounds", 10, "-local: rollouts (a new VERSION each)")
	flagAWSRound = flag.Int("aws-rounds", 3, "-aws: rollouts (a new instance_type each)")
	flagN        = flag.Int("n", 9, "-aws: static nodes")
	flagBin      = flag.String("bin", "", "the cloud-compose binary (default: go build ./cmd/cloud-compose)")
	flagMoto     = flag.String("moto", os.Getenv("CLOUD_COMPOSE_TEST_MOTO"), "-aws: moto server URL (default: start moto_server on a free port)")
	flagStartup  = flag.Int("startup-runs", 20, "-local: runs of `cloud-compose --version` to measure the CLI's start-up")
	flagPoll     = flag.Duration("poll", 20*time.Millisecond, "-local: how often the outside poller probes each node's /health")
)

func main() {
	log.SetFlags(0)
	flag.Parse()
	if !*flagLocal && !*flagAWS {
		*flagLocal, *flagAWS = true, true
	}
	root, tmp, bin, err := benchutil.Setup("bench-rollout-", *flagBin, log.Printf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, %d cores, %s %s/%s\n", time.Now().Format(time.DateOnly), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	var failed []string
	if *flagLocal {
		failed = append(failed, benchLocal(root, tmp, bin)...)
	}
	if *flagAWS {
		failed = append(failed, benchAWS(root, tmp, bin)...)
	}
	os.RemoveAll(tmp)
	if len(failed) > 0 {
		for _, f := range failed {
			log.Printf("FAILED: %s", f)
		}
		os.Exit(1)
	}
}

// oneAtATime checks from the timings that no two nodes' replacements
// overlapped (max_unavailable 1): each starts after the previous one was
// done.
func oneAtATime(res *cluster.RolloutResult) error {
	type span struct {
		id         string
		start, end time.Time
	}
	var spans []span
	for _, nd := range res.Nodes {
		t := nd.Timings
		spans = append(spans, span{nd.ID, t.Completed.Add(-t.Total), t.Completed})
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].start.Before(spans[i-1].end) {
			return fmt.Errorf("nodes %s and %s were replaced at the same time (%s began %s before %s was done)",
				spans[i-1].id, spans[i].id, spans[i].id, spans[i-1].end.Sub(spans[i].start), spans[i-1].id)
		}
	}
	return nil
}

// median is the median of ds, 0 when there are none.
var median = benchutil.Median[time.Duration]

func maxOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

// medianF is the median of fs, 0 when there are none.
var medianF = benchutil.Median[float64]

// ms formats d in milliseconds, s in seconds when it is long.
func ms(d time.Duration) string {
	if d >= 10*time.Second || d <= -10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
