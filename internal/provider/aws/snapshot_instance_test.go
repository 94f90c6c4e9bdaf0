package aws

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// TestIntegrationSnapshotInstance: rollout's snapshot of one node takes
// each EBS data volume of its instance (not the root), tagged as `cluster
// snapshot` tags them, waits until they are completed and returns them by
// the config index of their volume; `up` then restores that node from
// exactly those (its newest), the other node from its older ones. A
// foreign instance, an instance of another cluster and a terminated one
// are refused.
func TestIntegrationSnapshotInstance(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	name := uniq("snapnode")
	pr := writeProject(t, clusterYAML(w, name, 2, `    volumes:
      - {name: data, block: /dev/xvdf, size: 20G, delete_on_termination: true}
      - {name: logs, block: /dev/xvdg, size: 10G, delete_on_termination: true}
`, ""))
	h := openHarness(t, ctx, pr, provider.Options{})
	if _, err := h.up(ctx, provider.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	older, err := h.p.Snapshot(ctx, h.id) // `cluster snapshot`: every node's
	if err != nil || len(older) != 4 {
		t.Fatalf("cluster snapshot: %v %+v", err, older)
	}
	time.Sleep(1100 * time.Millisecond) // moto dates snapshots to the second
	insts, err := h.p.Instances(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[string]provider.Instance{}
	for _, i := range insts {
		byNode[i.NodeID] = i
	}
	inst := byNode["1"]

	h.calls.Reset()
	got, err := h.p.SnapshotInstance(ctx, h.id, inst)
	if err != nil {
		t.Fatal(err)
	}
	h.budget(4, map[string]int{"ec2:DescribeInstances": 1, "ec2:CreateSnapshot": 2, "ec2:DescribeSnapshots": 1})
	if len(got) != 2 || got[0].Device != "/dev/xvdf" || got[1].Device != "/dev/xvdg" || got[0].NodeID != "1" || got[1].NodeID != "1" {
		t.Fatalf("SnapshotInstance: %+v, want volume 0 on /dev/xvdf and 1 on /dev/xvdg, of node 1", got)
	}
	ids := []string{got[0].ID, got[1].ID}
	out, err := w.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids})
	if err != nil {
		t.Fatalf("the returned snapshots do not exist: %v", err)
	}
	if len(out.Snapshots) != 2 {
		t.Fatalf("DescribeSnapshots(%v): %d snapshots", ids, len(out.Snapshots))
	}
	for _, s := range out.Snapshots {
		dev := "/dev/xvdf"
		if aws.ToString(s.SnapshotId) == got[1].ID {
			dev = "/dev/xvdg"
		}
		if s.State != "completed" {
			t.Errorf("snapshot %s is %s, want completed", aws.ToString(s.SnapshotId), s.State)
		}
		want := map[string]string{
			provider.TagCluster: name, "DeviceName": dev, provider.TagName: name + "-1" + dev,
			provider.TagNode: "1", TagVPC: w.vpc,
		}
		for k, v := range want {
			if tg := tagOf(s.Tags, k); tg != v {
				t.Errorf("snapshot %s: tag %s = %q, want %q", aws.ToString(s.SnapshotId), k, tg, v)
			}
		}
	}

	// up restores node 1 from exactly these, node 0 from its own older ones
	res, err := h.resolve(ctx, insts, provider.UpOptions{UseSnapshots: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	olderOf := map[string]string{} // device of node 0 -> its snapshot
	for _, s := range older {
		if s.NodeID == "0" {
			olderOf[s.Device] = s.ID
		}
	}
	for idx, s := range got {
		if c := res.Snapshots[idx].For("1"); c != s.ID {
			t.Errorf("volume %d: up would restore node 1 from %q, want %s", idx, c, s.ID)
		}
		if c := res.Snapshots[idx].For("0"); c != olderOf[s.Device] {
			t.Errorf("volume %d: up would restore node 0 from %q, want its own %s", idx, c, olderOf[s.Device])
		}
	}
	for _, v := range h.p.Spec(pr.cluster.Nodes()[1], res, "", nil).Volumes {
		if want := map[string]string{"/dev/xvdf": got[0].ID, "/dev/xvdg": got[1].ID}[v.Device]; v.Snapshot != want {
			t.Errorf("node 1's spec: %s from %q, want %s", v.Device, v.Snapshot, want)
		}
	}

	// refused: foreign, another cluster's, terminated
	foreign := inst
	foreign.Foreign = "vpc-elsewhere"
	if _, err := h.p.SnapshotInstance(ctx, h.id, foreign); err == nil || !strings.Contains(err.Error(), "vpc-elsewhere") {
		t.Errorf("a foreign instance: %v, want refused", err)
	}
	h.calls.Reset()
	if _, err := h.p.SnapshotInstance(ctx, provider.ClusterID{Name: name + "-other"}, inst); err == nil || !strings.Contains(err.Error(), "not an instance of cluster") {
		t.Errorf("another cluster's instance: %v, want refused", err)
	}
	h.budget(1, map[string]int{"ec2:CreateSnapshot": 0})
	if _, err := h.down(ctx, true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.SnapshotInstance(ctx, h.id, inst); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("a terminated instance: %v, want refused", err)
	}
}

// TestWaitSnapshotsError: a snapshot EC2 reports in state error fails the
// wait, naming it and EC2's reason; one not listed yet is waited for.
func TestWaitSnapshotsError(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if r.Form.Get("Action") != "DescribeSnapshots" || r.Form.Get("SnapshotId.1") != "snap-1" || r.Form.Get("SnapshotId.2") != "snap-2" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<Response><Errors><Error><Code>Unexpected</Code><Message>%s</Message></Error></Errors></Response>`, url.QueryEscape(r.Form.Encode()))
			return
		}
		if n == 1 { // not listed yet: EC2 is eventually consistent
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<Response><Errors><Error><Code>InvalidSnapshot.NotFound</Code><Message>The snapshot 'snap-2' does not exist.</Message></Error></Errors><RequestID>r</RequestID></Response>`)
			return
		}
		fmt.Fprint(w, `<DescribeSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><snapshotSet>
<item><snapshotId>snap-1</snapshotId><volumeId>vol-1</volumeId><status>completed</status><progress>100%</progress></item>
<item><snapshotId>snap-2</snapshotId><volumeId>vol-2</volumeId><status>error</status><statusMessage>the volume is gone</statusMessage></item>
</snapshotSet></DescribeSnapshotsResponse>`)
	}))
	defer srv.Close()
	p, _ := unitProvider(t, unitBase, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := p.waitSnapshots(ctx, []provider.Snapshot{{ID: "snap-1"}, {ID: "snap-2"}})
	if err == nil || !strings.Contains(err.Error(), "snapshot snap-2 of volume vol-2 failed: the volume is gone") {
		t.Fatalf("err = %v, want snap-2 failed with EC2's reason", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("%d DescribeSnapshots, want 2 (the first did not list the snapshot yet)", calls)
	}
}
