// Command aws benchmarks `cluster up` and `cluster down` of the Go binary
// and the Python original (cloud-compose-cluster 0.14.6) against a moto
// server behind a proxy with EC2's latencies and RunInstances token bucket,
// in the same run, and `cluster plan` of the Go binary (the original has
// none), and prints markdown tables. It exits 1 when a plan breaks issue
// 8's invariants (no mutating call; at most 3 calls without --diff) or
// does not show what it should. See README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/bench/internal/benchutil"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// run is the benchmark; it returns the plan invariants that failed, after
// printing the tables (setup failures end it with log.Fatal).
func run() error {
	var (
		sizes   = flag.String("n", "3,30,100", "cluster sizes")
		motoURL = flag.String("moto", os.Getenv("CLOUD_COMPOSE_TEST_MOTO"), "moto server URL (default: start moto_server on a free port)")
		goBin   = flag.String("go-bin", "", "Go binary (default: go build ./cmd/cloud-compose)")
		pyBin   = flag.String("py-bin", "", "the Python original's cloud-compose (default: scripts/python-original)")
		tools   = flag.String("tools", "go,python", "which implementations to run")
	)
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "bench-aws-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	if *motoURL == "" {
		url, stop, err := benchutil.StartMoto(root, tmp)
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
		*motoURL = url
	}
	bins := map[string]string{}
	for _, t := range strings.Split(*tools, ",") {
		switch t {
		case "go":
			if *goBin == "" {
				*goBin = filepath.Join(tmp, "cloud-compose")
				log.Printf("building %s", *goBin)
				if out, err := exec.Command("go", "build", "-o", *goBin, filepath.Join(root, "cmd", "cloud-compose")).CombinedOutput(); err != nil {
					log.Fatalf("go build: %v\n%s", err, out)
				}
			}
			bins["go"] = *goBin
		case "python":
			if *pyBin == "" {
				out, err := exec.Command(filepath.Join(root, "scripts", "python-original")).Output()
				if err != nil {
					log.Fatalf("scripts/python-original: %v", err)
				}
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				*pyBin = lines[len(lines)-1]
			}
			bins["python"] = *pyBin
		}
	}

	proxy, err := benchutil.NewEC2Proxy(*motoURL)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = http.Serve(ln, proxy) }()
	proxyURL := "http://" + ln.Addr().String()

	// moto directly, for setting up the worlds (not counted, no latency)
	os.Setenv("AWS_ACCESS_KEY_ID", "testing")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	os.Setenv("AWS_REGION", "us-east-1")
	os.Setenv("AWS_ENDPOINT_URL", *motoURL)
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	moto := ec2.NewFromConfig(cfg)

	var results []result
	worldNo := 0
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			log.Fatalf("-n: %v", err)
		}
		for _, tool := range []string{"go", "python"} {
			bin, ok := bins[tool]
			if !ok {
				continue
			}
			worldNo++
			w, err := benchutil.NewWorld(ctx, moto, 100+worldNo, "bench")
			if err != nil {
				log.Fatal(err)
			}
			name := fmt.Sprintf("bench-%s-%d-%d", tool, n, time.Now().Unix())
			dir := filepath.Join(tmp, name)
			if err := writeProject(dir, name, w, n); err != nil {
				log.Fatal(err)
			}
			r := result{tool: tool, n: n}
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
				"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + proxyURL, "NO_COLOR=1"}
			cmds := commands(tool, bin, dir)
			step := func(m *measure, args []string) string {
				proxy.Take()
				start := time.Now()
				stdout, stderr, err := runCmd(dir, env, args)
				m.wall = time.Since(start)
				m.calls, m.throttled = proxy.Take()
				m.err = err
				if err != nil {
					log.Printf("%s N=%d %s: %v\n%s%s", tool, n, strings.Join(args, " "), err, stdout, stderr)
				}
				return stdout
			}
			step(&r.up, cmds[0])
			if r.running, err = countRunning(ctx, moto, name); err != nil {
				log.Fatal(err)
			}
			step(&r.rerun, cmds[1])
			if tool == "go" {
				r.plans = benchPlans(dir, n, step, cmds[3])
				for i, c := range planCases {
					m := r.plans.m[i]
					over := ""
					if n == planTargetN && !c.diff && m.wall >= planTarget {
						over = fmt.Sprintf(" (over issue 8's %v at N = %d)", planTarget, planTargetN)
					}
					log.Printf("go N=%d: plan, %s: %.2fs%s %d calls (%s)", n, c, m.wall.Seconds(), over, awstest.Total(m.calls), awstest.Describe(m.calls))
				}
				for _, v := range r.plans.violations {
					log.Printf("go N=%d: VIOLATED: %s", n, v)
				}
			}
			step(&r.down, cmds[2])
			log.Printf("%s N=%d: up %.2fs %d calls (%s), re-run %.2fs %d calls, down %.2fs %d calls, %d running after up",
				tool, n, r.up.wall.Seconds(), awstest.Total(r.up.calls), awstest.Describe(r.up.calls), r.rerun.wall.Seconds(), awstest.Total(r.rerun.calls), r.down.wall.Seconds(), awstest.Total(r.down.calls), r.running)
			results = append(results, r)
		}
	}
	fmt.Print(table(results))
	fmt.Print(planTable(results))
	var errs []error
	for _, r := range results {
		for _, v := range r.plans.violations {
			errs = append(errs, fmt.Errorf("at N = %d: %s", r.n, v))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("plan invariants violated:\n%w", errors.Join(errs...))
	}
	return nil
}

