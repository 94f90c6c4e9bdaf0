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
