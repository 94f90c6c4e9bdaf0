package aws_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)

// liveInstance is a live instance of a cluster as EC2 reports it.
type liveInstance struct {
	id, node, name, typ, subnet, ip string
}

// liveInstances returns the cluster's pending and running instances.
func liveInstances(t *testing.T, w *awsp.World, name string) []liveInstance {
	t.Helper()
	ctx := awsp.TestContext(t)
	out, err := w.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:ClusterName"), Values: []string{name}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var all []liveInstance
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			v := liveInstance{id: aws.ToString(i.InstanceId), typ: string(i.InstanceType), subnet: aws.ToString(i.SubnetId), ip: aws.ToString(i.PrivateIpAddress)}
			for _, tg := range i.Tags {
				switch aws.ToString(tg.Key) {
				case provider.TagNode:
					v.node = aws.ToString(tg.Value)
				case provider.TagName:
					v.name = aws.ToString(tg.Value)
				}
			}
			all = append(all, v)
		}
	}
	slices.SortFunc(all, func(a, b liveInstance) int { return strings.Compare(a.node, b.node) })
	return all
}

// TestIntegrationHardwarePlanUp: with `aws.hardware: {min_cores: 2,
// min_ram: 4G}` instead of aws.instance_type, `cluster plan` shows the
// type it resolves to in the node's zone and why (text and -o json), and
// `cluster up` launches that type; a second plan finds nothing to change.
func TestIntegrationHardwarePlanUp(t *testing.T) {
	awsp.RequireMoto(t)
	w := awsp.NewWorld(t, awsp.TestContext(t))
	name := awsp.Uniq("hwup")
	yml := strings.Replace(awsp.ClusterYAML(w, name, 1, "", ""), "    instance_type: t3.micro\n", "    hardware: {min_cores: 2, min_ram: 4G}\n", 1)
	dir := awsp.WriteProject(t, yml).Dir()
	const reason = "smallest current-generation x86_64 type in us-east-1a with ≥2 vCPUs and ≥4 GiB: c5a.large (2 vCPUs, 4 GiB)"

	out, _, err := runBoth(t, "-C", dir, "-o", "json", "cluster", "plan")
	if err != nil {
		t.Fatal(err)
	}
	var plan cluster.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, out)
	}
	want := provider.HardwareChoice{Type: "c5a.large", VCPUs: 2, MemoryMiB: 4096, Reason: reason}
	if got := plan.Hardware["0"]; got != want || len(plan.Hardware) != 1 {
		t.Errorf("plan hardware = %+v\nwant {0: %+v}", plan.Hardware, want)
	}
	if !strings.Contains(out, `"hardware": {`) || !strings.Contains(out, `"memory_mib": 4096`) {
		t.Errorf("plan -o json does not carry the hardware as documented:\n%s", out)
	}
	out, _, err = runBoth(t, "-C", dir, "cluster", "plan")
	if err != nil {
		t.Fatal(err)
	}
	if line := "hardware: 0: c5a.large — smallest current-generation x86_64 type in us-east-1a with ≥2 vCPUs and ≥4 GiB\n"; !strings.Contains(out, line) {
		t.Errorf("plan does not say %q:\n%s", line, out)
	}

	if _, _, err := runBoth(t, "-C", dir, "cluster", "up"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runBoth(t, "-C", dir, "cluster", "down", "--yes") })
	live := liveInstances(t, w, name)
	if len(live) != 1 || live[0].typ != "c5a.large" || live[0].node != "0" {
		t.Fatalf("after up: %+v, want node 0 on c5a.large", live)
	}
	out, _, err = runBoth(t, "-C", dir, "-o", "json", "cluster", "plan")
	if err != nil {
		t.Fatal(err)
	}
	plan = cluster.Plan{}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Pending() || plan.Summary.Unchanged != 1 {
		t.Errorf("after up, plan wants changes: %+v", plan.Changes)
	}
}

// TestIntegrationGroupsUpStatusDown: a node group of two members over the
// world's two subnets, with an instance type of its own: `cluster up`
// launches web-0 and web-1, one per subnet, with the group's type, named
// <cluster>-web-N, on addresses EC2 picks; `cluster status` lists them as
// the cluster's (not orphans); `cluster down` terminates them.
func TestIntegrationGroupsUpStatusDown(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	subnets, err := w.EC2().DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{w.VPC()}}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range subnets.Subnets {
		ids = append(ids, aws.ToString(s.SubnetId))
	}
	slices.Sort(ids)
	if len(ids) != 2 || !slices.Contains(ids, w.Subnet()) {
		t.Fatalf("the world's subnets: %v", ids)
	}
	if ids[0] != w.Subnet() { // the world's first subnet first
		ids[0], ids[1] = ids[1], ids[0]
	}
	name := awsp.Uniq("groups")
	yml := strings.Replace(awsp.ClusterYAML(w, name, 0, "", ""), "    nodes:\n", "", 1) +
		"  groups:\n    web:\n      count: 2\n      instance_type: t3.small\n      subnets: [" + ids[0] + ", " + ids[1] + "]\n"
	dir := awsp.WriteProject(t, yml).Dir()

	if _, _, err := runBoth(t, "-C", dir, "cluster", "up"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runBoth(t, "-C", dir, "cluster", "down", "--yes") })
	live := liveInstances(t, w, name)
	if len(live) != 2 {
		t.Fatalf("after up: %+v, want web-0 and web-1", live)
	}
	for i, in := range live {
		node := "web-" + string(rune('0'+i))
		if in.node != node || in.name != name+"-"+node || in.typ != "t3.small" || in.subnet != ids[i] {
			t.Errorf("instance %d: %+v; want node %s named %s-%s, t3.small, in %s", i, in, node, name, node, ids[i])
		}
	}

	out, _, err := runBoth(t, "-C", dir, "-o", "json", "cluster", "status")
	if err != nil {
		t.Fatal(err)
	}
	var st cluster.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, r := range st.Nodes {
		if r.Orphan || r.Foreign != "" {
			t.Errorf("status row %+v: a member shown as orphan or foreign", r)
		}
		seen[r.ID] = r.InstanceID != ""
	}
	if !seen["web-0"] || !seen["web-1"] {
		t.Errorf("status does not show both members with their instances: %+v", st.Nodes)
	}

	if _, _, err := runBoth(t, "-C", dir, "cluster", "down", "--yes"); err != nil {
		t.Fatal(err)
	}
	if live := liveInstances(t, w, name); len(live) != 0 {
		t.Errorf("after down: %+v still live", live)
	}
}

