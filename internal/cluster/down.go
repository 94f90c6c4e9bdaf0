package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// DownOptions are `down`'s flags.
type DownOptions struct {
	Force  bool // turn termination protection off first
	NoWait bool // return once termination has started
}

// DownResult is what `down` did.
type DownResult struct {
	Cluster    string              `json:"cluster"`
	Terminated []provider.Instance `json:"terminated"`
	Group      string              `json:"group,omitempty"`
	// LeftAlone are instances with the cluster's name outside its network
	// (foreign): down never touches them.
	LeftAlone []provider.Instance `json:"left_alone,omitempty"`
}

// Down terminates the given instances of the cluster (found by Observe:
// by tag, never by IP alone). In group mode it scales the group to zero.
// Termination protection without force terminates nothing and returns a
// *provider.ProtectedError.
func (e *Engine) Down(ctx context.Context, instances []provider.Instance, opts DownOptions) (*DownResult, error) {
	res := &DownResult{Cluster: e.Cluster.Name, Terminated: []provider.Instance{}}
	var own []provider.Instance
	for _, i := range instances {
		if i.Foreign != "" {
			res.LeftAlone = append(res.LeftAlone, i)
		} else {
			own = append(own, i)
		}
	}
	instances = own
	if g, ok := e.Provider.(provider.GroupProvider); ok && g.GroupMode() {
		if err := g.ScaleGroupToZero(ctx, e.ID); err != nil {
			return nil, err
		}
		res.Group = e.Cluster.Name
		res.Terminated = instances
		return res, nil
	}
	var ids []string
	for _, i := range instances {
		if i.State != provider.Terminated {
			ids = append(ids, i.ID)
		}
	}
	if len(ids) == 0 {
		return res, e.RemoveLoadBalancer(ctx)
	}
	if !opts.Force {
		// refused before anything is drained: protection stops it all
		var protected []provider.Instance
		for _, i := range instances {
			if i.Protected && i.State != provider.Terminated {
				protected = append(protected, i)
			}
		}
		if len(protected) > 0 {
			return nil, &provider.ProtectedError{Instances: protected}
		}
	}
	// take them out of the load balancer first: requests in flight finish
	if err := e.deregisterAll(ctx, instances); err != nil {
		return nil, err
	}
	if err := e.Provider.Terminate(ctx, ids, opts.Force); err != nil {
		if errors.Is(err, provider.ErrProtected) {
			// nothing was terminated (a provider that learns of the
			// protection only now): put them back in service
			for _, i := range instances {
				if i.State.Live() {
					if rerr := e.register(ctx, i); rerr != nil {
						err = errors.Join(err, rerr)
					}
				}
			}
		}
		return nil, err
	}
	res.Terminated = instances
	if opts.NoWait {
		// every instance is out of the load balancer and terminating
		return res, e.RemoveLoadBalancer(ctx)
	}
	if err := e.Provider.WaitTerminated(ctx, ids); err != nil {
		return res, fmt.Errorf("wait until terminated: %w", err)
	}
	return res, e.RemoveLoadBalancer(ctx)
}

// RemoveLoadBalancer removes what the cluster's load balancer left (local:
// its proxy) once the cluster has no instance; nothing without one.
func (e *Engine) RemoveLoadBalancer(ctx context.Context) error {
	if lb := e.loadBalancer(); lb != nil {
		if err := lb.RemoveLoadBalancer(ctx, e.ID); err != nil {
			return fmt.Errorf("load balancer: %w", err)
		}
	}
	return nil
}

// Cleanup removes what the cluster leaves behind, where the provider has
// something to remove.
func (e *Engine) Cleanup(ctx context.Context) ([]string, error) {
	c, ok := e.Provider.(provider.Cleaner)
	if !ok {
		return nil, nil
	}
	return c.Cleanup(ctx, e.ID)
}

// ErrUnsupported is wrapped when a provider lacks a capability.
var ErrUnsupported = fmt.Errorf("not supported by this provider")

// Snapshot snapshots the cluster's data volumes.
func (e *Engine) Snapshot(ctx context.Context) ([]provider.Snapshot, error) {
	s, ok := e.Provider.(provider.Snapshotter)
	if !ok {
		return nil, fmt.Errorf("snapshot: %w (provider %s)", ErrUnsupported, e.Cluster.Provider)
	}
	return s.Snapshot(ctx, e.ID)
}

// Logs writes the boot log of instance id.
func (e *Engine) Logs(ctx context.Context, id string, w io.Writer, follow bool, tail int) error {
	l, ok := e.Provider.(provider.LogReader)
	if !ok {
		return fmt.Errorf("logs: %w (provider %s); read the instance's console output in the cloud's console", ErrUnsupported, e.Cluster.Provider)
	}
	return l.Logs(ctx, id, w, follow, tail)
}
