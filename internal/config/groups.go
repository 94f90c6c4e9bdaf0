package config

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cloud-compose/cloud-compose-go/internal/hardware"
)

// Node groups: `cluster.groups` — nodes without static IPs, counted
// rather than listed (Pallet's groups), spread over zones, converged to a
// count by `cluster converge GROUP=N`. Each member is a node like any
// other (its own spec; plan and rollout treat it so) with the id
// <group>-<n>.

// Group is one entry of `cluster.groups`.
type Group struct {
	Name string
	// Count is the config's count: the members when converge has recorded
	// none (Cluster.SetGroupMembers).
	Count      int
	MinPerZone int
	// InstanceType and Hardware size the members (at most one; neither:
	// the provider section's instance_type).
	InstanceType string
	Hardware     *hardware.Hardware
	// Subnets (aws) are where members go, round robin; Zones name the
	// zones, in the same order as Subnets on aws (subnets[i] lies in
	// zones[i]), free names on the local provider.
	Subnets []string
	Zones   []string
	// ZoneOverlays are `zones: {ZONE: {instance_type, hardware, tags}}`:
	// what members placed in ZONE get instead of the group's.
	ZoneOverlays map[string]ZoneOverlay
	Tags         []KeyValue
}

// ZoneOverlay is what a zone changes for the members placed in it.
type ZoneOverlay struct {
	InstanceType string
	Hardware     *hardware.Hardware
	Tags         []KeyValue
}

// Slots are the places members go round robin: one per subnet (aws) or
// zone, at least one.
func (g *Group) Slots() int {
	n := max(len(g.Subnets), len(g.Zones))
	return max(n, 1)
}

// Minimum is the fewest members the group may have: min_per_zone in
// each of its slots.
func (g *Group) Minimum() int { return g.MinPerZone * g.Slots() }

// MemberID is the id of member index i: <group>-<i>.
func (g *Group) MemberID(i int) string { return g.Name + "-" + strconv.Itoa(i) }

// MemberIndex is the index in a member id of g, ok false when id is not one.
func (g *Group) MemberIndex(id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, g.Name+"-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || strconv.Itoa(i) != rest {
		return 0, false
	}
	return i, true
}

// Member is member id of g as a node: placed in slot index % Slots().
func (g *Group) Member(id string) Node {
	i, _ := g.MemberIndex(id)
	slot := i % g.Slots()
	n := Node{ID: id, Group: g.Name, Index: -1, InstanceType: g.InstanceType, Hardware: g.Hardware, Tags: g.Tags}
	if slot < len(g.Subnets) {
		n.Subnet = g.Subnets[slot]
	}
	if slot < len(g.Zones) {
		n.Zone = g.Zones[slot]
		if o, ok := g.ZoneOverlays[n.Zone]; ok {
			if o.InstanceType != "" || o.Hardware != nil {
				n.InstanceType, n.Hardware = o.InstanceType, o.Hardware
			}
			n.Tags = mergeKVs(n.Tags, o.Tags)
		}
	}
	return n
}

// DefaultMembers are the members of a group converge has not set: the
// first Count ids.
func (g *Group) DefaultMembers() []string {
	out := make([]string, g.Count)
	for i := range out {
		out[i] = g.MemberID(i)
	}
	return out
}

