package aws_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// mutating are the calls in c that change something (anything but
// Describe*, Get*, List*).
func mutating(c map[string]int) []string {
	var out []string
	for op, n := range c {
		if n > 0 && !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "Get") && !strings.HasPrefix(op, "List") {
			out = append(out, op)
		}
	}
	sort.Strings(out)
	return out
}

// TestIntegrationPlan drives `cloud-compose cluster plan` against moto
// through the counting proxy: a fresh cluster is all create; after up all
// unchanged in at most 3 calls; a new instance type replaces every node
// with that reason; a changed template line replaces with user_data and
// --diff shows the line; a newer image of the same name leaves the nodes
// alone unless --upgrade-image; a terminated node is created again. No
// plan makes a mutating call.
func TestIntegrationPlan(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	proxy := newProxy(t, os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{})
	t.Setenv("AWS_ENDPOINT_URL", proxy.srv.URL)
	name := awsp.Uniq("plan")
	yml := awsp.ClusterYAML(w, name, 3, "", "")
	pr := awsp.WriteProject(t, yml)
	dir := pr.Dir()

	plan := func(args ...string) (cluster.Plan, error) {
		t.Helper()
		proxy.reset()
		out, err := run(t, append([]string{"-C", dir, "-o", "json", "cluster", "plan"}, args...)...)
		calls := proxy.reset()
		if m := mutating(calls); len(m) > 0 {
			t.Errorf("plan %v made mutating calls %v (%v)", args, m, calls)
		}
		var p cluster.Plan
		if jerr := json.Unmarshal([]byte(out), &p); jerr != nil {
			t.Fatalf("plan -o json: %v\n%s", jerr, out)
		}
		return p, err
	}
	rows := func(p cluster.Plan) string {
		var a []string
		for _, c := range p.Changes {
			s := c.Node + "=" + c.Action
			for _, r := range c.Reasons {
				s += ":" + r.Field
			}
			a = append(a, s)
		}
		sort.Strings(a)
		return strings.Join(a, " ")
	}

	p, err := plan("--detailed-exitcode")
	if app.ExitCode(err) != 3 || rows(p) != "0=create 1=create 2=create" || p.Summary.Create != 3 {
		t.Errorf("fresh cluster: %s (exit %d: %v), want 3 creates and exit 3", rows(p), app.ExitCode(err), err)
	}

	if _, err := run(t, "-C", dir, "cluster", "up"); err != nil {
		t.Fatal(err)
	}
	proxy.reset()
	p, err = plan("--detailed-exitcode")
	if err != nil || rows(p) != "0=unchanged 1=unchanged 2=unchanged" {
		t.Errorf("after up: %s (%v), want all unchanged, exit 0", rows(p), err)
	}
	// the plan's own calls: instances, image, snapshots at most
	proxy.reset()
	if _, err := run(t, "-C", dir, "-o", "json", "cluster", "plan"); err != nil {
		t.Fatal(err)
	}
	calls := proxy.reset()
	t.Logf("plan of a converged cluster: %d calls %v", total(calls), calls)
	if total(calls) > 3 || calls["DescribeInstances"] != 1 {
		t.Errorf("plan of a converged cluster made %d calls: %v", total(calls), calls)
	}

	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(yml, "instance_type: t3.micro", "instance_type: t3.small", 1))
	p, _ = plan()
	if rows(p) != "0=replace:instance_type 1=replace:instance_type 2=replace:instance_type" {
		t.Errorf("new instance type: %s", rows(p))
	}
	for _, c := range p.Changes {
		if r := c.Reasons; len(r) != 1 || r[0].From != "t3.micro" || r[0].To != "t3.small" {
			t.Errorf("node %s reasons %+v", c.Node, r)
		}
	}
	write(yml)

	tmpl := filepath.Join(dir, "templates", "cluster.sh")
	script, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpl, append(script, "echo a new line\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ = plan()
	if rows(p) != "0=replace:user_data 1=replace:user_data 2=replace:user_data" {
		t.Errorf("changed template: %s", rows(p))
	}
	p, _ = plan("--diff")
	for _, c := range p.Changes {
		if !strings.Contains(c.Diff, "+echo a new line") {
			t.Errorf("node %s --diff does not show the line:\n%s", c.Node, c.Diff)
		}
	}
	if err := os.WriteFile(tmpl, script, 0o644); err != nil {
		t.Fatal(err)
	}

	// moto dates images to the second
	time.Sleep(1100 * time.Millisecond)
	newer := registerImage(t, ctx, w.EC2(), w.AMIName())
	if p, _ = plan(); rows(p) != "0=unchanged 1=unchanged 2=unchanged" {
		t.Errorf("a newer image: %s, want unchanged (the running image wins)", rows(p))
	}
	// the test's template shows aws.ami, so the boot script changes too
	p, _ = plan("--upgrade-image")
	if rows(p) != "0=replace:image:user_data 1=replace:image:user_data 2=replace:image:user_data" {
		t.Errorf("--upgrade-image: %s", rows(p))
	}
	for _, c := range p.Changes {
		if r := c.Reasons; len(r) == 0 || r[0].From != w.AMI() || !strings.Contains(r[0].To, newer) {
			t.Errorf("node %s reasons %+v, want %s → %s", c.Node, r, w.AMI(), newer)
		}
	}

	var victim string
	for _, c := range p.Changes {
		if c.Node == "1" {
			victim = c.InstanceID
		}
	}
	if _, err := w.EC2().TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{victim}}); err != nil {
		t.Fatal(err)
	}
	if p, _ = plan(); rows(p) != "0=unchanged 1=create 2=unchanged" {
		t.Errorf("node 1 terminated: %s", rows(p))
	}

	if _, err := run(t, "-C", dir, "cluster", "down", "--yes", "--force"); err != nil {
		t.Fatal(err)
	}
}

// registerImage registers an image tagged Name=name and returns its id.
func registerImage(t *testing.T, ctx context.Context, c *ec2.Client, name string) string {
	t.Helper()
	img, err := c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String(awsp.Uniq(name))})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(img.ImageId)
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}); err != nil {
		t.Fatal(err)
	}
	return id
}
