package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// awsVolume is a valid aws cluster with one volume, written as a flow
// mapping on line 9.
func awsVolume(vol string) string {
	return awsConfig("ok", "    volumes:\n      - "+vol+"\n")
}

// at returns where a problem about key of the flow mapping on line 9 of
// src is: the key's value, or the mapping itself when the key is missing.
func at(src, key string) string {
	line := strings.Split(src, "\n")[8]
	if i := strings.Index(line, key+": "); i >= 0 {
		return fmt.Sprintf("cloud-compose.yml:9:%d: cluster.aws.volumes[0].%s: ", i+len(key)+3, key)
	}
	return fmt.Sprintf("cloud-compose.yml:9:%d: cluster.aws.volumes[0].%s: ", strings.Index(line, "{")+1, key)
}

// TestVolumeBounds: every aws volume is checked against EBS's limits at
// load, with file:line, the key and the limit (the cases the aws provider
// checked before any call).
func TestVolumeBounds(t *testing.T) {
	for _, tc := range []struct {
		desc, volume string
		key, msg     string // key "": valid
	}{
		{"gp2 default", "{name: d, block: /dev/xvdf}", "", ""},
		{"gp2 16 TiB", "{name: d, block: /dev/xvdf, size: 16384G, volume_type: gp2}", "", ""},
		{"gp2 over 16 TiB", "{name: d, block: /dev/xvdf, size: 17T, volume_type: gp2}", "size", "17T is 17000 GiB; a gp2 volume is 1 to 16384 GiB"},
		{"gp3 65536 GiB", "{name: d, block: /dev/xvdf, size: 65536G, volume_type: gp3}", "", ""},
		{"gp3 iops and throughput", "{name: d, block: /dev/xvdf, size: 100G, volume_type: gp3, iops: 16000, throughput: 1000}", "", ""},
		{"gp3 3000 iops on 1 GiB", "{name: d, block: /dev/xvdf, size: 1G, volume_type: gp3, iops: 3000}", "", ""},
		{"gp3 iops per GiB", "{name: d, block: /dev/xvdf, size: 10G, volume_type: gp3, iops: 6000}", "iops", "6000 IOPS is more than 500 per GiB of a 10 GiB gp3 volume (at most 5000)"},
		{"gp3 iops too low", "{name: d, block: /dev/xvdf, size: 10G, volume_type: gp3, iops: 2000}", "iops", "2000 IOPS; a gp3 volume takes 3000 to 80000"},
		{"gp3 iops too high", "{name: d, block: /dev/xvdf, size: 1000G, volume_type: gp3, iops: 90000}", "iops", "90000 IOPS; a gp3 volume takes 3000 to 80000"},
		{"gp3 throughput over ratio", "{name: d, block: /dev/xvdf, size: 100G, volume_type: gp3, throughput: 1000}", "throughput", "1000 MiB/s is more than 0.25 MiB/s per provisioned IOPS (3000 IOPS allow 750 MiB/s)"},
		{"gp3 throughput at ratio", "{name: d, block: /dev/xvdf, size: 100G, volume_type: gp3, throughput: 750}", "", ""},
		{"gp3 throughput too low", "{name: d, block: /dev/xvdf, size: 100G, volume_type: gp3, throughput: 100}", "throughput", "100 MiB/s; a gp3 volume takes 125 to 2000 MiB/s"},
		{"gp3 throughput too high", "{name: d, block: /dev/xvdf, size: 1000G, volume_type: gp3, iops: 80000, throughput: 2001}", "throughput", "2001 MiB/s; a gp3 volume takes 125 to 2000 MiB/s"},
		{"throughput on gp2", "{name: d, block: /dev/xvdf, volume_type: gp2, throughput: 200}", "throughput", "throughput can only be set for gp3 volumes, not gp2"},
		{"io1 default iops", "{name: d, block: /dev/xvdf, size: 10G, volume_type: io1}", "", ""},
		{"io1 ratio", "{name: d, block: /dev/xvdf, size: 10G, volume_type: io1, iops: 1000}", "iops", "1000 IOPS is more than 50 per GiB of a 10 GiB io1 volume (at most 500)"},
		{"io1 too small", "{name: d, block: /dev/xvdf, size: 2G, volume_type: io1}", "size", "2G is 2 GiB; a io1 volume is 4 to 16384 GiB"},
		{"io1 iops too low", "{name: d, block: /dev/xvdf, size: 10G, volume_type: io1, iops: 50}", "iops", "50 IOPS; a io1 volume takes 100 to 64000"},
		{"io2 256k", "{name: d, block: /dev/xvdf, size: 300G, volume_type: io2, iops: 256000}", "", ""},
		{"io2 over", "{name: d, block: /dev/xvdf, size: 1000G, volume_type: io2, iops: 300000}", "iops", "300000 IOPS; a io2 volume takes 100 to 256000"},
		{"st1 too small", "{name: d, block: /dev/xvdf, size: 100G, volume_type: st1}", "size", "100G is 100 GiB; a st1 volume is 125 to 16384 GiB"},
		{"sc1 ok", "{name: d, block: /dev/xvdf, size: 1T, volume_type: sc1}", "", ""},
		{"sc1 too big", "{name: d, block: /dev/xvdf, size: 17T, volume_type: sc1}", "size", "17T is 17000 GiB; a sc1 volume is 125 to 16384 GiB"},
		{"standard too big", "{name: d, block: /dev/xvdf, size: 2T, volume_type: standard}", "size", "2T is 2000 GiB; a standard volume is 1 to 1024 GiB"},
		{"size as a number", "{name: d, block: /dev/xvdf, size: 100, volume_type: st1}", "size", "100G is 100 GiB; a st1 volume is 125 to 16384 GiB"},
		{"ephemeral", "{name: ephemeral0, block: /dev/xvdb, ephemeral: true}", "", ""},
		{"ephemeral without block", "{name: ephemeral0, ephemeral: true}", "block", "an ephemeral volume needs `block` (its device name)"},
		{"ephemeral without name", "{block: /dev/xvdb, ephemeral: true}", "name", "an ephemeral volume needs `name` (its virtual name, e.g. ephemeral0)"},
		{"ephemeral has no EBS bounds", "{name: ephemeral0, block: /dev/xvdb, ephemeral: true, volume_type: st1, size: 1G}", "", ""},
		{"nfs is not a block device", "{name: d, file_system: NFS4, volume_type: io1, size: 1G, iops: 999999}", "", ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			src := awsVolume(tc.volume)
			_, err := load(t, src)
			if tc.key == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) != 1 {
				t.Fatalf("want a *config.Error with one problem, got %v", err)
			}
			want := at(src, tc.key) + tc.msg
			if got := ce.Problems[0].String(); !strings.HasPrefix(got, want) {
				t.Errorf("got  %s\nwant %s…", got, want)
			}
		})
	}
}

