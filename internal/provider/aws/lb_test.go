package aws

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// lbTop is the cluster.load_balancer section for clusterYAML's top.
func lbTop(port int, arns ...string) string {
	return fmt.Sprintf("  load_balancer: {target_groups: [%s], target_port: %d}\n", strings.Join(arns, ", "), port)
}

// TestIntegrationLoadBalancerEnsure: EnsureLoadBalancer checks the target
// groups with one DescribeTargetGroups and refuses, naming the ARN, a
// group that does not exist, one of target type ip, one in another VPC and
// one no load balancer uses.
func TestIntegrationLoadBalancerEnsure(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	good := newTargetGroup(t, ctx, w, tgOptions{})
	ipType := newTargetGroup(t, ctx, w, tgOptions{typ: elbtypes.TargetTypeEnumIp})
	unused := newTargetGroup(t, ctx, w, tgOptions{unused: true})
	vpc, err := w.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("172.16.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	otherVPC := newTargetGroup(t, ctx, w, tgOptions{vpc: aws.ToString(vpc.Vpc.VpcId), unused: true})
	missing := strings.Replace(good, "/tg-", "/gone-", 1)

	for _, tc := range []struct {
		name string
		arns []string
		want []string // in the error, besides each bad ARN
		bad  []string
	}{
		{"missing", []string{good, missing}, []string{"does not exist"}, []string{missing}},
		{"target type ip", []string{ipType}, []string{"target type ip"}, []string{ipType}},
		{"other VPC", []string{otherVPC}, []string{"is in " + aws.ToString(vpc.Vpc.VpcId), w.vpc}, []string{otherVPC}},
		{"no load balancer", []string{unused}, []string{"used by no load balancer"}, []string{unused}},
		{"all at once", []string{missing, ipType, unused}, []string{"does not exist", "target type ip", "used by no load balancer"}, []string{missing, ipType, unused}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := openHarness(t, ctx, writeProject(t, clusterYAML(w, uniq("lb"), 1, "", lbTop(8080, tc.arns...))), provider.Options{})
			if !h.p.LoadBalancerEnabled() {
				t.Fatal("LoadBalancerEnabled is false")
			}
			_, err := h.p.EnsureLoadBalancer(ctx, h.id)
			if !errors.Is(err, ErrTargetGroup) {
				t.Fatalf("err = %v, want ErrTargetGroup", err)
			}
			t.Log(err)
			for _, s := range append(tc.want, tc.bad...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q: %v", s, err)
				}
			}
			if strings.Contains(err.Error(), good+" ") {
				t.Errorf("error names the good group: %v", err)
			}
		})
	}

	t.Run("good", func(t *testing.T) {
		h := openHarness(t, ctx, writeProject(t, clusterYAML(w, uniq("lb"), 1, "", lbTop(8080, good))), provider.Options{})
		st, err := h.p.EnsureLoadBalancer(ctx, h.id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(provider.LBStatus{Address: good, State: "active", Targets: []provider.LBTarget{}}, st); diff != "" {
			t.Errorf("LBStatus (-want +got):\n%s", diff)
		}
		h.budget(3, map[string]int{"elasticloadbalancingv2:DescribeTargetGroups": 1, "elasticloadbalancingv2:DescribeTargetHealth": 1})
	})

	t.Run("without load_balancer", func(t *testing.T) {
		h := openHarness(t, ctx, writeProject(t, clusterYAML(w, uniq("lb"), 1, "", "")), provider.Options{})
		if h.p.LoadBalancerEnabled() {
			t.Error("LoadBalancerEnabled is true without cluster.load_balancer")
		}
	})
}

