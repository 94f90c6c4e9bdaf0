package aws

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// running returns the ids of the live instances tagged ClusterName=name
// (matched exactly: the test filters client-side).
func running(t *testing.T, w *world, name string) []string {
	t.Helper()
	out, err := w.ec2.DescribeInstances(testContext(t), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			for _, tg := range i.Tags {
				if aws.ToString(tg.Key) == provider.TagCluster && aws.ToString(tg.Value) == name {
					ids = append(ids, aws.ToString(i.InstanceId))
				}
			}
		}
	}
	return ids
}

// TestIntegrationWildcardNameSeesOnlyItself: clusters `relA7…x` and
// `relA7…*` (and `*`) side by side; the wildcard ones never see, let alone
// terminate, relA7…x's instance: EC2 filter values are escaped.
func TestIntegrationWildcardNameSeesOnlyItself(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	base := uniq("relA7")
	a := openHarness(t, ctx, writeProject(t, clusterYAML(w, base+"x", 1, "", "")), provider.Options{})
	res, err := a.up(ctx, provider.UpOptions{})
	if err != nil || len(res.created) != 1 {
		t.Fatalf("up of %sx: %v %+v", base, err, res)
	}
	victim := res.created[0].ID

	for _, name := range []string{base + "*", base + "?", "*"} {
		// config validation may refuse such names: set it directly, as a
		// config from an older version or another tool could carry it
		pr := writeProject(t, strings.ReplaceAll(clusterYAML(w, base+"y", 1, "", ""), w.ip(10), w.ip(20)))
		pr.cluster.Name = name
		b := openHarness(t, ctx, pr, provider.Options{})
		seen, err := b.p.Instances(ctx, b.id)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range seen {
			if i.ID == victim {
				t.Errorf("cluster %q sees %sx's instance %s", name, base, victim)
			}
		}
		terminated, err := b.down(ctx, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(terminated) != 0 {
			t.Errorf("down of cluster %q terminated %v", name, terminated)
		}
	}
	if got := running(t, w, base+"x"); len(got) != 1 || got[0] != victim {
		t.Errorf("%sx's instances after the others' down: %v, want [%s]", base, got, victim)
	}
}

// TestIntegrationSameNameOtherVPC: two projects named alike in two VPCs.
// B's up launches B's own nodes with B's image; B sees A's instances as
// foreign; B's down and a direct Terminate never touch them.
func TestIntegrationSameNameOtherVPC(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	wa, wb := newWorld(t, ctx), newWorld(t, ctx)
	name := uniq("relA7")
	a := openHarness(t, ctx, writeProject(t, clusterYAML(wa, name, 2, "", "")), provider.Options{})
	resA, err := a.up(ctx, provider.UpOptions{})
	if err != nil || len(resA.created) != 2 {
		t.Fatalf("up in A: %v %+v", err, resA)
	}
	b := openHarness(t, ctx, writeProject(t, clusterYAML(wb, name, 2, "", "")), provider.Options{})
	resB, err := b.up(ctx, provider.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resB.unchanged) != 0 || len(resB.created) != 2 || len(resB.failed) != 0 {
		t.Fatalf("up in B: created %d, unchanged %v (A's nodes?), failed %v", len(resB.created), resB.unchanged, resB.failed)
	}
	for _, in := range resB.created {
		if in.Image != wb.ami {
			t.Errorf("B's node %s runs image %s, want B's %s (A's is %s)", in.NodeID, in.Image, wb.ami, wa.ami)
		}
	}

	seen, err := b.p.Instances(ctx, b.id)
	if err != nil {
		t.Fatal(err)
	}
	foreign := 0
	for _, i := range seen {
		if i.Foreign != "" {
			foreign++
			if i.Foreign != wa.vpc {
				t.Errorf("foreign instance %s: Foreign = %q, want A's VPC %s", i.ID, i.Foreign, wa.vpc)
			}
		}
	}
	if len(seen) != 4 || foreign != 2 {
		t.Errorf("B sees %d instances, %d foreign; want 4 and 2", len(seen), foreign)
	}
	seenA, err := a.p.Instances(ctx, a.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range seenA {
		if (i.Foreign == "") != contains(resA.created, i.ID) {
			t.Errorf("A sees %s with Foreign %q", i.ID, i.Foreign)
		}
	}

	// asked directly, Terminate refuses A's instance and terminates nothing
	err = b.p.Terminate(ctx, []string{resA.created[0].ID, resB.created[0].ID}, true)
	if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), resA.created[0].ID) || !strings.Contains(err.Error(), wa.vpc) {
		t.Errorf("Terminate of A's instance from B: %v, want ErrForeign naming it and its VPC", err)
	}
	terminated, err := b.down(ctx, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(terminated) != 2 {
		t.Errorf("down in B terminated %v, want B's 2", terminated)
	}
	if got := running(t, wa, name); len(got) != 2 {
		t.Errorf("A's instances after B's down: %v, want 2 running", got)
	}
	for _, id := range terminated {
		if contains(resA.created, id) {
			t.Errorf("down in B terminated A's %s", id)
		}
	}
}

func contains(list []provider.Instance, id string) bool {
	for _, i := range list {
		if i.ID == id {
			return true
		}
	}
	return false
}

// TestIntegrationTerminateAlreadyGone: terminating what is already
// terminated, or no longer exists, is success (a retry after a lost
// answer meets exactly that; moto answers InvalidNetworkInterfaceID.NotFound
// for the first, EC2 InvalidInstanceID.NotFound for the second).
func TestIntegrationTerminateAlreadyGone(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	h := openHarness(t, ctx, writeProject(t, clusterYAML(w, uniq("gone"), 2, "", "")), provider.Options{})
	res, err := h.up(ctx, provider.UpOptions{})
	if err != nil || len(res.created) != 2 {
		t.Fatalf("up: %v %+v", err, res)
	}
	ids, err := h.down(ctx, false, true)
	if err != nil || len(ids) != 2 {
		t.Fatalf("down: %v %v", err, ids)
	}
	for _, force := range []bool{false, true} {
		if err := h.p.Terminate(ctx, ids, force); err != nil {
			t.Errorf("terminate again (force %v): %v", force, err)
		}
		if err := h.p.Terminate(ctx, []string{"i-0123456789abcdef0"}, force); err != nil {
			t.Errorf("terminate an instance that does not exist (force %v): %v", force, err)
		}
	}
	if err := h.p.WaitTerminated(ctx, append(ids, "i-0123456789abcdef0")); err != nil {
		t.Errorf("wait for terminated and missing instances: %v", err)
	}
}

// TestIntegrationPostLaunchErrors: an elastic IP that passes Resolve's
// check but is gone by the association fails exactly its instance, as an
// InstanceErrors, and leaves it out of WaitRunning's result.
func TestIntegrationPostLaunchErrors(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	var eips []string
	for range 2 {
		a, err := w.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
		if err != nil {
			t.Fatal(err)
		}
		eips = append(eips, aws.ToString(a.AllocationId))
	}
	yml := clusterYAML(w, uniq("eip"), 3, "", "")
	for i, e := range eips {
		line := "subnet: " + w.subnet + "}"
		yml = strings.Replace(yml, "ip: "+w.ip(10+i)+", "+line, "ip: "+w.ip(10+i)+", subnet: "+w.subnet+", eip: "+e+"}", 1)
	}
	pr := writeProject(t, yml)
	if pr.cluster.AWS.Nodes[1].EIP != eips[1] {
		t.Fatalf("node 1 has eip %q, want %s:\n%s", pr.cluster.AWS.Nodes[1].EIP, eips[1], yml)
	}
	h := openHarness(t, ctx, pr, provider.Options{})
	res, err := h.resolve(ctx, nil, provider.UpOptions{}, pr.cluster.AWS.Nodes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(eips[1])}); err != nil {
		t.Fatal(err)
	}
	var launched []provider.Instance
	for _, n := range pr.cluster.AWS.Nodes {
		in, err := h.p.Launch(ctx, provider.LaunchSpec{Cluster: h.id, Node: n, Spec: h.p.Spec(n, res, "", nil)})
		if err != nil {
			t.Fatal(err)
		}
		launched = append(launched, in)
	}
	ok, err := h.p.WaitRunning(ctx, launched)
	var ie provider.InstanceErrors
	if !errors.As(err, &ie) || len(ie) != 1 || ie[launched[1].ID] == nil {
		t.Fatalf("WaitRunning: %v, want InstanceErrors for %s only", err, launched[1].ID)
	}
	if msg := ie[launched[1].ID].Error(); !strings.Contains(msg, "node 1") || !strings.Contains(msg, eips[1]) {
		t.Errorf("error for node 1: %s", msg)
	}
	if len(ok) != 2 || contains(ok, launched[1].ID) || !contains(ok, launched[0].ID) || !contains(ok, launched[2].ID) {
		t.Errorf("WaitRunning returned %v, want nodes 0 and 2", ok)
	}
	out, err := w.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: eips[:1]})
	if err != nil || len(out.Addresses) != 1 || aws.ToString(out.Addresses[0].InstanceId) != launched[0].ID {
		t.Errorf("node 0's elastic IP: %v %+v", err, out)
	}
}

