package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// load parses src and loads its cluster section.
func load(t *testing.T, src string) (*Cluster, error) {
	t.Helper()
	doc, err := Parse("cloud-compose.yml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, err
	}
	return LoadCluster(doc)
}

// localConfig is a valid local cluster; %s is replaced by extra lines of
// the cluster section, %s then by the nodes.
func localConfig(name, extra, nodes string) string {
	if nodes == "" {
		nodes = "      - id: 1\n        ip: 127.0.0.11\n"
	}
	return fmt.Sprintf("cluster:\n  name: %s\n  search_path: [templates]\n%s  local:\n    nodes:\n%s", name, extra, nodes)
}

func awsConfig(name, awsExtra string) string {
	return fmt.Sprintf("cluster:\n  name: %s\n  search_path: [templates]\n  aws:\n    ami: ami-1\n    keypair: k\n    security_groups: sg-1\n%s    nodes:\n      - id: 1\n        ip: 10.0.0.11\n        subnet: subnet-1\n", name, awsExtra)
}

// Every rule of docs/configuration.md "Validation rules" that is an error:
// the value is rejected with its file:line and key.
func TestValidationErrors(t *testing.T) {
	long := strings.Repeat("a", 65)
	cases := []struct {
		name, src, where, msg string
	}{
		{"wildcard name", localConfig(`"relA7*"`, "", ""), "cloud-compose.yml:2:9: cluster.name", `'*'`},
		{"star name", localConfig(`"*"`, "", ""), "cloud-compose.yml:2:9: cluster.name", "use only letters, digits, -, _ and ."},
		{"question mark", localConfig(`"a?b"`, "", ""), ":2:9: cluster.name", `'?'`},
		{"backslash", localConfig(`'a\b'`, "", ""), ":2:9: cluster.name", `'\\'`},
		{"space", localConfig(`"a b"`, "", ""), ":2:9: cluster.name", `' '`},
		{"slash", localConfig(`a/b`, "", ""), ":2:9: cluster.name", `'/'`},
		{"empty name", localConfig(`""`, "", ""), ":2:9: cluster.name", "is empty"},
		{"name too long for Name tag", localConfig(strings.Repeat("n", 255), "", ""), ":2:9: cluster.name", "at most 254 fit here: the instances' Name tag <name>-1 is at most 256"},
		{"name too long for IAM role", awsConfig(long, "    instance_policy: '{}'\n"), ":2:9: cluster.name", "is 65 characters long; at most 64 fit here: the IAM role"},
		{"name too long for launch template", "cluster:\n  name: " + strings.Repeat("n", 129) + "\n  search_path: [t]\n  aws:\n    asg:\n      subnets: [subnet-1]\n", ":2:9: cluster.name", "launch template"},
		{"name too long with snapshots", awsConfig(strings.Repeat("n", 250), "    volumes:\n      - block: /dev/xvdc\n"), ":2:9: cluster.name", "<name>-1/dev/xvdc is at most 256"},
		{"node id wildcard", localConfig("ok", "", "      - id: 'a*'\n        ip: 127.0.0.11\n"), ":6:13: cluster.local.nodes[0].id", "a node id cannot have"},
		{"node id empty", localConfig("ok", "", "      - id: ''\n        ip: 127.0.0.11\n"), ":6:13: cluster.local.nodes[0].id", "is empty"},
		{"node id too long", localConfig("ok", "", "      - id: "+long+"\n        ip: 127.0.0.11\n"), ":6:13: cluster.local.nodes[0].id", "at most 64"},
		{"size overflow", localConfig("ok", "", "") + "    volumes:\n      - size: 18446744073709552T\n", ":9:15: cluster.local.volumes[0].size", "too large"},
		{"size 20 digits", localConfig("ok", "", "") + "    volumes:\n      - size: 12345678901234567890\n", ":9:15: cluster.local.volumes[0].size", "too large"},
		{"size 20 digits G", localConfig("ok", "", "") + "    volumes:\n      - size: 12345678901234567890G\n", ":9:15: cluster.local.volumes[0].size", "too large"},
		{"size zero", localConfig("ok", "", "") + "    volumes:\n      - size: 0\n", ":9:15: cluster.local.volumes[0].size", "0 GB is out of range"},
		{"size 0G", localConfig("ok", "", "") + "    volumes:\n      - size: 0G\n", ":9:15: cluster.local.volumes[0].size", "empty volume"},
		{"size negative", localConfig("ok", "", "") + "    volumes:\n      - size: -5\n", ":9:15: cluster.local.volumes[0].size", "out of range"},
		{"size 65T", localConfig("ok", "", "") + "    volumes:\n      - size: 66T\n", ":9:15: cluster.local.volumes[0].size", "too large"},
		{"health port 70000", localConfig("ok", "  health:\n    port: 70000\n", ""), ":5:11: cluster.health.port", "70000 is out of range: a TCP port is 1 to 65535"},
		{"health port 0", localConfig("ok", "  health:\n    port: 0\n", ""), ":5:11: cluster.health.port", "out of range"},
		{"health port -1", localConfig("ok", "  health:\n    port: -1\n", ""), ":5:11: cluster.health.port", "out of range"},
		{"health port huge", localConfig("ok", "  health:\n    port: 99999999999999999999\n", ""), ":5:11: cluster.health.port", "too large"},
		{"health timeout -1", localConfig("ok", "  health:\n    port: 80\n    timeout: -1\n", ""), ":6:14: cluster.health.timeout", "out of range"},
		{"health timeout 0", localConfig("ok", "  health:\n    port: 80\n    timeout: 0\n", ""), ":6:14: cluster.health.timeout", "out of range"},
		{"health timeout huge", localConfig("ok", "  health:\n    port: 80\n    timeout: 10000000000\n", ""), ":6:14: cluster.health.timeout", "out of range"},
		{"iops negative", awsConfig("ok", "    volumes:\n      - volume_type: io1\n        iops: -100\n"), ":10:15: cluster.aws.volumes[0].iops", "negative"},
		{"throughput negative", awsConfig("ok", "    volumes:\n      - volume_type: gp3\n        throughput: -1\n"), ":10:21: cluster.aws.volumes[0].throughput", "negative"},
		{"redundancy 0", "cluster:\n  name: ok\n  search_path: [t]\n  aws:\n    asg:\n      subnets: [subnet-1]\n      redundancy: 0\n", ":7:19: cluster.aws.asg.redundancy", "cluster down"},
		{"instance type", awsConfig("ok", "    instance_type: T2 Medium\n"), ":8:20: cluster.aws.instance_type", "not an EC2 instance type"},
		{"aws loopback ip", strings.Replace(awsConfig("ok", ""), "10.0.0.11", "127.0.0.1", 1), ":10:13: cluster.aws.nodes[0].ip", "cannot be a private IP"},
		{"aws broadcast ip", strings.Replace(awsConfig("ok", ""), "10.0.0.11", "255.255.255.255", 1), ":10:13: cluster.aws.nodes[0].ip", "cannot be a private IP"},
		{"aws tag aws prefix", awsConfig("ok", "    tags:\n      aws:owner: me\n"), ":9:18: cluster.aws.tags.aws:owner", "reserved by AWS"},
		{"aws tag value long", awsConfig("ok", "    tags:\n      owner: "+strings.Repeat("v", 257)+"\n"), ":9:14: cluster.aws.tags.owner", "at most 256"},
		{"env name with =", localConfig("ok", "  environment:\n    'A=B': x\n", ""), ":5:12: cluster.environment.A=B", "environment variable name"},
		{"log group", awsConfig("ok", "")[:0] + "cluster:\n  name: ok\n  search_path: [t]\n  logging:\n    driver: awslogs\n    meta:\n      group: 'my group!'\n  local: {nodes: [{id: 1, ip: 127.0.0.11}]}\n", ":7:14: cluster.logging.meta.group", "not a CloudWatch Logs group name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.src)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *config.Error, got %v\n%s", err, tc.src)
			}
			got := err.Error()
			if !strings.Contains(got, tc.where) || !strings.Contains(got, tc.msg) {
				t.Errorf("error does not name %q with %q:\n%s", tc.where, tc.msg, got)
			}
		})
	}
}

