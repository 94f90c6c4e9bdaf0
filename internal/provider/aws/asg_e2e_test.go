package aws_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
)

// runErr runs the command line as main does and returns stdout, stderr
// and the error.
func runErr(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := app.Run(awsp.TestContext(t), app.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	t.Logf("cloud-compose %s\n%s%s", strings.Join(args, " "), errOut.String(), out.String())
	return out.String(), errOut.String(), err
}

// TestIntegrationGroupCommandLine: in ASG mode, `status` shows the group
// and its instances as members (zone, the group's health), in text and
// JSON; `build --node` renders as `up` does (_node_id = the cluster name)
// and warns; `down` names the instances by their Name tag.
func TestIntegrationGroupCommandLine(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	name := awsp.Uniq("grp")
	dir := awsp.WriteProject(t, awsp.ASGYAML(w, name, "")).Dir()

	if _, _, err := runErr(t, "-C", dir, "cluster", "up"); err != nil {
		t.Fatalf("up: %v", err)
	}

	out, _, err := runErr(t, "-C", dir, "-o", "json", "cluster", "status")
	if err != nil {
		t.Fatalf("status -o json: %v", err)
	}
	var st struct {
		Cluster string `json:"cluster"`
		Nodes   []struct {
			ID         string `json:"id"`
			InstanceID string `json:"instance_id"`
			State      string `json:"state"`
			Orphan     bool   `json:"orphan"`
			Member     bool   `json:"member"`
			Zone       string `json:"zone"`
			Health     string `json:"health"`
		} `json:"nodes"`
		Group map[string]json.RawMessage `json:"group"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	var group struct {
		Name                  string `json:"name"`
		Desired, Min, Max     int
		LaunchTemplateVersion string `json:"launch_template_version"`
		Instances             []map[string]string
	}
	raw, _ := json.Marshal(st.Group)
	if err := json.Unmarshal(raw, &group); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "desired", "min", "max", "launch_template_version", "instances"} {
		if _, ok := st.Group[k]; !ok {
			t.Errorf("group has no %q: %s", k, raw)
		}
	}
	if group.Name != name || group.Desired != 4 || group.Min != 4 || group.Max != 4 || group.LaunchTemplateVersion != "1" || len(group.Instances) != 4 {
		t.Errorf("group: %s", raw)
	}
	members := map[string]bool{}
	for _, gi := range group.Instances {
		if len(gi) != 4 || gi["instance_id"] == "" || gi["zone"] != "us-east-1a" || gi["lifecycle_state"] != "InService" || gi["health"] != "healthy" {
			t.Errorf("group instance: %v", gi)
		}
		members[gi["instance_id"]] = true
	}
	if len(st.Nodes) != 4 {
		t.Errorf("status rows: %d, want 4", len(st.Nodes))
	}
	for _, r := range st.Nodes {
		if !r.Member || r.Orphan || !members[r.InstanceID] || r.Zone != "us-east-1a" || r.Health != "healthy" {
			t.Errorf("row %+v: want a member with its zone and health", r)
		}
	}

	out, _, err = runErr(t, "-C", dir, "cluster", "status")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if want := "auto scaling group " + name + ": desired 4, min 4, max 4, launch template version 1\n"; !strings.HasPrefix(out, want) {
		t.Errorf("status does not start with %q:\n%s", want, out)
	}
	if strings.Contains(out, "orphan") || strings.Count(out, "\nmember ") != 4 || !strings.Contains(out, "ZONE") || strings.Count(out, "us-east-1a") != 4 {
		t.Errorf("status rows: want 4 members with their zone, no orphan:\n%s", out)
	}

	out, errOut, err := runErr(t, "-C", dir, "cluster", "build", "--node", "3")
	if err != nil {
		t.Errorf("build --node in ASG mode: %v", err)
	}
	if !strings.Contains(out, "# node "+name+" of "+name+" ") {
		t.Errorf("build --node 3 in ASG mode: want _node_id = the cluster name:\n%s", out)
	}
	if !strings.Contains(errOut, "warning: --node 3 is ignored in ASG mode") {
		t.Errorf("build --node in ASG mode: no warning:\n%s", errOut)
	}

	out, _, err = runErr(t, "-C", dir, "cluster", "down", "--yes")
	if err != nil {
		t.Fatalf("down: %v", err)
	}
	line := regexp.MustCompile(`(?m)^terminated i-\S+ ` + regexp.QuoteMeta(name) + ` \(`)
	if strings.Contains(out, name+"--") || len(line.FindAllString(out, -1)) != 4 {
		t.Errorf("down: want 4 instances named %s:\n%s", name, out)
	}
}
