package provider

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

func baseSpec() Spec {
	return Spec{
		Image: "ami-1", ImageName: "docker:1.9", InstanceType: "t2.medium", UserData: "#!/bin/bash\necho 1\n",
		Volumes: []VolumeSpec{{Name: "data", Device: "/dev/xvdf", SizeGB: 10, Type: "gp3", Snapshot: "snap-1"}},
		Subnet:  "subnet-1", IP: "10.0.1.10", SecurityGroups: []string{"sg-1"}, KeyPair: "k",
		Tags: []config.KeyValue{{Key: "team", Value: "db"}},
		Env:  []config.KeyValue{{Key: "DB_PASSWORD", Value: "hunter2hunter2"}},
	}
}

func TestSpecHashIgnoresWhatIsNotDefinition(t *testing.T) {
	a, b := baseSpec(), baseSpec()
	b.ImageName = "other-name"
	b.Volumes[0].Snapshot = "snap-2" // data, not definition
	if a.Hash() != b.Hash() || a.Tag() != b.Tag() {
		t.Errorf("image name and snapshots must not change the spec")
	}
	b.Volumes[0].SizeGB = 20
	if a.Hash() == b.Hash() {
		t.Errorf("a volume size must change the spec")
	}
	if len(a.Tag()) > 256 {
		t.Errorf("the spec tag is %d characters; EC2 tag values hold 256", len(a.Tag()))
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"nothing", func(*Spec) {}, ""},
		{"instance type", func(s *Spec) { s.InstanceType = "m5.large" }, "instance_type: t2.medium → m5.large"},
		{"image", func(s *Spec) { s.Image, s.ImageName = "ami-2", "docker:1.10" }, "image: ami-1 (docker:1.9) → ami-2 (docker:1.10)"},
		{"user data", func(s *Spec) { s.UserData += "echo 2\n" }, "user_data: changed"},
		{"volume size", func(s *Spec) { s.Volumes[0].SizeGB = 20 }, "volumes[data].size: 10G → 20G"},
		{"volume added", func(s *Spec) { s.Volumes = append(s.Volumes, VolumeSpec{Name: "logs"}) }, "volumes[logs]: - → added"},
		{"ip", func(s *Spec) { s.IP = "10.0.1.11" }, "ip: 10.0.1.10 → 10.0.1.11"},
		{"tag value shown", func(s *Spec) { s.Tags[0].Value = "web" }, "tags[team]: db → web"},
		{"env value never shown", func(s *Spec) { s.Env[0].Value = "s3cr3t-new-value" }, "env[DB_PASSWORD]: changed"},
		{"flag", func(s *Spec) { s.Flags.EBSOptimized = true }, "ebs_optimized: false → true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := baseSpec()
			tc.change(&n)
			var got []string
			for _, c := range Diff(baseSpec(), n) {
				got = append(got, c.String())
			}
			if s := strings.Join(got, "; "); s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
			if strings.Contains(fmt.Sprint(Diff(baseSpec(), n)), "s3cr3t") || strings.Contains(fmt.Sprint(Diff(baseSpec(), n)), "hunter2") {
				t.Errorf("a diff shows an environment value")
			}
		})
	}
}

func TestTagChanges(t *testing.T) {
	launched := baseSpec()
	inst := Instance{ID: "i-1", Image: "ami-1", Type: "t2.medium", IP: "10.0.1.10", Spec: launched.Tag()}
	if c, ok := TagChanges(inst, launched); !ok || len(c) != 0 {
		t.Fatalf("same spec: %v %v", c, ok)
	}
	want := baseSpec()
	want.InstanceType = "m5.large"
	want.UserData = "changed"
	c, ok := TagChanges(inst, want)
	if !ok || !cmp.Equal(c, []Change{{Field: FieldInstanceType, From: "t2.medium", To: "m5.large"}, {Field: FieldUserData}}) {
		t.Errorf("changes: %v", c)
	}
	// no per-field tag (the Python original, an earlier version): only what
	// the instance shows counts
	old := inst
	old.Spec = ""
	if _, ok := TagChanges(old, want); ok {
		t.Errorf("an empty tag cannot be compared")
	}
	if c := Changes(old, want); !cmp.Equal(c, []Change{{Field: FieldInstanceType, From: "t2.medium", To: "m5.large"}}) {
		t.Errorf("observed changes: %v", c)
	}
	// a kept launch spec gives the full diff
	kept := inst
	kept.LaunchedSpec = &launched
	if c := Changes(kept, want); len(c) != 2 || c[1].Field != FieldUserData {
		t.Errorf("launched-spec changes: %v", c)
	}
}

