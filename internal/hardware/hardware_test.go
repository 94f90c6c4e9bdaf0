package hardware

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRAM(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{in: "4G", want: 4096},
		{in: "4g", want: 4096},
		{in: "4GB", want: 4096},
		{in: "4GiB", want: 4096},
		{in: "4 GiB", want: 4096},
		{in: "512M", want: 512},
		{in: "512MiB", want: 512},
		{in: "1.5G", want: 1536},
		{in: "0.5M", want: 1}, // a minimum rounds up
		{in: "1T", want: 1 << 20},
		{in: "1TiB", want: 1 << 20},
		{in: "0G", want: 0},
		{in: "4X", err: `"4X" is not a size: use 4G, 512M, 4GiB`},
		{in: "4096", err: `"4096" is not a size: use 4G, 512M, 4GiB`},
		{in: "G", err: `"G" is not a size`},
		{in: "-1G", err: `"-1G" is not a size`},
		{in: "4KiB", err: `"4KiB" is not a size`},
		{in: "4Gi", err: `"4Gi" is not a size`},
		{in: "99999999T", err: `"99999999T" is too large: use 4G, 512M, 4GiB`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRAM(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseRAM(%q) = %d, %v; want error %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRAM(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cores int
		ram   string
		arch  string
		want  Hardware
		errs  []string // each key's message, in order
	}{
		{name: "all", cores: 2, ram: "4G", arch: "arm64", want: Hardware{MinCores: 2, MinRAMMiB: 4096, Arch: ArchARM64}},
		{name: "default arch", cores: 2, want: Hardware{MinCores: 2, Arch: ArchX86_64}},
		{name: "go arch names", arch: "amd64", want: Hardware{Arch: ArchX86_64}},
		{name: "linux arch names", arch: "aarch64", want: Hardware{Arch: ArchARM64}},
		{name: "nothing", want: Hardware{Arch: ArchX86_64}},
		{name: "bad ram", cores: 2, ram: "4X", errs: []string{`min_ram: "4X" is not a size: use 4G, 512M, 4GiB`}},
		{name: "everything wrong", cores: -1, ram: "lots", arch: "sparc", errs: []string{
			"min_cores: -1 is negative: use a number of vCPUs, like 2",
			`min_ram: "lots" is not a size: use 4G, 512M, 4GiB`,
			`arch: "sparc" is not an architecture: use x86_64 or arm64`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.cores, tc.ram, tc.arch)
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("got %+v, want errors %q", got, tc.errs)
				}
				if err.Error() != strings.Join(tc.errs, "\n") {
					t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tc.errs, "\n"))
				}
				var ke *KeyError
				if !errors.As(err, &ke) {
					t.Errorf("%v is not a *KeyError", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("a parsed hardware does not validate: %v", err)
			}
		})
	}
}

func TestHardwareValidate(t *testing.T) {
	if err := (Hardware{}).Validate(); err != nil {
		t.Errorf("the zero hardware (smallest type, default arch): %v", err)
	}
	err := Hardware{MinCores: -2, MinRAMMiB: -1, Arch: "amd64"}.Validate()
	want := "min_cores: -2 is negative: use a number of vCPUs, like 2\n" +
		"min_ram: -1 MiB is out of range: use 4G, 512M, 4GiB\n" +
		`arch: "amd64" is not an architecture: use x86_64 or arm64`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestHardwareStrings(t *testing.T) {
	for _, tc := range []struct {
		hw         Hardware
		str, needs string
	}{
		{Hardware{MinCores: 2, MinRAMMiB: 4096}, "≥2 vCPUs, ≥4 GiB, x86_64", "≥2 vCPUs and ≥4 GiB"},
		{Hardware{MinCores: 1, Arch: ArchARM64}, "≥1 vCPU, arm64", "≥1 vCPU"},
		{Hardware{MinRAMMiB: 512}, "≥512 MiB, x86_64", "≥512 MiB"},
		{Hardware{MinRAMMiB: 1536}, "≥1.5 GiB, x86_64", "≥1.5 GiB"},
		{Hardware{MinRAMMiB: 2 << 20}, "≥2 TiB, x86_64", "≥2 TiB"},
		{Hardware{MinRAMMiB: 6000}, "≥6000 MiB, x86_64", "≥6000 MiB"},
		{Hardware{}, "x86_64", ""},
	} {
		if got := tc.hw.String(); got != tc.str {
			t.Errorf("%+v.String() = %q, want %q", tc.hw, got, tc.str)
		}
		if got := tc.hw.Needs(); got != tc.needs {
			t.Errorf("%+v.Needs() = %q, want %q", tc.hw, got, tc.needs)
		}
	}
}
