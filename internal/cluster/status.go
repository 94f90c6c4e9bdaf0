package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// StateMissing is the state of a configured node with no instance.
const StateMissing = "missing"

// StatusRow is one node, or one instance of the cluster that matches no
// configured node (an orphan).
type StatusRow struct {
	ID         string     `json:"id"`
	InstanceID string     `json:"instance_id"`
	State      string     `json:"state"`
	IP         string     `json:"ip"`
	Image      string     `json:"image"`
	Type       string     `json:"type"`
	Launched   *time.Time `json:"launched"`
	ExitCode   *int       `json:"exit_code,omitempty"`
	Orphan     bool       `json:"orphan,omitempty"`
	// Member is set on an instance of the cluster's auto scaling group
	// (ASG mode); Zone is then its availability zone and Health the
	// group's health status of it.
	Member bool   `json:"member,omitempty"`
	Zone   string `json:"zone,omitempty"`
	// DuplicateOf is set on a second live instance of a node: the instance
	// the node keeps. up removes the duplicate.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Foreign is set on an instance with the cluster's name outside its
	// network (e.g. "vpc-0abc"): not this cluster's, never touched.
	Foreign string `json:"foreign,omitempty"`
	// Spec is current or stale (the instance runs another spec than the
	// node's desired one); "" for rows without a live instance of a node.
	Spec string `json:"spec,omitempty"`
	// Health is healthy or unhealthy, "" when the cluster has no check or
	// the instance does not run.
	Health     string `json:"health,omitempty"`
	Generation string `json:"generation,omitempty"`
}

// Spec states in status.
const (
	SpecCurrent = "current"
	SpecStale   = "stale"
)

// Status is `cluster status`.
type Status struct {
	Cluster string      `json:"cluster"`
	Nodes   []StatusRow `json:"nodes"`
	// Group is the auto scaling group in ASG mode (nil otherwise, or when
	// the group does not exist).
	Group *provider.GroupInfo `json:"group,omitempty"`
	// LoadBalancer is the cluster's load balancer and its targets, when
	// it has one configured (state stopped: the local proxy is not
	// running).
	LoadBalancer *provider.LBStatus `json:"load_balancer,omitempty"`
}

// Status joins the configured nodes with the cluster's instances: one row
// per node (its live instance, else its newest), and a row per instance
// that belongs to no configured node.
func (e *Engine) Status(ctx context.Context, opts PlanOptions) (*Status, error) {
	insts, _, specs, err := e.desired(ctx, opts)
	if err != nil {
		return nil, err
	}
	nodes := e.Cluster.Nodes()
	probes := probeAll(ctx, e.check(), insts)
	st := &Status{Cluster: e.Cluster.Name, Nodes: []StatusRow{}}
	if err := e.groupStatus(ctx, st); err != nil {
		return nil, err
	}
	if e.loadBalancer() != nil {
		lb, err := e.LoadBalancerStatus(ctx)
		if err != nil {
			return nil, fmt.Errorf("load balancer: %w", err)
		}
		if lb == nil {
			lb = &provider.LBStatus{State: "stopped", Targets: []provider.LBTarget{}}
			if c := e.Cluster.LoadBalancer; c != nil && c.Listen != "" {
				lb.Address = "http://" + c.Listen + "/"
			}
		}
		st.LoadBalancer = lb
	}
	used := map[string]bool{}
	for k, n := range nodes {
		row := StatusRow{ID: n.ID, State: StateMissing, IP: n.IP}
		m := provider.MatchNode(insts, n)
		pick := m.Live
		if pick == nil && len(m.Dead) > 0 {
			pick = &m.Dead[len(m.Dead)-1]
		}
		for _, i := range insts {
			if provider.Owns(i, n) {
				used[i.ID] = true
			}
		}
		if pick != nil {
			row = instanceRow(n.ID, *pick)
		}
		if m.Live != nil {
			row.Spec = SpecCurrent
			if len(provider.Changes(*m.Live, specs[k])) > 0 {
				row.Spec = SpecStale
			}
			if err, probed := probes[m.Live.ID]; probed {
				row.Health = "healthy"
				if err != nil {
					row.Health = "unhealthy"
				}
			}
		}
		st.Nodes = append(st.Nodes, row)
		for _, d := range m.Duplicates {
			dup := instanceRow(n.ID, d)
			dup.DuplicateOf = m.Live.ID
			st.Nodes = append(st.Nodes, dup)
		}
	}
	for _, i := range insts {
		switch {
		case i.Foreign != "":
			row := instanceRow(i.NodeID, i)
			row.Foreign = i.Foreign
			st.Nodes = append(st.Nodes, row)
		case !used[i.ID] && st.Group.Has(i.ID):
			gi, _ := st.Group.Member(i.ID)
			row := instanceRow(i.NodeID, i)
			row.Member, row.Zone, row.Health = true, gi.Zone, gi.Health
			st.Nodes = append(st.Nodes, row)
		case !used[i.ID]:
			row := instanceRow(i.NodeID, i)
			row.Orphan = true
			st.Nodes = append(st.Nodes, row)
		}
	}
	return st, nil
}

// groupStatus adds the cluster's auto scaling group to st, in ASG mode.
func (e *Engine) groupStatus(ctx context.Context, st *Status) error {
	g, ok := e.Provider.(provider.GroupProvider)
	if !ok || !g.GroupMode() {
		return nil
	}
	gs, ok := e.Provider.(provider.GroupStatuser)
	if !ok {
		return nil
	}
	info, err := gs.GroupStatus(ctx, e.ID)
	if err != nil {
		return err
	}
	st.Group = info
	return nil
}

func instanceRow(id string, i provider.Instance) StatusRow {
	row := StatusRow{ID: id, InstanceID: i.ID, State: string(i.State), IP: i.IP, Image: i.Image, Type: i.Type, ExitCode: i.ExitCode, Generation: i.Generation}
	if !i.Launched.IsZero() {
		t := i.Launched.UTC()
		row.Launched = &t
	}
	return row
}

// InstanceFor returns the instance to read logs from for a node: the live
// one, else the newest.
func (e *Engine) InstanceFor(ctx context.Context, nodeID string) (*provider.Instance, error) {
	insts, err := e.Observe(ctx)
	if err != nil {
		return nil, err
	}
	var pick *provider.Instance
	for i := range insts {
		if insts[i].NodeID != nodeID || insts[i].Foreign != "" {
			continue
		}
		if pick == nil || insts[i].State.Live() || (!pick.State.Live() && insts[i].Launched.After(pick.Launched)) {
			pick = &insts[i]
		}
	}
	return pick, nil
}
