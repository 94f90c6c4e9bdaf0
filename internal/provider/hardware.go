package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cloud-compose/cloud-compose-go/internal/hardware"
)

// Hardware sizing: the types and parsers live in internal/hardware (the
// config checks `hardware:` with them); these names keep the provider's
// API in one place.
type (
	Hardware         = hardware.Hardware
	HardwareKeyError = hardware.KeyError
)

// Architectures a Hardware may ask for.
const (
	ArchX86_64  = hardware.ArchX86_64
	ArchARM64   = hardware.ArchARM64
	DefaultArch = hardware.DefaultArch
)

// Parsers of `hardware:`'s keys.
var (
	ParseHardware = hardware.Parse
	CheckCores    = hardware.CheckCores
	ParseArch     = hardware.ParseArch
	ParseRAM      = hardware.ParseRAM
	FormatMiB     = hardware.FormatMiB
)

func vcpus(n int) string { return hardware.VCPUs(n) }

// HardwareChoice is the instance type a Hardware resolved to, and why.
type HardwareChoice struct {
	Type      string `json:"type"`
	VCPUs     int    `json:"vcpus"`
	MemoryMiB int64  `json:"memory_mib"`
	// Reason is for plan, e.g. "smallest current-generation x86_64 type
	// in us-east-1a with ≥2 vCPUs and ≥4 GiB: c5a.large (2 vCPUs, 4 GiB)".
	Reason string `json:"reason,omitempty"`
}

// Label is the type with its size: "c5a.large (2 vCPUs, 4 GiB)".
func (c HardwareChoice) Label() string {
	return fmt.Sprintf("%s (%s, %s)", c.Type, vcpus(c.VCPUs), FormatMiB(c.MemoryMiB))
}

// HardwareResolver is an optional capability (found by type assertion):
// a provider with instance types picks the one a Hardware needs in an
// availability zone. Lookups are memoised for the provider value (one
// command run): resolving many nodes of one zone costs one lookup.
type HardwareResolver interface {
	ResolveHardware(ctx context.Context, zone string, hw Hardware) (HardwareChoice, error)
}

// ErrNoHardware is matched by *NoHardwareError.
var ErrNoHardware = errors.New("no instance type satisfies the hardware")

// NoHardwareError says that no instance type offered in a zone satisfies
// a Hardware, and which come closest.
type NoHardwareError struct {
	Hardware Hardware
	Zone     string
	// Kind describes the types looked at, e.g. "current-generation x86_64".
	Kind string
	// Offered is how many instance types (of any kind) the zone offers.
	Offered int
	// Closest are the types of Kind that come nearest, nearest first.
	Closest []HardwareChoice
}

func (e *NoHardwareError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no %s instance type offered in %s", e.Kind, e.Zone)
	if n := e.Hardware.Needs(); n != "" {
		fmt.Fprintf(&b, " has %s", n)
	}
	if len(e.Closest) > 0 {
		labels := make([]string, len(e.Closest))
		for i, c := range e.Closest {
			labels[i] = c.Label()
		}
		b.WriteString("; closest: " + strings.Join(labels, ", "))
	} else if e.Offered == 0 {
		fmt.Fprintf(&b, " (it offers no instance type at all: is %s a zone of this region?)", e.Zone)
	}
	return b.String()
}

func (e *NoHardwareError) Is(target error) bool { return target == ErrNoHardware }
