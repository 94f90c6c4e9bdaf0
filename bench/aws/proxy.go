package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// ec2Proxy sits in front of moto: it adds EC2's latencies, answers
// RequestLimitExceeded when RunInstances' bucket is empty (as EC2 does:
// HTTP 503 with that code), and counts every call by action.
type ec2Proxy struct {
	target *url.URL
	rp     *httputil.ReverseProxy
	bucket *rate.Limiter

	mu        sync.Mutex
	calls     map[string]int
	throttled int
}

func newEC2Proxy(target string) (*ec2Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &ec2Proxy{target: u, bucket: rate.NewLimiter(runRefill, runBurst), calls: map[string]int{}}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.ModifyResponse = p.translate
	return p, nil
}

// action is the API action of a request: the query protocol's Action
// (EC2, Auto Scaling, IAM, STS) or the JSON protocol's X-Amz-Target.
func action(r *http.Request, body []byte) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if _, op, ok := strings.Cut(t, "."); ok {
			return op
		}
		return t
	}
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
		return form.Get("Action")
	}
	return r.URL.Query().Get("Action")
}

func latency(act string) time.Duration {
	switch {
	case act == "RunInstances":
		return latencyRun
	case strings.HasPrefix(act, "Describe") || strings.HasPrefix(act, "Get") || strings.HasPrefix(act, "List"):
		return latencyDescribe
	}
	return latencyOther
}

func (p *ec2Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	act := action(r, body)
	if trace {
		log.Printf("%s %s", time.Now().Format("15:04:05.000"), act)
	}
	p.mu.Lock()
	p.calls[act]++
	p.mu.Unlock()
	if act == "RunInstances" && !p.bucket.Allow() {
		p.mu.Lock()
		p.throttled++
		p.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>bench-throttle</RequestID></Response>`)
		return
	}
	time.Sleep(latency(act))
	if act == "RunInstances" {
		// remembered for translate
		r.Header.Set("X-Bench-Private-Ip", privateIP(body))
	}
	p.rp.ServeHTTP(w, r)
}

func privateIP(body []byte) string {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	if ip := form.Get("PrivateIpAddress"); ip != "" {
		return ip
	}
	return form.Get("NetworkInterface.1.PrivateIpAddress")
}

// translate turns moto's answer to RunInstances with a private IP that is
// taken — an HTTP 500 — into EC2's: 400 InvalidIPAddress.InUse. The Python
// original relies on that code to skip nodes that exist; the Go binary
// does not (it checks who holds the IP before launching).
func (p *ec2Proxy) translate(resp *http.Response) error {
	ip := resp.Request.Header.Get("X-Bench-Private-Ip")
	if resp.StatusCode != http.StatusInternalServerError || ip == "" {
		return nil
	}
	_ = resp.Body.Close()
	msg := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidIPAddress.InUse</Code><Message>Address %s is in use.</Message></Error></Errors><RequestID>bench-ip</RequestID></Response>`, ip)
	resp.StatusCode, resp.Status = http.StatusBadRequest, "400 Bad Request"
	resp.Body = io.NopCloser(strings.NewReader(msg))
	resp.ContentLength = int64(len(msg))
	resp.Header.Set("Content-Length", fmt.Sprint(len(msg)))
	resp.Header.Set("Content-Type", "text/xml;charset=UTF-8")
	return nil
}

// take returns the counts since the last take and resets them.
func (p *ec2Proxy) take() (calls map[string]int, throttled int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	calls, throttled = p.calls, p.throttled
	p.calls, p.throttled = map[string]int{}, 0
	return calls, throttled
}

func sum(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

func describeCalls(calls map[string]int) string {
	keys := make([]string, 0, len(calls))
	for k := range calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, calls[k])
	}
	return strings.TrimSpace(b.String())
}