// TestIntegrationResolveChecks: a missing subnet, an IP outside its subnet
// and a missing elastic IP are config errors with file:line, found by
// Resolve before a launch, which creates nothing (no role, no log group).
func TestIntegrationResolveChecks(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	for _, tc := range []struct {
		name, old, new, key string
	}{
		{"missing subnet", "ip: " + w.ip(11) + ", subnet: " + w.subnet, "ip: " + w.ip(11) + ", subnet: subnet-0doesnotexist1", "cluster.aws.nodes[1].subnet"},
		{"IP outside its subnet", "ip: " + w.ip(11) + ",", "ip: 10.254.7.11,", "cluster.aws.nodes[1].ip"},
		{"reserved IP", "ip: " + w.ip(11) + ",", "ip: " + w.cidr + ".1.1,", "cluster.aws.nodes[1].ip"},
		{"missing eip", "ip: " + w.ip(11) + ", subnet: " + w.subnet + "}", "ip: " + w.ip(11) + ", subnet: " + w.subnet + ", eip: eipalloc-0doesnotexist1}", "cluster.aws.nodes[1].eip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := uniq("check")
			extra := "    instance_policy: '" + testPolicy + "'\n"
			top := "  logging:\n    driver: awslogs\n    meta: {group: /cc/" + name + ", retention: 7}\n"
			yml := clusterYAML(w, name, 2, extra, top)
			if !strings.Contains(yml, tc.old) {
				t.Fatalf("%q not in\n%s", tc.old, yml)
			}
			pr := writeProject(t, strings.Replace(yml, tc.old, tc.new, 1))
			h := openHarness(t, ctx, pr, provider.Options{})
			_, err := h.resolve(ctx, nil, provider.UpOptions{}, pr.cluster.AWS.Nodes)
			var ce *config.Error
			if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Key != tc.key || ce.Problems[0].Line == 0 {
				t.Fatalf("Resolve: %v, want one config problem at %s with a line", err, tc.key)
			}
			t.Log(err)
			for _, op := range []string{"iam:CreateRole", "iam:CreateInstanceProfile", "iam:PutRolePolicy", "cloudwatchlogs:CreateLogGroup", "ec2:RunInstances"} {
				if n := h.calls.Count(op); n != 0 {
					t.Errorf("Resolve called %s %d times", op, n)
				}
			}
		})
	}
}
