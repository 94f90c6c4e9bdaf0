package local

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Node-group members have no configured IP: each gets one from
// local.network the first time it launches, recorded in the store
// (bucketAddresses, key <cluster>/<env>/<node>) so that every later
// instance of the node — a replacement, a rollout's — runs on the same
// address. `cluster down` of the member's last instance keeps the record:
// a member that comes back gets its address back.

// ErrNetworkFull is wrapped when local.network has no free address.
var ErrNetworkFull = errors.New("no free address in local.network")

type addressRecord struct {
	IP string `json:"ip"`
}

func addressKey(c provider.ClusterID, node string) string {
	return c.Name + "/" + c.Env + "/" + node
}

// memberIP returns the address of a node-group member: the one recorded,
// or the lowest address of local.network that no other node (recorded,
// configured, or running any cluster's instance) and no load balancer of
// this cluster uses, which it records.
func (p *localProvider) memberIP(ctx context.Context, c provider.ClusterID, node string) (string, error) {
	pfx, err := netip.ParsePrefix(p.local.Network)
	if err != nil {
		return "", fmt.Errorf("node %s is a node-group member: it needs local.network (a loopback range like 127.0.5.0/24) for its IP", node)
	}
	var ip string
	err = p.store.update(ctx, func(t *txn) error {
		key := addressKey(c, node)
		recs, err := t.instances()
		if err != nil {
			return err
		}
		held := map[string]bool{} // by instances not terminated
		live := map[string]bool{} // by instances that run (or start)
		for i := range recs {
			if recs[i].State != provider.Terminated {
				held[recs[i].IP] = true
			}
			if recs[i].live() {
				live[recs[i].IP] = true
			}
		}
		var rec addressRecord
		if ok, err := t.get(bucketAddresses, key, &rec); err != nil {
			return err
		} else if ok && pfx.Contains(netip.MustParseAddr(rec.IP)) && !live[rec.IP] {
			ip = rec.IP
			return nil
		}
		// none yet, or the node's old instance still holds it (a surge):
		// a new one, recorded in its place
		taken := map[string]bool{}
		all, err := each[addressRecord](t, bucketAddresses)
		if err != nil {
			return err
		}
		for _, a := range all {
			taken[a.IP] = true
		}
		for a := range held {
			taken[a] = true
		}
		for _, n := range p.local.Nodes {
			taken[n.IP] = true
		}
		if lb := p.cfg.LoadBalancer; lb != nil && lb.Listen != "" {
			if ap, err := netip.ParseAddrPort(lb.Listen); err == nil {
				taken[ap.Addr().String()] = true
			}
		}
		last := lastAddr(pfx)
		for a := pfx.Addr().Next(); a.IsValid() && a.Less(last); a = a.Next() {
			if !taken[a.String()] {
				ip = a.String()
				return t.put(bucketAddresses, key, addressRecord{IP: ip})
			}
		}
		return fmt.Errorf("node %s: %w %s (every address is taken): use a larger network", node, ErrNetworkFull, pfx)
	})
	return ip, err
}

// lastAddr is the prefix's broadcast address (never handed out, nor is
// the network address).
func lastAddr(pfx netip.Prefix) netip.Addr {
	a := pfx.Masked().Addr().As4()
	host := 32 - pfx.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<host - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
