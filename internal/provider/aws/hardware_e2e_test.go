package aws

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Hardware sizing against moto's instance-type data (moto 5.2.5 ships
// EC2's real catalogue: 1395 types in us-east-1, 1360 offered in
// us-east-1a). The expected types follow from the size rule, not from
// taste: for 2 vCPUs and 4 GiB of x86_64, eight families tie and the name
// decides (c5a.large, not t3.medium).
func TestIntegrationHardwareResolution(t *testing.T) {
	requireMoto(t)
	ctx := testContext(t)
	w := newWorld(t, ctx)
	pr := writeProject(t, clusterYAML(w, uniq("hw"), 1, "", ""))
	h := openHarness(t, ctx, pr, provider.Options{})
	var resolver provider.HardwareResolver
	if r, ok := provider.Provider(h.p).(provider.HardwareResolver); ok {
		resolver = r
	} else {
		t.Fatal("the aws provider is not a provider.HardwareResolver")
	}

	h.calls.Reset()
	for _, tc := range []struct {
		name string
		hw   provider.Hardware
		want provider.HardwareChoice
	}{
		{"x86_64", provider.Hardware{MinCores: 2, MinRAMMiB: 4096}, provider.HardwareChoice{Type: "c5a.large", VCPUs: 2, MemoryMiB: 4096,
			Reason: "smallest current-generation x86_64 type in us-east-1a with ≥2 vCPUs and ≥4 GiB: c5a.large (2 vCPUs, 4 GiB)"}},
		{"arm64: graviton", provider.Hardware{MinCores: 2, MinRAMMiB: 4096, Arch: provider.ArchARM64}, provider.HardwareChoice{Type: "c6g.large", VCPUs: 2, MemoryMiB: 4096,
			Reason: "smallest current-generation arm64 type in us-east-1a with ≥2 vCPUs and ≥4 GiB: c6g.large (2 vCPUs, 4 GiB)"}},
		{"no minimum", provider.Hardware{}, provider.HardwareChoice{Type: "t2.nano", VCPUs: 1, MemoryMiB: 512,
			Reason: "smallest current-generation x86_64 type in us-east-1a: t2.nano (1 vCPU, 512 MiB)"}},
		// g6f.large (a GPU fraction) ties with it by size and would win by
		// name if accelerated types were not left out
		{"no accelerator", provider.Hardware{MinCores: 2, MinRAMMiB: 8 << 10}, provider.HardwareChoice{Type: "m5a.large", VCPUs: 2, MemoryMiB: 8 << 10,
			Reason: "smallest current-generation x86_64 type in us-east-1a with ≥2 vCPUs and ≥8 GiB: m5a.large (2 vCPUs, 8 GiB)"}},
		// by the size rule a storage-dense type can win: d3en sorts first
		{"bigger", provider.Hardware{MinCores: 8, MinRAMMiB: 32 << 10}, provider.HardwareChoice{Type: "d3en.2xlarge", VCPUs: 8, MemoryMiB: 32 << 10,
			Reason: "smallest current-generation x86_64 type in us-east-1a with ≥8 vCPUs and ≥32 GiB: d3en.2xlarge (8 vCPUs, 32 GiB)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolver.ResolveHardware(ctx, "us-east-1a", tc.hw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// one lookup of the types and one of the zone's offerings for all of it
	h.budget(2, map[string]int{"ec2:DescribeInstanceTypes": 1, "ec2:DescribeInstanceTypeOfferings": 1})

	// what moto says of the arm64 choice: a Graviton, offered in the zone
	it, err := w.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"c6g.large"}})
	if err != nil || len(it.InstanceTypes) != 1 {
		t.Fatalf("describe c6g.large: %v", err)
	}
	if pi := it.InstanceTypes[0].ProcessorInfo; !slices.Contains(pi.SupportedArchitectures, ec2types.ArchitectureTypeArm64) || !strings.Contains(aws.ToString(pi.Manufacturer), "AWS") {
		t.Errorf("c6g.large is not an AWS arm64 processor: %+v", pi)
	}

	// an impossible requirement: the error names it, the zone and the
	// nearest types (u7in-32tb is not offered in us-east-1a)
	_, err = resolver.ResolveHardware(ctx, "us-east-1a", provider.Hardware{MinCores: 1000, MinRAMMiB: 64 << 20})
	var nh *provider.NoHardwareError
	if !errors.As(err, &nh) || !errors.Is(err, provider.ErrNoHardware) {
		t.Fatalf("impossible hardware: %v", err)
	}
	want := "no current-generation x86_64 instance type offered in us-east-1a has ≥1000 vCPUs and ≥64 TiB; " +
		"closest: u7in-24tb.224xlarge (896 vCPUs, 24 TiB), u7in-16tb.224xlarge (896 vCPUs, 16 TiB), u7i-12tb.224xlarge (896 vCPUs, 12 TiB)"
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}

	// a zone that is not one: moto offers nothing there
	_, err = resolver.ResolveHardware(ctx, "us-east-1z", provider.Hardware{MinCores: 2})
	if !errors.Is(err, provider.ErrNoHardware) || !strings.Contains(err.Error(), "is us-east-1z a zone of this region?") {
		t.Errorf("unknown zone: %v", err)
	}

	// another zone: its offerings once, the types not again, however many
	// nodes ask at once
	h.calls.Reset()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := resolver.ResolveHardware(ctx, "us-east-1b", provider.Hardware{MinCores: 2, MinRAMMiB: 4096})
			if err == nil && c.Type != "c5a.large" {
				err = errors.New("us-east-1b: " + c.Type)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	h.budget(1, map[string]int{"ec2:DescribeInstanceTypes": 0, "ec2:DescribeInstanceTypeOfferings": 1})

	// a new run (a fresh provider value) looks up again
	h2 := openHarness(t, ctx, pr, provider.Options{})
	if _, err := h2.p.ResolveHardware(ctx, "us-east-1a", provider.Hardware{MinCores: 2}); err != nil {
		t.Fatal(err)
	}
	h2.budget(2, map[string]int{"ec2:DescribeInstanceTypes": 1, "ec2:DescribeInstanceTypeOfferings": 1})

	// the resolved type launches in the zone
	run, err := w.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(w.ami), InstanceType: ec2types.InstanceType("c5a.large"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(w.subnet),
	})
	if err != nil {
		t.Fatalf("launch the resolved type: %v", err)
	}
	t.Cleanup(func() {
		_, _ = w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(run.Instances[0].InstanceId)}})
	})
	if got := run.Instances[0].InstanceType; got != "c5a.large" {
		t.Errorf("launched %s", got)
	}
}
