package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// SpecHash hashes parts (length-prefixed, so ("ab","c") != ("a","bc")) to
// 16 hex characters.
func SpecHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		for i, l := 0, len(p); i < 8; i, l = i+1, l>>8 {
			n[i] = byte(l)
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Spec is everything that defines one node's server: two instances with
// equal specs are interchangeable, and an instance whose spec differs from
// the desired one is replaced (never changed in place). It is computed
// purely — from the config, the rendered boot script and a Resolution —
// by Provider.Spec.
type Spec struct {
	Image string `json:"image"` // image id
	// ImageName is the name the image was resolved from, for messages; it
	// is not part of the spec (the id is).
	ImageName    string `json:"image_name,omitempty"`
	InstanceType string `json:"instance_type,omitempty"`
	UserData     string `json:"user_data"` // packed, as sent
	// UserDataID, when set, identifies the user data in the hash and in
	// diffs instead of UserData: the boot script rendered (and packed)
	// with every volume snapshot id replaced by a placeholder. It is set
	// only when that differs from UserData, i.e. when the templates print
	// the snapshot a volume is restored from (`volumes[].snapshot`): a
	// newer snapshot is data, not definition, and must not make every
	// node stale.
	UserDataID     string            `json:"user_data_id,omitempty"`
	Volumes        []VolumeSpec      `json:"volumes,omitempty"`
	Subnet         string            `json:"subnet,omitempty"`
	IP             string            `json:"ip,omitempty"`
	EIP            string            `json:"eip,omitempty"`
	SecurityGroups []string          `json:"security_groups,omitempty"`
	Profile        string            `json:"profile,omitempty"` // instance profile
	KeyPair        string            `json:"key_pair,omitempty"`
	Tags           []config.KeyValue `json:"tags,omitempty"` // the user's tags
	// Env is what the node's boot script sees as its environment (local:
	// the `environment:` values). Values may be secret: diffs name the
	// keys only.
	Env   []config.KeyValue `json:"env,omitempty"`
	Flags Flags             `json:"flags"`
	// Hardware is what the node asked for instead of an instance type,
	// where the provider itself honours it (local: NODE_CORES and
	// NODE_RAM); nil otherwise — on AWS it resolves to InstanceType (see
	// HardwareResolver). It is hashed with the instance type, and only
	// when set, so a spec without it hashes as before the field existed.
	Hardware *Hardware `json:"hardware,omitempty"`
}

// Flags are a spec's switches.
type Flags struct {
	EBSOptimized        bool `json:"ebs_optimized,omitempty"`
	Monitoring          bool `json:"monitoring,omitempty"`
	SourceDestCheck     bool `json:"source_dest_check,omitempty"`
	TerminateProtection bool `json:"terminate_protection,omitempty"`
}

// VolumeSpec is one volume of a spec.
type VolumeSpec struct {
	Name                string `json:"name"`
	Device              string `json:"device,omitempty"`
	SizeGB              int    `json:"size_gb,omitempty"`
	Type                string `json:"type,omitempty"`
	IOPS                int    `json:"iops,omitempty"`
	Throughput          int    `json:"throughput,omitempty"`
	Ephemeral           bool   `json:"ephemeral,omitempty"`
	DeleteOnTermination bool   `json:"delete_on_termination"`
	Mount               string `json:"mount,omitempty"`
	// Snapshot is what a new volume starts from: data, not definition, so
	// it is not part of the spec's hash.
	Snapshot string `json:"snapshot,omitempty"`
}

// Spec fields, as they appear in reasons (Change.Field) and in the spec
// tag.
const (
	FieldImage          = "image"
	FieldInstanceType   = "instance_type"
	FieldUserData       = "user_data"
	FieldVolumes        = "volumes"
	FieldNetwork        = "network" // subnet, ip, eip
	FieldSecurityGroups = "security_groups"
	FieldProfile        = "profile"
	FieldKeyPair        = "key_pair"
	FieldTags           = "tags"
	FieldEnv            = "env"
	FieldFlags          = "flags"
	// FieldHardware is Spec.Hardware in diffs; in the hash and the spec
	// tag it is part of FieldInstanceType.
	FieldHardware = "hardware"
)

// specFields are the fields in tag order, with their short codes in the
// spec tag (EC2 tag values hold 256 characters).
var specFields = []struct{ name, code string }{
	{FieldImage, "im"}, {FieldInstanceType, "it"}, {FieldUserData, "ud"}, {FieldVolumes, "vo"},
	{FieldNetwork, "nw"}, {FieldSecurityGroups, "sg"}, {FieldProfile, "pr"}, {FieldKeyPair, "kp"},
	{FieldTags, "tg"}, {FieldEnv, "ev"}, {FieldFlags, "fl"},
}

// userDataKey is the user data as hashed and compared.
func (s Spec) userDataKey() string {
	if s.UserDataID != "" {
		return s.UserDataID
	}
	return s.UserData
}

// instanceTypeKey is the instance type as hashed: with the hardware
// appended when there is one, so that a spec without hardware hashes as it
// did before the field existed.
func (s Spec) instanceTypeKey() string {
	if s.Hardware == nil {
		return s.InstanceType
	}
	h := *s.Hardware
	h.Arch = h.Architecture() // "" and the default are one requirement
	b, _ := json.Marshal(h)
	return s.InstanceType + "\x00hardware=" + string(b)
}

// canonical is each field's value as hashed.
func (s Spec) canonical() map[string]string {
	vols := make([]VolumeSpec, len(s.Volumes))
	for i, v := range s.Volumes {
		v.Snapshot = ""
		vols[i] = v
	}
	js := func(v any) string {
		b, _ := json.Marshal(v)
		if string(b) == "[]" {
			return "null" // an empty list is no list: the same after a JSON round trip (omitempty)
		}
		return string(b)
	}
	return map[string]string{
		FieldImage:          s.Image,
		FieldInstanceType:   s.instanceTypeKey(),
		FieldUserData:       s.userDataKey(),
		FieldVolumes:        js(vols),
		FieldNetwork:        js([]string{s.Subnet, s.IP, s.EIP}),
		FieldSecurityGroups: js(s.SecurityGroups),
		FieldProfile:        s.Profile,
		FieldKeyPair:        s.KeyPair,
		FieldTags:           js(s.Tags),
		FieldEnv:            js(s.Env),
		FieldFlags:          js(s.Flags),
	}
}

// digests are each field's short hash, in tag order.
func (s Spec) digests() []string {
	c := s.canonical()
	out := make([]string, len(specFields))
	for i, f := range specFields {
		out[i] = SpecHash(f.name, c[f.name])[:6]
	}
	return out
}

// Hash identifies the spec: equal hashes, interchangeable servers.
func (s Spec) Hash() string { return SpecHash(s.digests()...) }

// specTagVersion prefixes spec tags in the per-field format.
const specTagVersion = "1:"

// Tag is the value of the TagSpec tag an instance is launched with: a short
// hash per field, so that a later plan can say which fields changed
// without any other record ("1:im=3fa2c1,it=…").
func (s Spec) Tag() string {
	d := s.digests()
	parts := make([]string, len(specFields))
	for i, f := range specFields {
		parts[i] = f.code + "=" + d[i]
	}
	return specTagVersion + strings.Join(parts, ",")
}

// Change is one field that differs between two specs. From and To are
// empty where the values are not shown (user data, secret values): the
// field "changed".
type Change struct {
	Field string `json:"field"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

func (c Change) String() string {
	if c.From == "" && c.To == "" {
		return c.Field + ": changed"
	}
	return fmt.Sprintf("%s: %s → %s", c.Field, dashIfEmpty(c.From), dashIfEmpty(c.To))
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Diff returns the fields in which new differs from old, with values where
// they can be shown: `instance_type: t2.medium → m5.large`,
// `volumes[data].size: 10G → 20G`, `user_data: changed`,
// `env[DB_PASSWORD]: changed` (environment values are never shown).
func Diff(old, new Spec) []Change {
	var out []Change
	add := func(field, from, to string) {
		if from != to {
			out = append(out, Change{Field: field, From: from, To: to})
		}
	}
	if old.Image != new.Image {
		out = append(out, Change{Field: FieldImage, From: imageLabel(old), To: imageLabel(new)})
	}
	add(FieldInstanceType, old.InstanceType, new.InstanceType)
	add(FieldHardware, hardwareLabel(old.Hardware), hardwareLabel(new.Hardware))
	if old.userDataKey() != new.userDataKey() {
		out = append(out, Change{Field: FieldUserData})
	}
	out = append(out, volumeChanges(old.Volumes, new.Volumes)...)
	add("subnet", old.Subnet, new.Subnet)
	add("ip", old.IP, new.IP)
	add("eip", old.EIP, new.EIP)
	add(FieldSecurityGroups, strings.Join(old.SecurityGroups, ","), strings.Join(new.SecurityGroups, ","))
	add(FieldProfile, old.Profile, new.Profile)
	add(FieldKeyPair, old.KeyPair, new.KeyPair)
	out = append(out, kvChanges(FieldTags, old.Tags, new.Tags, true)...)
	out = append(out, kvChanges(FieldEnv, old.Env, new.Env, false)...)
	add("ebs_optimized", strconv.FormatBool(old.Flags.EBSOptimized), strconv.FormatBool(new.Flags.EBSOptimized))
	add("monitoring", strconv.FormatBool(old.Flags.Monitoring), strconv.FormatBool(new.Flags.Monitoring))
	add("source_dest_check", strconv.FormatBool(old.Flags.SourceDestCheck), strconv.FormatBool(new.Flags.SourceDestCheck))
	add("terminate_protection", strconv.FormatBool(old.Flags.TerminateProtection), strconv.FormatBool(new.Flags.TerminateProtection))
	return out
}

func hardwareLabel(h *Hardware) string {
	if h == nil {
		return ""
	}
	return h.String()
}

func imageLabel(s Spec) string {
	if s.ImageName != "" && s.ImageName != s.Image {
		return s.Image + " (" + s.ImageName + ")"
	}
	return s.Image
}

func volumeChanges(old, new []VolumeSpec) []Change {
	var out []Change
	byName := map[string]VolumeSpec{}
	for _, v := range old {
		byName[v.Name] = v
	}
	seen := map[string]bool{}
	for _, n := range new {
		seen[n.Name] = true
		o, ok := byName[n.Name]
		f := "volumes[" + n.Name + "]"
		if !ok {
			out = append(out, Change{Field: f, To: "added"})
			continue
		}
		add := func(k, a, b string) {
			if a != b {
				out = append(out, Change{Field: f + "." + k, From: a, To: b})
			}
		}
		add("size", gb(o.SizeGB), gb(n.SizeGB))
		add("type", o.Type, n.Type)
		add("iops", itoa(o.IOPS), itoa(n.IOPS))
		add("throughput", itoa(o.Throughput), itoa(n.Throughput))
		add("device", o.Device, n.Device)
		add("mount", o.Mount, n.Mount)
		add("ephemeral", strconv.FormatBool(o.Ephemeral), strconv.FormatBool(n.Ephemeral))
		add("delete_on_termination", strconv.FormatBool(o.DeleteOnTermination), strconv.FormatBool(n.DeleteOnTermination))
	}
	for _, o := range old {
		if !seen[o.Name] {
			out = append(out, Change{Field: "volumes[" + o.Name + "]", From: "present", To: "removed"})
		}
	}
	return out
}

func gb(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n) + "G"
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// kvChanges compares ordered key/value lists by key; with show false the
// values are never shown (they may be secret).
func kvChanges(field string, old, new []config.KeyValue, show bool) []Change {
	om, nm := map[string]string{}, map[string]string{}
	var keys []string
	for _, kv := range old {
		om[kv.Key] = kv.Value
		keys = append(keys, kv.Key)
	}
	for _, kv := range new {
		if _, ok := om[kv.Key]; !ok {
			keys = append(keys, kv.Key)
		}
		nm[kv.Key] = kv.Value
	}
	sort.Strings(keys)
	var out []Change
	for _, k := range keys {
		o, inOld := om[k]
		n, inNew := nm[k]
		f := field + "[" + k + "]"
		switch {
		case inOld && inNew && o == n:
		case !show && inOld && inNew:
			out = append(out, Change{Field: f})
		case !show && !inOld:
			out = append(out, Change{Field: f, To: "added"})
		case !show && !inNew:
			out = append(out, Change{Field: f, From: "present", To: "removed"})
		default:
			out = append(out, Change{Field: f, From: o, To: n})
		}
	}
	return out
}

// TagChanges compares an instance's spec tag with the desired spec: the
// fields whose digest differs, with the values the instance shows where it
// shows them (image id, instance type, IP). ok is false when the tag is
// not in the per-field format (an instance of the Python original, which
// has none, or of an earlier version): then only what the instance shows
// can be compared (ObservedChanges).
func TagChanges(inst Instance, desired Spec) (changes []Change, ok bool) {
	rest, found := strings.CutPrefix(inst.Spec, specTagVersion)
	if !found {
		return nil, false
	}
	have := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			have[k] = v
		}
	}
	want := desired.digests()
	for i, f := range specFields {
		if have[f.code] == want[i] {
			continue
		}
		out := Change{Field: f.name}
		switch f.name {
		case FieldImage:
			out.From, out.To = inst.Image, imageLabel(desired)
		case FieldInstanceType:
			out.From, out.To = inst.Type, desired.InstanceType
			if desired.Hardware != nil && (desired.InstanceType == "" || inst.Type == desired.InstanceType) {
				// the type is the same (or the provider has none): the
				// hardware changed, or was set
				out = Change{Field: FieldHardware, To: desired.Hardware.String()}
			}
		case FieldNetwork:
			if inst.IP != desired.IP && desired.IP != "" {
				out = Change{Field: "ip", From: inst.IP, To: desired.IP}
			}
		}
		changes = append(changes, out)
	}
	return changes, true
}

// ObservedChanges compares what an instance shows (image id, instance
// type, static IP) with the desired spec: all that can be compared for an
// instance without a per-field spec tag.
func ObservedChanges(inst Instance, desired Spec) []Change {
	var out []Change
	if inst.Image != "" && desired.Image != "" && inst.Image != desired.Image {
		out = append(out, Change{Field: FieldImage, From: inst.Image, To: imageLabel(desired)})
	}
	if inst.Type != "" && desired.InstanceType != "" && inst.Type != desired.InstanceType {
		out = append(out, Change{Field: FieldInstanceType, From: inst.Type, To: desired.InstanceType})
	}
	if desired.IP != "" && inst.IP != "" && inst.IP != desired.IP {
		out = append(out, Change{Field: "ip", From: inst.IP, To: desired.IP})
	}
	return out
}

// Changes is how an instance differs from the desired spec, by the best
// record there is: the spec it was launched with (when the provider or the
// coordinator keeps it), else its spec tag, else what it shows.
func Changes(inst Instance, desired Spec) []Change {
	if inst.LaunchedSpec != nil {
		return Diff(*inst.LaunchedSpec, desired)
	}
	if c, ok := TagChanges(inst, desired); ok {
		return c
	}
	return ObservedChanges(inst, desired)
}
