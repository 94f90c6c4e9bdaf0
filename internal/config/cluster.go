package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cloud-compose/cloud-compose-go/internal/hardware"
)

// Defaults of the keys the tool reads; the same as the Python original's.
const (
	DefaultInstanceType  = "t2.medium"
	DefaultVolumeSize    = "10G"
	DefaultVolumeType    = "gp2"
	DefaultIOPS          = 100
	DefaultLogRetention  = 30
	DefaultASGRedundancy = 1
)

// Cluster is the typed view of the `cluster:` section.
type Cluster struct {
	Name       string
	SearchPath []string
	Provider   string // "aws", "local", or "" when the config names none
	// State is where the coordinator keeps locks, the journal and
	// generations (cluster.state): "" for the project's .cloud-compose/.
	State       string
	Environment []KeyValue
	Logging     Logging
	Health      *Health
	// Rollout is `cluster.rollout`, every default filled in.
	Rollout Rollout
	// LoadBalancer is `cluster.load_balancer`, nil without one.
	LoadBalancer *LoadBalancer
	AWS          *AWS
	Local        *Local

	// Data is the whole `cluster:` mapping, for templates.
	Data *Mapping
	// File is the config file, for messages.
	File string
	// Env is the environment selected when the config was loaded
	// (Document.Env; -e or CLOUD_COMPOSE_ENV), "" for none. It is part of
	// the cluster's identity: instance names, tags, the lock key.
	Env string
	// Warnings are problems that do not stop the command.
	Warnings []Problem

	node *yaml.Node
	doc  *Document
	// groups are `cluster.groups` by name; members what converge
	// recorded (SetGroupMembers).
	groups  map[string]*Group
	members map[string][]string
}

// KeyValue is one entry of an ordered string mapping.
type KeyValue struct{ Key, Value string }

// Logging is `cluster.logging`.
type Logging struct {
	Driver    string
	Group     string
	Retention int
}

// Health is `cluster.health`: how `up` knows a new node serves.
type Health struct {
	Port    int
	Path    string // HTTP path; empty for a TCP check
	Timeout int    // seconds; 0 for the default
	// Command is `health.command`: run on this machine (sh -c, in the
	// project directory) with NODE_IP, NODE_ID and CLUSTER_NAME in its
	// environment; exit 0 = healthy. With a port too, both must pass.
	Command string
}

// Rollout is `cluster.rollout`: how `cluster rollout` replaces nodes.
type Rollout struct {
	MaxUnavailable int // nodes replaced at once; DefaultMaxUnavailable
	// MinHealthy is how many nodes must stay healthy; 0 means a majority
	// of the configured nodes (len/2 + 1).
	MinHealthy      int
	HealthyDeadline time.Duration // a new node must pass health by then
	MinHealthyTime  time.Duration // and then stay healthy this long
	AutoRollback    bool
	// Data is how a node's data reaches its replacement: RolloutData*;
	// "" is the provider's default (aws: snapshot when the node has data
	// volumes; local: keep).
	Data         string
	OrderCommand string // prints node ids in replacement order
	BeforeNode   string // hooks.before_node: a command; non-zero stops the rollout
	AfterNode    string // hooks.after_node
}

// LoadBalancer is `cluster.load_balancer`: where traffic reaches the
// nodes. Local: a proxy on Listen; aws: ELBv2 target groups for static
// nodes. Nodes are registered once healthy and drained before they go.
type LoadBalancer struct {
	Listen       string        // local: the proxy's IP:PORT
	TargetPort   int           // the nodes' port; default health.port
	Drain        time.Duration // how long in-flight requests get; DefaultDrain
	TargetGroups []string      // aws: ELBv2 target group ARNs
}

// DefaultDrain is load_balancer.drain's default.
const DefaultDrain = 10 * time.Second

// Rollout defaults (docs/configuration.md, "rollout").
const (
	DefaultMaxUnavailable  = 1
	DefaultHealthyDeadline = 120 * time.Second
	DefaultMinHealthyTime  = 5 * time.Second
)

// Values of rollout.data.
const (
	RolloutDataSnapshot = "snapshot" // aws, local: a fresh snapshot, restored by the replacement
	RolloutDataKeep     = "keep"     // local: the kept volume directories move to the replacement
	RolloutDataNone     = "none"     // nothing: the replacement starts with what its spec says
)

