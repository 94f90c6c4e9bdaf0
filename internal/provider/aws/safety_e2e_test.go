package aws_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// clusterInstances counts the instances tagged exactly ClusterName=name
// that are not terminated (filtered client-side: no wildcard can widen it).
func clusterInstances(t *testing.T, w *awsp.World, name string) []ec2types.Instance {
	t.Helper()
	out, err := w.EC2().DescribeInstances(awsp.TestContext(t), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []ec2types.Instance
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			for _, tg := range i.Tags {
				if aws.ToString(tg.Key) == "ClusterName" && aws.ToString(tg.Value) == name {
					got = append(got, i)
				}
			}
		}
	}
	return got
}

// TestIntegrationChecksBeforeLaunch: a missing subnet, an IP outside its
// subnet and a missing elastic IP stop `up` before anything is created:
// exit 2 naming the file, line and key; no instance, no IAM role, no log
// group.
func TestIntegrationChecksBeforeLaunch(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	iamc, logs := iam.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg)
	node1 := "ip: " + w.IP(11) + ", subnet: " + w.Subnet() + "}"
	for _, tc := range []struct{ name, new, key string }{
		{"missing subnet", "ip: " + w.IP(11) + ", subnet: subnet-0doesnotexist1}", "cluster.aws.nodes[1].subnet"},
		{"IP outside its subnet", "ip: 10.254.7.11, subnet: " + w.Subnet() + "}", "cluster.aws.nodes[1].ip"},
		{"missing eip", "ip: " + w.IP(11) + ", subnet: " + w.Subnet() + ", eip: eipalloc-0doesnotexist1}", "cluster.aws.nodes[1].eip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := awsp.Uniq("check")
			group := "/cc/" + name
			extra := "    instance_policy: '{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\"], \"Resource\": [\"*\"]}]}'\n"
			top := "  logging:\n    driver: awslogs\n    meta: {group: " + group + ", retention: 7}\n"
			yml := awsp.ClusterYAML(w, name, 2, extra, top)
			if !strings.Contains(yml, node1) {
				t.Fatalf("%q not in\n%s", node1, yml)
			}
			pr := awsp.WriteProject(t, strings.Replace(yml, node1, tc.new, 1))
			_, err := run(t, "-C", pr.Dir(), "cluster", "up")
			if code := app.ExitCode(err); code != 2 || err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "cloud-compose.yml:") {
				t.Errorf("up: exit %d, %v; want exit 2 naming cloud-compose.yml:LINE and %s", code, err, tc.key)
			}
			if got := clusterInstances(t, w, name); len(got) != 0 {
				t.Errorf("%d instance(s) created", len(got))
			}
			var nse *iamtypes.NoSuchEntityException
			if _, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}); !errors.As(err, &nse) {
				t.Errorf("IAM role %s: %v, want NoSuchEntity", name, err)
			}
			if _, err := iamc.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)}); !errors.As(err, &nse) {
				t.Errorf("instance profile %s: %v, want NoSuchEntity", name, err)
			}
			lg, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
			if err != nil || len(lg.LogGroups) != 0 {
				t.Errorf("log group %s: %v %d found, want none", group, err, len(lg.LogGroups))
			}
		})
	}
}

