package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const awsGroups = `cluster:
  name: shop
  search_path: [templates]
  groups:
    web:
      count: 3
      min_per_zone: 1
      instance_type: t3.small
      subnets: [subnet-a, subnet-b]
      zones:
        us-east-1a: {}
        us-east-1b: {instance_type: t3.medium, tags: {rack: b}}
      tags: {tier: web}
    worker:
      count: 2
      hardware: {min_cores: 2, min_ram: 4G}
      subnets: [subnet-a]
  aws:
    ami: ami-1
    keypair: k
    security_groups: sg-1
    nodes:
      - {id: db, ip: 10.0.0.11, subnet: subnet-a}
`

// Groups expand into members after the static nodes: ids <group>-<n>,
// round robin over the subnets and zones, a zone's overlay applied.
func TestGroupMembers(t *testing.T) {
	c, err := load(t, awsGroups)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ ID, Group, Subnet, Zone, Type, Tags string }
	var got []row
	for _, n := range c.Nodes() {
		var tags []string
		for _, kv := range n.Tags {
			tags = append(tags, kv.Key+"="+kv.Value)
		}
		hw := ""
		if n.Hardware != nil {
			hw = n.Hardware.String()
		}
		got = append(got, row{n.ID, n.Group, n.Subnet, n.Zone, n.InstanceType + hw, strings.Join(tags, ",")})
	}
	want := []row{
		{"db", "", "subnet-a", "", "", ""},
		{"web-0", "web", "subnet-a", "us-east-1a", "t3.small", "tier=web"},
		{"web-1", "web", "subnet-b", "us-east-1b", "t3.medium", "tier=web,rack=b"},
		{"web-2", "web", "subnet-a", "us-east-1a", "t3.small", "tier=web"},
		{"worker-0", "worker", "subnet-a", "", "≥2 vCPUs, ≥4 GiB, x86_64", ""},
		{"worker-1", "worker", "subnet-a", "", "≥2 vCPUs, ≥4 GiB, x86_64", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	// converge's recorded members win over count
	c.SetGroupMembers(map[string][]string{"web": {"web-4", "web-1"}})
	var ids []string
	for _, n := range c.Nodes() {
		ids = append(ids, n.ID)
	}
	if strings.Join(ids, " ") != "db web-1 web-4 worker-0 worker-1" {
		t.Errorf("with recorded members: %v", ids)
	}
	web, _ := c.Group("web")
	if web.Minimum() != 2 || web.Slots() != 2 {
		t.Errorf("web: minimum %d slots %d", web.Minimum(), web.Slots())
	}
	if i, ok := web.MemberIndex("web-12"); !ok || i != 12 {
		t.Errorf("MemberIndex(web-12) = %d %v", i, ok)
	}
	for _, bad := range []string{"web-", "web-01", "web--1", "worker-1", "web-x"} {
		if _, ok := web.MemberIndex(bad); ok {
			t.Errorf("MemberIndex(%q) ok", bad)
		}
	}
}

// Bad groups: each problem at its file:line and key, exit 2 material.
func TestGroupErrors(t *testing.T) {
	local := func(groups, localExtra string) string {
		return "cluster:\n  name: shop\n  search_path: [templates]\n  groups:\n" + groups +
			"  local:\n" + localExtra + "    nodes:\n      - {id: db, ip: 127.0.0.11}\n"
	}
	for _, c := range []struct {
		name, src, want string
	}{
		{"count below the minimum", local("    web: {count: 1, min_per_zone: 1, zones: [a, b]}\n", "    network: 127.0.5.0/24\n"),
			"cloud-compose.yml:5:18: cluster.groups.web.count: 1 is below the group's minimum 2 (min_per_zone 1 × 2 zones)"},
		{"no count", local("    web: {zones: [a]}\n", "    network: 127.0.5.0/24\n"), "cloud-compose.yml:5:10: cluster.groups.web: missing required key `count`"},
		{"negative count", local("    web: {count: -1}\n", "    network: 127.0.5.0/24\n"), "cluster.groups.web.count:"},
		{"bad name", local("    'web 1': {count: 1}\n", "    network: 127.0.5.0/24\n"), `"web 1" is not a group name`},
		{"type and hardware", local("    web: {count: 1, instance_type: t3.small, hardware: {min_cores: 2}}\n", "    network: 127.0.5.0/24\n"),
			"cluster.groups.web.hardware: and instance_type exclude each other"},
		{"bad min_ram", local("    web:\n      count: 1\n      hardware: {min_ram: 4X}\n", "    network: 127.0.5.0/24\n"),
			`cloud-compose.yml:7:27: cluster.groups.web.hardware.min_ram: "4X" is not a size: use 4G, 512M, 4GiB`},
		{"bad arch", local("    web:\n      count: 1\n      hardware: {arch: sparc}\n", "    network: 127.0.5.0/24\n"),
			`cluster.groups.web.hardware.arch: "sparc" is not an architecture`},
		{"local without network", local("    web: {count: 1}\n", ""), "cluster.local: needs `network:` for its node groups"},
		{"network outside loopback", local("    web: {count: 1}\n", "    network: 10.0.5.0/24\n"), "cluster.local.network: 10.0.5.0/24 is outside 127.0.0.0/8"},
		{"network too big", local("    web: {count: 1}\n", "    network: 127.0.0.0/8\n"), "use a /16 to /29"},
		{"network host bits", local("    web: {count: 1}\n", "    network: 127.0.5.7/24\n"), "has host bits set: write 127.0.5.0/24"},
		{"subnets on local", local("    web: {count: 1, subnets: [subnet-a]}\n", "    network: 127.0.5.0/24\n"), "cluster.groups.web.subnets: are EC2 subnets"},
		{"member id clash", strings.Replace(local("    db: {count: 1}\n", "    network: 127.0.5.0/24\n"), "id: db,", "id: db-0,", 1), "member id db-0 is also a node's id"},
		{"zones not a list", local("    web: {count: 1, zones: a}\n", "    network: 127.0.5.0/24\n"), "cluster.groups.web.zones: must be a list of zone names or a mapping"},
		{"aws without subnets", strings.Replace(awsGroups, "      subnets: [subnet-a]\n", "", 1), "cluster.groups.worker: needs `subnets:` on aws"},
		{"aws zones mismatch", strings.Replace(awsGroups, "subnets: [subnet-a, subnet-b]", "subnets: [subnet-a]", 1), "names 2 zones for 1 subnets"},
		{"aws hardware and type", strings.Replace(awsGroups, "    keypair: k\n", "    keypair: k\n    instance_type: t3.small\n    hardware: {min_cores: 2}\n", 1), "cluster.aws.hardware: and instance_type exclude each other"},
		{"groups in ASG mode", strings.Replace(awsGroups, "    nodes:\n      - {id: db, ip: 10.0.0.11, subnet: subnet-a}\n", "    asg: {subnets: [subnet-a]}\n", 1), "are for static mode"},
		{"groups not a mapping", local("    - web\n", "    network: 127.0.5.0/24\n"), "cluster.groups: must be a mapping of group names to groups"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.src)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %q", err, c.want)
			}
		})
	}
	// a valid local group
	c, err := load(t, local("    web: {count: 2, zones: [a, b], min_per_zone: 1}\n", "    network: 127.0.5.0/24\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Local.Network != "127.0.5.0/24" || len(c.Nodes()) != 3 || c.Nodes()[2].Zone != "b" || c.Nodes()[2].IP != "" {
		t.Errorf("local group: %+v %+v", c.Local, c.Nodes())
	}
}