// AWS is `cluster.aws`.
type AWS struct {
	AMI            string
	AMIName        string
	KeyPair        string
	SecurityGroups []string
	InstanceType   string
	// Hardware is `aws.hardware`, what the nodes need instead of an
	// instance_type (the provider resolves it to one); nil without.
	Hardware            *hardware.Hardware
	TerminateProtection bool
	DetailedMonitoring  bool
	Monitoring          bool
	EBSOptimized        bool
	SourceDestCheck     bool
	Tags                []KeyValue
	InstancePolicy      string
	Nodes               []Node
	ASG                 *ASG
	Volumes             []Volume
}

// ASG is `cluster.aws.asg`.
type ASG struct {
	Subnets      []string
	ELBs         []string
	TargetGroups []string
	Redundancy   int
}

// Local is `cluster.local`.
type Local struct {
	Image               string
	Volumes             []Volume
	Nodes               []Node
	Tags                []KeyValue
	TerminateProtection bool
	// Network is `local.network`, the loopback range node-group members
	// get their IPs from (recorded per node in the local store).
	Network string
}

// Node is one static node.
type Node struct {
	ID     string
	IP     string
	Subnet string
	EIP    string
	Index  int // position in the nodes list; -1 for a group's member

	// A node group's member (Group != ""): its zone, and what the group
	// (or its zone's overlay) sets instead of the provider section's.
	Group        string
	Zone         string
	InstanceType string
	Hardware     *hardware.Hardware
	Tags         []KeyValue
}

// Path is where the node is configured, for messages: [provider nodes i]
// or [groups NAME].
func (n Node) Path(provider string) []string {
	if n.Group != "" {
		return []string{"groups", n.Group}
	}
	return []string{provider, "nodes", strconv.Itoa(n.Index)}
}

// Volume is one entry of `volumes`.
type Volume struct {
	Name                string
	Block               string
	Size                string
	SizeGB              int
	Ephemeral           bool
	Type                string
	IOPS                int
	Throughput          int
	DeleteOnTermination bool
	Snapshot            string
	FileSystem          string
	Mount               string
	Index               int
}

// loadSection finds the required top-level section name and checks it
// against s: the problems found (their warnings kept for the caller), the
// section's node and data. A missing section is an error saying so, with
// why (a sentence after the key, "" for none).
func loadSection(doc *Document, name string, s *spec, why string) (*problems, *yaml.Node, *Mapping, error) {
	p := problemsFor(doc)
	n, data, ok := doc.Section(name)
	if !ok {
		return nil, nil, nil, &Error{Problems: []Problem{{File: doc.Path, Line: doc.Root.Line, Column: doc.Root.Column,
			Msg: "missing required top-level key `" + name + "`" + why}}}
	}
	s.validate(n, name, p)
	if err := p.err(); err != nil {
		return nil, nil, nil, err
	}
	return p, n, data, nil
}

