package aws_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// call is one successful call that launches, terminates, registers or
// deregisters instances, with the instance ids it acted on.
type call struct {
	action string
	ids    []string
}

func (c call) String() string { return c.action + "(" + strings.Join(c.ids, ",") + ")" }

// callLog sits in front of the counting proxy and records, in the order
// their answers came back, the successful calls of RunInstances (the ids
// from its answer), TerminateInstances, RegisterTargets and
// DeregisterTargets (the ids from the request).
type callLog struct {
	next http.Handler
	mu   sync.Mutex
	log  []call
}

var instanceIDInAnswer = regexp.MustCompile(`<instanceId>(i-[0-9a-f]+)</instanceId>`)

func (l *callLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	act := awstest.Action(r, body)
	switch act {
	case "RunInstances", "TerminateInstances", "RegisterTargets", "DeregisterTargets":
	default:
		l.next.ServeHTTP(w, r)
		return
	}
	rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
	l.next.ServeHTTP(rec, r)
	if rec.status != http.StatusOK {
		return
	}
	c := call{action: act}
	form, _ := url.ParseQuery(string(body))
	switch act {
	case "RunInstances":
		for _, m := range instanceIDInAnswer.FindAllStringSubmatch(rec.body.String(), -1) {
			c.ids = append(c.ids, m[1])
		}
	case "TerminateInstances":
		for i := 1; form.Get(fmt.Sprintf("InstanceId.%d", i)) != ""; i++ {
			c.ids = append(c.ids, form.Get(fmt.Sprintf("InstanceId.%d", i)))
		}
	default:
		for i := 1; form.Get(fmt.Sprintf("Targets.member.%d.Id", i)) != ""; i++ {
			c.ids = append(c.ids, form.Get(fmt.Sprintf("Targets.member.%d.Id", i)))
		}
	}
	l.mu.Lock()
	l.log = append(l.log, c)
	l.mu.Unlock()
}

// reset returns the calls since the last reset and forgets them.
func (l *callLog) reset() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.log
	l.log = nil
	return out
}

// first is the index of the first call of action on id, or -1.
func first(calls []call, action, id string) int {
	for i, c := range calls {
		if c.action == action && contains(c.ids, id) {
			return i
		}
	}
	return -1
}

// last is the index of the last call of action on id, or -1.
func last(calls []call, action, id string) int {
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].action == action && contains(calls[i].ids, id) {
			return i
		}
	}
	return -1
}

