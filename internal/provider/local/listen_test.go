package local

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

func TestParseProcAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"0B01007F:0050", "127.0.1.11:80"},
		{"00000000:1F90", "0.0.0.0:8080"},
		{"00000000000000000000000000000000:1F90", "[::]:8080"},
		{"0000000000000000FFFF00000B01007F:1F90", "[::ffff:127.0.1.11]:8080"},
		{"00000000000000000000000001000000:0016", "[::1]:22"},
	} {
		got, err := parseProcAddr(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "0100007F", "zz00007F:1F90", "0100007F:XYZ", "01007F:1F90"} {
		if _, err := parseProcAddr(bad); err == nil {
			t.Errorf("parseProcAddr(%q) = nil error", bad)
		}
	}
}

func TestIsSupervisorOf(t *testing.T) {
	const id = "i-0123456789abcdef"
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"/bin/cc", SupervisorCommand, "--store", "/s", "--instance", id}, true},
		{[]string{"/bin/cc", SupervisorCommand, "--store", "/s", "--instance=" + id}, true},
		{[]string{"/bin/cc", SupervisorCommand, "--store", "/s", "--instance", id, "--reap"}, false},
		{[]string{"/bin/cc", SupervisorCommand, "--store", "/s", "--instance", "i-other"}, false},
		{[]string{"/bin/cc", "cluster", "up", "--instance", id}, false},
		{[]string{"/bin/cc", SupervisorCommand, "--store", id}, false},
	} {
		if got := isSupervisorOf(tc.args, id); got != tc.want {
			t.Errorf("isSupervisorOf(%q) = %t, want %t", tc.args, got, tc.want)
		}
	}
}

// TestTCPListeners finds this test's own listeners by address, wildcard
// and port, with this process as their holder.
func TestTCPListeners(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ls, err := tcpListeners(netip.MustParseAddr("127.0.0.1"), port)
	if err != nil || len(ls) != 1 || ls[0].PID != os.Getpid() {
		t.Fatalf("tcpListeners(127.0.0.1:%d) = %+v, %v; want this process", port, ls, err)
	}
	if !strings.Contains(ls[0].String(), fmt.Sprintf("process %d (", os.Getpid())) {
		t.Errorf("holder = %s", ls[0])
	}
	if ls, _ := tcpListeners(netip.MustParseAddr("127.0.0.2"), port); len(ls) != 0 {
		t.Errorf("tcpListeners on another IP = %+v", ls)
	}

	wild, err := net.Listen("tcp", ":0") // [::] (dual stack) or 0.0.0.0
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	wport := wild.Addr().(*net.TCPAddr).Port
	ls, err = tcpListeners(netip.MustParseAddr("127.9.9.9"), wport)
	if err != nil || len(ls) != 1 || ls[0].PID != os.Getpid() || !ls[0].Addr.Addr().IsUnspecified() {
		t.Fatalf("tcpListeners(127.9.9.9:%d) with a wildcard listener = %+v, %v", wport, ls, err)
	}
}

// TestIntegrationLaunchRefusesHeldHealthAddress: a process that is no
// instance listens on the node's health address (exactly, or on the
// wildcard address): the launch fails naming it, and nothing is created.
func TestIntegrationLaunchRefusesHeldHealthAddress(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	for _, tc := range []struct{ name, listen string }{
		{"exact", h.ip(0)},
		{"wildcard", "0.0.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp4", tc.listen+":0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			c := parseCluster(t, fmt.Sprintf(`cluster:
  name: held-%s
  search_path: [templates]
  health: {port: %d, path: /health}
  local:
    nodes:
      - id: 0
        ip: %s
`, tc.name, port, h.ip(0)))
			p := h.open(c, 0)
			_, err = p.Launch(ctx, specFor(t, p, c, c.Nodes()[0], h.demoScript()))
			var inUse *AddressInUseError
			if !errors.As(err, &inUse) || !errors.Is(err, ErrAddressInUse) {
				t.Fatalf("Launch = %v, want an AddressInUseError", err)
			}
			msg := err.Error()
			for _, want := range []string{"process " + strconv.Itoa(os.Getpid()) + " (", h.ip(0) + ":" + strconv.Itoa(port), "node 0"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %s", want, msg)
				}
			}
			t.Logf("%s", msg)
			in, err := p.Instances(ctx, provider.ClusterID{Name: c.Name})
			if err != nil || len(in) != 0 {
				t.Errorf("instances after the refused launch: %+v, %v", in, err)
			}
		})
	}
}