// LoadCluster validates the `cluster:` section of doc against every key the
// tool reads and returns its typed view. All problems come in one *Error.
func LoadCluster(doc *Document) (*Cluster, error) {
	p, n, data, err := loadSection(doc, "cluster", clusterSpec, "")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Data: data, File: doc.Path, Env: doc.Env, node: n, doc: doc}
	c.Name = str(data, "name")
	c.State = str(data, "state")
	if u, err := url.Parse(c.State); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			KnownSecrets.Add(pw) // never printed
		}
	}
	for _, v := range list(data, "search_path") {
		c.SearchPath = append(c.SearchPath, PyStr(v))
	}
	c.Environment = kvs(data, "environment")
	if lm := mapping(data, "logging"); lm != nil {
		c.Logging.Driver = str(lm, "driver")
		meta := mapping(lm, "meta")
		c.Logging.Group = str(meta, "group")
		c.Logging.Retention = integer(meta, "retention", DefaultLogRetention)
	}
	if hm := mapping(data, "health"); hm != nil {
		c.Health = &Health{Port: integer(hm, "port", 0), Path: str(hm, "path"), Timeout: integer(hm, "timeout", 0), Command: str(hm, "command")}
		if c.Health.Path != "" && !strings.HasPrefix(c.Health.Path, "/") {
			c.problem(p, []string{"health", "path"}, "must start with / (like /health)")
		}
	}
	c.Rollout = loadRollout(mapping(data, "rollout"), c.Health)
	if lm := mapping(data, "load_balancer"); lm != nil {
		c.LoadBalancer = &LoadBalancer{Listen: str(lm, "listen"), TargetPort: integer(lm, "target_port", 0), Drain: DefaultDrain}
		if c.Health != nil && c.LoadBalancer.TargetPort == 0 {
			c.LoadBalancer.TargetPort = c.Health.Port
		}
		if d, ok := durationOf(get(lm, "drain")); ok {
			c.LoadBalancer.Drain = d
		}
		for _, v := range list(lm, "target_groups") {
			c.LoadBalancer.TargetGroups = append(c.LoadBalancer.TargetGroups, PyStr(v))
		}
	}
	if am := mapping(data, "aws"); am != nil {
		c.AWS = loadAWS(am)
	}
	if lm := mapping(data, "local"); lm != nil {
		c.Local = &Local{
			Image:               str(lm, "image"),
			Volumes:             volumes(lm),
			Nodes:               nodes(lm),
			Tags:                kvs(lm, "tags"),
			TerminateProtection: boolean(lm, "terminate_protection", true),
			Network:             str(lm, "network"),
		}
	}
	c.groups = loadGroups(mapping(data, "groups"))
	c.Provider = str(data, "provider")
	if c.Provider == "" {
		switch {
		case c.AWS != nil:
			c.Provider = "aws"
		case c.Local != nil:
			c.Provider = "local"
		}
	}
	switch {
	case c.Provider == "aws" && c.AWS == nil:
		c.problem(p, []string{"provider"}, "is aws but there is no `aws:` section")
	case c.Provider == "local" && c.Local == nil && str(data, "provider") != "":
		// provider: local with no local section: every default applies
		c.Local = &Local{TerminateProtection: true}
	}
	c.checkNodes(p)
	c.checkNameLength(p)
	c.checkValues(p)
	c.checkProviders(p)
	c.checkRollout(p)
	c.checkLoadBalancer(p)
	c.checkGroupsFit(p)
	c.Warnings = p.warnings
	return c, p.err()
}

// loadRollout reads `cluster.rollout` (rm may be nil) over its defaults:
// a healthy_deadline left out is health.timeout when that is set.
func loadRollout(rm *Mapping, h *Health) Rollout {
	r := Rollout{
		MaxUnavailable:  integer(rm, "max_unavailable", DefaultMaxUnavailable),
		MinHealthy:      integer(rm, "min_healthy", 0),
		HealthyDeadline: DefaultHealthyDeadline,
		MinHealthyTime:  DefaultMinHealthyTime,
		AutoRollback:    boolean(rm, "auto_rollback", true),
		Data:            str(rm, "data"),
		OrderCommand:    str(rm, "order_command"),
	}
	if h != nil && h.Timeout > 0 {
		r.HealthyDeadline = time.Duration(h.Timeout) * time.Second
	}
	if d, ok := durationOf(get(rm, "healthy_deadline")); ok {
		r.HealthyDeadline = d
	}
	if d, ok := durationOf(get(rm, "min_healthy_time")); ok {
		r.MinHealthyTime = d
	}
	hooks := mapping(rm, "hooks")
	r.BeforeNode, r.AfterNode = str(hooks, "before_node"), str(hooks, "after_node")
	return r
}

// checkRollout checks `cluster.rollout` against the rest of the cluster:
// min_healthy within the static nodes (a rollout that must keep more
// healthy than there are could never start; an auto scaling group's size
// is not counted here), and data: keep only where volumes can move (local).
// max_unavailable above the node count is clamped by the rollout.
func (c *Cluster) checkRollout(p *problems) {
	n := len(c.Nodes())
	if c.Provider == "aws" && c.AWS != nil && c.AWS.ASG != nil {
		n = 0
	}
	if n > 0 && c.Rollout.MinHealthy > n {
		nodes := "nodes"
		if n == 1 {
			nodes = "node"
		}
		c.problem(p, []string{"rollout", "min_healthy"}, "min_healthy %d is more than the cluster's %d %s: a rollout could never start", c.Rollout.MinHealthy, n, nodes)
	}
	if c.Provider == "aws" && c.Rollout.Data == RolloutDataKeep {
		c.problem(p, []string{"rollout", "data"}, "keep is for the local provider; on aws use snapshot or none")
	}
}