func contains(ids []string, id string) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// TestIntegrationLoadBalancerRollout drives up, rollout and down through
// the binary for 3 static nodes in an ELBv2 target group (no health check:
// the gate is `running`), recording the order of the calls: up registers
// each node after launching it; the rollout deregisters each old instance
// before terminating it and registers each new one after launching it,
// and leaves exactly the 3 new instances in the group; down --force
// deregisters each instance before terminating it.
func TestIntegrationLoadBalancerRollout(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	tg := awsp.NewTargetGroup(t, ctx, w, awsp.TGOptions{})
	elbc := awsp.NewELBClient(t)
	px, err := awstest.New(os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	calls := &callLog{next: px}
	srv := httptest.NewServer(calls)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)

	name := awsp.Uniq("lbroll")
	yml := awsp.ClusterYAML(w, name, 3, "", "  load_balancer: {target_groups: ["+tg+"], target_port: 8080}\n")
	pr := awsp.WriteProject(t, yml)
	dir := pr.Dir()

	// members are the group's targets (instance:port) and their states.
	members := func() map[string]string {
		t.Helper()
		out, err := elbc.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, d := range out.TargetHealthDescriptions {
			m[fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port))] = string(d.TargetHealth.State)
		}
		return m
	}
	// live are the cluster's pending or running instances by node id.
	live := func() map[string]string {
		t.Helper()
		out, err := w.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:ClusterName"), Values: []string{name}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				for _, tag := range i.Tags {
					if aws.ToString(tag.Key) == provider.TagNode {
						m[aws.ToString(tag.Value)] = aws.ToString(i.InstanceId)
					}
				}
			}
		}
		return m
	}
	healthyMembers := func(ids map[string]string) map[string]string {
		m := map[string]string{}
		for _, id := range ids {
			m[id+":8080"] = "healthy"
		}
		return m
	}

	// up: every node registered once launched
	if _, _, err := runBoth(t, "-C", dir, "cluster", "up"); err != nil {
		t.Fatalf("up: %v", err)
	}
	log := calls.reset()
	before := live()
	if len(before) != 3 {
		t.Fatalf("after up: %v", before)
	}
	if diff := cmp.Diff(healthyMembers(before), members()); diff != "" {
		t.Errorf("target group after up (-want +got):\n%s", diff)
	}
	for node, id := range before {
		run, reg := first(log, "RunInstances", id), first(log, "RegisterTargets", id)
		if run < 0 || reg < run {
			t.Errorf("up, node %s (%s): RunInstances at %d, RegisterTargets at %d: %v", node, id, run, reg, log)
		}
	}

	// rollout of a new instance type
	if err := os.WriteFile(dir+"/cloud-compose.yml", []byte(strings.Replace(yml, "instance_type: t3.micro", "instance_type: t3.small", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runBoth(t, "-C", dir, "-o", "json", "cluster", "rollout", "--yes")
	if err != nil {
		t.Fatalf("rollout: %v", err)
	}
	log = calls.reset()
	got := members()
	var res cluster.RolloutResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("rollout -o json: %v\n%s", err, out)
	}
	if !res.Complete || len(res.Nodes) != 3 {
		t.Fatalf("rollout: %+v", res)
	}
	after := live()
	if diff := cmp.Diff(healthyMembers(after), got); diff != "" {
		t.Errorf("target group right after the rollout (-want +got):\n%s", diff)
	}
	t.Logf("rollout calls: %v", log)
	// the rollout's JSON and status show the group with the new targets
	targets := func(st *provider.LBStatus) map[string]string {
		m := map[string]string{}
		if st != nil {
			if st.Address != tg || st.State != "active" {
				t.Errorf("load balancer %s %s, want %s active", st.Address, st.State, tg)
			}
			for _, tgt := range st.Targets {
				if !strings.HasSuffix(tgt.Address, ":8080") {
					t.Errorf("target %s at %q, want IP:8080", tgt.InstanceID, tgt.Address)
				}
				m[tgt.InstanceID+":8080"] = tgt.State
			}
		}
		return m
	}
	if diff := cmp.Diff(healthyMembers(after), targets(res.LoadBalancer)); diff != "" {
		t.Errorf("rollout -o json: load_balancer (-want +got):\n%s", diff)
	}
	out, _, err = runBoth(t, "-C", dir, "-o", "json", "cluster", "status")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	var st cluster.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if diff := cmp.Diff(healthyMembers(after), targets(st.LoadBalancer)); diff != "" {
		t.Errorf("status -o json: load_balancer (-want +got):\n%s", diff)
	}
	for _, n := range res.Nodes {
		old, now := n.OldInstance, n.NewInstance
		if old != before[n.ID] || now != after[n.ID] || old == now {
			t.Errorf("node %s: rolled %s -> %s; live before %s, after %s", n.ID, old, now, before[n.ID], after[n.ID])
		}
		dereg, term := first(log, "DeregisterTargets", old), first(log, "TerminateInstances", old)
		if dereg < 0 || term < dereg {
			t.Errorf("node %s: DeregisterTargets(%s) at %d, TerminateInstances(%s) at %d; want deregister first: %v", n.ID, old, dereg, old, term, log)
		}
		run, reg := first(log, "RunInstances", now), first(log, "RegisterTargets", now)
		if run < 0 || reg < run {
			t.Errorf("node %s: RunInstances(%s) at %d, RegisterTargets(%s) at %d; want register after launch: %v", n.ID, now, run, now, reg, log)
		}
		// the rollout may register the nodes it finds healthy first (a
		// no-op), never an old instance once it was deregistered
		if i := last(log, "RegisterTargets", old); i > dereg {
			t.Errorf("node %s: the old instance %s was registered again at %d, after its deregistration at %d: %v", n.ID, old, i, dereg, log)
		}
		if i := first(log, "DeregisterTargets", now); i >= 0 {
			t.Errorf("node %s: the new instance %s was deregistered at %d: %v", n.ID, now, i, log)
		}
	}

	// down --force: every instance deregistered before it is terminated
	if _, _, err := runBoth(t, "-C", dir, "cluster", "down", "--force"); err != nil {
		t.Fatalf("down: %v", err)
	}
	log = calls.reset()
	t.Logf("down calls: %v", log)
	ids := make([]string, 0, len(after))
	for _, id := range after {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		dereg, term := first(log, "DeregisterTargets", id), first(log, "TerminateInstances", id)
		if dereg < 0 || term < dereg {
			t.Errorf("down: DeregisterTargets(%s) at %d, TerminateInstances(%s) at %d; want deregister first: %v", id, dereg, id, term, log)
		}
	}
	if got := members(); len(got) != 0 {
		t.Errorf("target group after down: %v, want empty", got)
	}
}
