package provider

import (
	"sort"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// Owns reports whether instance i belongs to node n: by the node tag, or —
// for instances the Python original launched, which carry no node tag — by
// the node's static IP. Foreign instances belong to no node.
func Owns(i Instance, n config.Node) bool {
	if i.Foreign != "" {
		return false
	}
	return i.NodeID == n.ID || (i.NodeID == "" && n.IP != "" && i.IP == n.IP)
}

// Match is how one node's instances stand: the live one a command keeps,
// live duplicates to remove, and dead instances (stopped or failed) that a
// launch replaces.
type Match struct {
	Live       *Instance
	Duplicates []Instance // live instances beyond Live, oldest first
	Dead       []Instance
}

// MatchNode sorts the cluster's instances that belong to node n. The one
// kept is the oldest running instance (else the oldest pending or stopping
// one): the one that has served longest. Every other live instance of the
// node is a duplicate. This is the one node matcher that up, status, down
// and the providers share.
func MatchNode(observed []Instance, n config.Node) Match {
	var live []Instance
	var m Match
	for _, o := range observed {
		if !Owns(o, n) {
			continue
		}
		switch {
		case o.State.Live() || o.State == Stopping:
			live = append(live, o)
		case o.State == Stopped || o.State == Failed:
			m.Dead = append(m.Dead, o)
		}
	}
	if len(live) == 0 {
		return m
	}
	sort.SliceStable(live, func(a, b int) bool {
		ra, rb := live[a].State == Running, live[b].State == Running
		if ra != rb {
			return ra
		}
		return live[a].Launched.Before(live[b].Launched)
	})
	keep := live[0]
	m.Live = &keep
	m.Duplicates = live[1:]
	m.Dead = nil // a node with a live instance replaces nothing
	return m
}
