package aws_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)

// TestIntegrationEnvironmentsOnEC2: one cluster in its default environment
// and in staging (environments/staging.yml: other IPs, another instance
// type) at once on moto. Each sees only its own instances; the staging
// ones are named <cluster>-staging-<node> and tagged cloud-compose:env;
// `down -e staging` terminates only them.
func TestIntegrationEnvironmentsOnEC2(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	name := awsp.Uniq("envs")
	pr := awsp.WriteProject(t, awsp.ClusterYAML(w, name, 2, "", ""))
	dir := pr.Dir()
	var b strings.Builder
	fmt.Fprintf(&b, "cluster:\n  aws:\n    instance_type: t3.small\n    nodes:\n")
	for i := 0; i < 2; i++ {
		fmt.Fprintf(&b, "      - {id: %d, ip: %s, subnet: %s}\n", i, w.IP(20+i), w.Subnet())
	}
	if err := os.MkdirAll(filepath.Join(dir, "environments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environments", "staging.yml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(args ...string) string {
		t.Helper()
		out, _, err := runBoth(t, append([]string{"-C", dir}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	must("cluster", "up")
	must("-e", "staging", "cluster", "up")

	live := func() map[string]string { // Name tag -> "type env ip"
		t.Helper()
		out, err := w.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + provider.TagCluster), Values: []string{name}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				tags := map[string]string{}
				for _, tg := range i.Tags {
					tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
				}
				m[tags[provider.TagName]] = fmt.Sprintf("%s %s %s", i.InstanceType, tags[provider.TagEnv], aws.ToString(i.PrivateIpAddress))
			}
		}
		return m
	}
	want := map[string]string{
		name + "-0":         "t3.micro  " + w.IP(10),
		name + "-1":         "t3.micro  " + w.IP(11),
		name + "-staging-0": "t3.small staging " + w.IP(20),
		name + "-staging-1": "t3.small staging " + w.IP(21),
	}
	if got := live(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("instances:\n got %v\nwant %v", got, want)
	}
	for env, ips := range map[string][]string{"": {w.IP(10), w.IP(11)}, "staging": {w.IP(20), w.IP(21)}} {
		args := []string{"cluster", "status"}
		if env != "" {
			args = append([]string{"-e", env}, args...)
		}
		out := must(args...)
		for _, ip := range ips {
			if !strings.Contains(out, ip) {
				t.Errorf("status (env %q) lacks %s:\n%s", env, ip, out)
			}
		}
		if strings.Contains(out, "orphan") || strings.Count(out, "running") != 2 {
			t.Errorf("status (env %q) shows other instances:\n%s", env, out)
		}
	}
	must("-e", "staging", "cluster", "down", "--yes")
	got := live()
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != name+"-0 "+name+"-1" {
		t.Errorf("after down -e staging: %v", got)
	}
	must("cluster", "down", "--yes")
	if got := live(); len(got) != 0 {
		t.Errorf("after down: %v", got)
	}
}
