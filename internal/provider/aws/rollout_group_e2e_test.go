package aws_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// TestIntegrationRolloutGroup: in group mode, `cluster rollout` is an EC2
// Auto Scaling instance refresh with rollout's gates (min_healthy as a
// percentage of the group, min_healthy_time as the warm-up, auto
// rollback), followed to its end. moto 5.2.5 lacks the instance refresh
// actions: a fake answers those two (and checks their shape); everything
// else is moto.
func TestIntegrationRolloutGroup(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	px, err := awstest.New(os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fake := awsp.NewRefreshFake(px)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	old := cluster.RefreshPoll
	cluster.RefreshPoll = 20 * time.Millisecond
	t.Cleanup(func() { cluster.RefreshPoll = old })

	name := awsp.Uniq("rollgroup")
	yml := strings.Replace(awsp.ASGYAML(w, name, ""), "  aws:\n", "  rollout: {min_healthy: 3, min_healthy_time: 45s}\n  aws:\n", 1)
	pr := awsp.WriteProject(t, yml)
	dir := pr.Dir()
	if _, _, err := runBoth(t, "-C", dir, "cluster", "up"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/cloud-compose.yml", []byte(strings.Replace(yml, "tags: {team: web}", "tags: {team: web2}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// the cloud's side: pending, half done, then its end
	finish := func(end string) {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if forms := fake.Take("StartInstanceRefresh"); len(forms) > 0 {
				id := "refresh-1"
				if end != "Successful" {
					id = "refresh-2"
				}
				checkRefreshForm(t, forms[0])
				time.Sleep(50 * time.Millisecond)
				fake.Set(id, "InProgress", 50)
				time.Sleep(50 * time.Millisecond)
				fake.Set(id, end, 100)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Error("no StartInstanceRefresh")
	}
	go finish("Successful")
	out, errOut, err := runBoth(t, "-C", dir, "-o", "json", "cluster", "rollout", "--yes")
	if err != nil {
		t.Fatalf("rollout: %v\n%s", err, errOut)
	}
	var res cluster.RolloutResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.Refresh == nil || res.Refresh.ID != "refresh-1" || !res.Refresh.Succeeded || res.Generation != 2 {
		t.Fatalf("rollout: %+v %+v", res, res.Refresh)
	}
	if !strings.Contains(errOut, "instance refresh refresh-1: InProgress, 50% done, 2 to update") || !strings.Contains(errOut, "refresh-1: Successful") {
		t.Errorf("progress does not follow the refresh:\n%s", errOut)
	}
	gens, _, err := runBoth(t, "-C", dir, "cluster", "generations")
	if err != nil || !strings.Contains(gens, "2    active") {
		t.Errorf("generations: %v\n%s", err, gens)
	}

	// a refresh that the cloud rolls back: exit 1, rolled back
	if err := os.WriteFile(dir+"/cloud-compose.yml", []byte(strings.Replace(yml, "tags: {team: web}", "tags: {team: web3}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	go finish("RollbackSuccessful")
	out, errOut, err = runBoth(t, "-C", dir, "-o", "json", "cluster", "rollout", "--yes")
	if err == nil {
		t.Fatalf("a rolled back refresh: exit 0\n%s", errOut)
	}
	res = cluster.RolloutResult{}
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil || res.Complete || !res.RolledBack {
		t.Errorf("rolled back refresh: %v %+v", jerr, res)
	}
	if !strings.Contains(err.Error(), "RollbackSuccessful") {
		t.Errorf("the error does not say how the refresh ended: %v", err)
	}
}

// checkRefreshForm: the gates reach the request: 3 of the group's 4
// instances healthy is 75%, min_healthy_time the warm-up, auto rollback on.
func checkRefreshForm(t *testing.T, form map[string][]string) {
	want := map[string]string{
		"Preferences.MinHealthyPercentage": "75",
		"Preferences.InstanceWarmup":       "45",
		"Preferences.AutoRollback":         "true",
		"Preferences.SkipMatching":         "true",
	}
	for k, v := range want {
		if got := form[k]; len(got) != 1 || got[0] != v {
			t.Errorf("StartInstanceRefresh %s = %v, want %s", k, got, v)
		}
	}
	if v := form["DesiredConfiguration.LaunchTemplate.Version"]; len(v) != 1 || v[0] == "" || v[0] == "$Latest" {
		t.Errorf("DesiredConfiguration.LaunchTemplate.Version = %v", v)
	}
}