// TestVolumeIOPSIgnored: iops on a type that takes none is a warning (the
// original ignored it), located at the key.
func TestVolumeIOPSIgnored(t *testing.T) {
	src := awsVolume("{name: d, block: /dev/xvdf, volume_type: gp2, iops: 500}")
	c, err := load(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := at(src, "iops") + "is ignored for a gp2 volume"
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.String())
		if strings.HasPrefix(w.String(), want) {
			return
		}
	}
	t.Errorf("warnings %q lack %s…", got, want)
}

// TestVolumeHelpers: what the aws provider builds its block devices from.
func TestVolumeHelpers(t *testing.T) {
	for _, tc := range []struct {
		v    Volume
		iops int
		nfs  bool
	}{
		{Volume{Type: "io1"}, DefaultIOPS, false},
		{Volume{Type: "io2", IOPS: 500}, 500, false},
		{Volume{Type: "gp3"}, 0, false},
		{Volume{Type: "gp2", FileSystem: "nfs"}, 0, true},
		{Volume{Type: "gp2", FileSystem: "NFS4"}, 0, true},
		{Volume{Type: "gp2", FileSystem: "nfsx"}, 0, false},
		{Volume{Type: "gp2", FileSystem: "ext4"}, 0, false},
	} {
		if got := tc.v.EBSIOPS(); got != tc.iops {
			t.Errorf("%+v: EBSIOPS %d, want %d", tc.v, got, tc.iops)
		}
		if got := tc.v.NFS(); got != tc.nfs {
			t.Errorf("%+v: NFS %v, want %v", tc.v, got, tc.nfs)
		}
	}
}

