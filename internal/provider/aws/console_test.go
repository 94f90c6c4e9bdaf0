package aws

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb\n"},
		{"a\nb\n", 0, "a\nb\n"},
		{"", 3, ""},
	} {
		if got := lastLines(tc.in, tc.n); got != tc.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestIntegrationConsoleLogs: `cluster logs` reads the console output.
func TestIntegrationConsoleLogs(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	pr := writeProject(t, clusterYAML(w, uniq("logs"), 1, "", ""))
	h := openHarness(t, ctx, pr, provider.Options{})
	out, err := w.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(w.ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(w.subnet)})
	if err != nil {
		t.Fatal(err)
	}
	var all, last bytes.Buffer
	id := aws.ToString(out.Instances[0].InstanceId)
	if err := h.p.Logs(ctx, id, &all, false, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Logs(ctx, id, &last, false, 1); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(all.String(), "\n"); lines < 2 || strings.Count(last.String(), "\n") != 1 || !strings.HasSuffix(all.String(), last.String()) {
		t.Errorf("console output %q, last line %q", all.String(), last.String())
	}
	h.budget(2, map[string]int{"ec2:GetConsoleOutput": 2})
}
