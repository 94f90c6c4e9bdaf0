package benchutil

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

// The AWS benchmarks' model of EC2 (issue 7's): latencies EC2 shows,
// roughly — RunInstances about 1.5 s, Describe/Get/List calls about 0.1
// s, other calls about 0.2 s — and RunInstances' published token bucket:
// 5 requests of burst, refilled at 2 per second.
// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
var (
	LatencyRun      = 1500 * time.Millisecond
	LatencyDescribe = 100 * time.Millisecond
	LatencyOther    = 200 * time.Millisecond
)

// RunInstances' token bucket.
const (
	RunBurst  = 5
	RunRefill = 2
)

// trace logs every call with its time (BENCH_TRACE=1).
var trace = os.Getenv("BENCH_TRACE") != ""

// Latency is the model's latency of a call.
func Latency(act string) time.Duration {
	switch {
	case act == "RunInstances":
		return LatencyRun
	case act != "" && !awstest.Mutating(act):
		return LatencyDescribe
	}
	return LatencyOther
}

// EC2Proxy sits in front of moto. awstest.Proxy forwards, counts every
// call by action, adds the model's latencies and answers a taken private
// IP as EC2 does (400 InvalidIPAddress.InUse, which the Python original
// relies on to skip nodes that exist); what is the benchmarks' own is
// RunInstances' token bucket: an empty bucket answers
// RequestLimitExceeded, as EC2 does (HTTP 503 with that code).
type EC2Proxy struct {
	*awstest.Proxy
	bucket *rate.Limiter

	mu        sync.Mutex
	throttled int
}

// NewEC2Proxy is a proxy to target (moto's URL).
func NewEC2Proxy(target string) (*EC2Proxy, error) {
	p := &EC2Proxy{bucket: rate.NewLimiter(RunRefill, RunBurst)}
	var err error
	p.Proxy, err = awstest.New(target, awstest.Options{EC2: true, Latency: Latency, Intercept: p.throttle})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// throttle is the proxy's intercept hook: it logs the call (BENCH_TRACE)
// and refuses RunInstances when the bucket is empty.
func (p *EC2Proxy) throttle(act string, w http.ResponseWriter) bool {
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

// Take returns the calls and the throttled RunInstances since the last
// Take, and resets both.
func (p *EC2Proxy) Take() (calls map[string]int, throttled int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	calls, throttled = p.Reset(), p.throttled
	p.throttled = 0
	return calls, throttled
}