// TestProviderSectionErrors: the other provider checks at load, each with
// file:line:column, the key and the message.
func TestProviderSectionErrors(t *testing.T) {
	logging := func(meta string) string {
		return strings.Replace(awsConfig("ok", ""), "  aws:\n", "  logging:\n    driver: awslogs\n"+meta+"  aws:\n", 1)
	}
	for _, tc := range []struct {
		name, src string
		want      []string // every problem, in order; none: valid
	}{
		{"local ip outside loopback", localConfig("ok", "", "      - id: 1\n        ip: 10.0.0.1\n"),
			[]string{"cloud-compose.yml:7:13: cluster.local.nodes[0].ip: 10.0.0.1 is outside 127.0.0.0/8: the local provider runs nodes on loopback addresses (Linux routes all of 127.0.0.0/8 to lo); use one inside, e.g. 127.0.0.11"}},
		{"local second node outside loopback", localConfig("ok", "", "      - id: 1\n        ip: 127.0.0.11\n      - id: 2\n        ip: 192.168.1.2\n"),
			[]string{"cloud-compose.yml:9:13: cluster.local.nodes[1].ip: 192.168.1.2 is outside 127.0.0.0/8: the local provider runs nodes on loopback addresses (Linux routes all of 127.0.0.0/8 to lo); use one inside, e.g. 127.0.0.12"}},
		{"local node without ip", localConfig("ok", "", "      - id: a\n"),
			[]string{`cloud-compose.yml:6:9: cluster.local.nodes[0].ip: node "a" needs an ip: the local provider runs each node on its own loopback address in 127.0.0.0/8, e.g. 127.0.0.11`}},
		{"local section checked when aws is the provider", awsConfig("ok", "") + "  local:\n    nodes:\n      - {id: 1, ip: 10.0.0.5}\n",
			[]string{"cloud-compose.yml:14:21: cluster.local.nodes[0].ip: 10.0.0.5 is outside 127.0.0.0/8"}},
		{"local ok", localConfig("ok", "", "      - id: 1\n        ip: 127.255.0.1\n"), nil},
		{"local ids and ips twice", localConfig("ok", "", "      - {id: 1, ip: 127.0.0.11}\n      - {id: 1, ip: 127.0.0.11}\n      - {id: 3, ip: 10.1.1.1}\n"),
			[]string{"cloud-compose.yml:7:14: cluster.local.nodes[1].id: node id \"1\" is used twice (also by nodes[0])",
				"cloud-compose.yml:7:21: cluster.local.nodes[1].ip: IP 127.0.0.11 is used twice (also by nodes[0])",
				"cloud-compose.yml:8:21: cluster.local.nodes[2].ip: 10.1.1.1 is outside 127.0.0.0/8"}},
		{"aws ids and ips twice", strings.Replace(awsConfig("ok", ""), "    nodes:\n", "    nodes:\n      - {id: 1, ip: 10.0.0.11, subnet: subnet-1}\n", 1),
			[]string{"cloud-compose.yml:10:13: cluster.aws.nodes[1].id: node id \"1\" is used twice (also by nodes[0])",
				"cloud-compose.yml:11:13: cluster.aws.nodes[1].ip: IP 10.0.0.11 is used twice (also by nodes[0])"}},
		{"awslogs without group", logging(""),
			[]string{"cloud-compose.yml:5:5: cluster.logging.meta.group: logging.driver is awslogs but logging.meta.group names no log group"}},
		{"awslogs retention", logging("    meta: {group: g, retention: 13}\n"),
			[]string{"cloud-compose.yml:6:33: cluster.logging.meta.retention: 13 days is not a CloudWatch Logs retention; use one of [1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653]"}},
		{"awslogs ok", logging("    meta: {group: g, retention: 3653}\n"), nil},
		{"awslogs default retention", logging("    meta: {group: g}\n"), nil},
		{"awslogs on local: no log group made", localConfig("ok", "  logging:\n    driver: awslogs\n    meta: {retention: 13}\n", ""), nil},
		{"all at once", localConfig("ok", "", "      - {id: 1, ip: 10.0.0.1}\n") + "  aws:\n    volumes:\n      - {volume_type: io1, size: 1G}\n      - {volume_type: gp2, throughput: 200}\n",
			[]string{"cloud-compose.yml:6:21: cluster.local.nodes[0].ip", "cloud-compose.yml:9:34: cluster.aws.volumes[0].size", "cloud-compose.yml:10:40: cluster.aws.volumes[1].throughput"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.src)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *config.Error, got %v", err)
			}
			if len(ce.Problems) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(ce.Problems), len(tc.want), err)
			}
			for i, w := range tc.want {
				if got := ce.Problems[i].String(); !strings.HasPrefix(got, w) {
					t.Errorf("problem %d:\ngot  %s\nwant %s…", i, got, w)
				}
			}
		})
	}
}