func mergeKVs(base, over []KeyValue) []KeyValue {
	if len(over) == 0 {
		return base
	}
	out := make([]KeyValue, 0, len(base)+len(over))
	seen := map[string]int{}
	for _, kv := range base {
		seen[kv.Key] = len(out)
		out = append(out, kv)
	}
	for _, kv := range over {
		if i, ok := seen[kv.Key]; ok {
			out[i] = kv
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Groups returns the cluster's node groups in name order.
func (c *Cluster) Groups() []*Group {
	out := make([]*Group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Group returns the group called name.
func (c *Cluster) Group(name string) (*Group, bool) {
	g, ok := c.groups[name]
	return g, ok
}

// SetGroupMembers makes the members converge recorded (by group name) the
// groups' members, instead of their configured count; a group not in
// members keeps its count.
func (c *Cluster) SetGroupMembers(members map[string][]string) {
	c.members = members
}

// GroupMembers are the member ids of g: those recorded, else its count's.
func (c *Cluster) GroupMembers(g *Group) []string {
	if m, ok := c.members[g.Name]; ok {
		return m
	}
	return g.DefaultMembers()
}

// groupNodes are every group's members as nodes, groups in name order,
// members by index.
func (c *Cluster) groupNodes() []Node {
	var out []Node
	for _, g := range c.Groups() {
		ids := append([]string(nil), c.GroupMembers(g)...)
		sort.Slice(ids, func(i, j int) bool {
			a, _ := g.MemberIndex(ids[i])
			b, _ := g.MemberIndex(ids[j])
			return a < b
		})
		for _, id := range ids {
			out = append(out, g.Member(id))
		}
	}
	return out
}

// hardwareSpec is `hardware:` (in the provider section, a group or a zone
// overlay).
var hardwareSpec = &spec{kind: kMap, check: checkHardware, fields: map[string]*spec{
	"min_cores": {kind: kInt},
	"min_ram":   {kind: kString},
	"arch":      {kind: kString},
}}

// zoneOverlaySpec is one entry of a group's `zones:` mapping.
var zoneOverlaySpec = &spec{kind: kMap, fields: map[string]*spec{
	"instance_type": {kind: kString, check: checkInstanceType},
	"hardware":      hardwareSpec,
	"tags":          {kind: kScalarMap},
}}

// groupSpec is one entry of `cluster.groups`.
var groupSpec = &spec{kind: kMap, fields: map[string]*spec{
	"count":         {kind: kInt, required: true, check: checkNonNegative("count")},
	"min_per_zone":  {kind: kInt, check: checkNonNegative("min_per_zone")},
	"instance_type": {kind: kString, check: checkInstanceType},
	"hardware":      hardwareSpec,
	"subnets":       {kind: kList, elem: &spec{kind: kString}},
	"zones":         {kind: kAny, check: checkZones},
	"tags":          {kind: kScalarMap},
}}

// checkGroups checks `cluster.groups`: a mapping of group names to groups.
func checkGroups(n *yaml.Node, path string, p *problems) {
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "must be a mapping of group names to groups (like web: {count: 2}), not %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		if !SafeNameRE.MatchString(name) {
			p.add(k, path+"."+name, "%q is not a group name: use letters, digits, - and _ (member ids are <group>-<n>)", name)
			continue
		}
		groupSpec.validate(v, path+"."+name, p)
	}
}

// checkZones checks a group's `zones:`: a list of zone names, or a mapping
// of zone names to overlays.
func checkZones(n *yaml.Node, path string, p *problems) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, e := range n.Content {
			if e.Kind != yaml.ScalarNode || e.Value == "" {
				p.add(e, fmt.Sprintf("%s[%d]", path, i), "must be a zone name, like us-east-1a")
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			zoneOverlaySpec.validate(n.Content[i+1], path+"."+n.Content[i].Value, p)
		}
	default:
		p.add(n, path, "must be a list of zone names or a mapping of zone names to what changes there (instance_type, hardware, tags), not %s", kindName(n))
	}
}

// checkHardware checks `hardware:`'s values with the hardware package's
// parsers, each problem at its key.
func checkHardware(n *yaml.Node, path string, p *problems) {
	if v := mappingValue(n, "min_cores"); v != nil {
		if c, err := strconv.Atoi(v.Value); err == nil {
			if err := hardware.CheckCores(c); err != nil {
				p.add(v, path+".min_cores", "%v", err)
			}
		}
	}
	if v := mappingValue(n, "min_ram"); v != nil {
		if _, err := hardware.ParseRAM(v.Value); err != nil {
			p.add(v, path+".min_ram", "%v", err)
		}
	}
	if v := mappingValue(n, "arch"); v != nil {
		if _, err := hardware.ParseArch(v.Value); err != nil {
			p.add(v, path+".arch", "%v", err)
		}
	}
}

// loadHardware reads a validated `hardware:` mapping (nil: none).
func loadHardware(m *Mapping) *hardware.Hardware {
	if m == nil {
		return nil
	}
	ram := int64(0)
	if s := str(m, "min_ram"); s != "" {
		ram, _ = hardware.ParseRAM(s)
	}
	arch, _ := hardware.ParseArch(str(m, "arch"))
	return &hardware.Hardware{MinCores: integer(m, "min_cores", 0), MinRAMMiB: ram, Arch: arch}
}

// loadGroups reads a validated `cluster.groups`.
func loadGroups(gm *Mapping) map[string]*Group {
	if gm == nil {
		return nil
	}
	out := map[string]*Group{}
	for _, name := range gm.Keys() {
		m := mapping(gm, name)
		g := &Group{
			Name:         name,
			Count:        integer(m, "count", 0),
			MinPerZone:   integer(m, "min_per_zone", 0),
			InstanceType: str(m, "instance_type"),
			Hardware:     loadHardware(mapping(m, "hardware")),
			Tags:         kvs(m, "tags"),
		}
		for _, s := range list(m, "subnets") {
			g.Subnets = append(g.Subnets, PyStr(s))
		}
		switch z := get(m, "zones").(type) {
		case []any:
			for _, s := range z {
				g.Zones = append(g.Zones, PyStr(s))
			}
		case *Mapping:
			g.ZoneOverlays = map[string]ZoneOverlay{}
			for _, zone := range z.Keys() {
				g.Zones = append(g.Zones, zone)
				om := mapping(z, zone)
				g.ZoneOverlays[zone] = ZoneOverlay{InstanceType: str(om, "instance_type"), Hardware: loadHardware(mapping(om, "hardware")), Tags: kvs(om, "tags")}
			}
		}
		out[name] = g
	}
	return out
}

// checkGroupsFit checks the groups against the rest of the cluster: the
// provider's needs (aws: subnets, matching zones; local: a network to take
// IPs from), instance_type and hardware not both, a count no lower than
// min_per_zone in every zone, member ids no static node has, no ASG mode.
func (c *Cluster) checkGroupsFit(p *problems) {
	if c.AWS != nil && c.AWS.Hardware != nil && str(mapping(c.Data, "aws"), "instance_type") != "" {
		c.problem(p, []string{"aws", "hardware"}, "and instance_type exclude each other: say what the nodes need (hardware) or which type they run (instance_type)")
	}
	if len(c.groups) == 0 {
		return
	}
	static := map[string]bool{}
	for _, n := range c.staticNodes() {
		static[n.ID] = true
	}
	for _, g := range c.Groups() {
		path := []string{"groups", g.Name}
		at := func(key ...string) []string { return append(append([]string(nil), path...), key...) }
		if g.InstanceType != "" && g.Hardware != nil {
			c.problem(p, at("hardware"), "and instance_type exclude each other: say what the members need (hardware) or which type they run (instance_type)")
		}
		for zone, o := range g.ZoneOverlays {
			if o.InstanceType != "" && o.Hardware != nil {
				c.problem(p, at("zones", zone, "hardware"), "and instance_type exclude each other")
			}
		}
		if g.Count < g.Minimum() {
			c.problem(p, at("count"), "%d is below the group's minimum %d (min_per_zone %d × %d zones): raise count or lower min_per_zone", g.Count, g.Minimum(), g.MinPerZone, g.Slots())
		}
		for i := 0; i < g.Count; i++ {
			if static[g.MemberID(i)] {
				c.problem(p, at(), "member id %s is also a node's id under %s.nodes: rename the group or the node", g.MemberID(i), c.Provider)
				break
			}
		}
		switch c.Provider {
		case "aws":
			if c.AWS != nil && c.AWS.ASG != nil {
				c.problem(p, []string{"groups"}, "are for static mode: a cluster with aws.asg is one auto scaling group already")
				return
			}
			if len(g.Subnets) == 0 {
				c.problem(p, at(), "needs `subnets:` on aws: the subnets its members are spread over, round robin")
			}
			if len(g.Zones) > 0 && len(g.Zones) != len(g.Subnets) {
				c.problem(p, at("zones"), "names %d zones for %d subnets: on aws give one zone per subnet, in the same order (subnets[i] lies in zones[i]), or leave zones out", len(g.Zones), len(g.Subnets))
			}
		case "local":
			if len(g.Subnets) > 0 {
				c.problem(p, at("subnets"), "are EC2 subnets; the local provider spreads members over `zones:` (names) and takes their IPs from local.network")
			}
		}
	}
	if c.Provider == "local" && c.Local != nil && c.Local.Network == "" {
		c.problem(p, []string{"local"}, "needs `network:` for its node groups: a loopback range the members' IPs come from, like 127.0.5.0/24")
	}
}

// checkNetwork checks local.network: an IPv4 prefix inside 127.0.0.0/8,
// /16 to /29.
func checkNetwork(n *yaml.Node, path string, p *problems) {
	pfx, err := netip.ParsePrefix(n.Value)
	switch {
	case err != nil || !pfx.Addr().Is4():
		p.add(n, path, "%q is not an IPv4 network: write it as 127.X.Y.0/24", n.Value)
	case !IsLoopback(pfx.Addr().String()):
		p.add(n, path, "%s is outside 127.0.0.0/8: the local provider's node IPs are loopback addresses; use e.g. 127.0.5.0/24", n.Value)
	case pfx.Bits() < 16 || pfx.Bits() > 29:
		p.add(n, path, "%s: use a /16 to /29 (e.g. 127.0.5.0/24, 254 addresses)", n.Value)
	case pfx.Masked() != pfx:
		p.add(n, path, "%s has host bits set: write %s", n.Value, pfx.Masked())
	}
}
