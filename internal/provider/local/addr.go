package local

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// loopback is where node IPs live: Linux routes the whole of 127.0.0.0/8 to
// the loopback interface, so every node can listen on the same port.
var loopback = netip.MustParsePrefix("127.0.0.0/8")

// ErrNotLoopback is wrapped when a node IP is outside 127.0.0.0/8.
var ErrNotLoopback = errors.New("not in 127.0.0.0/8")

// checkIP reports whether ip is an IPv4 address in 127.0.0.0/8.
func checkIP(ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address: %w", ip, ErrNotLoopback)
	}
	if !loopback.Contains(a) {
		return fmt.Errorf("IP %s is %w", ip, ErrNotLoopback)
	}
	return nil
}

// suggestIP proposes a loopback address for the node at index.
func suggestIP(index int) string {
	return fmt.Sprintf("127.0.%d.%d", index/200, 11+index%200)
}

// checkNodes reports every local node without a usable IP, at its place in
// the config file.
func checkNodes(c *config.Cluster) error {
	if c.Local == nil {
		return nil
	}
	var probs []config.Problem
	for _, n := range c.Local.Nodes {
		path := []string{"local", "nodes", strconv.Itoa(n.Index), "ip"}
		switch {
		case n.IP == "":
			probs = append(probs, c.Problem(path, "node %q needs an ip: the local provider runs each node on its own loopback address in 127.0.0.0/8, e.g. %s", n.ID, suggestIP(n.Index)))
		case checkIP(n.IP) != nil:
			probs = append(probs, c.Problem(path, "%s is outside 127.0.0.0/8: the local provider runs nodes on loopback addresses (Linux routes all of 127.0.0.0/8 to lo); use one inside, e.g. %s", n.IP, suggestIP(n.Index)))
		}
	}
	if len(probs) > 0 {
		return &config.Error{Problems: probs}
	}
	return nil
}
