package cluster

import (
	"context"
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
}

// Status is `cluster status`.
type Status struct {
	Cluster string      `json:"cluster"`
	Nodes   []StatusRow `json:"nodes"`
}

// Status joins the configured nodes with the cluster's instances: one row
// per node (its live instance, else its newest), and a row per instance
// that belongs to no configured node.
func (e *Engine) Status(ctx context.Context) (*Status, error) {
	insts, err := e.Observe(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Cluster: e.Cluster.Name, Nodes: []StatusRow{}}
	used := map[string]bool{}
	for _, n := range e.Cluster.Nodes() {
		row := StatusRow{ID: n.ID, State: StateMissing, IP: n.IP}
		live, dead := match(insts, n)
		pick := live
		if pick == nil && len(dead) > 0 {
			pick = &dead[len(dead)-1]
		}
		for _, i := range insts {
			if provider.Owns(i, n) {
				used[i.ID] = true
			}
		}
		if pick != nil {
			row = instanceRow(n.ID, *pick)
		}
		st.Nodes = append(st.Nodes, row)
	}
	for _, i := range insts {
		if !used[i.ID] {
			row := instanceRow(i.NodeID, i)
			row.Orphan = true
			st.Nodes = append(st.Nodes, row)
		}
	}
	return st, nil
}

func instanceRow(id string, i provider.Instance) StatusRow {
	row := StatusRow{ID: id, InstanceID: i.ID, State: string(i.State), IP: i.IP, Image: i.Image, Type: i.Type, ExitCode: i.ExitCode}
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
		if insts[i].NodeID != nodeID {
			continue
		}
		if pick == nil || insts[i].State.Live() || (!pick.State.Live() && insts[i].Launched.After(pick.Launched)) {
			pick = &insts[i]
		}
	}
	return pick, nil
}
