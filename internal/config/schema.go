package config

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

type kind int

const (
	kAny       kind = iota
	kString         // any non-empty scalar, used as a string
	kInt            // an integer
	kBool           // a boolean (YAML 1.1: yes/no/on/off too)
	kSize           // a volume size: 10G, 900M, 1T, or a number of GiB
	kList           // a list of elem
	kMap            // a mapping with known fields
	kStrList        // a list of strings, or one comma-separated string
	kScalarMap      // a mapping of names to scalar values
	kIP             // an IPv4 address
	kJSON           // a string holding a JSON document
	kDuration       // a duration: 120s, 2m, 1m30s, or an integer number of seconds
)

// spec describes one key the tool itself reads.
type spec struct {
	kind     kind
	required bool
	fields   map[string]*spec // kMap
	open     bool             // kMap: other keys are expected (templates read them); no near-miss warnings
	elem     *spec            // kList
	enum     []string
	// check, when set, checks a value that has the right kind (a scalar
	// for kString, kInt and kDuration; for kMap, the mapping, after its
	// fields) and records what is wrong with it.
	check func(n *yaml.Node, path string, p *problems)
}

// SizeRE is the size syntax the original accepted: a number and a unit
// (M, G or T, either case).
var SizeRE = regexp.MustCompile(`^([0-9]+)([MmGgTt])$`)

// Bounds of the values the tool reads (see docs/configuration.md,
// "Validation rules").
const (
	// MaxVolumeGB is the largest volume size accepted: 64 TiB, the largest
	// EBS volume (gp3, io2). Larger sizes can only be typos or overflows.
	MaxVolumeGB = 65536
	// MaxHealthTimeout is the longest health.timeout, in seconds (a day).
	MaxHealthTimeout = 86400
	// MaxNodeIDLen bounds a node id: it goes into names and tags.
	MaxNodeIDLen = 64
	// MaxASGRedundancy bounds aws.asg.redundancy (instances per subnet).
	MaxASGRedundancy = 1000
	// MaxRolloutDuration bounds rollout.healthy_deadline and
	// rollout.min_healthy_time (a day).
	MaxRolloutDuration = 24 * time.Hour
)

// durationOf reads a duration as the config writes it: a Go duration
// (120s, 2m, 1m30s) or an integer number of seconds (a number, or a string
// of digits). ok is false for anything else and for a number of seconds
// too large to count.
func durationOf(v any) (d time.Duration, ok bool) {
	switch v := v.(type) {
	case int:
		if v > math.MaxInt64/int(time.Second) || v < math.MinInt64/int(time.Second) {
			return 0, false
		}
		return time.Duration(v) * time.Second, true
	case string:
		s := strings.TrimSpace(v)
		if digits(s) {
			n, err := strconv.Atoi(s)
			if err != nil {
				return 0, false
			}
			return durationOf(n)
		}
		d, err := time.ParseDuration(s)
		return d, err == nil
	}
	return 0, false
}

// digits reports whether s, without surrounding space, is a number of
// decimal digits.
func digits(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// intAtLeast checks that an integer is at least lo; what says what the
// number is, for the message.
func intAtLeast(lo int, what string) func(n *yaml.Node, path string, p *problems) {
	return func(n *yaml.Node, path string, p *problems) {
		if v, _ := scalarValue(n).(int); v < lo {
			p.add(n, path, "%d is out of range: %s is at least %d", v, what, lo)
		}
	}
}

// checkListen checks load_balancer.listen: IP:PORT (the proxy's address).
func checkListen(n *yaml.Node, path string, p *problems) {
	ap, err := netip.ParseAddrPort(n.Value)
	if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
		p.add(n, path, "%q is not an IPv4 address and port (like 127.0.0.10:8080)", n.Value)
	}
}

