package aws

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// TestIntegrationIPHolders: a node IP held by another cluster's instance or
// by a bare network interface fails that node with an *IPInUseError naming
// the holder, launches nothing for it, and does not stop the other nodes.
func TestIntegrationIPHolders(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)

	other := writeProject(t, clusterYAML(w, uniq("other"), 1, "", "")) // node 0 at .10
	ho := openHarness(t, ctx, other, provider.Options{})
	if res, err := ho.up(ctx, provider.UpOptions{}); err != nil || len(res.created) != 1 {
		t.Fatalf("up other cluster: %v %+v", err, res)
	}
	eni, err := w.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), PrivateIpAddress: aws.String(w.ip(12))})
	if err != nil {
		t.Fatal(err)
	}
	eniID := aws.ToString(eni.NetworkInterface.NetworkInterfaceId)

	name := uniq("mine")
	pr := writeProject(t, clusterYAML(w, name, 3, "", "")) // .10 (taken), .11 (free), .12 (bare ENI)
	h := openHarness(t, ctx, pr, provider.Options{})
	res, err := h.up(ctx, provider.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.created) != 1 || res.created[0].NodeID != "1" {
		t.Errorf("created %+v, want only node 1", res.created)
	}
	for node, want := range map[string]string{"0": "of cluster " + other.cluster.Name, "2": "network interface " + eniID} {
		var ipe *provider.IPInUseError
		if err := res.failed[node]; !errors.As(err, &ipe) || !strings.Contains(ipe.Holder, want) {
			t.Errorf("node %s: %v, want an *IPInUseError naming %q", node, err, want)
		}
	}
	// one RunInstances (node 1), one lookup of the holders for all nodes,
	// one DescribeSubnets (Resolve checks the subnets exist and hold the IPs)
	h.budget(1+1+1+1+1+1+1, map[string]int{"ec2:RunInstances": 1, "ec2:DescribeNetworkInterfaces": 1, "ec2:DescribeSubnets": 1})

	// down finds this cluster's instances by tag: the other cluster's
	// instance at a shared IP is never touched.
	if _, err := h.down(ctx, false, true); err != nil {
		t.Fatal(err)
	}
	left, err := ho.p.Instances(ctx, ho.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].State != provider.Running {
		t.Errorf("the other cluster after our down: %+v", left)
	}
}

// TestIntegrationImageResolution: ami-… as is; a Name tag resolves to the
// newest image, except that the image running on the cluster wins unless
// --upgrade-image; no match names the tag and the region.
func TestIntegrationImageResolution(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	name := uniq("images")
	pr := writeProject(t, clusterYAML(w, name, 1, "", ""))
	h := openHarness(t, ctx, pr, provider.Options{})
	if res, err := h.up(ctx, provider.UpOptions{}); err != nil || len(res.created) != 1 || res.created[0].Image != w.ami {
		t.Fatalf("up: %v %+v", err, res)
	}
	// moto dates images to the second
	time.Sleep(1100 * time.Millisecond)
	newer := w.registerImage(t, ctx, w.amiName)

	observed, err := h.p.Instances(ctx, h.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc     string
		observed []provider.Instance
		upgrade  bool
		want     string
		calls    int
	}{
		{"the cluster's image wins", observed, false, w.ami, 0},
		{"--upgrade-image takes the newest", observed, true, newer, 1},
		{"no live node: the newest", nil, false, newer, 1},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h.calls.Reset()
			res, err := h.resolve(ctx, tc.observed, provider.UpOptions{UpgradeImage: tc.upgrade}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Image.ID != tc.want || res.Image.Name != w.amiName || res.ImageHow == "" {
				t.Errorf("image %+v (%s), want %s named %s", res.Image, res.ImageHow, tc.want, w.amiName)
			}
			a := awsData(t, pr.cluster, res)
			ami, _ := a.Get("ami")
			amiName, _ := a.Get("ami_name")
			if ami != tc.want || amiName != w.amiName {
				t.Errorf("aws.ami = %v, aws.ami_name = %v; want %s, %s", ami, amiName, tc.want, w.amiName)
			}
			if got := h.calls.Count("ec2:DescribeImages"); got < tc.calls || (tc.calls == 0 && got != 0) {
				t.Errorf("DescribeImages calls: %d (%s)", got, h.calls)
			}
		})
	}

	t.Run("ami id as is", func(t *testing.T) {
		pr := writeProject(t, strings.Replace(clusterYAML(w, uniq("byid"), 1, "", ""), "ami: "+w.amiName, "ami: "+newer, 1))
		h := openHarness(t, ctx, pr, provider.Options{})
		res, err := h.resolve(ctx, nil, provider.UpOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		a := awsData(t, pr.cluster, res)
		if ami, _ := a.Get("ami"); ami != newer || a.Has("ami_name") || res.Image.ID != newer {
			t.Errorf("aws.ami = %v (ami_name set: %v), image %+v, want %s", ami, a.Has("ami_name"), res.Image, newer)
		}
		// an id needs no lookup for a plan (no volume takes its root device)
		h.budget(0, nil)
	})
	t.Run("no match", func(t *testing.T) {
		missing := uniq("no-such-image")
		pr := writeProject(t, strings.Replace(clusterYAML(w, uniq("nomatch"), 1, "", ""), "ami: "+w.amiName, "ami: "+missing, 1))
		h := openHarness(t, ctx, pr, provider.Options{})
		_, err := h.resolve(ctx, nil, provider.UpOptions{}, nil)
		if !errors.Is(err, ErrNoImage) || !strings.Contains(err.Error(), "Name="+missing) || !strings.Contains(err.Error(), "us-east-1") {
			t.Errorf("err = %v, want ErrNoImage naming the tag and the region", err)
		}
	})
	t.Run("unknown ami id", func(t *testing.T) {
		pr := writeProject(t, strings.Replace(clusterYAML(w, uniq("badid"), 1, "", ""), "ami: "+w.amiName, "ami: ami-0000000000deadbee", 1))
		h := openHarness(t, ctx, pr, provider.Options{})
		// before a launch, the image must exist
		_, err := h.resolve(ctx, nil, provider.UpOptions{}, pr.cluster.Nodes())
		var ae *Error
		if err == nil || (!errors.Is(err, ErrNoImage) && !(errors.As(err, &ae) && ae.Hint != "")) {
			t.Errorf("err = %v, want an error about the image", err)
		}
	})
}

