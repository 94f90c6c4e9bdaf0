package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// unitProvider opens the provider for a config without talking to AWS.
// endpoint "" means nothing listens: a call would fail, and the counter
// shows it was made.
func unitProvider(t *testing.T, yml, endpoint string) (*ec2Provider, *callCounter) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "unit-secret-value")
	t.Setenv("AWS_REGION", "us-east-1")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:1"
	}
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	pr := writeProject(t, yml)
	calls := newCallCounter()
	p, err := open(withHooks(context.Background(), counterHooks(calls)), pr.cluster, provider.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*ec2Provider), calls
}

const unitBase = `cluster:
  name: unit
  search_path: [templates]
  aws:
    ami: ami-0123456789abcdef0
    keypair: key
    security_groups: sg-1, sg-2
    tags: {team: data, ClusterName: wrong}
    nodes:
      - {id: a, ip: 10.0.1.10, subnet: subnet-1}
`

// TestVolumeBounds: every volume is checked against EBS's limits before
// any call — when the config is loaded, so the provider is never opened
// with a volume EBS would refuse — and all problems come at once with
// file:line; a valid volume goes into the spec as configured.
func TestVolumeBounds(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		volume string
		want   []string // substrings of the problems; none: valid
	}{
		{"gp2 default", "{name: d, block: /dev/xvdf}", nil},
		// over 64 TiB (gp3's bound) config refuses any size before the provider
		{"gp2 over 16 TiB", "{name: d, block: /dev/xvdf, size: 17T, volume_type: gp2}", []string{"a gp2 volume is 1 to 16384 GiB"}},
		{"gp3 65536 GiB", "{name: d, block: /dev/xvdf, size: 65536G, volume_type: gp3}", nil},
		{"gp3 iops and throughput", "{name: d, block: /dev/xvdf, size: 100G, volume_type: gp3, iops: 16000, throughput: 1000}", nil},
		{"gp3 3000 iops on 1 GiB", "{name: d, block: /dev/xvdf, size: 1G, volume_type: gp3, iops: 3000}", nil},
		{"gp3 iops per GiB", "{name: d, block: /dev/xvdf, size: 10G, volume_type: gp3, iops: 6000}", []string{"more than 500 per GiB"}},
		{"gp3 iops too low", "{name: d, block: /dev/xvdf, size: 10G, volume_type: gp3, iops: 2000}", []string{"3000 to 80000"}},
		{"gp3 throughput over ratio", "{name: d, block: /dev/xvdf, size: 100G, volume_type: gp3, throughput: 1000}", []string{"per provisioned IOPS"}},
		{"gp3 throughput bounds", "{name: d, block: /dev/xvdf, size: 100G, volume_type: gp3, throughput: 100}", []string{"125 to 2000 MiB/s"}},
		{"throughput on gp2", "{name: d, block: /dev/xvdf, volume_type: gp2, throughput: 200}", []string{"only be set for gp3"}},
		{"io1 default iops", "{name: d, block: /dev/xvdf, size: 10G, volume_type: io1}", nil},
		{"io1 ratio", "{name: d, block: /dev/xvdf, size: 10G, volume_type: io1, iops: 1000}", []string{"more than 50 per GiB", "at most 500"}},
		{"io1 too small", "{name: d, block: /dev/xvdf, size: 2G, volume_type: io1}", []string{"a io1 volume is 4 to 16384 GiB"}},
		{"io2 256k", "{name: d, block: /dev/xvdf, size: 300G, volume_type: io2, iops: 256000}", nil},
		{"io2 over", "{name: d, block: /dev/xvdf, size: 1000G, volume_type: io2, iops: 300000}", []string{"100 to 256000"}},
		{"st1 too small", "{name: d, block: /dev/xvdf, size: 100G, volume_type: st1}", []string{"125 to 16384"}},
		{"sc1 ok", "{name: d, block: /dev/xvdf, size: 1T, volume_type: sc1}", nil},
		{"sc1 too big", "{name: d, block: /dev/xvdf, size: 17T, volume_type: sc1}", []string{"125 to 16384"}},
		{"standard too big", "{name: d, block: /dev/xvdf, size: 2T, volume_type: standard}", []string{"1 to 1024"}},
		{"ephemeral without block", "{name: ephemeral0, ephemeral: true}", []string{"needs `block`"}},
		{"nfs is not checked", "{name: shared, file_system: nfs, size: 20T}", nil},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			yml := unitBase + "    volumes:\n      - " + tc.volume + "\n"
			path := filepath.Join(t.TempDir(), "cloud-compose.yml")
			doc, err := config.Parse(path, []byte(yml), os.LookupEnv)
			if err != nil {
				t.Fatal(err)
			}
			_, err = config.LoadCluster(doc)
			if (err == nil) != (tc.want == nil) {
				t.Fatalf("loading: %v, want problems %q", err, tc.want)
			}
			if tc.want == nil {
				p, calls := unitProvider(t, yml, "")
				res, err := p.Resolve(context.Background(), provider.ClusterID{Name: "unit"}, nil, provider.ResolveOptions{})
				if err != nil {
					t.Fatal(err)
				}
				vols := p.Spec(p.aws.Nodes[0], res, "", nil).Volumes
				if v := p.aws.Volumes[0]; !v.NFS() && (len(vols) != 1 || vols[0].SizeGB != v.SizeGB || vols[0].Type != v.Type) {
					t.Errorf("spec volumes %+v for %+v", vols, v)
				}
				if calls.Total() != 0 {
					t.Errorf("calls: %s", calls)
				}
				return
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems %q do not say %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "cloud-compose.yml:") || !strings.Contains(err.Error(), "cluster.aws.volumes[0]") {
				t.Errorf("problem not located: %v", err)
			}
		})
	}
}