// commands are up, up again, down for one implementation, and for the Go
// binary plan (without --diff). The Python original's down does not wait
// for termination; the Go binary's down is run with --no-wait to compare
// the same work. The original has no plan.
func commands(tool, bin, dir string) [][]string {
	if tool == "go" {
		return [][]string{
			{bin, "-C", dir, "cluster", "up"},
			{bin, "-C", dir, "cluster", "up"},
			{bin, "-C", dir, "cluster", "down", "--yes", "--no-wait"},
			{bin, "-C", dir, "-o", "json", "cluster", "plan"},
		}
	}
	return [][]string{{bin, "cluster", "up"}, {bin, "cluster", "up"}, {bin, "cluster", "down"}}
}

func runCmd(dir string, env, args []string) (stdout, stderr string, err error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

type measure struct {
	wall      time.Duration
	calls     map[string]int
	throttled int
	err       error
}

type result struct {
	tool            string
	n               int
	up, rerun, down measure
	running         int
	plans           plans // the Go binary only
}

// floor is the rate limit's floor for `up` of n instances: the bucket
// gives 5 at once and 2 a second after, the last launch takes 1.5 s, plus
// the few Describe calls no `up` can skip (observe, look up, wait).
func floor(n int) time.Duration {
	f := benchutil.LatencyRun + 3*benchutil.LatencyDescribe
	if n > benchutil.RunBurst {
		f += time.Duration(float64(n-benchutil.RunBurst) / benchutil.RunRefill * float64(time.Second))
	}
	return f
}

func table(rs []result) string {
	var b strings.Builder
	b.WriteString("| N | impl | up | up calls | calls/node | throttled | up / floor | re-run up | re-run calls | down | down calls | running after up |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	byKey := map[string]result{}
	for _, r := range rs {
		byKey[fmt.Sprintf("%s/%d", r.tool, r.n)] = r
		status := ""
		if r.up.err != nil || r.rerun.err != nil || r.down.err != nil {
			status = " (error)"
		}
		fmt.Fprintf(&b, "| %d | %s%s | %.1f s | %d | %.2f | %d | %.2f× | %.2f s | %d | %.2f s | %d | %d |\n",
			r.n, r.tool, status, r.up.wall.Seconds(), awstest.Total(r.up.calls), float64(awstest.Total(r.up.calls))/float64(r.n), r.up.throttled,
			r.up.wall.Seconds()/floor(r.n).Seconds(), r.rerun.wall.Seconds(), awstest.Total(r.rerun.calls), r.down.wall.Seconds(), awstest.Total(r.down.calls), r.running)
	}
	b.WriteString("\n| N | floor | up: Python / Go | up calls: Python / Go | re-run: Python / Go | down: Python / Go |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		if r.tool != "go" {
			continue
		}
		p, ok := byKey[fmt.Sprintf("python/%d", r.n)]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "| %d | %.1f s | %.2f× | %.2f× | %.1f× | %.2f× |\n", r.n, floor(r.n).Seconds(),
			p.up.wall.Seconds()/r.up.wall.Seconds(), float64(awstest.Total(p.up.calls))/float64(awstest.Total(r.up.calls)),
			p.rerun.wall.Seconds()/r.rerun.wall.Seconds(), p.down.wall.Seconds()/r.down.wall.Seconds())
	}
	return b.String()
}

const clusterSh = `#!/bin/bash
# {{ name }} node {{ _node_id }} on {{ aws.ami }}
echo "starting {{ _node_id }}"
`

func writeProject(dir, name string, w *benchutil.World, n int) error {
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "cluster.sh"), []byte(clusterSh), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `cluster:
  name: %s
  search_path: [templates]
  aws:
    ami: %s
    keypair: %s
    security_groups: %s
    instance_type: t3.micro
    terminate_protection: false
    tags: {team: bench}
    volumes:
      - {name: root, size: 10G}
      - {name: data, block: /dev/xvdf, size: 50G}
    nodes:
`, name, w.AMIName, w.Key, w.SG)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - {id: %d, ip: %s.1.%d, subnet: %s}\n", i, w.CIDR, 10+i, w.Subnet)
	}
	return os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte(b.String()), 0o644)
}

func countRunning(ctx context.Context, c *ec2.Client, cluster string) (int, error) {
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:ClusterName"), Values: []string{cluster}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range out.Reservations {
		n += len(r.Instances)
	}
	return n, nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("run from inside the repository: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