// A spec read back from JSON (a store, a generation record) hashes as the
// one it was written from, empty lists included.
func TestSpecHashSurvivesAJSONRoundTrip(t *testing.T) {
	s := baseSpec()
	s.Tags, s.Env, s.SecurityGroups, s.Volumes = []config.KeyValue{}, []config.KeyValue{}, []string{}, []VolumeSpec{}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Hash() != s.Hash() || back.Tag() != s.Tag() {
		t.Errorf("empty lists change the hash after a round trip")
	}
}

// Adding Spec.Hardware must not change the hash or the tag of a spec
// without it: every running instance's spec tag and every recorded
// generation was computed before the field existed. The expected values
// were computed from baseSpec by the code before the field was added.
func TestSpecHashWithoutHardwareIsUnchanged(t *testing.T) {
	const (
		wantHash      = "ce352c5a3ab6f0e7"
		wantTag       = "1:im=41d3e6,it=1ae0d3,ud=0d9bb0,vo=3f7f15,nw=fcb57f,sg=0b333b,pr=a6fe92,kp=c0788e,tg=a69bd5,ev=0713a0,fl=fca2dd"
		wantEmptyHash = "9ca7530bc4edce93"
	)
	s := baseSpec()
	if s.Hash() != wantHash || s.Tag() != wantTag {
		t.Errorf("a spec without hardware hashes %s (tag %s), want %s (tag %s)", s.Hash(), s.Tag(), wantHash, wantTag)
	}
	if h := (Spec{}).Hash(); h != wantEmptyHash {
		t.Errorf("the empty spec hashes %s, want %s", h, wantEmptyHash)
	}
	// and after a JSON round trip (the field is omitted when nil)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hardware") {
		t.Errorf("a spec without hardware writes it: %s", b)
	}
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Hash() != wantHash {
		t.Errorf("round trip: %s, want %s", back.Hash(), wantHash)
	}
}

func TestSpecHardware(t *testing.T) {
	with := func(h *Hardware) Spec {
		s := baseSpec()
		s.InstanceType = ""
		s.Hardware = h
		return s
	}
	none := with(nil)
	small := with(&Hardware{MinCores: 2, MinRAMMiB: 4096})
	if small.Hash() == none.Hash() {
		t.Errorf("hardware must be part of the spec")
	}
	if got := with(&Hardware{MinCores: 2, MinRAMMiB: 4096, Arch: ArchX86_64}); got.Hash() != small.Hash() {
		t.Errorf("the default architecture spelled out changes the hash")
	}
	big := with(&Hardware{MinCores: 4, MinRAMMiB: 4096})
	if big.Hash() == small.Hash() {
		t.Errorf("min_cores must change the spec")
	}
	// only the instance type's digest moves
	for i, d := range small.digests() {
		if (d != none.digests()[i]) != (specFields[i].name == FieldInstanceType) {
			t.Errorf("field %s: digest %s vs %s", specFields[i].name, d, none.digests()[i])
		}
	}
	if c := Diff(small, big); len(c) != 1 || c[0].String() != "hardware: ≥2 vCPUs, ≥4 GiB, x86_64 → ≥4 vCPUs, ≥4 GiB, x86_64" {
		t.Errorf("diff: %v", c)
	}
	if c := Diff(none, small); len(c) != 1 || c[0].String() != "hardware: - → ≥2 vCPUs, ≥4 GiB, x86_64" {
		t.Errorf("diff: %v", c)
	}
	// an instance of a provider without instance types, known by its tag only
	inst := Instance{ID: "i-1", Type: "local", Spec: small.Tag()}
	if c, ok := TagChanges(inst, big); !ok || !cmp.Equal(c, []Change{{Field: FieldHardware, To: "≥4 vCPUs, ≥4 GiB, x86_64"}}) {
		t.Errorf("tag changes: %v %v", c, ok)
	}
	b, err := json.Marshal(small)
	if err != nil {
		t.Fatal(err)
	}
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Hash() != small.Hash() || *back.Hardware != *small.Hardware {
		t.Errorf("hardware does not survive a JSON round trip: %s", b)
	}
}