// checkDuration checks a duration against 0 (excluded when positive) to
// MaxRolloutDuration; what names the key, for the message.
func checkDuration(positive bool, what string) func(n *yaml.Node, path string, p *problems) {
	bound := what + " is 0 to 24h"
	if positive {
		bound = what + " is more than 0 and at most 24h"
	}
	return func(n *yaml.Node, path string, p *problems) {
		v := scalarValue(n)
		d, ok := durationOf(v)
		switch {
		case !ok && (yamlInt.MatchString(n.Value) || digits(n.Value)):
			p.add(n, path, "%s seconds is out of range: %s", n.Value, bound)
		case !ok:
			p.add(n, path, "%q is not a duration; write it like 120s, 2m or 1m30s", n.Value)
		case d < 0 || (positive && d == 0) || d > MaxRolloutDuration:
			p.add(n, path, "%s is out of range: %s", n.Value, bound)
		}
	}
}

// checkHealth checks that cluster.health has a port or a command: a
// health section says how to know a node serves.
func checkHealth(n *yaml.Node, path string, p *problems) {
	given := func(key string) bool {
		v := mappingValue(n, key)
		if v != nil && v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		return v != nil && !isNull(v) && !(v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) == "")
	}
	if !given("port") && !given("command") {
		// "missing required key `port`" first: what the message said before commands.
		p.add(n, path, "missing required key `port`: health needs a port (an HTTP or TCP check) or a command")
	}
}

// SafeNameRE is what a cluster name or a node id may contain: letters,
// digits, '-', '_' and '.'. Names reach EC2 filters, where '*' and '?' are
// wildcards, and file names, where '/' is a separator.
var SafeNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// intBetween checks that an integer is within lo..hi; what says what the
// number is, for the message.
func intBetween(lo, hi int, what string) func(n *yaml.Node, path string, p *problems) {
	return func(n *yaml.Node, path string, p *problems) {
		v, _ := scalarValue(n).(int)
		if v < lo || v > hi {
			p.add(n, path, "%d is out of range: %s is %d to %d", v, what, lo, hi)
		}
	}
}

// checkStateLocation checks cluster.state: file:PATH, postgres://…,
// postgresql://… or s3://bucket[/prefix].
func checkStateLocation(n *yaml.Node, path string, p *problems) {
	v := n.Value
	switch {
	case strings.HasPrefix(v, "file:") && len(v) > len("file:"):
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
	case strings.HasPrefix(v, "s3://") && len(v) > len("s3://"):
	default:
		p.add(n, path, "%q is not a state location: use file:PATH, postgres://user@host/db or s3://bucket/prefix", redactURL(v))
	}
}

// redactURL hides a password in a URL, for messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			return u.Redacted()
		}
	}
	return s
}

// checkSafeName checks a cluster name or node id: not empty, only letters,
// digits, '-', '_' and '.'.
func checkSafeName(what string) func(n *yaml.Node, path string, p *problems) {
	return func(n *yaml.Node, path string, p *problems) {
		s := PyStr(scalarValue(n))
		switch {
		case s == "":
			p.add(n, path, "is empty: %s needs a value (letters, digits, -, _ and .)", what)
		case !SafeNameRE.MatchString(s):
			p.add(n, path, "%q has characters %s cannot have (%s): use only letters, digits, -, _ and .", s, what, badChars(s))
		case what == "a node id" && len(s) > MaxNodeIDLen:
			p.add(n, path, "is %d characters long; a node id is at most %d (it is part of instance names and tags)", len(s), MaxNodeIDLen)
		}
	}
}

// badChars lists, quoted, the characters of s outside SafeNameRE.
func badChars(s string) string {
	var bad []string
	seen := map[rune]bool{}
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '-' || r == '_' || r == '.' || seen[r] {
			continue
		}
		seen[r] = true
		bad = append(bad, strconv.QuoteRune(r))
	}
	return strings.Join(bad, " ")
}

// checkNonNegative rejects a negative number: for keys where 0 means unset.
func checkNonNegative(what string) func(n *yaml.Node, path string, p *problems) {
	return func(n *yaml.Node, path string, p *problems) {
		if v, _ := scalarValue(n).(int); v < 0 {
			p.add(n, path, "%d is negative: %s cannot be; leave the key out for the default", v, what)
		}
	}
}

// instanceTypeRE is the form of every EC2 instance type: family.size
// (t3.micro, m7i-flex.large, u-6tb1.metal).
var instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)

