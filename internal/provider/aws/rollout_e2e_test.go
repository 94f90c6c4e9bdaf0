package aws_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)

// TestIntegrationRolloutStaticNodes: 3 static nodes with a data volume and
// termination protection; a new instance_type is rolled out one node at a
// time, each on its own IP, each new instance restored from the snapshot
// of its node's volume taken just before its old instance was terminated.
func TestIntegrationRolloutStaticNodes(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	name := awsp.Uniq("rollout")
	yml := awsp.ClusterYAML(w, name, 3, "    volumes:\n      - {name: data, block: /dev/xvdf, size: 20G, delete_on_termination: true}\n", "")
	yml = strings.Replace(yml, "terminate_protection: false", "terminate_protection: true", 1)
	pr := awsp.WriteProject(t, yml)
	dir := pr.Dir()
	if _, _, err := runBoth(t, "-C", dir, "cluster", "up"); err != nil {
		t.Fatal(err)
	}
	type inst struct{ id, ip, typ, gen, volume, snapshot string }
	instances := func() map[string]inst {
		t.Helper()
		out, err := w.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:ClusterName"), Values: []string{name}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]inst{}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				var node string
				v := inst{id: aws.ToString(i.InstanceId), ip: aws.ToString(i.PrivateIpAddress), typ: string(i.InstanceType)}
				for _, tg := range i.Tags {
					switch aws.ToString(tg.Key) {
					case provider.TagNode:
						node = aws.ToString(tg.Value)
					case provider.TagGeneration:
						v.gen = aws.ToString(tg.Value)
					}
				}
				for _, bm := range i.BlockDeviceMappings {
					if aws.ToString(bm.DeviceName) == "/dev/xvdf" && bm.Ebs != nil {
						v.volume = aws.ToString(bm.Ebs.VolumeId)
						vols, err := w.EC2().DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{v.volume}})
						if err != nil {
							t.Fatal(err)
						}
						v.snapshot = aws.ToString(vols.Volumes[0].SnapshotId)
					}
				}
				if _, dup := m[node]; dup {
					t.Errorf("node %s has two live instances", node)
				}
				m[node] = v
			}
		}
		return m
	}
	before := instances()
	if len(before) != 3 {
		t.Fatalf("after up: %+v", before)
	}

	// a new instance type, rolled out
	if err := os.WriteFile(dir+"/cloud-compose.yml", []byte(strings.Replace(yml, "instance_type: t3.micro", "instance_type: t3.small", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runBoth(t, "-C", dir, "-o", "json", "cluster", "rollout", "--yes")
	if err != nil {
		t.Fatalf("rollout: %v", err)
	}
	var res cluster.RolloutResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("rollout -o json: %v\n%s", err, out)
	}
	if !res.Complete || res.Generation != 2 || len(res.Nodes) != 3 {
		t.Fatalf("rollout: %+v", res)
	}
	after := instances()
	for i, n := range res.Nodes {
		old, now := before[n.ID], after[n.ID]
		if n.State != cluster.StateDone || n.OldInstance != old.id || n.NewInstance != now.id || now.id == old.id {
			t.Errorf("node %s: %+v (before %+v, after %+v)", n.ID, n, old, now)
		}
		if now.ip != old.ip || now.ip != w.IP(10+i) {
			t.Errorf("node %s: new IP %s, old %s, configured %s", n.ID, now.ip, old.ip, w.IP(10+i))
		}
		if now.typ != "t3.small" || now.gen != "2" {
			t.Errorf("node %s: type %s generation %s", n.ID, now.typ, now.gen)
		}
		// restored from exactly the snapshot taken of its old volume
		if len(n.Snapshots) != 1 || now.snapshot != n.Snapshots[0] {
			t.Errorf("node %s: new volume from snapshot %q, the rollout took %v", n.ID, now.snapshot, n.Snapshots)
			continue
		}
		snaps, err := w.EC2().DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: n.Snapshots})
		if err != nil {
			t.Fatal(err)
		}
		s := snaps.Snapshots[0]
		if aws.ToString(s.VolumeId) != old.volume || s.State != ec2types.SnapshotStateCompleted {
			t.Errorf("node %s: snapshot %s is of volume %s (%s), want the old instance's %s", n.ID, n.Snapshots[0], aws.ToString(s.VolumeId), s.State, old.volume)
		}
	}
	// one at a time: each node's terminate after the previous one is done
	var order []string
	for _, l := range strings.Split(errOut, "\n") {
		for _, step := range []string{": terminating", ": done"} {
			if i := strings.Index(l, "node "); i >= 0 && strings.Contains(l, step) {
				order = append(order, strings.Fields(l[i:])[1]+strings.TrimPrefix(step, ": "))
			}
		}
	}
	want := "0:terminating 0:done 1:terminating 1:done 2:terminating 2:done"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order of steps: %s, want %s\n%s", got, want, errOut)
	}
	// nothing left: plan says so
	if out, err := run(t, "-C", dir, "cluster", "plan", "--detailed-exitcode"); err != nil {
		t.Errorf("plan after the rollout: %v\n%s", err, out)
	}
}