// Values that stay accepted: what the original took and a working project
// may have (some with a warning).
func TestValidationAccepts(t *testing.T) {
	cases := []struct {
		name, src, warning string
	}{
		{"plain name", localConfig("relA7.x_y-1", "", ""), ""},
		{"numeric name", localConfig("123", "", ""), ""},
		{"name trailing space stripped", localConfig("subtree ", "", ""), ""},
		{"name at the bound", localConfig(strings.Repeat("n", 254), "", ""), ""},
		{"IAM name at 64", awsConfig(strings.Repeat("n", 64), "    instance_policy: '{}'\n"), ""},
		{"integer node id", localConfig("ok", "", "      - id: 0\n        ip: 127.0.0.11\n"), ""},
		{"size bounds", localConfig("ok", "", "") + "    volumes:\n      - size: 1\n      - size: 64T\n      - size: 65536G\n      - size: 1500M\n", ""},
		{"size under 1G", localConfig("ok", "", "") + "    volumes:\n      - size: 900M\n", "rounded up to 1 GB"},
		{"health bounds", localConfig("ok", "  health:\n    port: 65535\n    timeout: 86400\n", ""), ""},
		{"iops zero", awsConfig("ok", "    volumes:\n      - iops: 0\n"), ""},
		{"asg with empty nodes", "cluster:\n  name: ok\n  search_path: [t]\n  aws:\n    asg:\n      subnets: [subnet-1]\n    nodes: []\n", ""},
		{"no nodes key", "cluster:\n  name: ok\n  search_path: [t]\n  local:\n    image: x\n", "cluster.local.nodes: has no `nodes:`"},
		{"nodes empty", "cluster:\n  name: ok\n  search_path: [t]\n  local:\n    nodes: []\n", "cloud-compose.yml:5:12: cluster.local.nodes: is an empty list"},
		{"instance type empty is the default", awsConfig("ok", "    instance_type: ''\n"), ""},
		{"reserved tag", awsConfig("ok", "    tags:\n      Name: mine\n"), "set by the tool; this value is ignored"},
		{"no keypair (build works; up checks it)", strings.Replace(awsConfig("ok", ""), "    keypair: k\n", "", 1), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.src)
			if err != nil {
				t.Fatalf("%v\n%s", err, tc.src)
			}
			var ws []string
			for _, w := range c.Warnings {
				ws = append(ws, w.String())
			}
			all := strings.Join(ws, "\n")
			if tc.warning == "" && all != "" {
				t.Errorf("unexpected warnings:\n%s", all)
			}
			if tc.warning != "" && !strings.Contains(all, tc.warning) {
				t.Errorf("want a warning with %q, got:\n%s", tc.warning, all)
			}
		})
	}
}