// TestIntegrationSnapshots: each volume starts from the newest completed
// snapshot of its cluster and device at or before the snapshot time (in
// the spec, and so in the block device map); the id is written back for
// templates (render.ResolvedData); an explicit snapshot stays.
func TestIntegrationSnapshots(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	src := uniq("source")
	vol, err := w.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(50)})
	if err != nil {
		t.Fatal(err)
	}
	snap := func(cluster, device string) string {
		s, err := w.ec2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId, TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeSnapshot,
			Tags:         []ec2types.Tag{{Key: aws.String("ClusterName"), Value: aws.String(cluster)}, {Key: aws.String("DeviceName"), Value: aws.String(device)}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(s.SnapshotId)
	}
	// moto dates snapshots to the second
	old := snap(src, "/dev/xvdf")
	snap(src, "/dev/xvdg") // another device
	time.Sleep(1100 * time.Millisecond)
	between := time.Now()
	time.Sleep(1100 * time.Millisecond)
	newest := snap(src, "/dev/xvdf")
	snap(uniq("elsewhere"), "/dev/xvdf") // another cluster, newer still
	explicit := snap(src, "/dev/xvdh")

	extra := `    volumes:
      - {name: data, block: /dev/xvdf, size: 50G}
      - {name: logs, block: /dev/xvdh, size: 50G, snapshot: ` + explicit + `}
      - {name: none, block: /dev/xvdi, size: 50G}
`
	pr := writeProject(t, clusterYAML(w, uniq("restore"), 1, extra, ""))
	h := openHarness(t, ctx, pr, provider.Options{})
	for _, tc := range []struct {
		desc string
		opts provider.UpOptions
		want string // data volume's snapshot
	}{
		{"newest of the snapshot cluster", provider.UpOptions{UseSnapshots: true, SnapshotCluster: src}, newest},
		{"at or before --snapshot-time", provider.UpOptions{UseSnapshots: true, SnapshotCluster: src, SnapshotTime: between}, old},
		{"this cluster has none", provider.UpOptions{UseSnapshots: true}, ""},
		{"--no-use-snapshots", provider.UpOptions{UseSnapshots: false, SnapshotCluster: src}, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h.calls.Reset()
			res, err := h.resolve(ctx, nil, tc.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			devs := map[string]string{}
			for _, d := range blockDevices(h.p.Spec(pr.cluster.AWS.Nodes[0], res, "", nil).Volumes) {
				devs[aws.ToString(d.DeviceName)] = aws.ToString(d.Ebs.SnapshotId)
			}
			vols, _ := awsData(t, pr.cluster, res).Get("volumes")
			written := func(i int) string {
				v, _ := vols.([]any)[i].(*config.Mapping).Get("snapshot")
				s, _ := v.(string)
				return s
			}
			if devs["/dev/xvdf"] != tc.want || written(0) != tc.want {
				t.Errorf("data volume: mapping %q, template data %q; want %q", devs["/dev/xvdf"], written(0), tc.want)
			}
			wantExplicit := ""
			if tc.opts.UseSnapshots {
				wantExplicit = explicit
			}
			if devs["/dev/xvdh"] != wantExplicit || written(1) != explicit {
				t.Errorf("explicit snapshot: mapping %q, template data %q; want %q, %q", devs["/dev/xvdh"], written(1), wantExplicit, explicit)
			}
			if devs["/dev/xvdi"] != "" || written(2) != "" {
				t.Errorf("volume without snapshots got %q / %q", devs["/dev/xvdi"], written(2))
			}
			wantCalls := 0
			if tc.opts.UseSnapshots {
				wantCalls = 1 // all devices in one call
			}
			if got := h.calls.Count("ec2:DescribeSnapshots"); got != wantCalls {
				t.Errorf("DescribeSnapshots: %d calls, want %d", got, wantCalls)
			}
		})
	}
}

// awsData is the template data's `aws:` section with the resolution
// written in, as render gives it to templates.
func awsData(t *testing.T, c *config.Cluster, res provider.Resolution) *config.Mapping {
	t.Helper()
	data, err := render.ResolvedData(c, res)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := data.Get("aws")
	m, ok := v.(*config.Mapping)
	if !ok {
		t.Fatalf("template data has no aws section: %v", v)
	}
	return m
}
