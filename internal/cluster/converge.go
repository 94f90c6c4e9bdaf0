package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Converge sets node-group counts (Pallet's converge): members are added
// or removed until each group has its count. Added members get the lowest
// free ids in the zones with the fewest members; removed are, first, the
// members that are missing, dead, unhealthy or stale, then the newest —
// never below min_per_zone in a zone. The new member lists are recorded
// (ConvergeHooks.Record) before anything is launched or terminated, so
// an interrupted converge finishes when run again, and later up, plan and
// rollout keep the counts.

// GroupChange is what converge does to one group.
type GroupChange struct {
	Group   string          `json:"group"`
	From    int             `json:"from"`
	To      int             `json:"to"`
	Add     []string        `json:"add"`
	Remove  []RemovedMember `json:"remove"`
	Members []string        `json:"members"`
}

// RemovedMember is a member converge removes, with why it goes first.
type RemovedMember struct {
	Node     string `json:"node"`
	Instance string `json:"instance,omitempty"`
	Why      string `json:"why"`
}

// ConvergePlan is what PrepareConverge decided, before any change.
type ConvergePlan struct {
	Groups []GroupChange `json:"groups"`
	// Members are every group's members after the converge.
	Members map[string][]string `json:"-"`
	// terminate are the instances of removed members (and of members an
	// interrupted converge removed but did not terminate).
	terminate []provider.Instance
}

// added are the members the plan adds, every group's.
func (p *ConvergePlan) added() []string {
	var out []string
	for _, g := range p.Groups {
		out = append(out, g.Add...)
	}
	return out
}

// Terminates are the instances the plan terminates, by id.
func (p *ConvergePlan) Terminates() map[string]string {
	out := map[string]string{}
	for _, g := range p.Groups {
		for _, r := range g.Remove {
			if r.Instance != "" {
				out[r.Instance] = r.Why
			}
		}
	}
	for _, i := range p.terminate {
		if _, ok := out[i.ID]; !ok {
			out[i.ID] = "left by an earlier converge"
		}
	}
	return out
}

// ConvergeResult is what converge did.
type ConvergeResult struct {
	Cluster    string              `json:"cluster"`
	Groups     []GroupChange       `json:"groups"`
	Up         *UpResult           `json:"up,omitempty"`
	Terminated []provider.Instance `json:"terminated"`
}

// CheckCounts checks GROUP=N counts against the groups: known groups, N at
// least the group's minimum. The error is the user's to fix (usage).
func CheckCounts(c *config.Cluster, counts map[string]int) error {
	var problems []string
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		n := counts[name]
		g, ok := c.Group(name)
		if !ok {
			var have []string
			for _, g := range c.Groups() {
				have = append(have, g.Name)
			}
			if len(have) == 0 {
				problems = append(problems, fmt.Sprintf("%s: the cluster has no node groups (cluster.groups)", name))
			} else {
				problems = append(problems, fmt.Sprintf("%s: no such group (the cluster's groups: %s)", name, strings.Join(have, ", ")))
			}
			continue
		}
		switch {
		case n < 0:
			problems = append(problems, fmt.Sprintf("%s=%d: a count cannot be negative", name, n))
		case n < g.Minimum():
			problems = append(problems, fmt.Sprintf("%s=%d is below the group's minimum %d (min_per_zone %d × %d zones): nothing was changed", name, n, g.Minimum(), g.MinPerZone, g.Slots()))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// removal ranks: what goes first.
const (
	rankMissing = iota
	rankDead
	rankUnhealthy
	rankStale
	rankHealthy
)

var rankWhy = map[int]string{
	rankMissing:   "missing",
	rankDead:      "dead",
	rankUnhealthy: "unhealthy",
	rankStale:     "stale (runs an older spec)",
	rankHealthy:   "newest",
}

// PrepareConverge decides what converge does for counts (checked with
// CheckCounts), from a plan of the cluster as it is: read-only.
func (e *Engine) PrepareConverge(ctx context.Context, counts map[string]int, opts PlanOptions) (*ConvergePlan, error) {
	if err := CheckCounts(e.Cluster, counts); err != nil {
		return nil, err
	}
	plan, observed, err := e.plan(ctx, opts)
	if err != nil {
		return nil, err
	}
	byID := map[string]provider.Instance{}
	for _, o := range observed {
		byID[o.ID] = o
	}
	rows := map[string]PlanChange{}
	for _, ch := range plan.Changes {
		if ch.Action != PlanRemove && ch.Action != PlanForeign {
			rows[ch.Node] = ch
		}
	}
	cp := &ConvergePlan{Members: map[string][]string{}}
	for _, g := range e.Cluster.Groups() {
		cur := e.Cluster.GroupMembers(g)
		cp.Members[g.Name] = cur
		want, ok := counts[g.Name]
		if !ok {
			continue
		}
		gc := GroupChange{Group: g.Name, From: len(cur), To: want, Add: []string{}, Remove: []RemovedMember{}}
		slotOf := func(id string) int { i, _ := g.MemberIndex(id); return i % g.Slots() }
		inSlot := make([]int, g.Slots())
		for _, id := range cur {
			inSlot[slotOf(id)]++
		}
		members := append([]string(nil), cur...)
		switch {
		case want > len(cur):
			used := map[string]bool{}
			for _, id := range cur {
				used[id] = true
			}
			for len(members) < want {
				slot := 0
				for s := range inSlot {
					if inSlot[s] < inSlot[slot] {
						slot = s
					}
				}
				for i := slot; ; i += g.Slots() {
					if id := g.MemberID(i); !used[id] {
						used[id] = true
						members = append(members, id)
						gc.Add = append(gc.Add, id)
						break
					}
				}
				inSlot[slot]++
			}
		case want < len(cur):
			type cand struct {
				id, inst string
				rank     int
				launched int64
				index    int
			}
			var cands []cand
			for _, id := range cur {
				c := cand{id: id, rank: rankHealthy}
				c.index, _ = g.MemberIndex(id)
				row := rows[id]
				c.inst = row.InstanceID
				switch row.Action {
				case PlanCreate:
					c.rank = rankMissing
				case PlanDead:
					c.rank = rankDead
				case PlanUnhealthy:
					c.rank = rankUnhealthy
				case PlanReplace:
					c.rank = rankStale
				}
				if inst, ok := byID[c.inst]; ok {
					c.launched = inst.Launched.UnixNano()
				}
				cands = append(cands, c)
			}
			sort.SliceStable(cands, func(a, b int) bool {
				x, y := cands[a], cands[b]
				if x.rank != y.rank {
					return x.rank < y.rank
				}
				if x.launched != y.launched {
					return x.launched > y.launched
				}
				return x.index > y.index
			})
			gone := map[string]bool{}
			for _, c := range cands {
				if len(cur)-len(gone) <= want {
					break
				}
				if s := slotOf(c.id); inSlot[s] <= g.MinPerZone {
					continue // the zone keeps its minimum
				}
				inSlot[slotOf(c.id)]--
				gone[c.id] = true
				gc.Remove = append(gc.Remove, RemovedMember{Node: c.id, Instance: c.inst, Why: rankWhy[c.rank]})
				if inst, ok := byID[c.inst]; ok && c.inst != "" {
					cp.terminate = append(cp.terminate, inst)
				}
			}
			members = members[:0]
			for _, id := range cur {
				if !gone[id] {
					members = append(members, id)
				}
			}
		}
		sort.Slice(members, func(a, b int) bool {
			x, _ := g.MemberIndex(members[a])
			y, _ := g.MemberIndex(members[b])
			return x < y
		})
		gc.Members = members
		cp.Members[g.Name] = members
		cp.Groups = append(cp.Groups, gc)
	}
	// instances of members no longer in a group (an earlier converge that
	// was interrupted before it terminated them) go too
	planned := map[string]bool{}
	for _, i := range cp.terminate {
		planned[i.ID] = true
	}
	for _, o := range observed {
		if o.Foreign != "" || planned[o.ID] || !(o.State.Live() || o.State == provider.Stopped || o.State == provider.Stopping || o.State == provider.Failed) {
			continue
		}
		if g := e.memberGroup(o.NodeID); g != nil && !contains(cp.Members[g.Name], o.NodeID) {
			cp.terminate = append(cp.terminate, o)
		}
	}
	return cp, nil
}

// memberGroup is the group whose member id node is, nil for none.
func (e *Engine) memberGroup(node string) *config.Group {
	for _, g := range e.Cluster.Groups() {
		if _, ok := g.MemberIndex(node); ok {
			return g
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ApplyConverge carries out a plan: record records the members (the
// coordinator) before any change; then the added members are launched as
// up launches (health-gated, registered with the load balancer), and the
// removed members' instances are drained and terminated — termination
// protection does not stop a converge, which removes them on purpose.
func (e *Engine) ApplyConverge(ctx context.Context, p *ConvergePlan, opts UpOptions, record func(ctx context.Context, members map[string][]string) error) (*ConvergeResult, error) {
	res := &ConvergeResult{Cluster: e.Cluster.Name, Groups: p.Groups, Terminated: []provider.Instance{}}
	if record != nil {
		if err := record(ctx, p.Members); err != nil {
			return res, fmt.Errorf("record the groups' members: %w", err)
		}
	}
	e.Cluster.SetGroupMembers(p.Members)
	if add := p.added(); len(add) > 0 {
		opts.Nodes = add
		up, err := e.Up(ctx, opts)
		res.Up = up
		if err != nil {
			return res, err
		}
	}
	if len(p.terminate) > 0 {
		ids := make([]string, len(p.terminate))
		for i, inst := range p.terminate {
			ids[i] = inst.ID
		}
		if err := e.deregisterEach(ctx, p.terminate, true); err != nil {
			return res, err
		}
		if err := e.Provider.Terminate(ctx, ids, true); err != nil {
			return res, err
		}
		if err := e.Provider.WaitTerminated(ctx, ids); err != nil {
			return res, fmt.Errorf("wait until terminated: %w", err)
		}
		res.Terminated = p.terminate
	}
	return res, nil
}
