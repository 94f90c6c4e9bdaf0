package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// imageGoldens is where the golden cases of `image build` are (generated
// by the Python cloud-compose-image: scripts/gen-goldens).
var imageGoldens = filepath.Join("..", "render", "testdata", "image")

// `image build` through the command line prints what the original's
// `image build` printed, byte for byte; an error-* case exits 2.
func TestImageBuildGoldens(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(imageGoldens, "*"))
	if err != nil || len(dirs) < 8 {
		t.Fatalf("image golden cases missing: %v (%d found)", err, len(dirs))
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() || strings.HasPrefix(name, "unsupported-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			work := dir
			if b, err := os.ReadFile(filepath.Join(dir, "workdir")); err == nil {
				work = filepath.Join(dir, strings.TrimSpace(string(b)))
			}
			if b, err := os.ReadFile(filepath.Join(dir, "env")); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
						t.Setenv(k, v)
					}
				}
			}
			out, errOut, code := run(t, "-C", work, "image", "build")
			if strings.HasPrefix(name, "error-") {
				want, err := os.ReadFile(filepath.Join(dir, "want.err"))
				if err != nil {
					t.Fatal(err)
				}
				if code != ExitUsage || out != "" {
					t.Fatalf("exit %d, want 2 (the original fails with %s)\nstdout: %s\nstderr: %s", code, want, out, errOut)
				}
				return
			}
			want, err := os.ReadFile(filepath.Join(dir, "want.sh"))
			if err != nil {
				t.Fatal(err)
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if diff := cmp.Diff(string(want), out); diff != "" {
				t.Errorf("image build differs from the Python original (-want +got):\n%s", diff)
			}
		})
	}
}

const imageOnlyConfig = `image:
  name: docker
  version: 1.10
  search_path: [templates]
  aws:
    ami: ami-1
`

// A project with only an image: section: the image commands work, the
// cluster commands say what is missing, -o json prints one document.
func TestImageOnlyProject(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"cloud-compose.yml":  imageOnlyConfig,
		"templates/image.sh": "#!/bin/bash\necho {{ name }}:{{ version }}\n",
	})
	out, errOut, code := run(t, "-C", dir, "image", "build")
	if code != 0 || out != "#!/bin/bash\necho docker:1.1\n" {
		t.Errorf("image build: exit %d\nstdout: %q\nstderr: %s", code, out, errOut)
	}
	if want := "cloud-compose.yml:3:12: image.version: 1.10 is read as 1.1"; !strings.HasPrefix(errOut, "warning: ") || !strings.Contains(errOut, want) {
		t.Errorf("no warning %q:\n%s", want, errOut)
	}

	out, _, code = run(t, "-C", dir, "-o", "json", "image", "build")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("image build -o json: exit %d\n%s", code, out)
	}
	want := map[string]any{"image": "docker", "version": "1.1", "script": "#!/bin/bash\necho docker:1.1"}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("image build -o json (-want +got):\n%s", diff)
	}

	_, errOut, code = run(t, "-C", dir, "cluster", "build")
	if code != ExitUsage || !strings.Contains(errOut, "missing required top-level key `cluster`") {
		t.Errorf("cluster build in an image-only project: exit %d\n%s", code, errOut)
	}

	out, _, code = run(t, "-C", dir)
	if code != 0 || !strings.Contains(out, "  image  built in") {
		t.Errorf("plugin list: exit %d\n%s", code, out)
	}
}

