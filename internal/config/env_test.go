package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// writeFiles writes files (path -> content) into a new directory and
// returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadEnv loads dir/cloud-compose.yml with environment env, shown as
// cloud-compose.yml in messages.
func loadEnv(t *testing.T, dir, env string, lookup LookupFunc) (*Document, error) {
	t.Helper()
	if lookup == nil {
		lookup = noEnv
	}
	src, err := os.ReadFile(filepath.Join(dir, "cloud-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return ParseWithOptions(context.Background(), "cloud-compose.yml", src, lookup, Options{Env: env, Dir: dir})
}

func yamlOf(t *testing.T, m *Mapping) string {
	t.Helper()
	b, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const envBase = `cluster:
  name: demo
  search_path: [templates]
  tags: [a, b]
  aws:
    instance_type: t3.micro
    keypair: dev
    volumes:
      - {block: /dev/xvdf, size: 10G}
    nodes:
      - {id: 1, ip: 10.0.0.1}
`

// TestEnvironmentMerge: the deep merge, table-driven: mappings by key,
// lists and scalars replace, null deletes, extends chains.
func TestEnvironmentMerge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		env   string
		want  string // the merged document, as YAML
	}{
		{
			name:  "no environment: the environments key is gone, the rest as written",
			files: map[string]string{"cloud-compose.yml": envBase + "environments:\n  staging:\n    cluster: {name: s}\n"},
			want:  envBase,
		},
		{
			name:  "nested maps merge by key; a new key is appended",
			files: map[string]string{"environments/prod.yml": "cluster:\n  aws:\n    instance_type: m5.large\n    ebs_optimized: true\n"},
			env:   "prod",
			want:  strings.Replace(strings.Replace(envBase, "t3.micro", "m5.large", 1), "      - {id: 1, ip: 10.0.0.1}\n", "      - {id: 1, ip: 10.0.0.1}\n    ebs_optimized: true\n", 1),
		},
		{
			name:  "a list replaces the list",
			files: map[string]string{"environments/prod.yml": "cluster:\n  tags: [c]\n"},
			env:   "prod",
			want:  strings.Replace(envBase, "tags: [a, b]", "tags: [c]", 1),
		},
		{
			name:  "a scalar replaces a mapping, a mapping a scalar",
			files: map[string]string{"environments/prod.yml": "cluster:\n  aws: none\n  name: {x: 1}\n"},
			env:   "prod",
			want:  "cluster:\n  name: {x: 1}\n  search_path: [templates]\n  tags: [a, b]\n  aws: none\n",
		},
		{
			name:  "null deletes; a null where there is nothing is dropped",
			files: map[string]string{"environments/prod.yml": "cluster:\n  tags: null\n  aws:\n    keypair: ~\n    volumes:\n  rollout: {data: null, max_unavailable: 2}\n"},
			env:   "prod",
			want:  "cluster:\n  name: demo\n  search_path: [templates]\n  aws:\n    instance_type: t3.micro\n    nodes:\n      - {id: 1, ip: 10.0.0.1}\n  rollout: {max_unavailable: 2}\n",
		},
		{
			name: "an extends chain of 3, files and the environments mapping mixed",
			files: map[string]string{
				"cloud-compose.yml":     envBase + "environments:\n  base-prod:\n    cluster: {aws: {keypair: prod, instance_type: m5.large}}\n",
				"environments/prod.yml": "extends: base-prod\ncluster: {aws: {instance_type: m5.xlarge}}\n",
				"environments/eu.yml":   "extends: prod\ncluster: {name: demo-eu}\n",
			},
			env:  "eu",
			want: strings.NewReplacer("name: demo", "name: demo-eu", "t3.micro", "m5.xlarge", "keypair: dev", "keypair: prod").Replace(envBase),
		},
		{
			name:  "an empty overlay file changes nothing",
			files: map[string]string{"environments/prod.yml": "# nothing yet\n"},
			env:   "prod",
			want:  envBase,
		},
		{
			name: "merge keys and anchors of the base are merged through",
			files: map[string]string{
				"cloud-compose.yml": "defaults: &d\n  size: 10G\n  volume_type: gp2\ncluster:\n  name: demo\n  search_path: [templates]\n" +
					"  aws:\n    volumes:\n      - <<: *d\n        block: /dev/xvdf\n    extra: *d\n",
				"environments/prod.yml": "defaults:\n  size: 20G\ncluster:\n  aws:\n    extra:\n      volume_type: null\n",
			},
			env: "prod",
			want: "defaults: {size: 20G, volume_type: gp2}\ncluster:\n  name: demo\n  search_path: [templates]\n  aws:\n" +
				"    volumes:\n      - {size: 10G, volume_type: gp2, block: /dev/xvdf}\n    extra: {size: 10G}\n",
		},
		{
			name: "an anchor deleted by an overlay is still interpolated where its alias is",
			files: map[string]string{
				"cloud-compose.yml":     "anchors: &a {v: '${EX_V:-dflt}'}\n" + envBase + "other: *a\n",
				"environments/prod.yml": "anchors: null\n",
			},
			env:  "prod",
			want: envBase + "other: {v: dflt}\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"cloud-compose.yml": envBase}
			for k, v := range tc.files {
				files[k] = v
			}
			doc, err := loadEnv(t, writeFiles(t, files), tc.env, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := mustData(t, tc.want)
			if diff := cmp.Diff(yamlOf(t, want), yamlOf(t, doc.Data)); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
			if doc.Env != tc.env {
				t.Errorf("Env = %q, want %q", doc.Env, tc.env)
			}
			for _, p := range doc.Plugins() {
				if p == EnvironmentsKey {
					t.Errorf("environments is listed as a plugin: %v", doc.Plugins())
				}
			}
		})
	}
}

// mustData parses a document without environments.
func mustData(t *testing.T, src string) *Mapping {
	t.Helper()
	doc, err := Parse("want.yml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Data
}

// TestEnvironmentErrors: each broken environment setup is a *Error that
// names the place.
func TestEnvironmentErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		env   string
		want  []string // problems, in order
	}{
		{
			name:  "unknown environment lists the ones that exist and where",
			files: map[string]string{"environments/staging.yml": "cluster: {name: s}\n", "cloud-compose.yml": envBase + "environments:\n  production: {}\n"},
			env:   "prod",
			want:  []string{`cloud-compose.yml: unknown environment "prod"; the environments are: production (cloud-compose.yml:13), staging (environments/staging.yml)`},
		},
		{
			name: "unknown environment with none defined",
			env:  "prod",
			want: []string{`cloud-compose.yml: unknown environment "prod": the project defines no environments; add environments/prod.yml next to cloud-compose.yml, or an ` + "`environments:`" + ` mapping to it`},
		},
		{
			name:  "extends an unknown environment: at the extends key",
			files: map[string]string{"environments/prod.yml": "cluster: {name: p}\nextends: nope\n"},
			env:   "prod",
			want:  []string{`environments/prod.yml:2:10: extends: environment prod extends unknown environment "nope"; the environments are: prod (environments/prod.yml)`},
		},
		{
			name: "a cycle names the chain",
			files: map[string]string{
				"environments/a.yml": "extends: b\n",
				"environments/b.yml": "extends: c\n",
				"environments/c.yml": "extends: a\n",
			},
			env:  "a",
			want: []string{"environments/c.yml:1:10: extends: environments extend each other in a cycle: a → b → c → a; one of them must extend nothing"},
		},
		{
			name:  "an environment extending itself",
			files: map[string]string{"cloud-compose.yml": envBase + "environments:\n  a: {extends: a}\n"},
			env:   "a",
			want:  []string{"cloud-compose.yml:13:16: environments.a.extends: environments extend each other in a cycle: a → a; one of them must extend nothing"},
		},
		{
			name: "defined in both places: an error even when not selected",
			files: map[string]string{
				"environments/staging.yml": "cluster: {name: s}\n",
				"cloud-compose.yml":        envBase + "environments:\n  staging:\n    cluster: {name: t}\n",
			},
			want: []string{"cloud-compose.yml:13:3: environments.staging: environment staging is defined twice: here (cloud-compose.yml:13) and in environments/staging.yml; keep one of them"},
		},
		{
			name:  "an overlay file that is not a mapping",
			files: map[string]string{"environments/prod.yml": "- cluster\n- name\n"},
			env:   "prod",
			want:  []string{"environments/prod.yml:1:1: an environment overlay must be a mapping shaped like cloud-compose.yml (like `cluster: {aws: {instance_type: m5.large}}`), not a list"},
		},
		{
			name:  "an inline environment that is not a mapping",
			files: map[string]string{"cloud-compose.yml": envBase + "environments:\n  prod: [x]\n"},
			want:  []string{"cloud-compose.yml:13:9: environments.prod: an environment must be a mapping shaped like cloud-compose.yml (like `cluster: {aws: {instance_type: m5.large}}`), not a list"},
		},
		{
			name:  "environments that is not a mapping",
			files: map[string]string{"cloud-compose.yml": envBase + "environments: [prod]\n"},
			want:  []string{"cloud-compose.yml:12:15: environments: must be a mapping of environment names to overlays (like `staging: {cluster: {aws: {instance_type: t3.small}}}`), not a list"},
		},
		{
			name:  "extends that is not a string",
			files: map[string]string{"environments/prod.yml": "extends: [a, b]\n"},
			env:   "prod",
			want:  []string{"environments/prod.yml:1:10: extends: must be the name of another environment (a string), not a list"},
		},
		{
			name:  "extends that is a number",
			files: map[string]string{"environments/prod.yml": "extends: 12\n"},
			env:   "prod",
			want:  []string{"environments/prod.yml:1:10: extends: must be the name of another environment (a string), not a number (12)"},
		},
		{
			name:  "a bad environment name",
			files: map[string]string{"environments/prod.yml": "{}\n"},
			env:   "prod/../x",
			want:  []string{`cloud-compose.yml: environment name "prod/../x" has characters an environment name cannot have ('/' '.'): use only letters, digits, - and _`},
		},
		{
			name:  "environments inside an overlay",
			files: map[string]string{"environments/prod.yml": "environments: {x: {}}\n"},
			env:   "prod",
			want:  []string{"environments/prod.yml:1:1: environments: environments cannot be defined inside an environment: define each one in environments/NAME.yml or in the config file's `environments:`"},
		},
		{
			name:  "a YAML syntax error in an overlay",
			files: map[string]string{"environments/prod.yml": "cluster: [\n"},
			env:   "prod",
			want:  []string{"environments/prod.yml:2: YAML syntax error: did not find expected node content (in the list or mapping that starts on this line)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"cloud-compose.yml": envBase}
			for k, v := range tc.files {
				files[k] = v
			}
			_, err := loadEnv(t, writeFiles(t, files), tc.env, nil)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *Error, got %v", err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEnvironmentPositions: a problem with a value an overlay set is
// reported at the overlay's file:line:column; with the base's at the
// base's; unset variables too, after the merge.
func TestEnvironmentPositions(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cloud-compose.yml": envBase + "environments:\n  staging:\n    cluster:\n      aws: {instance_type: '${ITYPE}'}\n",
		"environments/production.yml": "extends: staging\ncluster:\n  aws:\n    instance_type: M5.LARGE\n" +
			"    volumes:\n      - {block: /dev/xvdf, size: 10X}\n    keypair: $UNSET_KEY\n",
	})
	doc, err := loadEnv(t, dir, "production", nil)
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	for _, w := range doc.Warnings {
		warns = append(warns, w.String())
	}
	wantWarn := []string{"environments/production.yml:7:14: ${UNSET_KEY} is not set; using an empty string (set it, give a default with ${UNSET_KEY:-value}, or make it required with ${UNSET_KEY:?message})"}
	if diff := cmp.Diff(wantWarn, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	_, err = LoadCluster(doc)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a *Error, got %v", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`environments/production.yml:4:20: cluster.aws.instance_type: "M5.LARGE" is not an EC2 instance type: write family.size in lower case, like t3.medium`,
		`environments/production.yml:6:34: cluster.aws.volumes[0].size: "10X" is not a size: write a number and a unit, M, G or T (like 10G)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	// the base's own problem stays at the base; a problem of a key an
	// overlay added points at the overlay; Cluster.Problem too
	dir = writeFiles(t, map[string]string{
		"cloud-compose.yml":        strings.Replace(envBase, "t3.micro", "BAD", 1),
		"environments/staging.yml": "cluster:\n  health: {port: 0}\n",
	})
	doc, err = loadEnv(t, dir, "staging", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadCluster(doc)
	if !errors.As(err, &ce) {
		t.Fatalf("want a *Error, got %v", err)
	}
	got = nil
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want = []string{
		`cloud-compose.yml:6:20: cluster.aws.instance_type: "BAD" is not an EC2 instance type: write family.size in lower case, like t3.medium`,
		`environments/staging.yml:2:18: cluster.health.port: 0 is out of range: a TCP port is 1 to 65535`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestEnvironmentIdentity: the environment reaches Document.Env and
// Cluster.Env; ${VAR}s are read after the merge; the environments the
// project defines are listed.
func TestEnvironmentIdentity(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cloud-compose.yml":         envBase + "environments:\n  staging:\n    cluster: {aws: {instance_type: '${ITYPE:-t3.small}'}}\n",
		"environments/prod.yml":     "cluster: {aws: {instance_type: '${ITYPE}'}}\n",
		"environments/qa.yaml":      "{}\n",
		"environments/bad name.yml": "{}\n",
		"environments/notes.txt":    "x\n",
	})
	lookup := func(k string) (string, bool) {
		if k == "ITYPE" {
			return "c5.large", true
		}
		return "", false
	}
	doc, err := loadEnv(t, dir, "prod", lookup)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadCluster(doc)
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != "prod" || c.AWS.InstanceType != "c5.large" {
		t.Errorf("Env %q, instance type %q", c.Env, c.AWS.InstanceType)
	}
	var names []string
	for _, e := range doc.Environments() {
		names = append(names, e.Name+"@"+e.Where())
	}
	want := []string{"prod@environments/prod.yml", "qa@environments/qa.yaml", "staging@cloud-compose.yml:13"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Environments (-want +got):\n%s", diff)
	}
	names = nil
	for _, e := range ListEnvironments(filepath.Join(dir, "cloud-compose.yml")) {
		names = append(names, e.Name+"@"+e.Where())
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("ListEnvironments (-want +got):\n%s", diff)
	}

	// with no environment: Env is empty and nothing is merged
	doc, err = loadEnv(t, dir, "", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := LoadCluster(doc); err != nil || c.Env != "" || c.AWS.InstanceType != "t3.micro" {
		t.Errorf("no env: %v %+v", err, c)
	}
}
