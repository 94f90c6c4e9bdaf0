package aws_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/app"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	awsp "github.com/cloud-compose/cloud-compose-go/internal/provider/aws"
	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

// TestIntegrationConcurrentUpOnEC2: 5 `cluster up` at once on one cluster
// (moto) make exactly its 3 instances; the runs that did not get the lock
// fail with a *state.LockError naming the holder, exit 1; instances carry
// generation 1.
func TestIntegrationConcurrentUpOnEC2(t *testing.T) {
	awsp.RequireMoto(t)
	ctx := awsp.TestContext(t)
	w := awsp.NewWorld(t, ctx)
	name := awsp.Uniq("lock")
	dir := awsp.WriteProject(t, awsp.ClusterYAML(w, name, 3, "", "")).Dir()
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = run(t, "-C", dir, "cluster", "up")
		}(i)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		var le *state.LockError
		switch {
		case err == nil:
			won++
		case errors.As(err, &le) && app.ExitCode(err) == 1 && strings.Contains(err.Error(), "cloud-compose cluster unlock "+le.Info.ID) && le.Info.PID > 0:
		default:
			t.Errorf("a concurrent up: %v (exit %d)", err, app.ExitCode(err))
		}
	}
	if won < 1 {
		t.Fatal("no up ran")
	}
	out, err := w.EC2().DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + provider.TagCluster), Values: []string{name}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			n++
			if g := tagOf(i.Tags, provider.TagGeneration); g != "1" {
				t.Errorf("instance %s has generation %q, want 1", aws.ToString(i.InstanceId), g)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d instances after 5 concurrent ups, want 3", n)
	}
	if _, err := run(t, "-C", dir, "cluster", "down", "--yes", "--force"); err != nil {
		t.Fatal(err)
	}
}

func tagOf(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