// Configuration and template problems of `image build` exit 2 with
// file:line and the key path.
func TestImageBuildErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"no image section", map[string]string{"cloud-compose.yml": "cluster:\n  name: a\n  search_path: [templates]\n"},
			[]string{"cloud-compose.yml:1:1: missing required top-level key `image`"}},
		{"every problem at once", map[string]string{"cloud-compose.yml": "image:\n  name: 'a b'\n  version: [1]\n  search_path: templates\n  aws:\n    instance_type: big\n"},
			[]string{"4 problems in the configuration:", "cloud-compose.yml:2:9: image.name:", "cloud-compose.yml:3:12: image.version: must be a string", "cloud-compose.yml:4:16: image.search_path: must be a list", "cloud-compose.yml:6:20: image.aws.instance_type:"}},
		{"no image.sh", map[string]string{"cloud-compose.yml": imageOnlyConfig, "templates/cluster.sh": "#!/bin/bash\n"},
			[]string{`error: image.sh: template "image.sh" is not in any directory of the search path (., templates)`}},
		{"undefined", map[string]string{"cloud-compose.yml": imageOnlyConfig, "templates/image.sh": "#!/bin/bash\n{{ cluster.name }}\n"},
			[]string{"error: templates/image.sh:2:", "cluster"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, tc.files)
			out, errOut, code := run(t, "-C", dir, "image", "build")
			if code != ExitUsage || out != "" {
				t.Errorf("exit %d, want 2; stdout: %s", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// Bad input to image up|down|ls: a usage or config error (exit 2) naming
// what to fix, before any AWS call (no credentials are set here, so a
// call would fail differently); unknown commands are unknown commands, with
// suggestions.
func TestImageBadInput(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
	quoted := strings.Replace(imageOnlyConfig, "version: 1.10", "version: '1.10'", 1)
	both := quoted + "  local:\n    image: empty\n"
	none := "image:\n  name: docker\n  version: '1'\n  search_path: [templates]\n"
	for _, c := range []struct {
		name, config string
		args         []string
		want         []string
	}{
		{"no subnet", quoted, []string{"image", "up"}, []string{"cloud-compose.yml:6:5: image.aws: has no subnet: the bake instance runs in image.aws.subnet"}},
		{"no ami", strings.Replace(quoted, "ami: ami-1", "subnet: subnet-1", 1), []string{"image", "up"}, []string{"image.aws: has no ami: a bake starts from a base image"}},
		{"version a number", imageOnlyConfig, []string{"image", "up"}, []string{"cloud-compose.yml:3:12: image.version: 1.10 is a number in YAML 1.1"}},
		{"both providers", both, []string{"image", "up"}, []string{"has both aws: and local:; say which with --provider aws or --provider local"}},
		{"both providers down", both, []string{"image", "down"}, []string{"--provider aws or --provider local"}},
		{"neither provider", none, []string{"image", "up"}, []string{"cloud-compose.yml:2:3: image: has neither aws: nor local:; image up needs image.aws"}},
		{"provider without its section", none, []string{"image", "up", "--provider", "aws"}, []string{"image: has no aws: section: image up --provider aws needs image.aws"}},
		{"bad provider", quoted, []string{"image", "ls", "--provider", "gcp"}, []string{`--provider "gcp": use aws or local`}},
		{"keep 0", quoted, []string{"image", "up", "--keep", "0"}, []string{"--keep 0: keep at least 1"}},
		{"bad timeout", quoted, []string{"image", "up", "--timeout", "-1s"}, []string{"--timeout -1s: give a positive duration"}},
		{"ls extra args", quoted, []string{"image", "ls", "a", "b"}, []string{"accepts at most 1 arg"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{"cloud-compose.yml": c.config, "templates/image.sh": "echo hi\n"})
			out, errOut, code := run(t, append([]string{"-C", dir}, c.args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want 2\n%s", code, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if out != "" {
				t.Errorf("stdout: %s", out)
			}
		})
	}
	_, errOut, code := run(t, "image", "bild")
	if code != ExitUsage || !strings.Contains(errOut, `unknown command "bild" for "cloud-compose image"`) || !strings.Contains(errOut, "Did you mean this?\n\tbuild") {
		t.Errorf("image bild: exit %d\n%s", code, errOut)
	}
	_, errOut, code = run(t, "image", "bake")
	if code != ExitUsage || !strings.Contains(errOut, `unknown command "bake" for "cloud-compose image"`) {
		t.Errorf("image bake: exit %d\n%s", code, errOut)
	}
	out, _, code := run(t, "image")
	if code != 0 || !strings.Contains(out, "cloud-compose image [command]") || strings.Contains(out, "cloud-compose image [flags]") {
		t.Errorf("image alone: exit %d\n%s", code, out)
	}
	for _, c := range []string{"build", "up", "down", "ls", "import"} {
		if !strings.Contains(out, "  "+c+" ") {
			t.Errorf("image help lacks %s:\n%s", c, out)
		}
	}
}

// image is built in: a cloud-compose-image on PATH is not run for it.
func TestImageBuiltInBeatsPlugin(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"cloud-compose.yml":  imageOnlyConfig,
		"templates/image.sh": "ours\n",
	})
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "cloud-compose-image"), []byte("#!/bin/sh\necho external\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, args := range [][]string{{"image", "build"}, {"image", "up"}} {
		out, _, _ := run(t, append([]string{"-C", dir}, args...)...)
		if strings.Contains(out, "external") {
			t.Errorf("%v ran the external cloud-compose-image", args)
		}
	}
	out, _, _ := run(t, "-C", dir, "image", "build")
	if out != "ours\n" {
		t.Errorf("image build: %q", out)
	}
}