func TestSizeGBNoOverflow(t *testing.T) {
	for _, s := range []string{"18446744073709552T", "9223372036854775807G", "3000000T"} {
		if gb, _ := SizeGB(s); gb != 0 {
			t.Errorf("SizeGB(%q) = %d, want 0 (not a size that fits)", s, gb)
		}
	}
	if gb, _ := SizeGB("2T"); gb != 2000 {
		t.Errorf("SizeGB(2T) = %d", gb)
	}
}

// What only launching needs: accepted by every command, refused by up.
func TestCheckUp(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"nodes empty", "cluster:\n  name: ok\n  search_path: [t]\n  local:\n    nodes: []\n", "cloud-compose.yml:5:12: cluster.local.nodes: is an empty list"},
		{"no nodes key", "cluster:\n  name: ok\n  search_path: [t]\n  aws:\n    ami: ami-1\n    keypair: k\n", "cloud-compose.yml:5:5: cluster.aws.nodes: has no `nodes:`, so `up` launches nothing; list the nodes under it, each with an id and an ip (or configure aws.asg)"},
		{"no keypair", strings.Replace(awsConfig("ok", ""), "    keypair: k\n", "", 1), "cloud-compose.yml:5:5: cluster.aws.keypair: is required to launch instances"},
		{"empty keypair", strings.Replace(awsConfig("ok", ""), "keypair: k", "keypair: ''", 1), "cloud-compose.yml:6:14: cluster.aws.keypair: is required"},
		{"fine", awsConfig("ok", ""), ""},
		{"asg without nodes", "cluster:\n  name: ok\n  search_path: [t]\n  aws:\n    ami: ami-1\n    security_groups: sg-1\n    keypair: k\n    asg:\n      subnets: [subnet-1]\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckUp()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a *config.Error with %q, got %v", tc.want, err)
			}
		})
	}
}
