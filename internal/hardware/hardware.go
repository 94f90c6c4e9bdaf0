// Package hardware is what a node needs from its server (`hardware:
// {min_cores, min_ram, arch}`), parsed and checked; no I/O. The config
// checks it, providers resolve it (internal/provider: HardwareResolver).
package hardware

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Hardware sizing: a node may say what it needs (`hardware: {min_cores,
// min_ram, arch}`) instead of naming an instance type.
//
// How it is meant to be wired (not done here; internal/config and the
// engine own that):
//   - config reads `hardware:` (in a node group, a node or the provider
//     section) and checks each key with CheckCores, ParseRAM and ParseArch
//     so that each problem carries its own file:line (or calls
//     ParseHardware for all three at once); `hardware` and `instance_type`
//     exclude each other.
//   - config.Node (or the group) carries a *Hardware. Spec stays pure, so
//     the lookup belongs in Resolve: the AWS provider's Resolve calls
//     ResolveHardware for each node with hardware, with the availability
//     zone of the node's subnet (DescribeSubnets already answers it in
//     lookupSubnets), and returns the choices in the Resolution (e.g. a
//     Hardware map[string]HardwareChoice by node id); Spec puts the
//     choice's Type into Spec.InstanceType and plan prints its Reason
//     next to the node. The AWS spec leaves Spec.Hardware nil: the
//     instance type is what defines the server, so a change of
//     requirement that resolves to the same type replaces nothing.
//   - the local provider (no instance types) gets Spec.Hardware set: it is
//     recorded with the instance and its boot script sees NODE_CORES and
//     NODE_RAM (MiB).

// Architectures a Hardware may ask for (EC2's names).
const (
	ArchX86_64 = "x86_64"
	ArchARM64  = "arm64"
	// DefaultArch is the architecture when `arch:` is not given.
	DefaultArch = ArchX86_64
)

// maxRAMMiB bounds min_ram (1 PiB) so that no size overflows.
const maxRAMMiB = int64(1) << 30

// Hardware is what a node needs from its server.
type Hardware struct {
	// MinCores is the least number of vCPUs (EC2's DefaultVCpus; a
	// hyper-threaded core counts twice); 0 for no minimum.
	MinCores int `json:"min_cores,omitempty"`
	// MinRAMMiB is the least memory in MiB; 0 for no minimum.
	MinRAMMiB int64 `json:"min_ram_mib,omitempty"`
	// Arch is ArchX86_64 or ArchARM64; "" means DefaultArch.
	Arch string `json:"arch,omitempty"`
}

// Architecture is h's architecture, DefaultArch when none is set.
func (h Hardware) Architecture() string {
	if h.Arch == "" {
		return DefaultArch
	}
	return h.Arch
}

// Validate reports every problem of h, each naming its config key.
func (h Hardware) Validate() error {
	var errs []error
	if err := CheckCores(h.MinCores); err != nil {
		errs = append(errs, &KeyError{Key: "min_cores", Err: err})
	}
	if h.MinRAMMiB < 0 || h.MinRAMMiB > maxRAMMiB {
		errs = append(errs, &KeyError{Key: "min_ram", Err: fmt.Errorf("%d MiB is out of range: use 4G, 512M, 4GiB", h.MinRAMMiB)})
	}
	if h.Arch != "" && h.Arch != ArchX86_64 && h.Arch != ArchARM64 {
		errs = append(errs, &KeyError{Key: "arch", Err: fmt.Errorf("%q is not an architecture: use %s or %s", h.Arch, ArchX86_64, ArchARM64)})
	}
	return errors.Join(errs...)
}

// String is h as plans and messages show it: "≥2 vCPUs, ≥4 GiB, x86_64".
func (h Hardware) String() string {
	var parts []string
	if h.MinCores > 0 {
		parts = append(parts, "≥"+VCPUs(h.MinCores))
	}
	if h.MinRAMMiB > 0 {
		parts = append(parts, "≥"+FormatMiB(h.MinRAMMiB))
	}
	return strings.Join(append(parts, h.Architecture()), ", ")
}

