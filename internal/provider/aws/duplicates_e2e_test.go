package aws_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)

// TestIntegrationDuplicatesAreShownAndRemoved: two live instances for one
// node (made by hand here; by an old version or a lost ClientToken in real
// life) are both shown by status, and up keeps the older one and
// terminates the other.
func TestIntegrationDuplicatesAreShownAndRemoved(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	name := awsp.Uniq("dup")
	// nodes without static IPs: nothing but the node tag ties an instance
	// to its node
	yml := strings.Replace(awsp.ClusterYAML(w, name, 0, "", ""), "    nodes:\n", "", 1) +
		fmt.Sprintf("    nodes:\n      - {id: 0, subnet: %s}\n      - {id: 1, subnet: %s}\n", w.Subnet(), w.Subnet())
	dir := awsp.WriteProject(t, yml).Dir()
	if _, err := run(t, "-C", dir, "cluster", "up"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // launch times have a resolution of a second
	extra, err := w.EC2().RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(w.AMI()), MinCount: aws.Int32(2), MaxCount: aws.Int32(2), SubnetId: aws.String(w.Subnet()),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{
			{Key: aws.String(provider.TagCluster), Value: aws.String(name)}, {Key: aws.String(provider.TagNode), Value: aws.String("1")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	dups := map[string]bool{}
	for _, i := range extra.Instances {
		dups[aws.ToString(i.InstanceId)] = true
	}

	status := func() cluster.Status {
		t.Helper()
		out, err := run(t, "-C", dir, "-o", "json", "cluster", "status")
		if err != nil {
			t.Fatal(err)
		}
		var st cluster.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := status()
	var kept string
	shown := 0
	for _, r := range st.Nodes {
		if r.ID == "1" && r.DuplicateOf == "" {
			kept = r.InstanceID
		}
		if r.DuplicateOf != "" {
			shown++
			if !dups[r.InstanceID] {
				t.Errorf("the older instance is marked duplicate: %+v", r)
			}
		}
	}
	if len(st.Nodes) != 4 || shown != 2 || dups[kept] {
		t.Fatalf("status must show node 1's 2 duplicates beside the kept instance %s: %+v", kept, st.Nodes)
	}

	out, err := run(t, "-C", dir, "-o", "json", "cluster", "up")
	if err != nil {
		t.Fatal(err)
	}
	var res cluster.UpResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Nodes[1].InstanceID != kept || !strings.Contains(res.Nodes[1].Reason, "duplicate") {
		t.Errorf("up must keep %s and say it removed duplicates: %+v", kept, res.Nodes[1])
	}
	desc, err := w.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{aws.ToString(extra.Instances[0].InstanceId), aws.ToString(extra.Instances[1].InstanceId)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range desc.Reservations {
		for _, i := range r.Instances {
			if s := i.State.Name; s != ec2types.InstanceStateNameShuttingDown && s != ec2types.InstanceStateNameTerminated {
				t.Errorf("duplicate %s is %s after up", aws.ToString(i.InstanceId), s)
			}
		}
	}
	if st := status(); len(st.Nodes) != 2 {
		t.Errorf("status after up: %+v", st.Nodes)
	}
	if _, err := run(t, "-C", dir, "cluster", "down", "--yes", "--force"); err != nil {
		t.Fatal(err)
	}
}
