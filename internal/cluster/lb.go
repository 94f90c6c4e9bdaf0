package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// loadBalancer is the provider's load balancer when the cluster has one
// configured, else nil.
func (e *Engine) loadBalancer() provider.LoadBalancer {
	if lb, ok := e.Provider.(provider.LoadBalancer); ok && lb.LoadBalancerEnabled() {
		return lb
	}
	return nil
}

// LoadBalancerStatus reads the cluster's load balancer (nil without one).
func (e *Engine) LoadBalancerStatus(ctx context.Context) (*provider.LBStatus, error) {
	lb := e.loadBalancer()
	if lb == nil {
		return nil, nil
	}
	return lb.LoadBalancerStatus(ctx, e.ID)
}

// ensureLoadBalancer makes the load balancer ready for targets, where
// there is one.
func (e *Engine) ensureLoadBalancer(ctx context.Context) error {
	lb := e.loadBalancer()
	if lb == nil {
		return nil
	}
	if _, err := lb.EnsureLoadBalancer(ctx, e.ID); err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	return nil
}

// finalLoadBalancer reads the load balancer after a command, for its
// result (nil without one, or when it cannot be read).
func (e *Engine) finalLoadBalancer(ctx context.Context) *provider.LBStatus {
	if e.loadBalancer() == nil || ctx.Err() != nil {
		return nil
	}
	st, err := e.LoadBalancerStatus(ctx)
	if err != nil {
		e.Log.Warn("could not read the load balancer", "error", err)
		return nil
	}
	return st
}

// register puts inst behind the load balancer, where there is one, and
// returns once it takes traffic.
func (e *Engine) register(ctx context.Context, inst provider.Instance) error {
	lb := e.loadBalancer()
	if lb == nil {
		return nil
	}
	if err := lb.Register(ctx, e.ID, inst); err != nil {
		return fmt.Errorf("register %s with the load balancer: %w", inst.ID, err)
	}
	return nil
}

// deregister takes inst out of the load balancer, where there is one, and
// returns once its requests in flight are done (or load_balancer.drain
// passed).
func (e *Engine) deregister(ctx context.Context, inst provider.Instance) error {
	lb := e.loadBalancer()
	if lb == nil {
		return nil
	}
	if err := lb.Deregister(ctx, e.ID, inst); err != nil {
		return fmt.Errorf("deregister %s from the load balancer: %w", inst.ID, err)
	}
	return nil
}

// deregisterAll drains every instance at once (down).
func (e *Engine) deregisterAll(ctx context.Context, insts []provider.Instance) error {
	return e.deregisterEach(ctx, insts, false)
}

// deregisterEach deregisters insts at once; with dead, also instances
// that no longer run (a dead member converge removes: its target would
// stay behind, unhealthy, forever).
func (e *Engine) deregisterEach(ctx context.Context, insts []provider.Instance, dead bool) error {
	if e.loadBalancer() == nil {
		return nil
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, inst := range insts {
		if !inst.State.Live() && !(dead && inst.IP != "") {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.deregister(ctx, inst); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// registerUp registers, after up's waits, every node that runs and is
// healthy (or runs, without a health check): the new ones, and the kept
// ones again (a no-op when they are registered), so that a load balancer
// added to the config, or a proxy that restarted empty, gets every node.
// A new node that cannot be registered fails.
func (u *upRun) registerUp(ctx context.Context) {
	e := u.e
	if e.loadBalancer() == nil {
		return
	}
	var wg sync.WaitGroup
	for _, w := range u.work {
		r := &u.res.Nodes[w.idx]
		u.mu.Lock()
		ok := r.Action != ActionFailed && r.InstanceID != "" && r.Health != HealthBad
		inst := provider.Instance{ID: r.InstanceID, NodeID: r.ID, IP: r.IP, State: provider.Running}
		u.mu.Unlock()
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.register(ctx, inst); err != nil {
				if ctx.Err() == nil {
					u.fail(r, err)
				}
			}
		}()
	}
	wg.Wait()
	u.res.LoadBalancer = e.finalLoadBalancer(ctx)
}
