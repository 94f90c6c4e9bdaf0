package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	flog "fortio.org/log"
)

// The load generator is fortio (fortio.org/fortio, Istio's load testing
// tool) used as a library: its periodic runner sends requests at a fixed
// rate from a number of goroutines ("threads"), each on its own schedule
// (uniformly staggered) and its own keep-alive connection, and its HTTP
// runner fetches. We use its net/http client (DisableFastClient), so what
// counts as a failure, and what is retried on a dead keep-alive
// connection, is net/http's; and an access logger of ours records every
// request's exact latency and status (fortio's own histogram is bucketed).

// loadSpec is one stream of requests.
type loadSpec struct {
	name    string // in the tables: "GET /", "POST /work?ms=150"
	url     string
	post    bool
	rate    float64 // requests a second, over all threads
	threads int
}

// sample is one request.
type sample struct {
	at      time.Time
	latency time.Duration
	ok      bool
	code    string // the HTTP status, or -1: no answer (connection refused, reset, timeout)
}

// recorder is a fortio access logger that keeps every request.
type recorder struct {
	mu      sync.Mutex
	samples []sample
}

func (r *recorder) Start(ctx context.Context, _ periodic.ThreadID, _ int64, _ time.Time) context.Context {
	return ctx
}

func (r *recorder) Report(_ context.Context, _ periodic.ThreadID, _ int64, start time.Time, latency float64, ok bool, details string) {
	s := sample{at: start, latency: time.Duration(latency * float64(time.Second)), ok: ok, code: details}
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

func (r *recorder) Info() string { return "bench/lb recorder" }

// runningLoad is a set of streams started together.
type runningLoad struct {
	streams []*stream
}

type stream struct {
	spec    loadSpec
	rec     *recorder
	stop    *periodic.Aborter
	started chan struct{}
	done    chan struct{}
	res     *fhttp.HTTPRunnerResults
	err     error
}

// streamResult is what a stream did.
type streamResult struct {
	spec     loadSpec
	samples  []sample
	retCodes map[int]int64 // fortio's own count, to cross-check ours
	err      error
}

// startLoad starts the streams; with d > 0 each runs for d, else until
// stop. It returns once every stream is past its warm-up (one request per
// thread, not counted) and sending at its rate.
func startLoad(specs []loadSpec, d time.Duration) (*runningLoad, error) {
	l := &runningLoad{}
	for _, sp := range specs {
		s := &stream{spec: sp, rec: &recorder{}, stop: periodic.NewAborter(), started: make(chan struct{}), done: make(chan struct{})}
		o := &fhttp.HTTPRunnerOptions{
			RunnerOptions: periodic.RunnerOptions{
				QPS:          sp.rate,
				NumThreads:   sp.threads,
				Duration:     d,
				Uniform:      true,
				Resolution:   0.00001, // fortio's histogram: 10 µs buckets (we use our own samples)
				Percentiles:  []float64{50, 99},
				Out:          io.Discard,
				Stop:         s.stop,
				AccessLogger: s.rec,
			},
			HTTPOptions: fhttp.HTTPOptions{
				URL:               sp.url,
				DisableFastClient: true,
				HTTPReqTimeOut:    10 * time.Second,
			},
		}
		if d <= 0 {
			o.Duration = -1 // until stopped
		}
		if sp.post {
			o.Payload = []byte("x")
			o.ContentType = "text/plain"
		}
		go func() {
			defer close(s.done)
			s.res, s.err = fhttp.RunHTTPTest(o)
		}()
		// The runner signals its start (after the warm-up) on StartChan;
		// we take it, so a later Abort finds it empty, which it allows.
		go func() {
			select {
			case <-s.stop.StartChan:
				close(s.started)
			case <-s.done:
			}
		}()
		l.streams = append(l.streams, s)
	}
	for _, s := range l.streams {
		select {
		case <-s.started:
		case <-s.done:
			l.stop()
			if s.err == nil {
				s.err = fmt.Errorf("it ended before it started")
			}
			return nil, fmt.Errorf("load %s %s: %w", s.spec.name, s.spec.url, s.err)
		case <-time.After(30 * time.Second):
			l.stop()
			return nil, fmt.Errorf("load %s %s: not started within 30 s", s.spec.name, s.spec.url)
		}
	}
	return l, nil
}

// stop stops the streams (if they run until stopped) and waits for them.
func (l *runningLoad) stop() []streamResult {
	for _, s := range l.streams {
		s.stop.Abort(false) // before its start too: fortio then ends it at once
	}
	return l.wait()
}

// wait waits for the streams to end on their own.
func (l *runningLoad) wait() []streamResult {
	var out []streamResult
	for _, s := range l.streams {
		<-s.done
		r := streamResult{spec: s.spec, err: s.err}
		s.rec.mu.Lock()
		r.samples = slices.Clone(s.rec.samples)
		s.rec.mu.Unlock()
		if s.res != nil {
			r.retCodes = s.res.RetCodes
		}
		out = append(out, r)
	}
	return out
}

// fortioLog takes what fortio logs (at error level: a line per failed
// request, with its error) and counts the errors by kind: the end of the
// error's text ("connection refused", "EOF", …).
type fortioLog struct {
	mu    sync.Mutex
	kinds map[string]int
}

var flogs = &fortioLog{kinds: map[string]int{}}

var errField = regexp.MustCompile(`"err":"((?:[^"\\]|\\.)*)"`)

func (f *fortioLog) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		kind := string(l)
		if m := errField.FindSubmatch(l); m != nil {
			kind = string(m[1])
			if i := strings.LastIndex(kind, ": "); i >= 0 {
				kind = kind[i+2:]
			}
		}
		if len(kind) > 120 {
			kind = kind[:120] + "…"
		}
		f.kinds[kind]++
	}
	return len(p), nil
}

// take returns and resets the counts: "connection refused ×40, EOF ×9".
func (f *fortioLog) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f.kinds)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, f.kinds[k]))
	}
	f.kinds = map[string]int{}
	return strings.Join(parts, ", ")
}

func initFortio() {
	flog.SetOutput(flogs)
	flog.SetLogLevelQuiet(flog.Error)
}

// stats are the figures of a set of samples.
type stats struct {
	n, failed           int
	p50, p90, p99, p999 time.Duration
	max                 time.Duration
	codes               map[string]int
	first, last         time.Time
}

func statsOf(ss []sample) stats {
	st := stats{n: len(ss), codes: map[string]int{}}
	if len(ss) == 0 {
		return st
	}
	lat := make([]time.Duration, len(ss))
	st.first, st.last = ss[0].at, ss[0].at
	for i, s := range ss {
		lat[i] = s.latency
		if !s.ok {
			st.failed++
		}
		st.codes[s.code]++
		if s.at.Before(st.first) {
			st.first = s.at
		}
		if s.at.After(st.last) {
			st.last = s.at
		}
	}
	slices.Sort(lat)
	st.p50, st.p90, st.p99, st.p999 = pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 99.9)
	st.max = lat[len(lat)-1]
	return st
}

// pct is the nearest-rank percentile p of sorted ds.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// codesString is "200: 9,990, -1: 10" (-1: no answer).
func codesString(codes map[string]int) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %s", k, thousands(codes[k])))
	}
	return strings.Join(parts, ", ")
}

// fortioVersion is the fortio module this program was built with.
func fortioVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "fortio.org/fortio" {
				return m.Version
			}
		}
	}
	return "?"
}