func checkInstanceType(n *yaml.Node, path string, p *problems) {
	// empty means the default, as the tool has always read it
	if s := PyStr(scalarValue(n)); s != "" && !instanceTypeRE.MatchString(s) {
		p.add(n, path, "%q is not an EC2 instance type: write family.size in lower case, like t3.medium", s)
	}
}

func volumeSpec() *spec {
	return &spec{kind: kMap, fields: map[string]*spec{
		"name":                  {kind: kString},
		"block":                 {kind: kString},
		"size":                  {kind: kSize},
		"ephemeral":             {kind: kBool},
		"volume_type":           {kind: kString, enum: []string{"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}},
		"iops":                  {kind: kInt, check: checkNonNegative("iops")},
		"throughput":            {kind: kInt, check: checkNonNegative("throughput (MiB/s)")},
		"delete_on_termination": {kind: kBool},
		"snapshot":              {kind: kString},
		"file_system":           {kind: kString},
		"mount":                 {kind: kString},
		"meta":                  {kind: kMap, open: true, fields: map[string]*spec{}},
	}}
}

func nodeSpec() *spec {
	return &spec{kind: kMap, fields: map[string]*spec{
		"id":     {kind: kString, required: true, check: checkSafeName("a node id")},
		"ip":     {kind: kIP},
		"subnet": {kind: kString},
		"eip":    {kind: kString},
	}}
}

// clusterSpec is every key under `cluster:` that the tool reads. Keys that
// only templates read (username, dns, raid, secrets, ...) pass unchecked.
var clusterSpec = &spec{kind: kMap, required: true, fields: map[string]*spec{
	"name":        {kind: kString, required: true, check: checkSafeName("a cluster name")},
	"search_path": {kind: kList, required: true, elem: &spec{kind: kString}},
	"provider":    {kind: kString, enum: []string{"aws", "local"}},
	"environment": {kind: kScalarMap},
	"secrets":     {kind: kAny},
	"state":       {kind: kString, check: checkStateLocation},
	"health": {kind: kMap, check: checkHealth, fields: map[string]*spec{
		// port is required unless there is a command (checkHealth)
		"port":    {kind: kInt, check: intBetween(1, 65535, "a TCP port")},
		"path":    {kind: kString},
		"timeout": {kind: kInt, check: intBetween(1, MaxHealthTimeout, "the health timeout in seconds")},
		"command": {kind: kString},
	}},
	"rollout": {kind: kMap, fields: map[string]*spec{
		"max_unavailable":  {kind: kInt, check: intAtLeast(1, "max_unavailable (the nodes replaced at once)")},
		"min_healthy":      {kind: kInt, check: checkNonNegative("min_healthy")},
		"healthy_deadline": {kind: kDuration, check: checkDuration(true, "healthy_deadline")},
		"min_healthy_time": {kind: kDuration, check: checkDuration(false, "min_healthy_time")},
		"auto_rollback":    {kind: kBool},
		"data":             {kind: kString, enum: []string{RolloutDataSnapshot, RolloutDataKeep, RolloutDataNone}},
		"order_command":    {kind: kString},
		"hooks": {kind: kMap, fields: map[string]*spec{
			"before_node": {kind: kString},
			"after_node":  {kind: kString},
		}},
	}},
	"load_balancer": {kind: kMap, fields: map[string]*spec{
		"listen":        {kind: kString, check: checkListen},
		"target_port":   {kind: kInt, check: intBetween(1, 65535, "a TCP port")},
		"drain":         {kind: kDuration, check: checkDuration(false, "drain")},
		"target_groups": {kind: kList, elem: &spec{kind: kString}},
	}},
	"groups": {kind: kAny, check: checkGroups},
	"logging": {kind: kMap, open: true, fields: map[string]*spec{
		"driver": {kind: kString},
		"meta": {kind: kMap, open: true, fields: map[string]*spec{
			"group":     {kind: kString},
			"retention": {kind: kInt},
		}},
	}},
	"aws": {kind: kMap, fields: map[string]*spec{
		"ami":                  {kind: kString},
		"ami_name":             {kind: kString},
		"keypair":              {kind: kString},
		"security_groups":      {kind: kStrList},
		"instance_type":        {kind: kString, check: checkInstanceType},
		"hardware":             hardwareSpec,
		"terminate_protection": {kind: kBool},
		"detailed_monitoring":  {kind: kBool},
		"monitoring":           {kind: kBool},
		"ebs_optimized":        {kind: kBool},
		"tags":                 {kind: kScalarMap},
		"source_dest_check":    {kind: kBool},
		"instance_policy":      {kind: kJSON},
		"nodes":                {kind: kList, elem: nodeSpec()},
		"asg": {kind: kMap, fields: map[string]*spec{
			"subnets":       {kind: kList, required: true, elem: &spec{kind: kString}},
			"elbs":          {kind: kList, elem: &spec{kind: kString}},
			"target_groups": {kind: kList, elem: &spec{kind: kString}},
			"redundancy":    {kind: kInt, check: intBetween(1, MaxASGRedundancy, "the number of instances per subnet (for an empty group, run `cloud-compose cluster down`)")},
		}},
		"volumes": {kind: kList, elem: volumeSpec()},
		// read only by templates, known so near misses are caught
		"username": {kind: kAny},
		"dns":      {kind: kAny},
		"raid":     {kind: kAny},
	}},
	"local": {kind: kMap, fields: map[string]*spec{
		"image":                {kind: kString},
		"volumes":              {kind: kList, elem: volumeSpec()},
		"nodes":                {kind: kList, elem: nodeSpec()},
		"tags":                 {kind: kScalarMap},
		"terminate_protection": {kind: kBool},
		"network":              {kind: kString, check: checkNetwork},
	}},
}}

// validate checks node n against s, recording problems and warnings.
func (s *spec) validate(n *yaml.Node, path string, p *problems) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		if s.required {
			p.add(n, path, "is required but has no value")
		}
		return
	}
	switch s.kind {
	case kAny:
		if s.check != nil {
			s.check(n, path, p)
		}
	case kString, kIP, kJSON:
		if n.Kind != yaml.ScalarNode {
			p.add(n, path, "must be a string, not %s", kindName(n))
			return
		}
		if len(s.enum) > 0 && !contains(s.enum, n.Value) {
			p.add(n, path, "%q is not one of %s", n.Value, strings.Join(s.enum, ", "))
		}
		if s.kind == kIP {
			if a, err := netip.ParseAddr(n.Value); err != nil || !a.Is4() {
				p.add(n, path, "%q is not an IPv4 address (like 10.0.1.10)", n.Value)
			}
		}
		if s.kind == kJSON && !json.Valid([]byte(n.Value)) {
			p.add(n, path, "is not valid JSON (an IAM policy document is expected)")
		}
		if s.check != nil {
			s.check(n, path, p)
		}
	case kInt:
		if _, ok := scalarValue(n).(int); !ok || n.Kind != yaml.ScalarNode {
			if n.Kind == yaml.ScalarNode && yamlInt.MatchString(n.Value) {
				p.add(n, path, "%s is too large a number", n.Value)
				return
			}
			p.add(n, path, "must be a whole number, not %s", kindName(n))
			return
		}
		if s.check != nil {
			s.check(n, path, p)
		}
	case kBool:
		if _, ok := scalarValue(n).(bool); !ok || n.Kind != yaml.ScalarNode {
			p.add(n, path, "must be true or false, not %s", kindName(n))
		}
	case kDuration:
		if n.Kind != yaml.ScalarNode {
			p.add(n, path, "must be a duration like 120s, 2m or 1m30s, not %s", kindName(n))
			return
		}
		if s.check != nil {
			s.check(n, path, p)
		}
	case kSize:
		if n.Kind != yaml.ScalarNode {
			p.add(n, path, "must be a size like 10G, 500M or 1T, not %s", kindName(n))
			return
		}
		checkSize(n, path, p)
	case kStrList:
		switch n.Kind {
		case yaml.ScalarNode:
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if c.Kind != yaml.ScalarNode || isNull(c) {
					p.add(c, fmt.Sprintf("%s[%d]", path, i), "must be a string, not %s", kindName(c))
				}
			}
		default:
			p.add(n, path, "must be a list of strings or one comma-separated string, not %s", kindName(n))
		}
	case kScalarMap:
		if n.Kind != yaml.MappingNode {
			p.add(n, path, "must be a mapping of names to values, not %s", kindName(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind != yaml.ScalarNode {
				p.add(v, joinKey(path, n.Content[i].Value), "must be a single value, not %s", kindName(v))
			}
		}
	case kList:
		if n.Kind != yaml.SequenceNode {
			hint := ""
			if n.Kind == yaml.ScalarNode && s.elem != nil && s.elem.kind == kString {
				hint = fmt.Sprintf(" (write it as a list: [%s])", n.Value)
			}
			p.add(n, path, "must be a list, not %s%s", kindName(n), hint)
			return
		}
		for i, c := range n.Content {
			s.elem.validate(c, fmt.Sprintf("%s[%d]", path, i), p)
		}
	case kMap:
		if n.Kind != yaml.MappingNode {
			p.add(n, path, "must be a mapping, not %s", kindName(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			seen[k.Value] = true
			if fs, ok := s.fields[k.Value]; ok {
				fs.validate(v, joinKey(path, k.Value), p)
				continue
			}
			if s.open {
				continue
			}
			if near := nearest(k.Value, s.fields); near != "" {
				p.warn(k, joinKey(path, k.Value), "unknown key; did you mean `%s`?", near)
			}
		}
		for _, name := range sortedKeys(s.fields) {
			if s.fields[name].required && !seen[name] {
				p.add(n, path, "missing required key `%s`", name)
			}
		}
		if s.check != nil {
			s.check(n, path, p)
		}
	}
}

// checkSize checks a volume size: a number of GB, or a number and a
// unit, from 1 GB to MaxVolumeGB.
func checkSize(n *yaml.Node, path string, p *problems) {
	const fix = "a volume is 1G to %dG (64 TiB): write a number and a unit, M, G or T (like 10G)"
	if v, ok := scalarValue(n).(int); ok {
		if v < 1 || v > MaxVolumeGB {
			p.add(n, path, "%d GB is out of range: "+fix, v, MaxVolumeGB)
		}
		return
	}
	m := SizeRE.FindStringSubmatch(n.Value)
	if m == nil {
		if yamlInt.MatchString(n.Value) {
			p.add(n, path, "%s GB is too large: "+fix, n.Value, MaxVolumeGB)
			return
		}
		p.add(n, path, "%q is not a size: write a number and a unit, M, G or T (like 10G)", n.Value)
		return
	}
	gb, rounded, ok := sizeGB(n.Value)
	switch {
	case !ok || gb > MaxVolumeGB:
		p.add(n, path, "%s is too large: "+fix, n.Value, MaxVolumeGB)
	case gb == 0:
		p.add(n, path, "%s is an empty volume: "+fix, n.Value, MaxVolumeGB)
	case rounded:
		p.warn(n, path, "%s is less than 1 GB; the original tool turned it into 0 GB, it is rounded up to %d GB", n.Value, gb)
	}
}

// SizeGB converts a size to whole GB the way the original did (T = 1000 G),
// except that a size under 1 GB is rounded up to 1 instead of becoming 0.
// rounded reports that rounding. A size that is not one, or too large to
// count, is 0.
func SizeGB(size string) (gb int, rounded bool) {
	gb, rounded, _ = sizeGB(size)
	return gb, rounded
}

// sizeGB is SizeGB; ok is false when size is not a size or its number of GB
// does not fit in an int32 (what EC2 takes).
func sizeGB(size string) (gb int, rounded, ok bool) {
	m := SizeRE.FindStringSubmatch(size)
	if m == nil {
		return 0, false, false
	}
	q, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil {
		return 0, false, false
	}
	switch strings.ToLower(m[2]) {
	case "t":
		if q > math.MaxInt32/1000 {
			return 0, false, false
		}
		return int(q) * 1000, false, true
	case "g":
		return int(q), false, true
	default:
		// The original divided by 1000 with integer division: 1500M is 1 GB.
		if q > 0 && q < 1000 {
			return 1, true, true
		}
		return int(q / 1000), false, true
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && scalarValue(n) == nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]*spec) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// nearest returns the known key within edit distance 2 of key, if any.
func nearest(key string, fields map[string]*spec) string {
	if len(key) < 3 {
		return ""
	}
	best, bestD := "", 3
	for _, k := range sortedKeys(fields) {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