// TestIntegrationLoadBalancerTargets: Register makes the instance a healthy
// target on target_port in every group (twice is fine), Status lists the
// targets with their IP:port, Deregister removes it (twice is fine, and so
// is a terminated instance).
func TestIntegrationLoadBalancerTargets(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	tg1 := newTargetGroup(t, ctx, w, tgOptions{})
	tg2 := newTargetGroup(t, ctx, w, tgOptions{})
	var log bytes.Buffer
	h := openHarness(t, ctx, writeProject(t, clusterYAML(w, uniq("lb"), 2, "", lbTop(8080, tg1, tg2))), provider.Options{Log: &log})
	res, err := h.up(ctx, provider.UpOptions{})
	if err != nil || len(res.created) != 2 {
		t.Fatalf("up: %v %+v", err, res)
	}
	i0, i1 := res.created[0], res.created[1]
	c := newELBClient(t)

	// health is the target states of a group, by instance id.
	health := func(arn string) map[string]string {
		t.Helper()
		out, err := c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, d := range out.TargetHealthDescriptions {
			m[fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port))] = string(d.TargetHealth.State)
		}
		return m
	}

	h.calls.Reset()
	for range 2 {
		if err := h.p.Register(ctx, h.id, i0); err != nil {
			t.Fatal(err)
		}
	}
	h.budget(8, map[string]int{"elasticloadbalancingv2:RegisterTargets": 4, "elasticloadbalancingv2:DescribeTargetHealth": 4})
	for _, arn := range []string{tg1, tg2} {
		if diff := cmp.Diff(map[string]string{i0.ID + ":8080": "healthy"}, health(arn)); diff != "" {
			t.Errorf("after Register(%s), %s (-want +got):\n%s", i0.ID, arn, diff)
		}
	}
	if err := h.p.Register(ctx, h.id, i1); err != nil {
		t.Fatal(err)
	}

	h.calls.Reset()
	st, err := h.p.LoadBalancerStatus(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	want := &provider.LBStatus{Address: tg1 + "," + tg2, State: "active"}
	for range 2 {
		want.Targets = append(want.Targets,
			provider.LBTarget{InstanceID: i0.ID, Address: i0.IP + ":8080", State: "healthy"},
			provider.LBTarget{InstanceID: i1.ID, Address: i1.IP + ":8080", State: "healthy"})
	}
	if i1.ID < i0.ID {
		for k := 0; k < 4; k += 2 {
			want.Targets[k], want.Targets[k+1] = want.Targets[k+1], want.Targets[k]
		}
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("LoadBalancerStatus (-want +got):\n%s", diff)
	}
	h.budget(3, map[string]int{"elasticloadbalancingv2:DescribeTargetHealth": 2, "ec2:DescribeInstances": 1})

	h.calls.Reset()
	start := time.Now()
	for range 2 {
		if err := h.p.Deregister(ctx, h.id, i0); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Deregister took %s on moto, which drains at once", d)
	}
	h.budget(6, map[string]int{"elasticloadbalancingv2:DeregisterTargets": 4, "elasticloadbalancingv2:DescribeTargetHealth": 2})
	for _, arn := range []string{tg1, tg2} {
		if diff := cmp.Diff(map[string]string{i1.ID + ":8080": "healthy"}, health(arn)); diff != "" {
			t.Errorf("after Deregister(%s), %s (-want +got):\n%s", i0.ID, arn, diff)
		}
	}

	// a terminated instance: moto drops it from its groups; deregistering
	// it is a no-op.
	if _, err := h.p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{i1.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deregister(ctx, h.id, i1); err != nil {
		t.Errorf("Deregister of a terminated instance: %v", err)
	}
	if strings.Contains(log.String(), "draining") {
		t.Errorf("a drain was cut on moto:\n%s", log.String())
	}
}

// TestIntegrationLoadBalancerWaits: through a proxy that answers
// DescribeTargetHealth itself, Deregister gives up after drain plus the
// margin, says so, and returns nil; Register fails at once on a target that
// cannot come in service (Target.NotInUse).
func TestIntegrationLoadBalancerWaits(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	tg := newTargetGroup(t, ctx, w, tgOptions{})
	var health atomic.Value // the state and reason DescribeTargetHealth answers
	health.Store([2]string{})
	px, err := awstest.New(os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{Intercept: func(action string, rw http.ResponseWriter) bool {
		s := health.Load().([2]string)
		if action != "DescribeTargetHealth" || s[0] == "" {
			return false
		}
		rw.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(rw, `<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeTargetHealthResult><TargetHealthDescriptions><member><Target><Id>i-0</Id><Port>8080</Port></Target><TargetHealth><State>%s</State><Reason>%s</Reason><Description>test</Description></TargetHealth></member></TargetHealthDescriptions></DescribeTargetHealthResult><ResponseMetadata><RequestId>test</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`, s[0], s[1])
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(px)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	margin := DeregisterMargin
	DeregisterMargin = time.Second
	t.Cleanup(func() { DeregisterMargin = margin })

	var log bytes.Buffer
	h := openHarness(t, ctx, writeProject(t, clusterYAML(w, uniq("lb"), 1, "", "  load_balancer: {target_groups: ["+tg+"], target_port: 8080, drain: 1s}\n")), provider.Options{Log: &log})
	if d := h.p.cluster.LoadBalancer.Drain; d != time.Second {
		t.Fatalf("drain = %s, want 1s", d)
	}
	res, err := h.up(ctx, provider.UpOptions{})
	if err != nil || len(res.created) != 1 {
		t.Fatalf("up: %v %+v", err, res)
	}
	in := res.created[0]
	if err := h.p.Register(ctx, h.id, in); err != nil {
		t.Fatal(err)
	}

	health.Store([2]string{"draining", "Target.DeregistrationInProgress"})
	start := time.Now()
	if err := h.p.Deregister(ctx, h.id, in); err != nil {
		t.Fatalf("Deregister: %v, want nil once the drain is cut", err)
	}
	// The waiter stops once the time left is shorter than its next poll
	// (deregisterMinDelay): between drain and drain + margin.
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Errorf("Deregister took %s, want between drain (1s) and drain + margin (2s)", d)
	}
	if !strings.Contains(log.String(), "still draining") || !strings.Contains(log.String(), in.ID) {
		t.Errorf("the cut drain is not logged:\n%s", log.String())
	}

	health.Store([2]string{"unused", "Target.NotInUse"})
	start = time.Now()
	err = h.p.Register(ctx, h.id, in)
	if !errors.Is(err, ErrTargetGroup) || !strings.Contains(err.Error(), "cannot come in service") {
		t.Errorf("Register on a group not in use: %v, want ErrTargetGroup", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Register took %s to fail, want at once", d)
	}
}
