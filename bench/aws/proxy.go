package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// Latencies EC2 shows, roughly (the model): RunInstances about
// 1.5 s, Describe calls about 0.1 s, other calls about 0.2 s.
var (
	latencyRun      = 1500 * time.Millisecond
	latencyDescribe = 100 * time.Millisecond
	latencyOther    = 200 * time.Millisecond
)

// EC2's published token bucket for RunInstances: 5 requests of burst,
// refilled at 2 per second.
// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
const (
	runBurst  = 5
	runRefill = 2
)

// trace logs every call with its time (BENCH_TRACE=1).
var trace = os.Getenv("BENCH_TRACE") != ""

// ec2Proxy sits in front of moto. awstest.Proxy forwards, counts every
// call by action, adds EC2's latencies and answers a taken private IP as
// EC2 does (400 InvalidIPAddress.InUse, which the Python original relies
// on to skip nodes that exist); what is the benchmark's own is
// RunInstances' token bucket: an empty bucket answers
// RequestLimitExceeded, as EC2 does (HTTP 503 with that code).
type ec2Proxy struct {
	*awstest.Proxy
	bucket *rate.Limiter

	mu        sync.Mutex
	throttled int
}

func newEC2Proxy(target string) (*ec2Proxy, error) {
	p := &ec2Proxy{bucket: rate.NewLimiter(runRefill, runBurst)}
	var err error
	p.Proxy, err = awstest.New(target, awstest.Options{EC2: true, Latency: latency, Intercept: p.throttle})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func latency(act string) time.Duration {
	switch {
	case act == "RunInstances":
		return latencyRun
	case act != "" && !awstest.Mutating(act):
		return latencyDescribe
	}
	return latencyOther
}

// throttle is the proxy's intercept hook: it logs the call (BENCH_TRACE)
// and refuses RunInstances when the bucket is empty.
func (p *ec2Proxy) throttle(act string, w http.ResponseWriter) bool {
	if trace {
		log.Printf("%s %s", time.Now().Format("15:04:05.000"), act)
	}
	if act != "RunInstances" || p.bucket.Allow() {
		return false
	}
	p.mu.Lock()
	p.throttled++
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>bench-throttle</RequestID></Response>`)
	return true
}

// take returns the counts since the last take and resets them.
func (p *ec2Proxy) take() (calls map[string]int, throttled int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	calls, throttled = p.Reset(), p.throttled
	p.throttled = 0
	return calls, throttled
}
