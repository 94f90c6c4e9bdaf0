package local

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// ErrNotLoopback is wrapped when a node IP is outside 127.0.0.0/8.
var ErrNotLoopback = errors.New("not in 127.0.0.0/8")

// checkIP reports whether ip is an IPv4 address in config.LoopbackPrefix,
// where node IPs live: Linux routes the whole of 127.0.0.0/8 to the
// loopback interface, so every node can listen on the same port. Config
// loading reports a node outside it with its place in the file; Resolve
// and Launch check again what they are given.
func checkIP(ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address: %w", ip, ErrNotLoopback)
	}
	if !config.LoopbackPrefix.Contains(a) {
		return fmt.Errorf("IP %s is %w", ip, ErrNotLoopback)
	}
	return nil
}
