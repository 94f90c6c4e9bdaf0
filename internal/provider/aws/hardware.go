package aws

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"weak"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Hardware sizing: `hardware: {min_cores, min_ram, arch}` resolves to the
// smallest current-generation instance type offered in the node's
// availability zone that satisfies it — fewest vCPUs, then least memory,
// then the name. Resolve calls ResolveHardware with the zone of each
// sized node's subnet and passes the choices on in Resolution.Hardware;
// Spec puts the choice's Type into Spec.InstanceType, and plan shows its
// Reason (resolve.go, spec.go).

var _ provider.HardwareResolver = (*ec2Provider)(nil)

// hardwareKind is the kind of type the selection considers, for messages.
func hardwareKind(arch string) string { return "current-generation " + arch }

// closestCount is how many near misses an unsatisfiable hardware names.
const closestCount = 3

// instanceType is an EC2 instance type as the selection needs it.
type instanceType struct {
	Name      string
	VCPUs     int
	MemoryMiB int64
	Archs     []string
	Current   bool
	// OnDemand is false for a type EC2 says cannot be launched on demand
	// (e.g. capacity blocks only).
	OnDemand bool
	// Special types are never chosen: accelerated (GPU, FPGA, Inferentia,
	// Trainium, media) and bare metal. Asking for vCPUs and memory is not
	// asking for an accelerator or a whole host, and by the size rule a
	// g4dn.2xlarge would otherwise tie with an m5a.2xlarge.
	Special bool
}

func (t instanceType) choice() provider.HardwareChoice {
	return provider.HardwareChoice{Type: t.Name, VCPUs: t.VCPUs, MemoryMiB: t.MemoryMiB}
}

// ResolveHardware implements provider.HardwareResolver: the smallest
// current-generation instance type of hw's architecture offered in zone
// with at least hw's vCPUs and memory. Both lookups (the region's instance
// types, one DescribeInstanceTypes; the zone's offerings, one
// DescribeInstanceTypeOfferings per zone) are made at most once per
// provider value, i.e. per command run. No match is a
// *provider.NoHardwareError naming the closest types.
func (p *ec2Provider) ResolveHardware(ctx context.Context, zone string, hw provider.Hardware) (provider.HardwareChoice, error) {
	if err := hw.Validate(); err != nil {
		return provider.HardwareChoice{}, fmt.Errorf("hardware: %w", err)
	}
	if zone == "" {
		return provider.HardwareChoice{}, fmt.Errorf("hardware %s: no availability zone to look in", hw)
	}
	types, offered, err := hardwareMemoOf(p).lookup(ctx, p.ec2, zone)
	if err != nil {
		return provider.HardwareChoice{}, err
	}
	return selectInstanceType(types, offered, zone, hw)
}

// selectInstanceType picks the type for hw among types, of those offered
// in zone: current generation, launchable on demand, neither accelerated
// nor bare metal, of hw's architecture, with enough vCPUs and memory; the
// smallest by vCPUs, then memory, then name.
func selectInstanceType(types []instanceType, offered map[string]bool, zone string, hw provider.Hardware) (provider.HardwareChoice, error) {
	arch := hw.Architecture()
	var kind, fits []instanceType
	for _, t := range types {
		if t.Current && t.OnDemand && !t.Special && offered[t.Name] && slices.Contains(t.Archs, arch) {
			kind = append(kind, t)
			if t.VCPUs >= hw.MinCores && t.MemoryMiB >= hw.MinRAMMiB {
				fits = append(fits, t)
			}
		}
	}
	if len(fits) == 0 {
		return provider.HardwareChoice{}, &provider.NoHardwareError{
			Hardware: hw, Zone: zone, Kind: hardwareKind(arch), Offered: len(offered), Closest: closest(kind, hw),
		}
	}
	sortBySize(fits)
	c := fits[0].choice()
	why := "smallest " + hardwareKind(arch) + " type in " + zone
	if n := hw.Needs(); n != "" {
		why += " with " + n
	}
	c.Reason = why + ": " + c.Label()
	return c, nil
}

// sortBySize orders types smallest first: vCPUs, then memory, then name.
func sortBySize(ts []instanceType) {
	sort.Slice(ts, func(i, j int) bool {
		a, b := ts[i], ts[j]
		if a.VCPUs != b.VCPUs {
			return a.VCPUs < b.VCPUs
		}
		if a.MemoryMiB != b.MemoryMiB {
			return a.MemoryMiB < b.MemoryMiB
		}
		return a.Name < b.Name
	})
}