// TestIntegrationHardwareConfigErrors: hardware no type in the zone
// satisfies, and a group whose zone is not its subnet's, are
// configuration problems — plan and up exit 2, say why, and create
// nothing.
func TestIntegrationHardwareConfigErrors(t *testing.T) {
	awsp.RequireMoto(t)
	w := awsp.NewWorld(t, awsp.TestContext(t))

	name := awsp.Uniq("hwnone")
	yml := strings.Replace(awsp.ClusterYAML(w, name, 1, "", ""), "    instance_type: t3.micro\n", "    hardware: {min_cores: 1000, min_ram: 64T}\n", 1)
	dir := awsp.WriteProject(t, yml).Dir()
	for _, cmd := range []string{"plan", "up"} {
		_, _, err := runBoth(t, "-C", dir, "cluster", cmd)
		t.Logf("cluster %s: %v", cmd, err)
		if !errors.Is(err, provider.ErrNoHardware) || app.ExitCode(err) != 2 || !strings.Contains(err.Error(), "node 0: no current-generation x86_64 instance type offered in us-east-1a has ≥1000 vCPUs and ≥64 TiB") {
			t.Errorf("%s with impossible hardware: %v (exit %d); want ErrNoHardware naming the node, exit 2", cmd, err, app.ExitCode(err))
		}
	}
	if live := liveInstances(t, w, name); len(live) != 0 {
		t.Errorf("up with impossible hardware launched %+v", live)
	}

	name = awsp.Uniq("hwzone")
	yml = strings.Replace(awsp.ClusterYAML(w, name, 0, "", ""), "    nodes:\n", "", 1) +
		"  groups:\n    web:\n      count: 1\n      hardware: {min_cores: 2}\n      subnets: [" + w.Subnet() + "]\n      zones: [us-east-1b]\n"
	dir = awsp.WriteProject(t, yml).Dir()
	for _, cmd := range []string{"plan", "up"} {
		_, _, err := runBoth(t, "-C", dir, "cluster", cmd)
		t.Logf("cluster %s: %v", cmd, err)
		if app.ExitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), "cluster.groups.web.zones") ||
			!strings.Contains(err.Error(), "us-east-1b") || !strings.Contains(err.Error(), "lies in us-east-1a") {
			t.Errorf("%s with a zone that is not the subnet's: %v (exit %d); want a config error naming both zones, exit 2", cmd, err, app.ExitCode(err))
		}
	}
	if live := liveInstances(t, w, name); len(live) != 0 {
		t.Errorf("up with a wrong zone launched %+v", live)
	}
}

// TestIntegrationGroupHardwarePlan: members sized by their group's
// hardware share one choice, shown on one plan line naming both.
func TestIntegrationGroupHardwarePlan(t *testing.T) {
	awsp.RequireMoto(t)
	w := awsp.NewWorld(t, awsp.TestContext(t))
	name := awsp.Uniq("grouphw")
	yml := awsp.ClusterYAML(w, name, 1, "", "") +
		"  groups:\n    web:\n      count: 2\n      hardware: {min_cores: 2, min_ram: 4G}\n      subnets: [" + w.Subnet() + "]\n"
	dir := awsp.WriteProject(t, yml).Dir()
	out, _, err := runBoth(t, "-C", dir, "cluster", "plan")
	if err != nil {
		t.Fatal(err)
	}
	if line := "hardware: web-0, web-1: c5a.large — smallest current-generation x86_64 type in us-east-1a with ≥2 vCPUs and ≥4 GiB\n"; !strings.Contains(out, line) {
		t.Errorf("plan does not say %q:\n%s", line, out)
	}
	out, _, err = runBoth(t, "-C", dir, "-o", "json", "cluster", "plan")
	if err != nil {
		t.Fatal(err)
	}
	var plan cluster.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Hardware) != 2 || plan.Hardware["web-0"].Type != "c5a.large" || plan.Hardware["web-1"].Type != "c5a.large" {
		t.Errorf("plan hardware = %+v, want web-0 and web-1 on c5a.large (node 0 names t3.micro)", plan.Hardware)
	}
}