// checkLoadBalancer checks `cluster.load_balancer` against the provider:
// local needs listen and a port to send to; aws needs target groups.
func (c *Cluster) checkLoadBalancer(p *problems) {
	lb := c.LoadBalancer
	if lb == nil {
		return
	}
	switch c.Provider {
	case "local":
		if lb.Listen == "" {
			c.problem(p, []string{"load_balancer"}, "needs `listen:` on the local provider: the proxy's address, like 127.0.0.10:8080")
		}
		if len(lb.TargetGroups) > 0 {
			c.problem(p, []string{"load_balancer", "target_groups"}, "are ELBv2 target groups, for the aws provider; the local provider runs a proxy on `listen:`")
		}
	case "aws":
		if len(lb.TargetGroups) == 0 {
			c.problem(p, []string{"load_balancer"}, "needs `target_groups:` on aws: the ARNs of the ELBv2 target groups the nodes join")
		}
		if lb.Listen != "" {
			c.problem(p, []string{"load_balancer", "listen"}, "is the local provider's proxy address; on aws the load balancer is yours, the nodes join its `target_groups:`")
		}
		if c.AWS != nil && c.AWS.ASG != nil {
			c.problem(p, []string{"load_balancer"}, "is for static nodes; an auto scaling group joins its load balancers with `aws.asg.elbs` and `aws.asg.target_groups`")
		}
	}
	if lb.TargetPort == 0 {
		c.problem(p, []string{"load_balancer"}, "needs `target_port:` (the nodes' port), or a `health.port` to default to")
	}
}

