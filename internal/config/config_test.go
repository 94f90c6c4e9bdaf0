package config

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func noEnv(string) (string, bool) { return "", false }

func TestPyYAMLScalars(t *testing.T) {
	cases := map[string]any{
		"yes": true, "No": false, "ON": true, "off": false, "y": "y", "true": true,
		"0755": 493, "0o755": "0o755", "08": "08", "0x1F": 31, "0b101": 5, "1_000": 1000, "1:30": 90, "-12": -12,
		"1e3": "1e3", "1.5e+3": 1500.0, "3.": 3.0, ".5": 0.5, "~": nil, "null": nil, "": nil,
		"10G": "10G", "ami-123": "ami-123",
	}
	for in, want := range cases {
		got := resolvePlain(in)
		if f, ok := want.(float64); ok {
			if g, ok := got.(float64); !ok || math.Abs(g-f) > 1e-9 {
				t.Errorf("%q: got %#v, want %v", in, got, want)
			}
			continue
		}
		if got != want {
			t.Errorf("%q: got %#v, want %#v", in, got, want)
		}
	}
	if d, ok := resolvePlain("2016-01-02").(Date); !ok || d.String() != "2016-01-02" || PyRepr(d) != "datetime.date(2016, 1, 2)" {
		t.Errorf("date: %#v", resolvePlain("2016-01-02"))
	}
	if ts, ok := resolvePlain("2016-01-02T10:30:00Z").(Timestamp); !ok || ts.String() != "2016-01-02 10:30:00+00:00" {
		t.Errorf("timestamp: %v", resolvePlain("2016-01-02T10:30:00Z"))
	}
}

func TestPyRepr(t *testing.T) {
	m := NewMapping()
	m.Set("b", 1)
	m.Set("a", []any{"it's", "x\ny", nil, true, 2.0, 1e20, math.Inf(1)})
	want := `{'b': 1, 'a': ["it's", 'x\ny', None, True, 2.0, 1e+20, inf]}`
	if got := PyRepr(m); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSizeGB(t *testing.T) {
	for _, tc := range []struct {
		in      string
		gb      int
		rounded bool
	}{{"10G", 10, false}, {"1T", 1000, false}, {"2t", 2000, false}, {"900M", 1, true}, {"1500M", 1, false}, {"2000m", 2, false}, {"10", 0, false}} {
		gb, rounded := SizeGB(tc.in)
		if gb != tc.gb || rounded != tc.rounded {
			t.Errorf("SizeGB(%q) = %d, %v; want %d, %v", tc.in, gb, rounded, tc.gb, tc.rounded)
		}
	}
}

// The original's fixtures: security groups as a list or a comma-separated string.
func TestSecurityGroupFixtures(t *testing.T) {
	for name, want := range map[string][]string{
		"single_security_group":      {"sg-abc123"},
		"multi_security_group_comma": {"sg-abc123", "sg-def456"},
		"multi_security_group_list":  {"sg-abc123", "sg-def456", "sg-hij789"},
	} {
		path := filepath.Join("..", "render", "testdata", "fixtures", "aws-security-groups", name, "cloud-compose.yml")
		doc, err := Load(path, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		c, err := LoadCluster(doc)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, c.AWS.SecurityGroups); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if c.Provider != "aws" || c.AWS.InstanceType != DefaultInstanceType || !c.AWS.TerminateProtection || c.AWS.Volumes[0].SizeGB != 10 {
			t.Errorf("%s: defaults not applied: %+v", name, c.AWS)
		}
	}
}

func TestMergeKeysOrderAndProblems(t *testing.T) {
	src := `base: &base
  file_system: ext4
  name: base
cluster:
  name: x
  search_path: [t]
  aws:
    volumes:
      - <<: *base
        name: data
    nodes:
      - {id: 0, ip: 10.0.0.1}
      - {id: 0, ip: 10.0.0.1}
`
	doc, err := Parse("c.yml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := doc.Data.Get("cluster")
	vols, _ := v.(*Mapping).Get("aws")
	vol := vols.(*Mapping)
	l, _ := vol.Get("volumes")
	first := l.([]any)[0].(*Mapping)
	if got := strings.Join(first.Keys(), ","); got != "file_system,name" {
		t.Errorf("merge order: %s", got)
	}
	if n, _ := first.Get("name"); n != "data" {
		t.Errorf("own key must override the merged one: %v", n)
	}
	_, err = LoadCluster(doc)
	if err == nil || !strings.Contains(err.Error(), `c.yml:13:14: cluster.aws.nodes[1].id: node id "0" is used twice`) ||
		!strings.Contains(err.Error(), "c.yml:13:21: cluster.aws.nodes[1].ip: IP 10.0.0.1 is used twice") {
		t.Errorf("duplicate nodes: %v", err)
	}
}

func TestFindOrder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"cloud-compose.yml", "cloud-compose/cloud-compose.yaml"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("cluster: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Find(dir, "")
	if err != nil || got != filepath.Join(dir, "cloud-compose/cloud-compose.yaml") {
		t.Errorf("Find = %s, %v", got, err)
	}
}

func TestRedactor(t *testing.T) {
	t.Setenv(RedactEnv, "dsn")
	m := NewMapping()
	m.Set("database_dsn", "postgres://u:p@h/db")
	m.Set("secrets", mapOf("k", "v"))
	m.Set("name", "x")
	got := NewRedactor().Mapping(m)
	if PyRepr(got) != "{'database_dsn': '<redacted>', 'secrets': {'k': '<redacted>'}, 'name': 'x'}" {
		t.Errorf("redacted: %s", PyRepr(got))
	}
}

func mapOf(kv ...any) *Mapping {
	m := NewMapping()
	for i := 0; i < len(kv); i += 2 {
		m.Set(kv[i].(string), kv[i+1])
	}
	return m
}
