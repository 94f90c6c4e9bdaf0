package aws

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// A hand-made region: the selection's rules, one per row.
var handTypes = []instanceType{
	{Name: "t2.nano", VCPUs: 1, MemoryMiB: 512, Archs: []string{"i386", "x86_64"}, Current: true, OnDemand: true},
	{Name: "m1.small", VCPUs: 1, MemoryMiB: 1740, Archs: []string{"i386", "x86_64"}, Current: false, OnDemand: true}, // previous generation
	{Name: "t3.medium", VCPUs: 2, MemoryMiB: 4096, Archs: []string{"x86_64"}, Current: true, OnDemand: true},
	{Name: "c5.large", VCPUs: 2, MemoryMiB: 4096, Archs: []string{"x86_64"}, Current: true, OnDemand: true}, // ties t3.medium: the name decides
	{Name: "c4.large", VCPUs: 2, MemoryMiB: 3840, Archs: []string{"x86_64"}, Current: false, OnDemand: true},
	{Name: "m5.large", VCPUs: 2, MemoryMiB: 8192, Archs: []string{"x86_64"}, Current: true, OnDemand: true},
	{Name: "a9.large", VCPUs: 2, MemoryMiB: 4096, Archs: []string{"x86_64"}, Current: true, OnDemand: true},               // not offered in the zone
	{Name: "p9.large", VCPUs: 2, MemoryMiB: 4096, Archs: []string{"x86_64"}, Current: true, OnDemand: false},              // capacity blocks only
	{Name: "a1.gpu", VCPUs: 2, MemoryMiB: 4096, Archs: []string{"x86_64"}, Current: true, OnDemand: true, Special: true},  // accelerated
	{Name: "a1.metal", VCPUs: 1, MemoryMiB: 512, Archs: []string{"x86_64"}, Current: true, OnDemand: true, Special: true}, // bare metal
	{Name: "m5.xlarge", VCPUs: 4, MemoryMiB: 16384, Archs: []string{"x86_64"}, Current: true, OnDemand: true},
	{Name: "c5.xlarge", VCPUs: 4, MemoryMiB: 8192, Archs: []string{"x86_64"}, Current: true, OnDemand: true},
	{Name: "t4g.medium", VCPUs: 2, MemoryMiB: 4096, Archs: []string{"arm64"}, Current: true, OnDemand: true},
	{Name: "c6g.medium", VCPUs: 1, MemoryMiB: 2048, Archs: []string{"arm64"}, Current: true, OnDemand: true},
	{Name: "mac2.metal", VCPUs: 12, MemoryMiB: 16384, Archs: []string{"arm64_mac"}, Current: true, OnDemand: true},
}

func handOffered() map[string]bool {
	m := map[string]bool{}
	for _, t := range handTypes {
		if t.Name != "a9.large" {
			m[t.Name] = true
		}
	}
	return m
}

func TestSelectInstanceType(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hw     provider.Hardware
		want   string
		reason string
	}{
		{"no minimum: the smallest", provider.Hardware{}, "t2.nano",
			"smallest current-generation x86_64 type in us-east-1a: t2.nano (1 vCPU, 512 MiB)"},
		{"ties broken by name; previous generation, not offered, not on demand, accelerated and bare metal left out", provider.Hardware{MinCores: 2, MinRAMMiB: 4096}, "c5.large",
			"smallest current-generation x86_64 type in us-east-1a with ≥2 vCPUs and ≥4 GiB: c5.large (2 vCPUs, 4 GiB)"},
		{"fewer vCPUs beat less memory", provider.Hardware{MinRAMMiB: 6000}, "m5.large",
			"smallest current-generation x86_64 type in us-east-1a with ≥6000 MiB: m5.large (2 vCPUs, 8 GiB)"},
		{"then memory", provider.Hardware{MinCores: 3}, "c5.xlarge",
			"smallest current-generation x86_64 type in us-east-1a with ≥3 vCPUs: c5.xlarge (4 vCPUs, 8 GiB)"},
		{"arm64", provider.Hardware{MinCores: 2, Arch: provider.ArchARM64}, "t4g.medium",
			"smallest current-generation arm64 type in us-east-1a with ≥2 vCPUs: t4g.medium (2 vCPUs, 4 GiB)"},
		{"arm64 is not arm64_mac", provider.Hardware{MinCores: 1, Arch: provider.ArchARM64}, "c6g.medium", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectInstanceType(handTypes, handOffered(), "us-east-1a", tc.hw)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.want {
				t.Errorf("got %s, want %s (%s)", got.Type, tc.want, got.Reason)
			}
			if tc.reason != "" && got.Reason != tc.reason {
				t.Errorf("reason:\n got %s\nwant %s", got.Reason, tc.reason)
			}
		})
	}
}

func TestSelectInstanceTypeNoMatch(t *testing.T) {
	_, err := selectInstanceType(handTypes, handOffered(), "us-east-1a", provider.Hardware{MinCores: 8, MinRAMMiB: 8192})
	var nh *provider.NoHardwareError
	if !errors.As(err, &nh) || !errors.Is(err, provider.ErrNoHardware) {
		t.Fatalf("got %v, want a *provider.NoHardwareError", err)
	}
	// m5.xlarge lacks half the vCPUs; c5.xlarge the same, and is smaller;
	// m5.large lacks 3/4 of them
	want := []provider.HardwareChoice{
		{Type: "c5.xlarge", VCPUs: 4, MemoryMiB: 8192},
		{Type: "m5.xlarge", VCPUs: 4, MemoryMiB: 16384},
		{Type: "m5.large", VCPUs: 2, MemoryMiB: 8192},
	}
	if d := cmp.Diff(want, nh.Closest); d != "" {
		t.Errorf("closest (-want +got):\n%s", d)
	}
	msg := "no current-generation x86_64 instance type offered in us-east-1a has ≥8 vCPUs and ≥8 GiB; closest: c5.xlarge (4 vCPUs, 8 GiB), m5.xlarge (4 vCPUs, 16 GiB), m5.large (2 vCPUs, 8 GiB)"
	if err.Error() != msg {
		t.Errorf("message:\n got %s\nwant %s", err, msg)
	}
	// a zone that offers nothing
	_, err = selectInstanceType(handTypes, map[string]bool{}, "us-east-1z", provider.Hardware{MinCores: 2})
	if err == nil || !strings.Contains(err.Error(), "it offers no instance type at all: is us-east-1z a zone of this region?") {
		t.Errorf("empty zone: %v", err)
	}
}

func TestResolveHardwareChecksItsInput(t *testing.T) {
	p := &ec2Provider{}
	if _, err := p.ResolveHardware(t.Context(), "us-east-1a", provider.Hardware{Arch: "sparc"}); err == nil || !strings.Contains(err.Error(), `arch: "sparc" is not an architecture`) {
		t.Errorf("bad arch: %v", err)
	}
	if _, err := p.ResolveHardware(t.Context(), "", provider.Hardware{MinCores: 2}); err == nil || !strings.Contains(err.Error(), "no availability zone") {
		t.Errorf("no zone: %v", err)
	}
}