// TestIntegrationSameNameOtherProject: two projects named alike in two
// VPCs, through the command line. B's up creates B's nodes; B's status
// lists A's as foreign; B's down leaves them running.
func TestIntegrationSameNameOtherProject(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	wa, wb := awsp.NewWorld(t, ctx), awsp.NewWorld(t, ctx)
	name := awsp.Uniq("relA7")
	a := awsp.WriteProject(t, awsp.ClusterYAML(wa, name, 2, "", ""))
	b := awsp.WriteProject(t, awsp.ClusterYAML(wb, name, 2, "", ""))
	up := func(dir string) cluster.UpResult {
		t.Helper()
		out, err := run(t, "-C", dir, "-o", "json", "cluster", "up")
		if err != nil {
			t.Fatalf("up: %v", err)
		}
		var res cluster.UpResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	resA := up(a.Dir())
	resB := up(b.Dir())
	wantIP := map[string]string{"0": wb.IP(10), "1": wb.IP(11)}
	for _, n := range resB.Nodes {
		if n.Action != cluster.ActionCreated || n.IP != wantIP[n.ID] {
			t.Errorf("B's node %s: %s at %s, want created in B's subnet", n.ID, n.Action, n.IP)
		}
	}
	for _, i := range clusterInstances(t, wb, name) {
		if aws.ToString(i.VpcId) == wb.VPC() && aws.ToString(i.ImageId) != wb.AMI() {
			t.Errorf("B's instance %s runs %s, want B's image %s", aws.ToString(i.InstanceId), aws.ToString(i.ImageId), wb.AMI())
		}
	}
	out, err := run(t, "-C", b.Dir(), "-o", "json", "cluster", "status")
	if err != nil {
		t.Fatal(err)
	}
	var st cluster.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	foreign := 0
	for _, r := range st.Nodes {
		if r.Foreign != "" {
			foreign++
			if r.Foreign != wa.VPC() {
				t.Errorf("status row %+v: foreign in %s, want %s", r, r.Foreign, wa.VPC())
			}
		}
	}
	if foreign != 2 {
		t.Errorf("B's status lists %d foreign rows, want A's 2:\n%s", foreign, out)
	}
	out, err = run(t, "-C", b.Dir(), "-o", "json", "cluster", "down", "--yes", "--force")
	if err != nil {
		t.Fatal(err)
	}
	var down cluster.DownResult
	if err := json.Unmarshal([]byte(out), &down); err != nil {
		t.Fatal(err)
	}
	if len(down.Terminated) != 2 || len(down.LeftAlone) != 2 {
		t.Errorf("down in B: terminated %d, left alone %d; want 2 and A's 2", len(down.Terminated), len(down.LeftAlone))
	}
	live := 0
	for _, i := range clusterInstances(t, wa, name) {
		if aws.ToString(i.VpcId) == wa.VPC() && i.State.Name == ec2types.InstanceStateNameRunning {
			live++
		}
	}
	if live != 2 {
		t.Errorf("A has %d running instances after B's down, want 2 (%+v)", live, resA.Nodes)
	}
	for _, i := range clusterInstances(t, wb, name) {
		if aws.ToString(i.VpcId) == wb.VPC() {
			t.Errorf("B's instance %s is %s after B's down", aws.ToString(i.InstanceId), i.State.Name)
		}
	}
}

// TestIntegrationLostAnswers: through a proxy that loses 30% of the
// answers to mutating calls after the call took effect, `up` of 10 nodes
// and `down` each converge in one run with exit 0.
func TestIntegrationLostAnswers(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	px := newProxy(t, os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{Drop: 0.3, Seed: 7, EC2: true})
	t.Setenv("AWS_ENDPOINT_URL", px.srv.URL)
	name := awsp.Uniq("lost")
	extra := "    instance_policy: '{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\"], \"Resource\": [\"*\"]}]}'\n"
	top := "  logging:\n    driver: awslogs\n    meta: {group: /cc/" + name + ", retention: 7}\n"
	eip, err := w.EC2().AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	node0 := "ip: " + w.IP(10) + ", subnet: " + w.Subnet() + "}"
	yml := strings.Replace(awsp.ClusterYAML(w, name, 10, extra, top), node0, "ip: "+w.IP(10)+", subnet: "+w.Subnet()+", eip: "+aws.ToString(eip.AllocationId)+"}", 1)
	pr := awsp.WriteProject(t, yml)

	// besides the random losses, these surely lose an answer
	px.DropNext("AssociateAddress", 1)
	px.DropNext("RunInstances", 1)
	start := time.Now()
	out, err := run(t, "-C", pr.Dir(), "-o", "json", "cluster", "up")
	took := time.Since(start)
	var res cluster.UpResult
	_ = json.Unmarshal([]byte(out), &res)
	failed := 0
	for _, n := range res.Nodes {
		if n.Action == cluster.ActionFailed {
			failed++
		}
	}
	t.Logf("up: exit %d in %s, %d failed; answers lost: %s", app.ExitCode(err), took.Round(time.Millisecond), failed, awstest.Describe(px.Dropped()))
	if err != nil || failed != 0 || len(res.Nodes) != 10 {
		t.Errorf("up through lost answers: exit %d, %d of %d nodes failed: %v", app.ExitCode(err), failed, len(res.Nodes), err)
	}
	if got := clusterInstances(t, w, name); len(got) != 10 {
		t.Errorf("%d instances after up, want 10", len(got))
	}
	addr, err := w.EC2().DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{aws.ToString(eip.AllocationId)}})
	if err != nil || len(addr.Addresses) != 1 || aws.ToString(addr.Addresses[0].InstanceId) == "" {
		t.Errorf("node 0's elastic IP is not associated: %v %+v", err, addr)
	}
	if d := px.Dropped(); awstest.Total(d) == 0 {
		t.Fatalf("the proxy lost no answer: the test tests nothing")
	}

	// the first TerminateInstances takes effect and its answer is lost:
	// the SDK's retry meets instances already terminated
	px.DropNext("TerminateInstances", 1)
	px.DropNext("ModifyInstanceAttribute", 2)
	px.Reset()
	start = time.Now()
	_, err = run(t, "-C", pr.Dir(), "cluster", "down", "--yes", "--force")
	t.Logf("down: exit %d in %s; calls %s; answers lost so far: %s", app.ExitCode(err), time.Since(start).Round(time.Millisecond), awstest.Describe(px.Reset()), awstest.Describe(px.Dropped()))
	if err != nil {
		t.Errorf("down through lost answers: exit %d: %v", app.ExitCode(err), err)
	}
	for _, i := range clusterInstances(t, w, name) {
		if s := i.State.Name; s != ec2types.InstanceStateNameShuttingDown {
			t.Errorf("instance %s is %s after down", aws.ToString(i.InstanceId), s)
		}
	}
}
