package aws_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)

// runBoth runs the command line as main does and returns stdout, stderr
// and the error.
func runBoth(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := app.Run(awsp.TestContext(t), app.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	t.Logf("cloud-compose %s\n%s%s", strings.Join(args, " "), errOut.String(), out.String())
	return out.String(), errOut.String(), err
}

// TestIntegrationSnapshotPerNode: after `cluster snapshot` and `down`, `up`
// restores each node's data volume from that node's own newest snapshot
// (the original restored every node from the cluster's newest: node 0's
// data everywhere); a node without one (here: only a snapshot made the
// Python tool's way, with no node tag) gets the cluster's newest; `up`
// says which and why; --snapshot-node 0 restores every node from node 0's;
// --snapshot-node of a node without snapshots is refused, naming the nodes
// that have one.
func TestIntegrationSnapshotPerNode(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	name := awsp.Uniq("pernode")
	pr := awsp.WriteProject(t, awsp.ClusterYAML(w, name, 3, "    volumes:\n      - {name: data, block: /dev/xvdf, size: 20G, delete_on_termination: true}\n", ""))
	dir := pr.Dir()
	must := func(args ...string) string {
		t.Helper()
		_, errOut, err := runBoth(t, append([]string{"-C", dir}, args...)...)
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		return errOut
	}
	// restored returns, by node id, the snapshot each live instance's
	// /dev/xvdf volume was created from (DescribeVolumes' SnapshotId).
	restored := func() map[string]string {
		t.Helper()
		insts, err := w.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:ClusterName"), Values: []string{name}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range insts.Reservations {
			for _, i := range r.Instances {
				node := ""
				for _, tg := range i.Tags {
					if aws.ToString(tg.Key) == provider.TagNode {
						node = aws.ToString(tg.Value)
					}
				}
				for _, m := range i.BlockDeviceMappings {
					if aws.ToString(m.DeviceName) != "/dev/xvdf" || m.Ebs == nil {
						continue
					}
					v, err := w.EC2().DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(m.Ebs.VolumeId)}})
					if err != nil {
						t.Fatal(err)
					}
					out[node] = aws.ToString(v.Volumes[0].SnapshotId)
				}
			}
		}
		return out
	}

	must("cluster", "up")
	// one snapshot per node, tagged with its node
	must("cluster", "snapshot")
	snaps, err := w.EC2().DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:ClusterName"), Values: []string{name}}}})
	if err != nil {
		t.Fatal(err)
	}
	own := map[string]string{} // node -> its snapshot
	var volume2 string
	for _, s := range snaps.Snapshots {
		for _, tg := range s.Tags {
			if aws.ToString(tg.Key) == provider.TagNode {
				own[aws.ToString(tg.Value)] = aws.ToString(s.SnapshotId)
				if aws.ToString(tg.Value) == "2" {
					volume2 = aws.ToString(s.VolumeId)
				}
			}
		}
	}
	if len(own) != 3 {
		t.Fatalf("cluster snapshot made %v, want one per node", own)
	}
	// Node 2 keeps only a snapshot made as the Python tool makes them
	// (ClusterName and DeviceName, no node tag), the cluster's newest.
	if _, err := w.EC2().DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(own["2"])}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // moto dates snapshots to the second
	legacy, err := w.EC2().CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(volume2), TagSpecifications: []ec2types.TagSpecification{{
		ResourceType: ec2types.ResourceTypeSnapshot,
		Tags:         []ec2types.Tag{{Key: aws.String("ClusterName"), Value: aws.String(name)}, {Key: aws.String("DeviceName"), Value: aws.String("/dev/xvdf")}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	newest := aws.ToString(legacy.SnapshotId)

	must("cluster", "down", "--yes", "--force")
	errOut := must("cluster", "up")
	want := map[string]string{"0": own["0"], "1": own["1"], "2": newest}
	if got := restored(); !equal(got, want) {
		t.Errorf("up restored %v, want each node's own %v", got, want)
	}
	for _, line := range []string{
		"node 0: volume /dev/xvdf from " + own["0"] + " (node 0's newest, ",
		"node 1: volume /dev/xvdf from " + own["1"] + " (node 1's newest, ",
		"node 2: volume /dev/xvdf from " + newest + " (the newest of " + name + ", ",
		": node 2 has none of its own)",
	} {
		if !strings.Contains(errOut, line) {
			t.Errorf("up does not say %q:\n%s", line, errOut)
		}
	}

	// --snapshot-node 0: every node from node 0's; plan takes it too
	must("cluster", "plan", "--snapshot-node", "0")
	must("cluster", "down", "--yes", "--force")
	errOut = must("cluster", "up", "--snapshot-node", "0")
	if got, want := restored(), map[string]string{"0": own["0"], "1": own["0"], "2": own["0"]}; !equal(got, want) {
		t.Errorf("up --snapshot-node 0 restored %v, want %v", got, want)
	}
	if line := "node 2: volume /dev/xvdf from " + own["0"] + " (node 0's newest, "; !strings.Contains(errOut, line) {
		t.Errorf("up --snapshot-node 0 does not say %q:\n%s", line, errOut)
	}

	// a node without snapshots: refused before anything is launched
	must("cluster", "down", "--yes", "--force")
	for _, args := range [][]string{{"cluster", "up", "--snapshot-node", "2"}, {"cluster", "plan", "--snapshot-node", "7"}} {
		_, _, err = runBoth(t, append([]string{"-C", dir}, args...)...)
		if !errors.Is(err, awsp.ErrNoNodeSnapshot) || !strings.Contains(err.Error(), "nodes with one: 0, 1") || app.ExitCode(err) != 2 {
			t.Errorf("%s: %v (exit %d), want ErrNoNodeSnapshot naming nodes 0, 1, exit 2", strings.Join(args, " "), err, app.ExitCode(err))
		}
	}
	if got := restored(); len(got) != 0 {
		t.Errorf("a refused up launched %v", got)
	}
	_, _, err = runBoth(t, "-C", dir, "cluster", "up", "--snapshot-node", "0", "--no-use-snapshots")
	if err == nil || !strings.Contains(err.Error(), "--no-use-snapshots") {
		t.Errorf("--snapshot-node with --no-use-snapshots: %v", err)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
