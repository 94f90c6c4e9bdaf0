package config

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExplain: each leaf's value and origin — base or overlay line,
// ${VAR} set, defaulted or unset, aliases and merge keys resolved to where
// the value is written, the tool's defaults — and secrets redacted.
func TestExplain(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cloud-compose.yml": `common: &common
  size: 20G
cluster:
  name: demo
  search_path: [templates]
  environment:
    A: ${EX_SET}
    B: ${EX_UNSET:-fallback}
    C: x${EX_UNSET}y
    D: $$literal
    E: ${EX_EMPTY:-was-empty}
    API_TOKEN: tok-${EX_SET:-default-token}
  aws:
    volumes:
      - <<: *common
        block: /dev/xvdf
    nodes: []
  health: {}
`,
		"environments/prod.yml": "cluster:\n  aws:\n    asg:\n      subnets: [s-1]\n",
	})
	lookup := func(k string) (string, bool) {
		switch k {
		case "EX_SET":
			return "set-value", true
		case "EX_EMPTY":
			return "", true
		}
		return "", false
	}
	doc, err := loadEnv(t, dir, "prod", lookup)
	if err != nil {
		t.Fatal(err)
	}
	got, err := doc.Explain("")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, x := range got {
		lines = append(lines, fmt.Sprintf("%s = %v  [%s] %s", x.Key, x.Value, x.Source.Kind, x.Source))
	}
	want := []string{
		"common.size = 20G  [file] cloud-compose.yml:2",
		"cluster.name = demo  [file] cloud-compose.yml:4",
		"cluster.search_path[0] = templates  [file] cloud-compose.yml:5",
		"cluster.environment.A = set-value  [env] ${EX_SET} from the environment (cloud-compose.yml:7)",
		"cluster.environment.B = fallback  [env-default] ${EX_UNSET:-fallback} default (cloud-compose.yml:8)",
		"cluster.environment.C = xy  [env-unset] x${EX_UNSET}y unset, empty (cloud-compose.yml:9)",
		"cluster.environment.D = $literal  [file] cloud-compose.yml:10",
		"cluster.environment.E = was-empty  [env-default] ${EX_EMPTY:-was-empty} default (cloud-compose.yml:11)",
		"cluster.environment.API_TOKEN = <redacted>  [env] ${EX_SET} from the environment (cloud-compose.yml:12)",
		"cluster.aws.volumes[0].size = 20G  [file] cloud-compose.yml:2",
		"cluster.aws.volumes[0].block = /dev/xvdf  [file] cloud-compose.yml:16",
		"cluster.aws.volumes[0].volume_type = gp2  [default] default",
		"cluster.aws.nodes = []  [file] cloud-compose.yml:17",
		"cluster.aws.asg.subnets[0] = s-1  [file] environments/prod.yml:4",
		"cluster.aws.asg.redundancy = 1  [default] default",
		"cluster.aws.instance_type = t2.medium  [default] default",
		"cluster.health = map[]  [file] cloud-compose.yml:18",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("Explain (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		key  string
		want []string // keys
		near []string // for an unknown key
	}{
		{key: "cluster.aws.asg", want: []string{"cluster.aws.asg.subnets[0]", "cluster.aws.asg.redundancy"}},
		{key: "cluster.aws.instance_type", want: []string{"cluster.aws.instance_type"}},
		{key: "cluster.aws.volumes[0].size", want: []string{"cluster.aws.volumes[0].size"}},
		{key: "cluster.aws.asg.subnet", near: []string{"cluster.aws.asg.subnets"}},
		{key: "cluster.aws.nope", near: []string{"cluster.aws.nodes"}},
		{key: "cluster.aws.zzzzzzzz", near: []string{"cluster.aws.volumes", "cluster.aws.nodes", "cluster.aws.asg", "cluster.aws.instance_type"}},
		{key: "clu", near: []string{"common", "cluster"}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			xs, err := doc.Explain(tc.key)
			var uk *UnknownKeyError
			if tc.near != nil {
				if !errors.As(err, &uk) {
					t.Fatalf("want an *UnknownKeyError, got %v", err)
				}
				if diff := cmp.Diff(tc.near, uk.Nearest); diff != "" {
					t.Errorf("nearest (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, x := range xs {
				keys = append(keys, x.Key)
			}
			if diff := cmp.Diff(tc.want, keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}
