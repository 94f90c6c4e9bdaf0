package aws_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// proxy sits between the binary and moto and counts the API calls by
// action, as the wire sees them (retries included); with opts it also
// loses answers and supplies EC2's behaviours moto lacks.
type proxy struct {
	*awstest.Proxy
	srv *httptest.Server
}

func newProxy(t *testing.T, target string, opts awstest.Options) *proxy {
	t.Helper()
	p, err := awstest.New(target, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &proxy{Proxy: p, srv: srv}
}

func (p *proxy) reset() map[string]int { return p.Reset() }

func total(c map[string]int) int { return awstest.Total(c) }

// run runs the command line as main does and returns stdout and the error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := app.Run(awsp.TestContext(t), app.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	t.Logf("cloud-compose %s\n%s%s", strings.Join(args, " "), errOut.String(), out.String())
	return out.String(), err
}

// TestIntegrationCommandLine drives `cloud-compose cluster up/status/down`
// against moto through a proxy that counts the calls.
func TestIntegrationCommandLine(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	proxy := newProxy(t, os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{})
	t.Setenv("AWS_ENDPOINT_URL", proxy.srv.URL)
	name := awsp.Uniq("cli")
	pr := awsp.WriteProject(t, awsp.ClusterYAML(w, name, 3, "", ""))
	dir := pr.Dir()

	up := func() cluster.UpResult {
		t.Helper()
		out, err := run(t, "-C", dir, "-o", "json", "cluster", "up")
		if err != nil {
			t.Fatalf("up: %v", err)
		}
		var res cluster.UpResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("up -o json: %v\n%s", err, out)
		}
		return res
	}
	actions := func(res cluster.UpResult) string {
		var a []string
		for _, n := range res.Nodes {
			a = append(a, n.ID+"="+n.Action)
		}
		sort.Strings(a)
		return strings.Join(a, " ")
	}

	res := up()
	if got := actions(res); got != "0=created 1=created 2=created" {
		t.Errorf("fresh up: %s", got)
	}
	calls := proxy.reset()
	if calls["RunInstances"] != 3 || calls["CreateTags"] != 0 || total(calls) > 3+6 {
		t.Errorf("fresh up of 3 nodes made %d calls: %v", total(calls), calls)
	}

	res = up()
	if got := actions(res); got != "0=unchanged 1=unchanged 2=unchanged" {
		t.Errorf("re-run: %s", got)
	}
	if calls := proxy.reset(); calls["RunInstances"] != 0 || total(calls) > 3 {
		t.Errorf("re-run made %d calls: %v", total(calls), calls)
	}

	// a stopped node is replaced at its IP; the others are left alone
	var stopped string
	for _, n := range res.Nodes {
		if n.ID == "1" {
			stopped = n.InstanceID
		}
	}
	if _, err := w.EC2().StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{stopped}}); err != nil {
		t.Fatal(err)
	}
	proxy.reset()
	res = up()
	if got := actions(res); got != "0=unchanged 1=replaced 2=unchanged" {
		t.Errorf("up with node 1 stopped: %s", got)
	}
	if calls := proxy.reset(); calls["RunInstances"] != 1 {
		t.Errorf("replacing one node: %v", calls)
	}

	// an instance of the cluster that is no configured node is an orphan
	orphan, err := w.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(w.AMI()), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(w.Subnet()),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("ClusterName"), Value: aws.String(name)}, {Key: aws.String(provider.TagNode), Value: aws.String("old")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "-C", dir, "-o", "json", "cluster", "status")
	if err != nil {
		t.Fatal(err)
	}
	var st cluster.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Cluster != name || len(st.Nodes) != 4 {
		t.Fatalf("status: %s", out)
	}
	for _, n := range st.Nodes[:3] {
		if n.State != "running" || n.InstanceID == "" || n.Image != w.AMI() || n.Type != "t3.micro" || n.Launched == nil || n.Orphan {
			t.Errorf("status row %+v", n)
		}
	}
	if o := st.Nodes[3]; !o.Orphan || o.InstanceID != aws.ToString(orphan.Instances[0].InstanceId) {
		t.Errorf("orphan row %+v", o)
	}

	// protection: nothing terminated, exit 1; --force terminates all
	if _, err := w.EC2().ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(st.Nodes[0].InstanceID), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "-C", dir, "cluster", "down", "--yes")
	if !errors.Is(err, provider.ErrProtected) || !strings.Contains(err.Error(), "--force") || app.ExitCode(err) != 1 {
		t.Errorf("down of a protected cluster: %v (exit %d), want a protection error and exit 1", err, app.ExitCode(err))
	}
	if out, _ := run(t, "-C", dir, "-o", "json", "cluster", "status"); strings.Count(out, `"running"`) != 4 {
		t.Errorf("instances changed after a refused down:\n%s", out)
	}
	proxy.reset()
	if _, err := run(t, "-C", dir, "cluster", "down", "--yes", "--force"); err != nil {
		t.Fatal(err)
	}
	calls = proxy.reset()
	if calls["TerminateInstances"] != 1 || calls["ModifyInstanceAttribute"] != 4 {
		t.Errorf("down --force: %v", calls)
	}
	out, err = run(t, "-C", dir, "-o", "json", "cluster", "status")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, `"running"`) || strings.Count(out, `"missing"`) != 3 {
		t.Errorf("status after down:\n%s", out)
	}
}