// securityGroups reads `security_groups`: one comma-separated string (the
// original's format) or a list.
func securityGroups(m *Mapping) []string {
	var out []string
	switch sg := get(m, "security_groups").(type) {
	case string:
		for _, s := range strings.Split(sg, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []any:
		for _, s := range sg {
			out = append(out, PyStr(s))
		}
	}
	return out
}

func loadAWS(am *Mapping) *AWS {
	a := &AWS{
		AMI:                 str(am, "ami"),
		AMIName:             str(am, "ami_name"),
		KeyPair:             str(am, "keypair"),
		InstanceType:        strDefault(am, "instance_type", DefaultInstanceType),
		Hardware:            loadHardware(mapping(am, "hardware")),
		TerminateProtection: boolean(am, "terminate_protection", true),
		DetailedMonitoring:  boolean(am, "detailed_monitoring", false),
		Monitoring:          boolean(am, "monitoring", false),
		EBSOptimized:        boolean(am, "ebs_optimized", false),
		SourceDestCheck:     boolean(am, "source_dest_check", true),
		Tags:                kvs(am, "tags"),
		InstancePolicy:      str(am, "instance_policy"),
		Nodes:               nodes(am),
		Volumes:             volumes(am),
	}
	if a.Hardware != nil && str(am, "instance_type") == "" {
		a.InstanceType = "" // resolved from the hardware
	}
	a.SecurityGroups = securityGroups(am)
	if g := mapping(am, "asg"); g != nil {
		a.ASG = &ASG{Redundancy: integer(g, "redundancy", DefaultASGRedundancy)}
		for _, s := range list(g, "subnets") {
			a.ASG.Subnets = append(a.ASG.Subnets, PyStr(s))
		}
		for _, s := range list(g, "elbs") {
			a.ASG.ELBs = append(a.ASG.ELBs, PyStr(s))
		}
		for _, s := range list(g, "target_groups") {
			a.ASG.TargetGroups = append(a.ASG.TargetGroups, PyStr(s))
		}
	}
	return a
}

func nodes(m *Mapping) []Node {
	var out []Node
	for i, v := range list(m, "nodes") {
		nm, _ := v.(*Mapping)
		out = append(out, Node{ID: str(nm, "id"), IP: str(nm, "ip"), Subnet: str(nm, "subnet"), EIP: str(nm, "eip"), Index: i})
	}
	return out
}

func volumes(m *Mapping) []Volume {
	var out []Volume
	for i, v := range list(m, "volumes") {
		vm, _ := v.(*Mapping)
		vol := Volume{
			Name:                str(vm, "name"),
			Block:               str(vm, "block"),
			Size:                strDefault(vm, "size", DefaultVolumeSize),
			Ephemeral:           boolean(vm, "ephemeral", false),
			Type:                strDefault(vm, "volume_type", DefaultVolumeType),
			IOPS:                integer(vm, "iops", 0),
			Throughput:          integer(vm, "throughput", 0),
			DeleteOnTermination: boolean(vm, "delete_on_termination", true),
			Snapshot:            str(vm, "snapshot"),
			FileSystem:          str(vm, "file_system"),
			Mount:               str(vm, "mount"),
			Index:               i,
		}
		if n, ok := get(vm, "size").(int); ok {
			vol.Size, vol.SizeGB = strconv.Itoa(n)+"G", n
		} else {
			vol.SizeGB, _ = SizeGB(vol.Size)
		}
		out = append(out, vol)
	}
	return out
}

// checkNodes reports duplicate node ids and IPs within a provider section,
// an empty node list, and (aws) IPs no VPC subnet can hold.
func (c *Cluster) checkNodes(p *problems) {
	check := func(section string, ns []Node) {
		ids, ips := map[string]int{}, map[string]int{}
		for _, n := range ns {
			if section == "aws" && n.IP != "" {
				if a, err := netip.ParseAddr(n.IP); err == nil && a.Is4() && !vpcAddress(a) {
					c.problem(p, []string{section, "nodes", strconv.Itoa(n.Index), "ip"}, "%s cannot be a private IP in a VPC subnet (it is a loopback, link-local, multicast, broadcast or unspecified address); use an address inside the node's subnet", n.IP)
				}
			}
			if prev, ok := ids[n.ID]; ok {
				c.problem(p, []string{section, "nodes", strconv.Itoa(n.Index), "id"}, "node id %q is used twice (also by nodes[%d]); each node needs its own id", n.ID, prev)
			}
			ids[n.ID] = n.Index
			if n.IP == "" {
				continue
			}
			if prev, ok := ips[n.IP]; ok {
				c.problem(p, []string{section, "nodes", strconv.Itoa(n.Index), "ip"}, "IP %s is used twice (also by nodes[%d]); each node needs its own IP", n.IP, prev)
			}
			ips[n.IP] = n.Index
		}
	}
	if w, ok := c.noNodes(); ok {
		p.warnings = append(p.warnings, w)
	}
	if c.AWS != nil {
		check("aws", c.AWS.Nodes)
	}
	if c.Local != nil {
		check("local", c.Local.Nodes)
	}
}

// noNodes returns the problem of a cluster without nodes (and, on aws,
// without an auto scaling group): `up` would launch nothing. Loading
// warns (the original built such configs; `cluster build` needs no node);
// CheckUp makes it an error.
func (c *Cluster) noNodes() (Problem, bool) {
	if c.Provider == "" || len(c.Nodes()) > 0 || (c.Provider == "aws" && c.AWS != nil && c.AWS.ASG != nil) {
		return Problem{}, false
	}
	how := "list the nodes under it, each with an id and an ip"
	if c.Provider == "aws" {
		how += " (or configure aws.asg)"
	}
	if _, ok := get(mapping(c.Data, c.Provider), "nodes").([]any); ok {
		return c.Problem([]string{c.Provider, "nodes"}, "is an empty list: the cluster has no nodes, so `up` launches nothing; %s", how), true
	}
	w := c.Problem([]string{c.Provider}, "has no `nodes:`, so `up` launches nothing; %s", how)
	w.Key = "cluster." + c.Provider + ".nodes"
	return w, true
}

// CheckUp reports, as a *Error with file:line, what a command that
// launches instances, or plans to, needs beyond what every command needs:
// at least one node, and on aws an image (aws.ami), security groups, a key
// pair and a subnet per node, or asg.subnets (the original failed without
// them; its `build` did not need them). It makes no call: `up` and `plan`
// run it before any, and nothing may be created when it fails.
func (c *Cluster) CheckUp() error {
	var probs []Problem
	if w, ok := c.noNodes(); ok {
		probs = append(probs, w)
	}
	probs = append(probs, c.launchProblems()...)
	if len(probs) == 0 {
		return nil
	}
	sortProblems(probs)
	if c.doc != nil {
		c.doc.sortByFile(probs)
	}
	return &Error{Problems: probs}
}

// vpcAddress reports whether a could be an instance's private IP in a VPC.
func vpcAddress(a netip.Addr) bool {
	return !a.IsLoopback() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLinkLocalUnicast() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255}) && a.As4()[0] != 0
}

