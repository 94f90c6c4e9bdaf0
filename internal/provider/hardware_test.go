package provider

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNoHardwareError(t *testing.T) {
	e := &NoHardwareError{
		Hardware: Hardware{MinCores: 1024, MinRAMMiB: 1 << 20}, Zone: "us-east-1a", Kind: "current-generation x86_64", Offered: 10,
		Closest: []HardwareChoice{{Type: "u7i.big", VCPUs: 896, MemoryMiB: 2 << 20}, {Type: "x2.huge", VCPUs: 128, MemoryMiB: 1 << 20}},
	}
	want := "no current-generation x86_64 instance type offered in us-east-1a has ≥1024 vCPUs and ≥1 TiB; closest: u7i.big (896 vCPUs, 2 TiB), x2.huge (128 vCPUs, 1 TiB)"
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e, want)
	}
	if !errors.Is(fmt.Errorf("node web-0: %w", e), ErrNoHardware) {
		t.Errorf("a wrapped *NoHardwareError is not ErrNoHardware")
	}
	none := &NoHardwareError{Hardware: Hardware{MinCores: 2}, Zone: "us-east-1z", Kind: "current-generation x86_64"}
	if !strings.Contains(none.Error(), "is us-east-1z a zone of this region?") {
		t.Errorf("a zone that offers nothing: %s", none)
	}
}
