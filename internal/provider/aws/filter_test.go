package aws

import (
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestFilterEscapesWildcards(t *testing.T) {
	for in, want := range map[string]string{
		"relA7":       "relA7",
		"relA7*":      `relA7\*`,
		"*":           `\*`,
		"a?b":         `a\?b`,
		`a\b`:         `a\\b`,
		`*amazon?\`:   `\*amazon\?\\`, // the EC2 API reference's example
		`\*`:          `\\\*`,
		"subnet-0abc": "subnet-0abc",
	} {
		f := filter("tag:ClusterName", in)
		if aws.ToString(f.Name) != "tag:ClusterName" || len(f.Values) != 1 || f.Values[0] != want {
			t.Errorf("filter value %q sent as %q, want %q", in, f.Values, want)
		}
	}
}

func TestReservedIP(t *testing.T) {
	cidr := netip.MustParsePrefix("10.0.1.0/24")
	for ip, want := range map[string]bool{"10.0.1.0": true, "10.0.1.3": true, "10.0.1.4": false, "10.0.1.254": false, "10.0.1.255": true} {
		if got := reservedIP(cidr, netip.MustParseAddr(ip)); got != want {
			t.Errorf("reservedIP(%s) = %v, want %v", ip, got, want)
		}
	}
}
