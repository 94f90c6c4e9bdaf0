package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loadImage parses src and loads its image section.
func loadImage(t *testing.T, src string) (*Image, error) {
	t.Helper()
	doc, err := Parse("cloud-compose.yml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return LoadImage(doc)
}

// imageConfig is a valid image section with extra lines at its end.
func imageConfig(extra string) string {
	return "image:\n  name: docker\n  version: '1.10'\n  search_path: [templates]\n" + extra
}

func TestLoadImage(t *testing.T) {
	img, err := loadImage(t, imageConfig(`  aws:
    ami: ami-6d1c2007
    subnet: subnet-9f0074c6
    keypair: drydock
    security_groups: sg-1, sg-2
    detailed_monitoring: yes
    tags:
      team: platform
      cost: 12
      on_call: true
      since: 2016-01-02
  local:
    image: base
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Image{
		Name: "docker", Version: "1.10", SearchPath: []string{"templates"},
		AWS: &ImageAWS{AMI: "ami-6d1c2007", Subnet: "subnet-9f0074c6", KeyPair: "drydock", InstanceType: DefaultImageInstanceType,
			SecurityGroups: []string{"sg-1", "sg-2"}, DetailedMonitoring: true,
			Tags: []KeyValue{{"team", "platform"}, {"cost", "12"}, {"on_call", "True"}, {"since", "2016-01-02"}}},
		Local: &ImageLocal{Image: "base"},
	}
	if diff := cmp.Diff(want, img, cmp.FilterPath(func(p cmp.Path) bool {
		switch p.Last().String() {
		case ".Data", ".File", ".Warnings", ".node", ".doc":
			return true
		}
		return false
	}, cmp.Ignore())); diff != "" {
		t.Errorf("LoadImage (-want +got):\n%s", diff)
	}
	if len(img.Warnings) != 0 {
		t.Errorf("warnings: %v", img.Warnings)
	}
	if img.Tag() != "docker:1.10" {
		t.Errorf("Tag() = %q", img.Tag())
	}
	// templates get the mapping as written: no defaults filled in
	aws, _ := img.Data.Get("aws")
	if aws.(*Mapping).Has("instance_type") {
		t.Error("the default instance_type reached the template data")
	}

	img, err = loadImage(t, imageConfig("  aws:\n    security_groups: [sg-1, sg-2]\n    instance_type: m5.large\n    ebs_optimized: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := img.AWS; !slices.Equal(a.SecurityGroups, []string{"sg-1", "sg-2"}) || a.InstanceType != "m5.large" || !a.EBSOptimized {
		t.Errorf("aws: %+v", a)
	}
	if img.Local != nil {
		t.Errorf("local without a local section: %+v", img.Local)
	}
}

// A version written 1.10 is the number 1.1 in YAML 1.1: the original
// printed and tagged 1.1, and so does this tool, with a warning.
func TestImageVersionAsWritten(t *testing.T) {
	cases := []struct {
		version, want, warn string
	}{
		{"'1.10'", "1.10", ""},
		{"1.10", "1.1", "1.10 is read as 1.1 (YAML 1.1 reads it as a number"},
		{"1.0", "1.0", ""},
		{"2", "2", ""},
		{"010", "8", "010 is read as 8"},
		{"2016-01-02", "2016-01-02", ""},
		{"latest", "latest", ""},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			img, err := loadImage(t, "image:\n  name: docker\n  version: "+tc.version+"\n  search_path: []\n")
			if err != nil {
				t.Fatal(err)
			}
			if img.Version != tc.want {
				t.Errorf("Version = %q, want %q", img.Version, tc.want)
			}
			var ws []string
			for _, w := range img.Warnings {
				ws = append(ws, w.String())
			}
			got := strings.Join(ws, "\n")
			switch {
			case tc.warn == "" && got != "":
				t.Errorf("unexpected warning: %s", got)
			case tc.warn != "" && !strings.Contains(got, "cloud-compose.yml:3:12: image.version: "+tc.warn):
				t.Errorf("warning %q, want one with %q", got, tc.warn)
			}
			// a bake refuses what is not written as a string (1.10, 010, 2)
			err = img.CheckBake()
			quoted := tc.version == "'1.10'" || tc.version == "latest"
			switch {
			case quoted && err != nil:
				t.Errorf("CheckBake: %v", err)
			case !quoted && (err == nil || !strings.Contains(err.Error(), "cloud-compose.yml:3:12: image.version: "+tc.version+" is a ")):
				t.Errorf("CheckBake: %v, want an error at image.version", err)
			}
		})
	}
}

// Every problem of the image section is reported at once, each with
// file:line:column and the key path; typos get the near-miss warning.
func TestImageValidation(t *testing.T) {
	errCases := []struct{ name, src, where, msg string }{
		{"no image section", "cluster:\n  name: x\n", "cloud-compose.yml:1:1: ", "missing required top-level key `image`"},
		{"empty section", "image:\n", ":1:7: image", "is required but has no value"},
		{"not a mapping", "image: docker\n", ":1:8: image", "must be a mapping"},
		{"no name", "image:\n  version: '1'\n  search_path: []\n", ":2:3: image", "missing required key `name`"},
		{"no version", "image:\n  name: docker\n  search_path: []\n", ":2:3: image", "missing required key `version`"},
		{"no search_path", "image:\n  name: docker\n  version: '1'\n", ":2:3: image", "missing required key `search_path`"},
		{"search_path a string", "image:\n  name: docker\n  version: '1'\n  search_path: templates\n", ":4:16: image.search_path", "must be a list, not a string (\"templates\") (write it as a list: [templates])"},
		{"bad name", "image:\n  name: 'my image'\n  version: '1'\n  search_path: []\n", ":2:9: image.name", "an image name cannot have (' ')"},
		{"bad version", "image:\n  name: docker\n  version: '1/2'\n  search_path: []\n", ":3:12: image.version", "an image version cannot have ('/')"},
		{"version a list", "image:\n  name: docker\n  version: [1]\n  search_path: []\n", ":3:12: image.version", "must be a string, not a list"},
		{"instance type", imageConfig("  aws:\n    instance_type: T2 Micro\n"), ":6:20: image.aws.instance_type", "not an EC2 instance type"},
		{"detailed_monitoring", imageConfig("  aws:\n    detailed_monitoring: sometimes\n"), ":6:26: image.aws.detailed_monitoring", "must be true or false"},
		{"security groups mapping", imageConfig("  aws:\n    security_groups: {a: b}\n"), ":6:22: image.aws.security_groups", "must be a list of strings or one comma-separated string"},
		{"tags a list", imageConfig("  aws:\n    tags: [a]\n"), ":6:11: image.aws.tags", "must be a mapping of names to values"},
		{"aws tag prefix", imageConfig("  aws:\n    tags:\n      aws:owner: me\n"), ":7:18: image.aws.tags.aws:owner", "reserved by AWS"},
		{"tag value long", imageConfig("  aws:\n    tags:\n      owner: " + strings.Repeat("v", 257) + "\n"), ":7:14: image.aws.tags.owner", "at most 256"},
		{"local image list", imageConfig("  local:\n    image: [a]\n"), ":6:12: image.local.image", "must be a string"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadImage(t, tc.src)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a config error, got %v", err)
			}
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				found = found || (strings.Contains(line, tc.where) && strings.Contains(line, tc.msg))
			}
			if !found {
				t.Errorf("no %q with %q in:\n%s", tc.where, tc.msg, err)
			}
		})
	}

	// <name>_<version>_<YYYY-mm-dd-HH-MM-SS> is at most 128 characters.
	if _, err := loadImage(t, "image:\n  name: "+strings.Repeat("n", 100)+"\n  version: '1.10.1'\n  search_path: []\n"); err != nil {
		t.Errorf("a 127-character image name is refused: %v", err)
	}
	_, err := loadImage(t, "image:\n  name: "+strings.Repeat("n", 100)+"\n  version: '1.10.1.2'\n  search_path: []\n")
	if err == nil || !strings.Contains(err.Error(), "cloud-compose.yml:2:9: image.name: with version \"1.10.1.2\", the images are named <name>_<version>_<time>, 129 characters; EC2 takes at most 128") {
		t.Errorf("name + version over 128 characters: %v", err)
	}

	// All at once, in file order.
	_, err = loadImage(t, "image:\n  name: 'a b'\n  version: [1]\n  search_path: x\n  aws:\n    ebs_optimized: 3\n")
	if err == nil || !strings.HasPrefix(err.Error(), "4 problems in the configuration:\ncloud-compose.yml:2:9: image.name") {
		t.Errorf("all problems at once: %v", err)
	}

	warnCases := []struct{ name, src, where, msg string }{
		{"typo", imageConfig("  serch_path: [x]\n"), ":5:3: image.serch_path", "unknown key; did you mean `search_path`?"},
		{"aws typo", imageConfig("  aws:\n    instance_typ: t2.micro\n"), ":6:5: image.aws.instance_typ", "did you mean `instance_type`?"},
		{"aws subnet typo", imageConfig("  aws:\n    subnets: subnet-1\n"), ":6:5: image.aws.subnets", "did you mean `subnet`?"},
		{"local typo", imageConfig("  local:\n    imag: base\n"), ":6:5: image.local.imag", "did you mean `image`?"},
		{"tool tag", imageConfig("  aws:\n    tags:\n      Name: mine\n"), ":7:13: image.aws.tags.Name", "tag Name is set by the tool (ImageName, ImageVersion, Name); this value is ignored"},
	}
	for _, tc := range warnCases {
		t.Run(tc.name, func(t *testing.T) {
			img, err := loadImage(t, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, w := range img.Warnings {
				found = found || (strings.Contains(w.String(), tc.where) && strings.Contains(w.String(), tc.msg))
			}
			if !found {
				t.Errorf("no warning %q with %q in %v", tc.where, tc.msg, img.Warnings)
			}
		})
	}
	// Keys only templates read pass without a word.
	img, err := loadImage(t, imageConfig("  packages: [git, lvm2]\n  aws:\n    ami: ami-1\n"))
	if err != nil || len(img.Warnings) != 0 {
		t.Errorf("template-only keys: %v %v", err, img.Warnings)
	}
}

// Problem locates a key under image:, or its nearest parent.
func TestImageProblem(t *testing.T) {
	img, err := loadImage(t, imageConfig("  aws:\n    ami: ami-1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Problem([]string{"aws", "ami"}, "x").String(); got != "cloud-compose.yml:6:10: image.aws.ami: x" {
		t.Errorf("present key: %s", got)
	}
	if got := img.Problem([]string{"aws", "subnet"}, "is required to bake on EC2").String(); got != "cloud-compose.yml:6:5: image.aws.subnet: is required to bake on EC2" {
		t.Errorf("missing key: %s", got)
	}
}

// A project may have only an image section: the document loads, and the
// cluster commands say that `cluster:` is missing.
func TestImageOnlyProject(t *testing.T) {
	doc, err := Parse("cloud-compose.yml", []byte(imageConfig("")), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadImage(doc); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCluster(doc); err == nil || !strings.Contains(err.Error(), "missing required top-level key `cluster`") {
		t.Errorf("LoadCluster of an image-only project: %v", err)
	}
}
