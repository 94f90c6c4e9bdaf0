// Package awstest is a proxy for tests and benchmarks that sits between
// AWS clients and an endpoint (moto): it counts the API calls by action,
// can lose answers of calls that took effect (faults), can add latency,
// and can supply two EC2 behaviours moto lacks. It never talks to AWS
// itself, and holds no credentials.
package awstest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options say what the proxy does besides forwarding and counting.
type Options struct {
	// Drop is the fraction (0..1) of mutating calls (every action but
	// Describe*, Get*, List*) whose answer is lost after the call took
	// effect at the endpoint: the connection is closed without an answer,
	// or (every other loss) the answer is replaced by a 503. Clients see
	// what they would see when a network or a load balancer loses an
	// answer, and retry.
	Drop float64
	// Seed seeds the choice of the calls to drop.
	Seed int64
	// EC2 supplies three documented EC2 behaviours that moto lacks:
	// RunInstances is idempotent per ClientToken (a retry with the token of
	// a call that succeeded gets that call's answer and launches nothing;
	// "Ensuring idempotency in Amazon EC2 API requests"), a private IP
	// that is taken is answered 400 InvalidIPAddress.InUse (moto answers
	// 500, which clients retry), and CreateImage tags the new image's
	// snapshots with a TagSpecification of ResourceType snapshot (moto
	// 5.2.5 raises NotImplementedError, a 500; the proxy passes the image's
	// spec on and tags the snapshots itself once the image exists).
	EC2 bool
	// Latency, when set, delays each call by what it returns.
	Latency func(action string) time.Duration
	// Intercept, when set, may answer a call itself (e.g. throttle it) and
	// return true; the call then never reaches the endpoint.
	Intercept func(action string, w http.ResponseWriter) bool
}

// Proxy is an http.Handler; serve it with httptest.NewServer or an
// http.Server and point AWS_ENDPOINT_URL at it.
type Proxy struct {
	target *url.URL
	opts   Options
	client *http.Client

	mu      sync.Mutex
	rnd     *rand.Rand
	calls   map[string]int
	dropped map[string]int
	drops   int
	next    map[string]int    // action -> answers still to lose (DropNext)
	tokens  map[string]answer // RunInstances ClientToken -> first success
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// New returns a proxy to target (e.g. moto's URL).
func New(target string, opts Options) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("awstest: target %q: %w", target, err)
	}
	return &Proxy{
		target: u, opts: opts,
		client:  &http.Client{Timeout: 2 * time.Minute},
		rnd:     rand.New(rand.NewSource(opts.Seed)),
		calls:   map[string]int{},
		dropped: map[string]int{},
		next:    map[string]int{},
		tokens:  map[string]answer{},
	}, nil
}

// DropNext loses the answers of the next n calls of action (after they
// took effect), whatever Drop says: a test's way to be sure a given call
// meets a lost answer.
func (p *Proxy) DropNext(action string, n int) {
	p.mu.Lock()
	p.next[action] += n
	p.mu.Unlock()
}

// Action is the API action of a request: the query protocol's Action
// (EC2, Auto Scaling, IAM, STS) or the operation of the JSON protocol's
// X-Amz-Target (CloudWatch Logs).
func Action(r *http.Request, body []byte) string {
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

// Mutating reports whether an action changes something.
func Mutating(action string) bool {
	for _, p := range []string{"Describe", "Get", "List"} {
		if strings.HasPrefix(action, p) {
			return false
		}
	}
	return action != ""
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	act := Action(r, body)
	p.mu.Lock()
	p.calls[act]++
	p.mu.Unlock()
	if p.opts.Intercept != nil && p.opts.Intercept(act, w) {
		return
	}
	if p.opts.Latency != nil {
		time.Sleep(p.opts.Latency(act))
	}
	var form url.Values
	if act == "RunInstances" && p.opts.EC2 {
		form, _ = url.ParseQuery(string(body))
		if tok := form.Get("ClientToken"); tok != "" {
			p.mu.Lock()
			a, ok := p.tokens[tok]
			p.mu.Unlock()
			if ok {
				p.answer(w, act, a)
				return
			}
		}
	}
	var snapshotTags url.Values
	if act == "CreateImage" && p.opts.EC2 {
		body, snapshotTags = splitSnapshotTags(body)
	}
	a, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "awstest proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if act == "RunInstances" && p.opts.EC2 {
		a = p.runInstances(form, a)
	}
	if len(snapshotTags) > 0 && a.status == http.StatusOK {
		if err := p.tagImageSnapshots(r, a.body, snapshotTags); err != nil {
			a = xmlError(http.StatusInternalServerError, "InternalError", "awstest proxy: tag the image's snapshots: "+err.Error())
		}
	}
	p.answer(w, act, a)
}

// runInstances remembers a successful answer by client token and turns
// moto's 500 for a taken private IP into EC2's answer.
func (p *Proxy) runInstances(form url.Values, a answer) answer {
	if a.status == http.StatusOK {
		if tok := form.Get("ClientToken"); tok != "" {
			p.mu.Lock()
			p.tokens[tok] = a
			p.mu.Unlock()
		}
		return a
	}
	ip := form.Get("PrivateIpAddress")
	if ip == "" {
		ip = form.Get("NetworkInterface.1.PrivateIpAddress")
	}
	// moto (5.2.5) answers a taken IP with its generic HTML 500 page,
	// which does not name the cause ("IP already in use" is only in its
	// log), so any 500 to a launch at a given IP is taken for that.
	if a.status == http.StatusInternalServerError && ip != "" {
		return xmlError(http.StatusBadRequest, "InvalidIPAddress.InUse", fmt.Sprintf("Address %s is in use.", ip))
	}
	return a
}

