package provider

import "context"

// LoadBalancer puts a cluster's static nodes behind a load balancer (an
// optional capability, found by type assertion): local, a proxy process
// of the binary on load_balancer.listen; aws, ELBv2 target groups. The
// engine registers a node once it passed its health gate and deregisters
// it — draining its requests in flight — before it is terminated, so
// that a replacement fails no request.
type LoadBalancer interface {
	// LoadBalancerEnabled reports whether the cluster has one configured
	// (cluster.load_balancer); every other method is called only then.
	LoadBalancerEnabled() bool
	// EnsureLoadBalancer makes it ready to take targets (local: starts the
	// proxy, or starts it again when it died; aws: checks the target
	// groups exist) and says where it is.
	EnsureLoadBalancer(ctx context.Context, cluster ClusterID) (LBStatus, error)
	// Register adds the instance as a target and returns once it takes
	// traffic (aws: in service in every target group). Registering a
	// registered target is a no-op.
	Register(ctx context.Context, cluster ClusterID, inst Instance) error
	// Deregister stops new requests to the instance and returns once its
	// requests in flight are done, or load_balancer.drain has passed.
	// Deregistering an unknown target is a no-op.
	Deregister(ctx context.Context, cluster ClusterID, inst Instance) error
	// LoadBalancerStatus reads it and its targets (for `status`); nil
	// when it does not exist (local: the proxy is not running).
	LoadBalancerStatus(ctx context.Context, cluster ClusterID) (*LBStatus, error)
	// RemoveLoadBalancer removes what EnsureLoadBalancer made, after `down`
	// (local: stops the proxy; aws: nothing, the target groups are the
	// user's).
	RemoveLoadBalancer(ctx context.Context, cluster ClusterID) error
}

// LBStatus is a load balancer and its targets.
type LBStatus struct {
	// Address is where clients reach it (local: http://IP:PORT/; aws:
	// the target groups' ARNs, comma separated).
	Address string `json:"address"`
	// State is running, stopped (local proxy) or active (aws).
	State   string     `json:"state"`
	Targets []LBTarget `json:"targets"`
}

// LBTarget is one registered target.
type LBTarget struct {
	InstanceID string `json:"instance_id,omitempty"`
	Address    string `json:"address"` // IP:PORT
	// State is healthy, unhealthy, draining (local) or the ELBv2 target
	// health state (initial, healthy, unhealthy, draining, unused, …).
	State string `json:"state"`
	// InFlight is the number of requests in flight (local).
	InFlight int `json:"in_flight,omitempty"`
}