// Needs is h's minimums as a phrase ("≥2 vCPUs and ≥4 GiB"); "" when it
// has none.
func (h Hardware) Needs() string {
	var parts []string
	if h.MinCores > 0 {
		parts = append(parts, "≥"+VCPUs(h.MinCores))
	}
	if h.MinRAMMiB > 0 {
		parts = append(parts, "≥"+FormatMiB(h.MinRAMMiB))
	}
	return strings.Join(parts, " and ")
}

// VCPUs is "1 vCPU" or "N vCPUs".
func VCPUs(n int) string {
	if n == 1 {
		return "1 vCPU"
	}
	return strconv.Itoa(n) + " vCPUs"
}

// KeyError is a problem with one key of `hardware:`.
type KeyError struct {
	Key string // min_cores | min_ram | arch
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// Parse builds a Hardware from the config's raw values (min_cores,
// min_ram like "4G", arch; "" and 0 for keys not given) and reports every
// problem at once, each a *KeyError, joined.
func Parse(minCores int, minRAM, arch string) (Hardware, error) {
	var errs []error
	if err := CheckCores(minCores); err != nil {
		errs = append(errs, &KeyError{Key: "min_cores", Err: err})
	}
	var ram int64
	if minRAM != "" {
		var err error
		if ram, err = ParseRAM(minRAM); err != nil {
			errs = append(errs, &KeyError{Key: "min_ram", Err: err})
		}
	}
	a, err := ParseArch(arch)
	if err != nil {
		errs = append(errs, &KeyError{Key: "arch", Err: err})
	}
	if len(errs) > 0 {
		return Hardware{}, errors.Join(errs...)
	}
	return Hardware{MinCores: minCores, MinRAMMiB: ram, Arch: a}, nil
}

// CheckCores checks min_cores: a number of vCPUs, 0 (no minimum) or more.
func CheckCores(n int) error {
	if n < 0 {
		return fmt.Errorf("%d is negative: use a number of vCPUs, like 2", n)
	}
	if n > 1<<20 {
		return fmt.Errorf("%d is out of range: use a number of vCPUs, like 2", n)
	}
	return nil
}

// ParseArch checks arch and returns its canonical name: "" is DefaultArch;
// amd64 and aarch64 (Go's and Linux's names) are taken for x86_64 and
// arm64.
func ParseArch(arch string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(arch)) {
	case "":
		return DefaultArch, nil
	case ArchX86_64, "amd64", "x86-64":
		return ArchX86_64, nil
	case ArchARM64, "aarch64":
		return ArchARM64, nil
	}
	return "", fmt.Errorf("%q is not an architecture: use %s or %s", arch, ArchX86_64, ArchARM64)
}

// ramRE is a memory size: a number (a fraction allowed) and a unit M, G or
// T, optionally followed by B or iB.
var ramRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([MmGgTt])([Ii]?[Bb])?$`)

// ParseRAM converts a memory size ("4G", "512M", "4GiB", "1.5GB", "1T") to
// MiB, rounded up. Units are binary whatever the spelling (memory is sold
// in GiB: "4G" is what EC2 lists as 4 GiB), unlike volume sizes.
func ParseRAM(s string) (int64, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q %s: use 4G, 512M, 4GiB", s, why)
	}
	m := ramRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, bad("is not a size")
	}
	q, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, bad("is not a size")
	}
	switch strings.ToLower(m[2]) {
	case "g":
		q *= 1 << 10
	case "t":
		q *= 1 << 20
	}
	mib := math.Ceil(q)
	if mib > float64(maxRAMMiB) {
		return 0, bad("is too large")
	}
	return int64(mib), nil
}

// FormatMiB shows a memory size exactly: "512 MiB", "4 GiB", "1.5 GiB",
// "2 TiB", "6000 MiB".
func FormatMiB(mib int64) string {
	switch {
	case mib >= 1<<20 && mib%(1<<20) == 0:
		return strconv.FormatInt(mib>>20, 10) + " TiB"
	case mib >= 1<<10 && mib%(1<<10) == 0:
		return strconv.FormatInt(mib>>10, 10) + " GiB"
	case mib >= 1<<10 && mib*100%(1<<10) == 0: // exact in two decimals
		return strconv.FormatFloat(float64(mib)/(1<<10), 'f', -1, 64) + " GiB"
	}
	return strconv.FormatInt(mib, 10) + " MiB"
}
