package awstest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// TestProxyLosesAnswersAfterTheCallTookEffect: about Drop of the mutating
// calls reach the endpoint and lose their answer (a closed connection or
// a 503); reads never do; DropNext loses exactly the next answers.
func TestProxyLosesAnswersAfterTheCallTookEffect(t *testing.T) {
	var reached atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		fmt.Fprint(w, "<ok/>")
	}))
	defer backend.Close()
	p, err := New(backend.URL, Options{Drop: 0.3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	call := func(action string) (ok bool) {
		resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(url.Values{"Action": {action}}.Encode()))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK
	}
	lost := map[string]int{}
	for i := 0; i < 300; i++ {
		for _, a := range []string{"RunInstances", "ModifyInstanceAttribute", "DescribeInstances"} {
			if !call(a) {
				lost[a]++
			}
		}
	}
	if reached.Load() != 900 {
		t.Errorf("%d calls reached the endpoint, want all 900", reached.Load())
	}
	for _, a := range []string{"RunInstances", "ModifyInstanceAttribute"} {
		if lost[a] < 60 || lost[a] > 120 {
			t.Errorf("%s: %d of 300 answers lost, want about 90", a, lost[a])
		}
	}
	if lost["DescribeInstances"] != 0 {
		t.Errorf("DescribeInstances: %d answers lost, want none", lost["DescribeInstances"])
	}
	if got := p.Dropped(); got["RunInstances"] != lost["RunInstances"] {
		t.Errorf("Dropped() = %v, clients saw %v", got, lost)
	}

	q, err := New(backend.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(q)
	defer srv2.Close()
	q.DropNext("TerminateInstances", 2)
	srv.URL = srv2.URL
	var got []bool
	for i := 0; i < 3; i++ {
		got = append(got, call("TerminateInstances"))
	}
	if fmt.Sprint(got) != "[false false true]" || !call("DescribeInstances") {
		t.Errorf("DropNext 2: answers %v, want [false false true]", got)
	}
}

// TestProxyEC2AnswersATakenIPAsEC2Does: moto's 500 to RunInstances at a
// taken private IP (a generic HTML page) reaches the client as EC2's 400
// InvalidIPAddress.InUse naming the IP.
func TestProxyEC2AnswersATakenIPAsEC2Does(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<title>500 Internal Server Error</title>", http.StatusInternalServerError)
	}))
	defer backend.Close()
	p, err := New(backend.URL, Options{EC2: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	form := url.Values{"Action": {"RunInstances"}, "PrivateIpAddress": {"10.0.1.10"}}
	resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "<Code>InvalidIPAddress.InUse</Code>") || !strings.Contains(string(body), "10.0.1.10") {
		t.Errorf("answer %d %s, want 400 InvalidIPAddress.InUse naming 10.0.1.10", resp.StatusCode, body)
	}
}