// Limits of the names and tags derived from the cluster's config
// (IAM, EC2 and Auto Scaling API references).
const (
	maxTagValue          = 256   // EC2 tag value
	maxTagKey            = 128   // EC2 tag key
	maxTagsPerResource   = 50    // EC2 tags on one resource
	toolTags             = 6     // ClusterName, Name and cloud-compose:{node,env,generation,spec}
	maxIAMRoleName       = 64    // IAM role (the instance profile and policy allow 128)
	maxLaunchTemplate    = 128   // EC2 launch template name (ASG mode)
	maxNameBytes         = 255   // a file name, an Auto Scaling group name
	maxInlinePolicyChars = 10240 // an IAM role's inline policies, without white space
	defaultRootDevice    = "/dev/xvda"
)

// checkNameLength bounds the cluster name by the names the tool derives
// from it: the instances' Name tag <name>-<node id> (and a snapshot's
// <name>-<node id><device>), the IAM role with aws.instance_policy, the
// launch template in ASG mode. The error names the limit that binds.
func (c *Cluster) checkNameLength(p *problems) {
	if c.Name == "" || !SafeNameRE.MatchString(c.Name) {
		return // reported by the schema
	}
	limit, why := maxNameBytes, "a cluster name is at most 255 characters (it names files and the Auto Scaling group)"
	bound := func(l int, reason string) {
		if l < limit {
			limit, why = l, reason
		}
	}
	longest := ""
	for _, n := range c.Nodes() {
		if len(n.ID) > len(longest) {
			longest = n.ID
		}
	}
	env := "" // with an environment, names are <name>-<env>-<node>
	if c.Env != "" {
		env = c.Env + "-"
	}
	if longest != "" {
		bound(maxTagValue-1-len(env)-len(longest), fmt.Sprintf("the instances' Name tag <name>-%s%s is at most %d characters", env, longest, maxTagValue))
	}
	if c.Provider == "aws" && c.AWS != nil {
		if longest != "" {
			dev := ""
			for _, v := range c.AWS.Volumes {
				b := v.Block
				if b == "" {
					b = defaultRootDevice
				}
				if !v.Ephemeral && len(b) > len(dev) {
					dev = b
				}
			}
			if dev != "" {
				bound(maxTagValue-1-len(longest)-len(dev), fmt.Sprintf("the snapshots' Name tag <name>-%s%s is at most %d characters", longest, dev, maxTagValue))
			}
		}
		if c.AWS.ASG != nil {
			bound(maxLaunchTemplate, fmt.Sprintf("the launch template named after the cluster (aws.asg) is at most %d characters", maxLaunchTemplate))
		}
		if c.AWS.InstancePolicy != "" {
			bound(maxIAMRoleName, fmt.Sprintf("the IAM role named after the cluster (aws.instance_policy) is at most %d characters", maxIAMRoleName))
		}
	}
	if len(c.Name) > limit {
		c.problem(p, []string{"name"}, "is %d characters long; at most %d fit here: %s; shorten the name", len(c.Name), limit, why)
	}
}

