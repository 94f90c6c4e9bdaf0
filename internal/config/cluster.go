package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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
	Name        string
	SearchPath  []string
	Provider    string // "aws", "local", or "" when the config names none
	Environment []KeyValue
	Logging     Logging
	Health      *Health
	AWS         *AWS
	Local       *Local

	// Data is the whole `cluster:` mapping, for templates.
	Data *Mapping
	// File is the config file, for messages.
	File string
	// Warnings are problems that do not stop the command.
	Warnings []Problem

	node *yaml.Node
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
}

// AWS is `cluster.aws`.
type AWS struct {
	AMI                 string
	AMIName             string
	KeyPair             string
	SecurityGroups      []string
	InstanceType        string
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
}

// Node is one static node.
type Node struct {
	ID     string
	IP     string
	Subnet string
	EIP    string
	Index  int // position in the nodes list
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

// LoadCluster validates the `cluster:` section of doc against every key the
// tool reads and returns its typed view. All problems come in one *Error.
func LoadCluster(doc *Document) (*Cluster, error) {
	p := &problems{file: doc.Path}
	n, data, ok := doc.Section("cluster")
	if !ok {
		return nil, &Error{Problems: []Problem{{File: doc.Path, Line: doc.Root.Line, Column: doc.Root.Column,
			Msg: "missing required top-level key `cluster`"}}}
	}
	clusterSpec.validate(n, "cluster", p)
	if err := p.err(); err != nil {
		return nil, err
	}
	c := &Cluster{Data: data, File: doc.Path, node: n}
	c.Name = str(data, "name")
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
		c.Health = &Health{Port: integer(hm, "port", 0), Path: str(hm, "path"), Timeout: integer(hm, "timeout", 0)}
		if c.Health.Path != "" && !strings.HasPrefix(c.Health.Path, "/") {
			c.problem(p, []string{"health", "path"}, "must start with / (like /health)")
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
		}
	}
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
	c.Warnings = p.warnings
	return c, p.err()
}

func loadAWS(am *Mapping) *AWS {
	a := &AWS{
		AMI:                 str(am, "ami"),
		AMIName:             str(am, "ami_name"),
		KeyPair:             str(am, "keypair"),
		InstanceType:        strDefault(am, "instance_type", DefaultInstanceType),
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
	switch sg := get(am, "security_groups").(type) {
	case string:
		for _, s := range strings.Split(sg, ",") {
			if s = strings.TrimSpace(s); s != "" {
				a.SecurityGroups = append(a.SecurityGroups, s)
			}
		}
	case []any:
		for _, s := range sg {
			a.SecurityGroups = append(a.SecurityGroups, PyStr(s))
		}
	}
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

// checkNodes reports duplicate node ids and IPs within a provider section.
func (c *Cluster) checkNodes(p *problems) {
	check := func(section string, ns []Node) {
		ids, ips := map[string]int{}, map[string]int{}
		for _, n := range ns {
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
	if c.AWS != nil {
		check("aws", c.AWS.Nodes)
	}
	if c.Local != nil {
		check("local", c.Local.Nodes)
	}
}

// Problem returns a problem located at the key path under `cluster:`
// (e.g. "aws", "nodes", "0", "ip"), falling back to the nearest parent that
// exists. Providers use it to report launch-time config problems.
func (c *Cluster) Problem(path []string, format string, args ...any) Problem {
	n := c.node
	key := "cluster"
	for _, part := range path {
		var next *yaml.Node
		if i, err := strconv.Atoi(part); err == nil && n.Kind == yaml.SequenceNode {
			if i < len(n.Content) {
				next = n.Content[i]
			}
			key = fmt.Sprintf("%s[%d]", key, i)
		} else {
			next = mappingValue(n, part)
			key = joinKey(key, part)
		}
		if next == nil {
			break
		}
		n = next
	}
	return Problem{File: c.File, Line: n.Line, Column: n.Column, Key: key, Msg: fmt.Sprintf(format, args...)}
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
	if l := list(sec, "nodes"); n.Index < len(l) {
		if nm, ok := l[n.Index].(*Mapping); ok {
			if v, ok := nm.Get("id"); ok {
				return v
			}
		}
	}
	return n.ID
}
