package aws

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// refreshFake answers the instance refresh actions moto (5.2.5) does not
// implement — StartInstanceRefresh and DescribeInstanceRefreshes (moto
// answers them, and CancelInstanceRefresh and RollbackInstanceRefresh,
// with a 500 NotImplementedError) — as Auto Scaling does, keeping the
// refreshes it started and the form of every request, and passes every
// other call on to next (moto, through the awstest proxy).
type refreshFake struct {
	next http.Handler

	mu        sync.Mutex
	forms     map[string][]url.Values // action -> requests
	refreshes []fakeRefresh           // oldest first
	// inProgress, when set, makes the next StartInstanceRefresh fail with
	// InstanceRefreshInProgress after starting this refresh (someone
	// else's, started since the caller looked).
	inProgress *fakeRefresh
}

type fakeRefresh struct {
	id, status, version string
	percent             int
}

func (f *refreshFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	act := form.Get("Action")
	if act != "StartInstanceRefresh" && act != "DescribeInstanceRefreshes" {
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.next.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.forms == nil {
		f.forms = map[string][]url.Values{}
	}
	f.forms[act] = append(f.forms[act], form)
	w.Header().Set("Content-Type", "text/xml")
	const ns = `xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"`
	if act == "StartInstanceRefresh" {
		if r := f.inProgress; r != nil {
			f.refreshes, f.inProgress = append(f.refreshes, *r), nil
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<ErrorResponse %s><Error><Type>Sender</Type><Code>InstanceRefreshInProgress</Code><Message>An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.</Message></Error><RequestId>r</RequestId></ErrorResponse>`, ns)
			return
		}
		id := fmt.Sprintf("refresh-%d", len(f.refreshes)+1)
		f.refreshes = append(f.refreshes, fakeRefresh{id: id, status: "Pending", version: form.Get("DesiredConfiguration.LaunchTemplate.Version")})
		fmt.Fprintf(w, `<StartInstanceRefreshResponse %s><StartInstanceRefreshResult><InstanceRefreshId>%s</InstanceRefreshId></StartInstanceRefreshResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></StartInstanceRefreshResponse>`, ns, id)
		return
	}
	var members strings.Builder
	for i := len(f.refreshes) - 1; i >= 0; i-- { // newest first
		rf := f.refreshes[i]
		if id := form.Get("InstanceRefreshIds.member.1"); id != "" && id != rf.id {
			continue
		}
		fmt.Fprintf(&members, `<member><InstanceRefreshId>%s</InstanceRefreshId><AutoScalingGroupName>%s</AutoScalingGroupName><Status>%s</Status><StatusReason>reason of %s</StatusReason><PercentageComplete>%d</PercentageComplete><InstancesToUpdate>%d</InstancesToUpdate><DesiredConfiguration><LaunchTemplate><LaunchTemplateName>%s</LaunchTemplateName><Version>%s</Version></LaunchTemplate></DesiredConfiguration></member>`,
			rf.id, form.Get("AutoScalingGroupName"), rf.status, rf.id, rf.percent, 4-4*rf.percent/100, form.Get("AutoScalingGroupName"), rf.version)
	}
	fmt.Fprintf(w, `<DescribeInstanceRefreshesResponse %s><DescribeInstanceRefreshesResult><InstanceRefreshes>%s</InstanceRefreshes></DescribeInstanceRefreshesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeInstanceRefreshesResponse>`, ns, members.String())
}

// take returns and forgets the forms of action's requests.
func (f *refreshFake) take(action string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.forms[action]
	delete(f.forms, action)
	return out
}

func (f *refreshFake) set(id, status string, percent int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.refreshes {
		if f.refreshes[i].id == id {
			f.refreshes[i].status, f.refreshes[i].percent = status, percent
		}
	}
}

// TestIntegrationGroupRefresh: StartRefresh makes the spec's launch
// template version as EnsureGroup does (in moto) and starts an instance
// refresh to it with rollout's gates: the request carries the minimum
// healthy percentage, the warm-up, auto rollback, SkipMatching and the
// desired configuration naming the version; the group's own launch
// template stays on the old version (the refresh switches it on success,
// and a rollback returns to it), while its tags follow the spec at once.
// A refresh under way is returned, not doubled — found first, or after
// StartInstanceRefresh answers InstanceRefreshInProgress. RefreshStatus
// reads one refresh by id.
func TestIntegrationGroupRefresh(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	px, err := awstest.New(os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fake := &refreshFake{next: px}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)

	name := uniq("refresh")
	h := openHarness(t, ctx, writeProject(t, asgYAML(w, name, "")), provider.Options{})
	spec := func(h *harness, userData string) provider.Spec {
		t.Helper()
		res, err := h.p.Resolve(ctx, h.id, nil, provider.ResolveOptions{Check: true})
		if err != nil {
			t.Fatal(err)
		}
		return h.p.Spec(config.Node{}, res, userData, nil)
	}
	if res, err := h.p.EnsureGroup(ctx, h.id, spec(h, "#!/bin/bash\necho v1\n")); err != nil || res.Version != "1" {
		t.Fatalf("EnsureGroup: %+v %v", res, err)
	}
	asg := autoscaling.NewFromConfig(mustConfig(t))
	group := func() asgtypes.AutoScalingGroup {
		t.Helper()
		out, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
		if err != nil || len(out.AutoScalingGroups) != 1 {
			t.Fatalf("describe group: %v", err)
		}
		return out.AutoScalingGroups[0]
	}

	// a new boot script and a new tag
	h2 := openHarness(t, ctx, writeProject(t, asgYAML(w, name, ", tier: front")), provider.Options{})
	v2 := spec(h2, "#!/bin/bash\necho v2\n")
	h2.calls.Reset()
	r, err := h2.p.StartRefresh(ctx, h2.id, v2, provider.RefreshOptions{MinHealthyPercentage: 90, WarmUpSeconds: 60, AutoRollback: true})
	if err != nil {
		t.Fatal(err)
	}
	h2.budget(12, map[string]int{"ec2:CreateLaunchTemplateVersion": 1, "autoscaling:DescribeInstanceRefreshes": 1, "autoscaling:StartInstanceRefresh": 1})
	if r.ID != "refresh-1" || r.Status != "Pending" || r.Done {
		t.Errorf("StartRefresh = %+v, want refresh-1, Pending", r)
	}
	starts := fake.take("StartInstanceRefresh")
	if len(starts) != 1 {
		t.Fatalf("%d StartInstanceRefresh requests, want 1", len(starts))
	}
	for k, want := range map[string]string{
		"Action":                           "StartInstanceRefresh",
		"AutoScalingGroupName":             name,
		"Strategy":                         "Rolling",
		"Preferences.MinHealthyPercentage": "90",
		"Preferences.InstanceWarmup":       "60",
		"Preferences.AutoRollback":         "true",
		"Preferences.SkipMatching":         "true",
		"DesiredConfiguration.LaunchTemplate.LaunchTemplateName": name,
		"DesiredConfiguration.LaunchTemplate.Version":            "2",
	} {
		if got := starts[0].Get(k); got != want {
			t.Errorf("StartInstanceRefresh %s = %q, want %q (request: %v)", k, got, want, starts[0])
		}
	}
	if d := fake.take("DescribeInstanceRefreshes"); len(d) != 1 || d[0].Get("AutoScalingGroupName") != name {
		t.Errorf("DescribeInstanceRefreshes before starting: %v", d)
	}
	lt, err := w.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String(name), Versions: []string{"$Latest"}})
	if err != nil || len(lt.LaunchTemplateVersions) != 1 || aws.ToInt64(lt.LaunchTemplateVersions[0].VersionNumber) != 2 {
		t.Fatalf("launch template's latest version: %v %v, want 2", lt, err)
	}
	g := group()
	if v := aws.ToString(g.LaunchTemplate.Version); v != "1" {
		t.Errorf("the group was switched to launch template version %s before the refresh: a rollback would return to it", v)
	}
	if tag := tagOfASG(g.Tags, "tier"); tag != "front" {
		t.Errorf("group tag tier = %q, want front", tag)
	}

	// again, while it runs: the same refresh, nothing new
	fake.set("refresh-1", "InProgress", 50)
	h2.calls.Reset()
	r, err = h2.p.StartRefresh(ctx, h2.id, v2, provider.RefreshOptions{MinHealthyPercentage: 90, WarmUpSeconds: 60, AutoRollback: true})
	if err != nil {
		t.Fatal(err)
	}
	h2.budget(6, map[string]int{"ec2:CreateLaunchTemplateVersion": 0, "autoscaling:StartInstanceRefresh": 0, "autoscaling:UpdateAutoScalingGroup": 0})
	if r.ID != "refresh-1" || r.Status != "InProgress" || r.PercentComplete != 50 || r.InstancesToUpdate != 2 || r.Done {
		t.Errorf("StartRefresh while one runs = %+v, want refresh-1 InProgress 50%%, 2 to update", r)
	}

	// RefreshStatus asks for the one id and maps its end
	fake.take("DescribeInstanceRefreshes")
	fake.set("refresh-1", "Successful", 100)
	r, err = h2.p.RefreshStatus(ctx, h2.id, "refresh-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (provider.Refresh{ID: "refresh-1", Status: "Successful", StatusReason: "reason of refresh-1", PercentComplete: 100, Done: true, Succeeded: true}); r != want {
		t.Errorf("RefreshStatus = %+v, want %+v", r, want)
	}
	if d := fake.take("DescribeInstanceRefreshes"); len(d) != 1 || d[0].Get("InstanceRefreshIds.member.1") != "refresh-1" || d[0].Get("AutoScalingGroupName") != name {
		t.Errorf("RefreshStatus request: %v", d)
	}
	if _, err := h2.p.RefreshStatus(ctx, h2.id, "refresh-9"); !errors.Is(err, ErrNoRefresh) {
		t.Errorf("RefreshStatus of an unknown id: %v, want ErrNoRefresh", err)
	}

	// someone else's refresh starts between the look and the start
	fake.mu.Lock()
	fake.inProgress = &fakeRefresh{id: "refresh-other", status: "InProgress", version: "1"}
	fake.mu.Unlock()
	h2.calls.Reset()
	r, err = h2.p.StartRefresh(ctx, h2.id, spec(h2, "#!/bin/bash\necho v3\n"), provider.RefreshOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h2.budget(12, map[string]int{"autoscaling:DescribeInstanceRefreshes": 2, "autoscaling:StartInstanceRefresh": 1})
	if r.ID != "refresh-other" || r.Status != "InProgress" {
		t.Errorf("StartRefresh answered InstanceRefreshInProgress = %+v, want refresh-other", r)
	}
	starts = fake.take("StartInstanceRefresh")
	if len(starts) != 1 || starts[0].Get("Preferences.AutoRollback") != "false" || starts[0].Get("Preferences.MinHealthyPercentage") != "0" ||
		starts[0].Get("Preferences.InstanceWarmup") != "0" || starts[0].Get("DesiredConfiguration.LaunchTemplate.Version") != "3" {
		t.Errorf("StartInstanceRefresh without gates: %v", starts)
	}

	// refused before any call
	h2.calls.Reset()
	if _, err := h2.p.StartRefresh(ctx, h2.id, v2, provider.RefreshOptions{MinHealthyPercentage: 101}); err == nil {
		t.Error("a minimum healthy percentage of 101 was taken")
	}
	h2.budget(0, nil)
}

func tagOfASG(tags []asgtypes.TagDescription, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// TestRefreshStatusMapping: a refresh is done once it ended any way, and
// succeeded only when Successful.
func TestRefreshStatusMapping(t *testing.T) {
	for status, want := range map[asgtypes.InstanceRefreshStatus][2]bool{
		"Pending": {false, false}, "InProgress": {false, false}, "Baking": {false, false},
		"Cancelling": {false, false}, "RollbackInProgress": {false, false},
		"Successful": {true, true}, "Failed": {true, false}, "Cancelled": {true, false},
		"RollbackSuccessful": {true, false}, "RollbackFailed": {true, false},
	} {
		r := toRefresh(asgtypes.InstanceRefresh{InstanceRefreshId: aws.String("r-1"), Status: status, PercentageComplete: aws.Int32(40), InstancesToUpdate: aws.Int32(3)})
		if r.Done != want[0] || r.Succeeded != want[1] || r.ID != "r-1" || r.Status != string(status) || r.PercentComplete != 40 || r.InstancesToUpdate != 3 {
			t.Errorf("%s: %+v, want done %t, succeeded %t", status, r, want[0], want[1])
		}
	}
}

// TestStartRefreshNeedsGroup: a cluster of static nodes has no group to
// refresh; it is refused before any call.
func TestStartRefreshNeedsGroup(t *testing.T) {
	p, calls := unitProvider(t, unitBase, "")
	if _, err := p.StartRefresh(testContext(t), provider.ClusterID{Name: "unit"}, provider.Spec{}, provider.RefreshOptions{}); err == nil || !strings.Contains(err.Error(), "aws.asg") {
		t.Errorf("StartRefresh without aws.asg: %v", err)
	}
	if calls.Total() != 0 {
		t.Errorf("calls made: %s", calls)
	}
}
