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

// The Python plugin's up and down are not here yet: a usage error that
// says so and where to bake meanwhile, not help and exit 0; other unknown
// commands are unknown commands, with suggestions.
func TestImageNotYet(t *testing.T) {
	dir := writeProject(t, map[string]string{"cloud-compose.yml": imageOnlyConfig})
	for _, args := range [][]string{{"image", "up"}, {"image", "up", "--no-cloud-init"}, {"image", "down"}, {"-o", "json", "image", "up"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := run(t, append([]string{"-C", dir}, args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			cmd := "image " + args[len(args)-1]
			if args[1] == "up" {
				cmd = "image up"
			}
			for _, w := range []string{"error: " + cmd + ": not built yet in this version;", "arrives in a later version", "the Python cloud-compose-image plugin", "`cloud-compose " + cmd + "`", "cloud-compose image build"} {
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
	out, _, code := run(t, "image")
	if code != 0 || !strings.Contains(out, "cloud-compose image [command]") || strings.Contains(out, "cloud-compose image [flags]") {
		t.Errorf("image alone: exit %d\n%s", code, out)
	}
	for _, c := range []string{"build", "import", "ls"} {
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

// Through the binary: `image up -o json` prints the error document, exit 2.
func TestIntegrationImageNotYetJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	dir := writeProject(t, map[string]string{"cloud-compose.yml": imageOnlyConfig})
	out, errOut, code := runBinary(t, dir, nil, "image", "up", "--no-cloud-init", "-o", "json")
	var doc struct {
		Error struct {
			Message  string `json:"message"`
			ExitCode int    `json:"exit_code"`
		} `json:"error"`
	}
	if code != ExitUsage || json.Unmarshal([]byte(out), &doc) != nil || doc.Error.ExitCode != ExitUsage ||
		!strings.HasPrefix(doc.Error.Message, "image up: not built yet in this version;") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