// Through the binary: `image up -o json` with bad input prints the error
// document with the problem's position, exit 2.
func TestIntegrationImageUpErrorJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	dir := writeProject(t, map[string]string{"cloud-compose.yml": strings.Replace(imageOnlyConfig, "version: 1.10", "version: '1.10'", 1)})
	out, errOut, code := runBinary(t, dir, nil, "image", "up", "--no-cloud-init", "-o", "json")
	var doc struct {
		Error struct {
			Message  string `json:"message"`
			ExitCode int    `json:"exit_code"`
			Problems []struct {
				Line int    `json:"line"`
				Key  string `json:"key"`
			} `json:"problems"`
		} `json:"error"`
	}
	if code != ExitUsage || json.Unmarshal([]byte(out), &doc) != nil || doc.Error.ExitCode != ExitUsage ||
		len(doc.Error.Problems) != 1 || doc.Error.Problems[0].Key != "image.aws" || doc.Error.Problems[0].Line != 6 ||
		!strings.Contains(doc.Error.Message, "has no subnet") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// The examples' image: sections are valid and render: what their READMEs
// run first.
func TestExampleImageSections(t *testing.T) {
	for dir, want := range map[string]string{
		"../../examples/quickstart":  "# Bake script of quickstart-base:1, rendered by `cloud-compose image up`.",
		"../../examples/ec2-mongodb": "docker pull washpost/mongodb:3.6",
	} {
		out, errOut, code := run(t, "-C", dir, "image", "build")
		if code != 0 || !strings.Contains(out, want) || errOut != "" {
			t.Errorf("%s: image build: exit %d\n%s\n%s", dir, code, out, errOut)
		}
	}
}

// `config` checks the image: section too: a problem exits 2 with its
// position, a near miss is a warning.
func TestConfigChecksImage(t *testing.T) {
	dir := writeProject(t, map[string]string{"cloud-compose.yml": "image:\n  name: 'a b'\n  version: '1'\n  search_path: [templates]\n"})
	_, errOut, code := run(t, "-C", dir, "config")
	if code != ExitUsage || !strings.Contains(errOut, "cloud-compose.yml:2:9: image.name:") {
		t.Errorf("config: exit %d\n%s", code, errOut)
	}
	dir = writeProject(t, map[string]string{"cloud-compose.yml": "image:\n  name: ab\n  version: '1'\n  search_path: [templates]\n  aws:\n    instance_typ: t3.micro\n"})
	out, errOut, code := run(t, "-C", dir, "config")
	if code != 0 || !strings.Contains(errOut, "image.aws.instance_typ") || !strings.Contains(out, "name: ab") {
		t.Errorf("config: exit %d\n%s\n%s", code, out, errOut)
	}
}