// closest are the types that fall least short of hw: by the sum of the
// fractions of vCPUs and of memory they lack, then the smallest.
func closest(ts []instanceType, hw provider.Hardware) []provider.HardwareChoice {
	short := func(t instanceType) float64 {
		var s float64
		if hw.MinCores > 0 && t.VCPUs < hw.MinCores {
			s += float64(hw.MinCores-t.VCPUs) / float64(hw.MinCores)
		}
		if hw.MinRAMMiB > 0 && t.MemoryMiB < hw.MinRAMMiB {
			s += float64(hw.MinRAMMiB-t.MemoryMiB) / float64(hw.MinRAMMiB)
		}
		return s
	}
	ts = slices.Clone(ts)
	sortBySize(ts)
	sort.SliceStable(ts, func(i, j int) bool { return short(ts[i]) < short(ts[j]) })
	var out []provider.HardwareChoice
	for _, t := range ts[:min(closestCount, len(ts))] {
		out = append(out, t.choice())
	}
	return out
}

// hardwareMemo is one provider value's lookups for hardware sizing: a pure
// memo (what EC2 offers does not change within a command run), like the
// network lookups.
type hardwareMemo struct {
	mu      sync.Mutex
	types   []instanceType             // nil until looked up
	offered map[string]map[string]bool // zone -> instance type -> offered
}

// hardwareMemos holds each live provider's memo, keyed weakly so that a
// provider that is gone takes its memo with it (tests open many).
var hardwareMemos sync.Map // weak.Pointer[ec2Provider] -> *hardwareMemo

func hardwareMemoOf(p *ec2Provider) *hardwareMemo {
	key := weak.Make(p)
	if m, ok := hardwareMemos.Load(key); ok {
		return m.(*hardwareMemo)
	}
	m, loaded := hardwareMemos.LoadOrStore(key, &hardwareMemo{offered: map[string]map[string]bool{}})
	if !loaded {
		runtime.AddCleanup(p, func(k weak.Pointer[ec2Provider]) { hardwareMemos.Delete(k) }, key)
	}
	return m.(*hardwareMemo)
}

// lookup returns the region's instance types and the set offered in zone,
// asking EC2 only for what it has not asked before. Concurrent callers
// wait for one lookup.
func (m *hardwareMemo) lookup(ctx context.Context, c *ec2.Client, zone string) ([]instanceType, map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.types == nil {
		types, err := describeInstanceTypes(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		m.types = types
	}
	offered, ok := m.offered[zone]
	if !ok {
		var err error
		if offered, err = describeOfferings(ctx, c, zone); err != nil {
			return nil, nil, err
		}
		m.offered[zone] = offered
	}
	return m.types, offered, nil
}

// describeInstanceTypes lists the region's instance types, every page.
func describeInstanceTypes(ctx context.Context, c *ec2.Client) ([]instanceType, error) {
	out := []instanceType{}
	pages := ec2.NewDescribeInstanceTypesPaginator(c, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(100)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("look up the region's instance types", err)
		}
		for _, it := range page.InstanceTypes {
			out = append(out, fromInfo(it))
		}
	}
	return out, nil
}

func fromInfo(it ec2types.InstanceTypeInfo) instanceType {
	t := instanceType{Name: string(it.InstanceType), Current: aws.ToBool(it.CurrentGeneration)}
	if it.VCpuInfo != nil {
		t.VCPUs = int(aws.ToInt32(it.VCpuInfo.DefaultVCpus))
	}
	if it.MemoryInfo != nil {
		t.MemoryMiB = aws.ToInt64(it.MemoryInfo.SizeInMiB)
	}
	if it.ProcessorInfo != nil {
		for _, a := range it.ProcessorInfo.SupportedArchitectures {
			t.Archs = append(t.Archs, string(a))
		}
	}
	// EC2 lists the usage classes; a type listed without on-demand cannot
	// be launched by RunInstances as it is called here.
	t.OnDemand = len(it.SupportedUsageClasses) == 0 || slices.Contains(it.SupportedUsageClasses, ec2types.UsageClassTypeOnDemand)
	t.Special = aws.ToBool(it.BareMetal) || it.GpuInfo != nil || it.FpgaInfo != nil ||
		it.InferenceAcceleratorInfo != nil || it.NeuronInfo != nil || it.MediaAcceleratorInfo != nil
	return t
}

// describeOfferings returns the instance types offered in zone, every page.
func describeOfferings(ctx context.Context, c *ec2.Client, zone string) (map[string]bool, error) {
	out := map[string]bool{}
	pages := ec2.NewDescribeInstanceTypeOfferingsPaginator(c, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters:      []ec2types.Filter{filter("location", zone)},
		MaxResults:   aws.Int32(1000),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("look up the instance types offered in "+zone, err)
		}
		for _, o := range page.InstanceTypeOfferings {
			out[string(o.InstanceType)] = true
		}
	}
	return out, nil
}