// TestRunInstancesInput: what one RunInstances carries.
func TestRunInstancesInput(t *testing.T) {
	yml := strings.Replace(unitBase, "    nodes:", `    instance_type: m5.large
    detailed_monitoring: true
    ebs_optimized: true
    volumes:
      - {name: root, size: 30G, volume_type: gp3}
      - {name: data, block: /dev/xvdf, size: 100G, volume_type: io1, delete_on_termination: false}
      - {name: fast, block: /dev/xvdg, size: 200G, volume_type: io2, iops: 20000}
      - {name: ephemeral0, block: /dev/xvdb, ephemeral: true}
      - {name: shared, file_system: nfs4, mount: /shared}
    nodes:`, 1)
	p, calls := unitProvider(t, yml, "")
	res := provider.Resolution{
		Image:     provider.Image{ID: "ami-0123456789abcdef0", RootDevice: "/dev/sda1"},
		Snapshots: map[int]provider.SnapshotChoice{1: {Newest: "snap-1"}},
		Profile:   "unit",
	}
	ls := provider.LaunchSpec{Cluster: provider.ClusterID{Name: "unit", Env: "prod"}, Node: p.aws.Nodes[0], Generation: "7"}
	ls.Spec = p.Spec(ls.Node, res, "#!/bin/bash\necho a\n", nil)
	in := p.runInstancesInput(ls)
	if calls.Total() != 0 {
		t.Errorf("building the call made calls: %s", calls)
	}

	if aws.ToString(in.ImageId) != "ami-0123456789abcdef0" || in.InstanceType != "m5.large" || aws.ToString(in.KeyName) != "key" ||
		!aws.ToBool(in.DisableApiTermination) || !aws.ToBool(in.Monitoring.Enabled) || !aws.ToBool(in.EbsOptimized) ||
		aws.ToString(in.IamInstanceProfile.Name) != "unit" || aws.ToInt32(in.MinCount) != 1 || aws.ToInt32(in.MaxCount) != 1 {
		t.Errorf("instance settings: %+v", in)
	}
	nic := in.NetworkInterfaces[0]
	if aws.ToString(nic.SubnetId) != "subnet-1" || aws.ToString(nic.PrivateIpAddress) != "10.0.1.10" || strings.Join(nic.Groups, ",") != "sg-1,sg-2" || !aws.ToBool(nic.DeleteOnTermination) {
		t.Errorf("network interface: %+v", nic)
	}
	if ud, _ := base64.StdEncoding.DecodeString(aws.ToString(in.UserData)); string(ud) != ls.Spec.UserData {
		t.Errorf("user data %q", ud)
	}
	type dev struct {
		name, virtual, typ, snap string
		size, iops               int32
		keep                     bool
	}
	var got []dev
	for _, d := range in.BlockDeviceMappings {
		g := dev{name: aws.ToString(d.DeviceName), virtual: aws.ToString(d.VirtualName)}
		if e := d.Ebs; e != nil {
			g.typ, g.snap, g.size, g.iops, g.keep = string(e.VolumeType), aws.ToString(e.SnapshotId), aws.ToInt32(e.VolumeSize), aws.ToInt32(e.Iops), !aws.ToBool(e.DeleteOnTermination)
		}
		got = append(got, g)
	}
	want := []dev{
		{name: "/dev/sda1", typ: "gp3", size: 30},
		{name: "/dev/xvdf", typ: "io1", size: 100, iops: 100, snap: "snap-1", keep: true},
		{name: "/dev/xvdg", typ: "io2", size: 200, iops: 20000},
		{name: "/dev/xvdb", virtual: "ephemeral0"},
	}
	if len(got) != len(want) {
		t.Fatalf("block devices %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block device %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	types := map[ec2types.ResourceType]bool{}
	for _, ts := range in.TagSpecifications {
		types[ts.ResourceType] = true
		tags := map[string]string{}
		for _, tg := range ts.Tags {
			if _, dup := tags[aws.ToString(tg.Key)]; dup {
				t.Errorf("tag %s twice", aws.ToString(tg.Key))
			}
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		for k, v := range map[string]string{"ClusterName": "unit", "Name": "unit-prod-a", "team": "data", provider.TagNode: "a", provider.TagEnv: "prod", provider.TagGeneration: "7"} {
			if tags[k] != v {
				t.Errorf("%s tag %s = %q, want %q", ts.ResourceType, k, tags[k], v)
			}
		}
		if tags[provider.TagSpec] != ls.Spec.Tag() || !strings.HasPrefix(tags[provider.TagSpec], "1:") {
			t.Errorf("spec tag %q, want the spec's %q", tags[provider.TagSpec], ls.Spec.Tag())
		}
	}
	if !types[ec2types.ResourceTypeInstance] || !types[ec2types.ResourceTypeVolume] {
		t.Errorf("tag specifications for %v, want instance and volume", types)
	}

	// the client token: stable for the same spec in one run, at most 64
	// characters, different for another node or another user data
	tok := aws.ToString(in.ClientToken)
	if again := aws.ToString(p.runInstancesInput(ls).ClientToken); again != tok || len(tok) > 64 {
		t.Errorf("client token %q then %q", tok, again)
	}
	ls2 := ls
	ls2.Spec = p.Spec(ls.Node, res, ls.Spec.UserData+"echo b\n", nil)
	in2 := p.runInstancesInput(ls2)
	if aws.ToString(in2.ClientToken) == tok || tagValue(in2.TagSpecifications, provider.TagSpec) == tagValue(in.TagSpecifications, provider.TagSpec) {
		t.Errorf("another user data kept the token or the spec tag")
	}
	if c, ok := provider.TagChanges(provider.Instance{Spec: tagValue(in.TagSpecifications, provider.TagSpec)}, ls2.Spec); !ok || len(c) != 1 || c[0].Field != provider.FieldUserData {
		t.Errorf("the launched tag against the new spec: %v (%v), want user_data only", c, ok)
	}
	// a snapshot is data, not definition: the spec tag and the token ignore it
	res2 := res
	res2.Snapshots = map[int]provider.SnapshotChoice{1: {Newest: "snap-2"}}
	ls3 := ls
	ls3.Spec = p.Spec(ls.Node, res2, ls.Spec.UserData, nil)
	in3 := p.runInstancesInput(ls3)
	if tagValue(in3.TagSpecifications, provider.TagSpec) != tagValue(in.TagSpecifications, provider.TagSpec) || aws.ToString(in3.ClientToken) != tok {
		t.Errorf("a newer snapshot changed the spec tag or the token")
	}
	if got := aws.ToString(in3.BlockDeviceMappings[1].Ebs.SnapshotId); got != "snap-2" {
		t.Errorf("the data volume starts from %q, want snap-2", got)
	}
}

// TestErrors: AWS errors say the operation, code, message and a hint.
func TestErrors(t *testing.T) {
	// an endpoint answering as EC2 does for a missing subnet
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidSubnetID.NotFound</Code><Message>The subnet ID 'subnet-1' does not exist</Message></Error></Errors><RequestID>r-1</RequestID></Response>`)
	}))
	defer srv.Close()
	p, calls := unitProvider(t, unitBase, srv.URL)
	_, err := p.Instances(context.Background(), provider.ClusterID{Name: "unit"})
	var e *Error
	if !errors.As(err, &e) || e.Code != "InvalidSubnetID.NotFound" || !strings.Contains(e.Message, "subnet-1") || !strings.Contains(e.Hint, "subnet") {
		t.Fatalf("err = %#v, want an *Error with code, message and hint", err)
	}
	for _, want := range []string{"ec2 DescribeInstances", "InvalidSubnetID.NotFound", "does not exist", "hint:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "unit-secret-value") || strings.Contains(err.Error(), "AKIDUNIT") {
		t.Errorf("credentials in error: %v", err)
	}
	if calls.Count("ec2:DescribeInstances") != 1 {
		t.Errorf("a 400 was retried: %s", calls)
	}
	for code, want := range map[string]string{
		"InvalidSubnetID.NotFound":     "subnet",
		"InvalidAMIID.NotFound":        "aws.ami",
		"InsufficientInstanceCapacity": "capacity",
		"UnauthorizedOperation":        "permission",
		"AuthFailure":                  "credentials",
	} {
		if h := hint(code, "", nil); !strings.Contains(h, want) {
			t.Errorf("hint(%s) = %q, want it to mention %q", code, h, want)
		}
	}
	if h := hint("", "get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found", nil); !strings.Contains(h, "AWS_PROFILE") {
		t.Errorf("no-credentials hint: %q", h)
	}
	if h := hint("Unsupported", "Your requested instance type (m7g.large) is not supported in your requested Availability Zone (us-east-1e).", nil); !strings.Contains(h, "availability zone") {
		t.Errorf("instance type offering hint: %q", h)
	}
}