// answer writes a, or loses it.
func (p *Proxy) answer(w http.ResponseWriter, act string, a answer) {
	p.mu.Lock()
	drop := Mutating(act) && p.opts.Drop > 0 && p.rnd.Float64() < p.opts.Drop
	if p.next[act] > 0 {
		p.next[act]--
		drop = true
	}
	var n int
	if drop {
		p.dropped[act]++
		p.drops++
		n = p.drops
	}
	p.mu.Unlock()
	if drop {
		if hj, ok := w.(http.Hijacker); ok && n%2 == 1 {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		a = xmlError(http.StatusServiceUnavailable, "ServiceUnavailable", "awstest proxy: answer lost")
	}
	for k, vs := range a.header {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(a.body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

func (p *Proxy) forward(r *http.Request, body []byte) (answer, error) {
	u := *p.target
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header = r.Header.Clone()
	req.Host = p.target.Host
	resp, err := p.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header.Clone(), body: b}, nil
}

// splitSnapshotTags takes the TagSpecification of ResourceType snapshot
// out of a CreateImage request: the request without it (the other specs
// renumbered from 1) and its tags as CreateTags parameters (Tag.N.Key,
// Tag.N.Value), nil when there is none.
func splitSnapshotTags(body []byte) ([]byte, url.Values) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return body, nil
	}
	specs := map[int]url.Values{}
	rest := url.Values{}
	for k, vs := range form {
		var n int
		var field string
		if _, err := fmt.Sscanf(k, "TagSpecification.%d.", &n); err == nil && strings.HasPrefix(k, fmt.Sprintf("TagSpecification.%d.", n)) {
			field = strings.TrimPrefix(k, fmt.Sprintf("TagSpecification.%d.", n))
			if specs[n] == nil {
				specs[n] = url.Values{}
			}
			specs[n][field] = vs
			continue
		}
		rest[k] = vs
	}
	var tags url.Values
	nums := make([]int, 0, len(specs))
	for n := range specs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	next := 1
	for _, n := range nums {
		s := specs[n]
		if s.Get("ResourceType") == "snapshot" {
			tags = url.Values{}
			for k, vs := range s {
				if strings.HasPrefix(k, "Tag.") {
					tags[k] = vs
				}
			}
			continue
		}
		for k, vs := range s {
			rest[fmt.Sprintf("TagSpecification.%d.%s", next, k)] = vs
		}
		next++
	}
	if tags == nil {
		return body, nil
	}
	return []byte(rest.Encode()), tags
}

// tagImageSnapshots tags the snapshots of the image a CreateImage answer
// names, with DescribeImages and CreateTags at the endpoint (the request's
// headers, so the same account and region).
func (p *Proxy) tagImageSnapshots(r *http.Request, answerBody []byte, tags url.Values) error {
	id := xmlValues(answerBody, "imageId")
	if len(id) == 0 {
		return fmt.Errorf("no imageId in the CreateImage answer")
	}
	call := func(params url.Values) ([]byte, error) {
		params.Set("Version", "2016-11-15")
		a, err := p.forward(r, []byte(params.Encode()))
		if err != nil {
			return nil, err
		}
		if a.status != http.StatusOK {
			return nil, fmt.Errorf("%s: HTTP %d: %s", params.Get("Action"), a.status, a.body)
		}
		return a.body, nil
	}
	desc, err := call(url.Values{"Action": {"DescribeImages"}, "ImageId.1": {id[0]}})
	if err != nil {
		return err
	}
	snaps := xmlValues(desc, "snapshotId")
	if len(snaps) == 0 {
		return nil
	}
	params := url.Values{"Action": {"CreateTags"}}
	for i, s := range snaps {
		params.Set(fmt.Sprintf("ResourceId.%d", i+1), s)
	}
	for k, vs := range tags {
		params[k] = vs
	}
	_, err = call(params)
	return err
}

// xmlValues returns the text of every <name>…</name> in an EC2 answer.
func xmlValues(body []byte, name string) []string {
	var out []string
	s := string(body)
	open, end := "<"+name+">", "</"+name+">"
	for {
		i := strings.Index(s, open)
		if i < 0 {
			return out
		}
		s = s[i+len(open):]
		j := strings.Index(s, end)
		if j < 0 {
			return out
		}
		out = append(out, strings.TrimSpace(s[:j]))
		s = s[j+len(end):]
	}
}

func xmlError(status int, code, msg string) answer {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>awstest</RequestID></Response>`, code, msg)
	return answer{status: status, header: http.Header{"Content-Type": {"text/xml;charset=UTF-8"}}, body: []byte(body)}
}

// Reset returns the calls by action since the last Reset, and forgets them.
func (p *Proxy) Reset() (calls map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	calls = p.calls
	p.calls = map[string]int{}
	return calls
}

// Dropped returns how many answers were lost, by action.
func (p *Proxy) Dropped() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.dropped))
	for k, v := range p.dropped {
		out[k] = v
	}
	return out
}

// Total sums counts.
func Total(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

// Describe lists counts sorted by action, for logs and failure messages.
func Describe(calls map[string]int) string {
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