// TestCheckUpLaunch: what a launch on aws needs is refused by CheckUp
// (up, plan, config) with file:line and the key — all at once — and
// accepted by LoadCluster (build renders the original's fixtures, which
// lack them).
func TestCheckUpLaunch(t *testing.T) {
	base := awsConfig("ok", "")
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"no ami", strings.Replace(base, "    ami: ami-1\n", "", 1),
			[]string{"cloud-compose.yml:5:5: cluster.aws.ami: is required to launch instances: an image id (ami-…) or the Name tag of images"}},
		{"empty ami", strings.Replace(base, "ami: ami-1", "ami: ''", 1),
			[]string{"cloud-compose.yml:5:10: cluster.aws.ami: is required to launch instances"}},
		{"no security groups", strings.Replace(base, "    security_groups: sg-1\n", "", 1),
			[]string{"cloud-compose.yml:5:5: cluster.aws.security_groups: is required to launch instances: the security group ids for the instances"}},
		{"empty security group list", strings.Replace(base, "security_groups: sg-1", "security_groups: []", 1),
			[]string{"cloud-compose.yml:7:22: cluster.aws.security_groups: is required to launch instances"}},
		{"no keypair", strings.Replace(base, "    keypair: k\n", "", 1),
			[]string{"cloud-compose.yml:5:5: cluster.aws.keypair: is required to launch instances: the name of the EC2 key pair (as in the original)"}},
		{"node without subnet", strings.Replace(base, "        subnet: subnet-1\n", "", 1),
			[]string{"cloud-compose.yml:9:9: cluster.aws.nodes[0].subnet: node 1 needs a subnet"}},
		{"asg empty subnets", "cluster:\n  name: ok\n  search_path: [t]\n  aws:\n    ami: ami-1\n    keypair: k\n    security_groups: sg-1\n    asg:\n      subnets: []\n",
			[]string{"cloud-compose.yml:9:16: cluster.aws.asg.subnets: is required to launch instances: at least one subnet"}},
		{"asg: nodes need no subnet", "cluster:\n  name: ok\n  search_path: [t]\n  aws:\n    ami: ami-1\n    keypair: k\n    security_groups: sg-1\n    asg:\n      subnets: [s]\n    nodes: [{id: 1}]\n", nil},
		{"all at once", "cluster:\n  name: ok\n  search_path: [t]\n  aws:\n    nodes:\n      - {id: a}\n      - {id: b, subnet: s}\n      - {id: c}\n",
			[]string{"cloud-compose.yml:5:5: cluster.aws.ami", "cloud-compose.yml:5:5: cluster.aws.security_groups", "cloud-compose.yml:5:5: cluster.aws.keypair",
				"cloud-compose.yml:6:9: cluster.aws.nodes[0].subnet: node a needs a subnet", "cloud-compose.yml:8:9: cluster.aws.nodes[2].subnet: node c needs a subnet"}},
		{"local needs none of it", localConfig("ok", "", ""), nil},
		{"aws section unused on local", localConfig("ok", "  provider: local\n", "") + "  aws:\n    instance_type: t3.micro\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.src)
			if err != nil {
				t.Fatalf("load must accept what only a launch needs: %v", err)
			}
			err = c.CheckUp()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) != len(tc.want) {
				t.Fatalf("want a *config.Error with %d problems, got %v", len(tc.want), err)
			}
			for i, w := range tc.want {
				if got := ce.Problems[i].String(); !strings.HasPrefix(got, w) {
					t.Errorf("problem %d:\ngot  %s\nwant %s…", i, got, w)
				}
			}
		})
	}
}

// TestSuggestLoopbackIP: suggestions stay inside 127.0.0.0/8 and differ
// per node.
func TestSuggestLoopbackIP(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		ip := SuggestLoopbackIP(i)
		if !IsLoopback(ip) || seen[ip] {
			t.Fatalf("node %d: %s (in 127/8: %v, repeated: %v)", i, ip, IsLoopback(ip), seen[ip])
		}
		seen[ip] = true
	}
	for _, ip := range []string{"10.0.0.1", "128.0.0.1", "::1", "", "127.0.0.1.1"} {
		if IsLoopback(ip) {
			t.Errorf("IsLoopback(%q)", ip)
		}
	}
}
