package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// ErrCommand is wrapped when an order command or a hook fails.
var ErrCommand = errors.New("command failed")

// runCommand runs a rollout command (`sh -c`, in the project directory,
// with env added to this process's environment) and returns its standard
// output. A failure says which key ran what, the exit status and the last
// lines of its output.
func (e *Engine) runCommand(ctx context.Context, key, command string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	e.Log.Debug("ran "+key, "command", command, "duration", time.Since(start), "error", err)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		msg := fmt.Sprintf("%s %q: %v", key, command, err)
		if tail := lastLines(errOut.String()+out.String(), 3); tail != "" {
			msg += ": " + tail
		}
		return "", fmt.Errorf("%w: %s", ErrCommand, msg)
	}
	return out.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, " | "))
}

// runHook runs hooks.before_node or hooks.after_node.
func (e *Engine) runHook(ctx context.Context, key, command string, env []string) error {
	_, err := e.runCommand(ctx, key, command, env)
	return err
}

// hookEnv is a hook's environment: the cluster, the node, its instance
// (the old one before, the new one after) and the generation it goes to.
func (u *rolloutRun) hookEnv(w *rolloutWork, gen string) []string {
	inst := ""
	if w.live != nil {
		inst = w.live.ID
	}
	return []string{
		"CLUSTER_NAME=" + u.e.Cluster.Name,
		"NODE_ID=" + w.node.ID,
		"NODE_IP=" + w.node.IP,
		"INSTANCE_ID=" + inst,
		"GENERATION=" + gen,
	}
}

// orderCommand runs rollout.order_command, with CLUSTER_NAME, NODE_IDS and
// NODE_IPS (every configured node, space separated, config order) and
// ROLLOUT_NODES (the ones to replace) in its environment, and orders
// nodes by the ids it prints (one per line or space separated). Nodes it
// leaves out keep their order after the ones it names; an id that is not
// a node of the cluster is an error.
func (e *Engine) orderCommand(ctx context.Context, command string, nodes []*rolloutWork) ([]*rolloutWork, error) {
	var ids, ips, pending []string
	for _, n := range e.Cluster.Nodes() {
		ids = append(ids, n.ID)
		ips = append(ips, n.IP)
	}
	byID := map[string]*rolloutWork{}
	for _, w := range nodes {
		pending = append(pending, w.node.ID)
		byID[w.node.ID] = w
	}
	out, err := e.runCommand(ctx, "rollout.order_command", command, []string{
		"CLUSTER_NAME=" + e.Cluster.Name,
		"NODE_IDS=" + strings.Join(ids, " "),
		"NODE_IPS=" + strings.Join(ips, " "),
		"ROLLOUT_NODES=" + strings.Join(pending, " "),
	})
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, id := range ids {
		known[id] = true
	}
	var ordered []*rolloutWork
	seen := map[string]bool{}
	for _, id := range strings.Fields(out) {
		if !known[id] {
			return nil, fmt.Errorf("%w: rollout.order_command %q printed %q, which is not a node of the cluster (its nodes: %s)", ErrCommand, command, id, strings.Join(ids, ", "))
		}
		if w, ok := byID[id]; ok && !seen[id] {
			ordered = append(ordered, w)
			seen[id] = true
		}
	}
	for _, w := range nodes {
		if !seen[w.node.ID] {
			ordered = append(ordered, w)
		}
	}
	return ordered, nil
}

// RefreshPoll is how often a group rollout reads its instance refresh.
var RefreshPoll = 15 * time.Second

// refreshGroup rolls a group out with the provider's instance refresh:
// the cloud replaces the instances, gated by min_healthy (as a percentage
// of the group) and min_healthy_time (the warm-up), rolling back by
// itself; the engine follows it to the end.
func (e *Engine) refreshGroup(ctx context.Context, p *RolloutPlan, res *RolloutResult) (*RolloutResult, error) {
	g, ok := e.Provider.(provider.GroupRefresher)
	if !ok {
		return res, fmt.Errorf("provider %s cannot refresh a group's instances", e.Cluster.Provider)
	}
	if err := e.ensure(ctx); err != nil {
		return res, err
	}
	cfg := e.Cluster.Rollout
	size := 0
	if gs, ok := e.Provider.(provider.GroupStatuser); ok {
		if info, err := gs.GroupStatus(ctx, e.ID); err == nil && info != nil {
			size = info.Desired
		}
	}
	pct := 50 // a group of unknown size: half
	if size > 0 {
		pct = min(100, minHealthyOf(cfg.MinHealthy, size)*100/size)
	}
	opts := provider.RefreshOptions{
		MinHealthyPercentage: pct,
		WarmUpSeconds:        int(cfg.MinHealthyTime / time.Second),
		AutoRollback:         cfg.AutoRollback && !p.opts.NoRollback,
	}
	r, err := g.StartRefresh(ctx, e.ID, *p.group, opts)
	if err != nil {
		return res, err
	}
	last := ""
	for {
		res.Refresh = &r
		if line := fmt.Sprintf("%d%% done, %d to update", r.PercentComplete, r.InstancesToUpdate); r.Status+line != last {
			last = r.Status + line
			if e.OnRollout != nil {
				e.OnRollout(RolloutEvent{Node: RolloutNode{ID: r.ID, State: r.Status}, Detail: line, Refresh: true})
			}
		}
		if r.Done {
			break
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("%w (the instance refresh %s goes on in the cloud; run rollout again to follow it)", ctx.Err(), r.ID)
		case <-time.After(RefreshPoll):
		}
		if r, err = g.RefreshStatus(ctx, e.ID, r.ID); err != nil {
			return res, err
		}
	}
	res.Complete = r.Succeeded
	res.RolledBack = strings.HasPrefix(r.Status, "Rollback")
	if !r.Succeeded {
		return res, fmt.Errorf("%w: instance refresh %s ended %s: %s", ErrRolloutFailed, r.ID, r.Status, r.StatusReason)
	}
	return res, nil
}