// logGroupRE is a CloudWatch Logs group name.
var logGroupRE = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]{1,512}$`)

// checkValues checks values against the limits of what they become:
// environment names, EC2 tags, the log group, the IAM policy.
func (c *Cluster) checkValues(p *problems) {
	for _, kv := range c.Environment {
		if kv.Key == "" || strings.ContainsAny(kv.Key, "=\x00") {
			c.problem(p, []string{"environment", kv.Key}, "%q cannot be an environment variable name (it is empty or has = in it)", kv.Key)
		}
	}
	if c.Logging.Driver == "awslogs" && c.Logging.Group != "" && !logGroupRE.MatchString(c.Logging.Group) {
		c.problem(p, []string{"logging", "meta", "group"}, "%q is not a CloudWatch Logs group name: 1 to 512 letters, digits and . - _ / #", c.Logging.Group)
	}
	if c.AWS == nil {
		return
	}
	if n := len(strings.Join(strings.Fields(c.AWS.InstancePolicy), "")); n > maxInlinePolicyChars {
		c.problem(p, []string{"aws", "instance_policy"}, "is %d characters (without white space); IAM takes at most %d in a role's inline policy", n, maxInlinePolicyChars)
	}
	user := 0
	for _, kv := range c.AWS.Tags {
		path := []string{"aws", "tags", kv.Key}
		switch {
		case kv.Key == "":
			c.problem(p, path, "a tag needs a key")
		case strings.HasPrefix(strings.ToLower(kv.Key), "aws:"):
			c.problem(p, path, "tag %q: keys starting with aws: are reserved by AWS; rename the tag", kv.Key)
		case len(kv.Key) > maxTagKey:
			c.problem(p, path, "tag key is %d characters; EC2 takes at most %d", len(kv.Key), maxTagKey)
		case kv.Key == "ClusterName" || kv.Key == "Name" || strings.HasPrefix(kv.Key, "cloud-compose:"):
			w := c.Problem(path, "tag %s is set by the tool; this value is ignored", kv.Key)
			p.warnings = append(p.warnings, w)
			continue
		case len(kv.Value) > maxTagValue:
			c.problem(p, path, "tag value is %d characters; EC2 takes at most %d", len(kv.Value), maxTagValue)
		}
		user++
	}
	if max := maxTagsPerResource - toolTags; user > max {
		c.problem(p, []string{"aws", "tags"}, "has %d tags; with the tool's own %d, EC2 takes at most %d on an instance: keep at most %d", user, toolTags, maxTagsPerResource, max)
	}
}

// Problem returns a problem about the key path under `cluster:` (e.g.
// "aws", "nodes", "0", "ip"): named in full, located at the key or, when it
// is missing, at the nearest parent that exists. Providers use it to
// report launch-time config problems.
func (c *Cluster) Problem(path []string, format string, args ...any) Problem {
	return sectionProblem(c.File, c.doc, c.node, "cluster", path, fmt.Sprintf(format, args...))
}

func (c *Cluster) problem(p *problems, path []string, format string, args ...any) {
	p.errs = append(p.errs, c.Problem(path, format, args...))
}

// Section returns the cluster-level mapping for a provider (`aws`, `local`).
func (c *Cluster) Section(name string) *Mapping { return mapping(c.Data, name) }

func get(m *Mapping, key string) any {
	if m == nil {
		return nil
	}
	v, _ := m.Get(key)
	return v
}

func str(m *Mapping, key string) string {
	v := get(m, key)
	if v == nil {
		return ""
	}
	return PyStr(v)
}

func strDefault(m *Mapping, key, def string) string {
	if s := str(m, key); s != "" {
		return s
	}
	return def
}

func boolean(m *Mapping, key string, def bool) bool {
	if b, ok := get(m, key).(bool); ok {
		return b
	}
	return def
}

func integer(m *Mapping, key string, def int) int {
	if i, ok := get(m, key).(int); ok {
		return i
	}
	return def
}

func list(m *Mapping, key string) []any {
	l, _ := get(m, key).([]any)
	return l
}

func mapping(m *Mapping, key string) *Mapping {
	mm, _ := get(m, key).(*Mapping)
	return mm
}

func kvs(m *Mapping, key string) []KeyValue {
	mm := mapping(m, key)
	if mm == nil {
		return nil
	}
	out := make([]KeyValue, 0, mm.Len())
	for _, k := range mm.Keys() {
		v, _ := mm.Get(k)
		out = append(out, KeyValue{Key: k, Value: PyStr(v)})
	}
	return out
}

// Nodes returns the static nodes of the cluster's provider section
// (`aws.nodes` or `local.nodes`).
func (c *Cluster) Nodes() []Node {
	static := c.staticNodes()
	members := c.groupNodes()
	if len(members) == 0 {
		return static
	}
	return append(append([]Node(nil), static...), members...)
}

// staticNodes are the nodes listed under the provider section.
func (c *Cluster) staticNodes() []Node {
	switch {
	case c.Provider == "aws" && c.AWS != nil:
		return c.AWS.Nodes
	case c.Provider == "local" && c.Local != nil:
		return c.Local.Nodes
	}
	return nil
}

// NodeIDValue returns a node's id as the config wrote it (an integer id
// stays an integer), for templates' `_node_id`.
func (c *Cluster) NodeIDValue(n Node) any {
	sec := mapping(c.Data, c.Provider)
	if l := list(sec, "nodes"); n.Index >= 0 && n.Index < len(l) {
		if nm, ok := l[n.Index].(*Mapping); ok {
			if v, ok := nm.Get("id"); ok {
				return v
			}
		}
	}
	return n.ID
}
