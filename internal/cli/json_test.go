package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// jsonProject writes a one-node local project whose boot script prints
// two lines and exits, with a secret config shows as <redacted>.
func jsonProject(t *testing.T, config, script string) string {
	t.Helper()
	dir := t.TempDir()
	if config == "" {
		config = `cluster:
  name: jsontest
  search_path: [templates]
  secrets:
    TOKEN: not-a-real-token
  local:
    image: empty
    nodes:
      - id: 0
        ip: 127.0.0.231
`
	}
	if script == "" {
		script = "#!/bin/sh\necho 'hello <&> from {{ _node_id | default(\"none\") }}'\necho second\n"
	}
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "cluster.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// decodeOne decodes stdout as exactly one JSON document.
func decodeOne(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", out)
	}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func wantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keysOf(m); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: keys %v, want %v", what, got, want)
	}
}

// TestIntegrationJSON checks each command's -o json document through the
// binary: its keys, one document on stdout, `<redacted>` as is, and errors
// as {"error": {...}} on stdout with the one-line error still on stderr.
func TestIntegrationJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary")
	}
	dir := jsonProject(t, "", "")

	t.Run("config", func(t *testing.T) {
		out, errOut, code := runBinary(t, dir, nil, "config", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if strings.Contains(out, `\u003c`) || !strings.Contains(out, `"TOKEN": "<redacted>"`) {
			t.Errorf("<redacted> not printed as is:\n%s", out)
		}
		var doc map[string]any
		decodeOne(t, out, &doc)
		wantKeys(t, "config", doc, "cluster")
	})

	t.Run("build", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			node any
		}{{nil, nil}, {[]string{"--node", "0"}, "0"}} {
			out, errOut, code := runBinary(t, dir, nil, append([]string{"cluster", "build", "-o", "json"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var doc map[string]any
			decodeOne(t, out, &doc)
			wantKeys(t, "build", doc, "cluster", "node", "user_data")
			if doc["cluster"] != "jsontest" || doc["node"] != tc.node {
				t.Errorf("build %v: %v", tc.args, doc)
			}
			ud, _ := doc["user_data"].(string)
			if !strings.HasPrefix(ud, "#!/bin/sh\n") || !strings.Contains(ud, "hello <&> from") || strings.Contains(out, `\u003c`) {
				t.Errorf("user_data: %q", ud)
			}
		}
	})

	t.Run("image ls", func(t *testing.T) {
		out, errOut, code := runBinary(t, dir, nil, "image", "ls", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var imgs []map[string]any
		decodeOne(t, out, &imgs)
		if imgs == nil {
			t.Fatalf("not an array: %s", out)
		}
		for _, i := range imgs {
			if _, ok := i["ami_name"]; ok {
				t.Errorf("a local image has an ami_name: %v", i)
			}
			wantKeys(t, "image", i, "id", "name", "image", "version", "created", "state", "used_by")
			if c, ok := i["created"].(string); ok && strings.HasPrefix(c, "0001-") {
				t.Errorf("zero created time: %v", i)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		bad := jsonProject(t, "cluster:\n  name: jsontest\n  search_path: [templates]\n  local:\n    image: empty\n    nodes:\n      - id: 0\n        ip: 300.1.1.1\n", "")
		badTemplate := jsonProject(t, "", "#!/bin/sh\necho ok\n{{ nope.attr }}\n")
		for _, tc := range []struct {
			name string
			dir  string
			args []string
			code int
			file string
			line float64
		}{
			{"config problem", bad, []string{"config", "-o", "json"}, 2, "cloud-compose.yml", 8},
			{"config problem, build", bad, []string{"cluster", "build", "--output=json"}, 2, "cloud-compose.yml", 8},
			{"template error", badTemplate, []string{"-ojson", "cluster", "build"}, 2, "cluster.sh", 3},
			{"usage error before -o", dir, []string{"cluster", "build", "--bogus", "-o", "json"}, 2, "", 0},
			{"logs usage error", dir, []string{"cluster", "logs", "-o", "json", "a", "b"}, 2, "", 0},
			{"no such node", dir, []string{"cluster", "build", "-o", "json", "--node", "9"}, 2, "", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, errOut, code := runBinary(t, tc.dir, nil, tc.args...)
				if code != tc.code {
					t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
				}
				var doc struct {
					Error struct {
						Message  string           `json:"message"`
						ExitCode int              `json:"exit_code"`
						Problems []map[string]any `json:"problems"`
					} `json:"error"`
				}
				decodeOne(t, out, &doc)
				var raw map[string]map[string]any
				decodeOne(t, out, &raw)
				wantKeys(t, "error", raw["error"], "message", "exit_code", "problems")
				e := doc.Error
				if e.ExitCode != tc.code || e.Message == "" || e.Problems == nil {
					t.Errorf("error document: %+v", e)
				}
				if !strings.Contains(errOut, "error: "+strings.SplitN(e.Message, "\n", 2)[0]) {
					t.Errorf("stderr lacks the error line %q:\n%s", e.Message, errOut)
				}
				if tc.file == "" {
					return
				}
				if len(e.Problems) == 0 {
					t.Fatalf("no problems: %s", out)
				}
				p := e.Problems[0]
				wantKeys(t, "problem", p, "file", "line", "column", "key", "message")
				if !strings.HasSuffix(p["file"].(string), tc.file) || p["line"] != tc.line || p["message"] == "" {
					t.Errorf("problem %v, want %s:%v", p, tc.file, tc.line)
				}
				if tc.file == "cloud-compose.yml" && (p["key"] != "cluster.local.nodes[0].ip" || p["column"] != float64(13)) {
					t.Errorf("problem %v, want %s:%v", p, tc.file, tc.line)
				}
			})
		}
	})

	t.Run("up logs down", func(t *testing.T) {
		home := t.TempDir()
		env := []string{"CLOUD_COMPOSE_LOCAL_DIR=" + filepath.Join(home, "store"), "XDG_STATE_HOME=" + filepath.Join(home, "state")}
		if out, errOut, code := runBinary(t, dir, env, "cluster", "up"); code != 0 {
			t.Fatalf("up: exit %d\n%s\n%s", code, out, errOut)
		}
		var lines []map[string]any
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, errOut, code := runBinary(t, dir, env, "cluster", "logs", "-o", "json")
			if code != 0 {
				t.Fatalf("logs: exit %d\n%s", code, errOut)
			}
			lines = nil
			for _, l := range bytes.Split(bytes.TrimSpace([]byte(out)), []byte("\n")) {
				if len(l) == 0 {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal(l, &m); err != nil {
					t.Fatalf("logs line is not one JSON object: %v\n%s", err, l)
				}
				lines = append(lines, m)
			}
			if len(lines) >= 2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		var texts []string
		for _, l := range lines {
			wantKeys(t, "log line", l, "node", "instance_id", "line")
			if l["node"] != "0" || l["instance_id"] == "" {
				t.Errorf("log line %v", l)
			}
			texts = append(texts, l["line"].(string))
		}
		if !strings.Contains(strings.Join(texts, "\n"), "hello <&> from 0\nsecond") {
			t.Errorf("log lines: %q", texts)
		}

		out, errOut, code := runBinary(t, dir, env, "cluster", "down", "--yes", "--force", "-o", "json")
		if code != 0 {
			t.Fatalf("down: exit %d\n%s\n%s", code, out, errOut)
		}
		var doc struct {
			Cluster    string           `json:"cluster"`
			Terminated []map[string]any `json:"terminated"`
		}
		decodeOne(t, out, &doc)
		if doc.Cluster != "jsontest" || len(doc.Terminated) != 1 {
			t.Fatalf("down: %s", out)
		}
		if s := doc.Terminated[0]["state"]; s != string(provider.Terminated) {
			t.Errorf("down: state %v, want terminated:\n%s", s, out)
		}
	})
}

// TestGroupResultJSON: the auto scaling group in up's JSON has lowercase
// keys.
func TestGroupResultJSON(t *testing.T) {
	b, err := json.Marshal(provider.GroupResult{Name: "g", Action: "created", Version: "3", Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"name":"g","action":"created","version":"3","size":2}`; got != want {
		t.Errorf("GroupResult JSON %s, want %s", got, want)
	}
}

// TestJSONRequested: -o json is seen in args as pflag reads it.
func TestJSONRequested(t *testing.T) {
	for _, tc := range []struct {
		args string
		want bool
	}{
		{"cluster build -o json", true},
		{"-ojson cluster build", true},
		{"-o=json cluster build", true},
		{"--output json cluster", true},
		{"--output=json cluster", true},
		{"-vo json cluster", true},
		{"-vojson cluster", true},
		{"-o json -o text cluster", false},
		{"-C -o cluster", false},
		{"-f -ojson cluster", false},
		{"cluster -- -o json", false},
		{"cluster build", false},
	} {
		if got := jsonRequested(strings.Fields(tc.args)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestUnescapeHTML(t *testing.T) {
	for in, want := range map[string]string{
		`"\u003credacted\u003e"`: `"<redacted>"`,
		`"a \u0026 b"`:           `"a & b"`,
		`"\\u003c"`:              `"\\u003c"`,
		`"\\\u003c"`:             `"\\<"`,
		`"\u00e9\n"`:             `"\u00e9\n"`,
	} {
		if got := unescapeHTML(in); got != want {
			t.Errorf("unescapeHTML(%s) = %s, want %s", in, got, want)
		}
	}
}
