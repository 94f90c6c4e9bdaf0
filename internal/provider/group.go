package provider

import "context"

// GroupStatuser reads the cluster's auto scaling group (an optional
// capability of a GroupProvider, found by type assertion), for `status`.
type GroupStatuser interface {
	// GroupStatus returns the group as the cloud reports it, or nil when
	// the cluster has no group (never created, or cleaned up).
	GroupStatus(ctx context.Context, cluster ClusterID) (*GroupInfo, error)
}

// GroupInfo is a group's size, launch template version and instances.
type GroupInfo struct {
	Name                  string          `json:"name"`
	Desired               int             `json:"desired"`
	Min                   int             `json:"min"`
	Max                   int             `json:"max"`
	LaunchTemplateVersion string          `json:"launch_template_version"`
	Instances             []GroupInstance `json:"instances"`
}

// GroupInstance is one instance as the group reports it: its zone, its
// life-cycle state in the group (e.g. InService) and the group's health
// status of it, lowercased (healthy or unhealthy).
type GroupInstance struct {
	InstanceID     string `json:"instance_id"`
	Zone           string `json:"zone"`
	LifecycleState string `json:"lifecycle_state"`
	Health         string `json:"health"`
}

// Member returns the group's entry for an instance, if it is a member.
func (g *GroupInfo) Member(instanceID string) (GroupInstance, bool) {
	if g == nil {
		return GroupInstance{}, false
	}
	for _, i := range g.Instances {
		if i.InstanceID == instanceID {
			return i, true
		}
	}
	return GroupInstance{}, false
}

// Has reports whether the instance is a member of the group (false for a
// nil group).
func (g *GroupInfo) Has(instanceID string) bool {
	_, ok := g.Member(instanceID)
	return ok
}

// GroupRefresher replaces a group's instances with ones launched from a
// new spec (AWS: an EC2 Auto Scaling instance refresh), for `rollout` in
// group mode: the cloud replaces the instances itself, health-gated.
type GroupRefresher interface {
	// StartRefresh makes spec the group's launch configuration (a new
	// launch template version, as EnsureGroup does) and starts replacing
	// the instances that run another one. It returns the refresh's id; a
	// refresh already in progress for the group is returned, not doubled.
	StartRefresh(ctx context.Context, cluster ClusterID, spec Spec, opts RefreshOptions) (Refresh, error)
	// RefreshStatus reads a refresh by id.
	RefreshStatus(ctx context.Context, cluster ClusterID, id string) (Refresh, error)
}

// RefreshOptions are rollout's gates, as an instance refresh takes them.
type RefreshOptions struct {
	// MinHealthyPercentage is rollout.min_healthy over the group's size,
	// in percent (AWS: 0–100).
	MinHealthyPercentage int
	// WarmUpSeconds is rollout.min_healthy_time (AWS: InstanceWarmup).
	WarmUpSeconds int
	// AutoRollback is rollout.auto_rollback.
	AutoRollback bool
}

// Refresh is an instance refresh as the cloud reports it.
type Refresh struct {
	ID string `json:"id"`
	// Status is the cloud's word (AWS: Pending, InProgress, Successful,
	// Failed, Cancelling, Cancelled, RollbackInProgress, RollbackFailed,
	// RollbackSuccessful, Baking).
	Status          string `json:"status"`
	StatusReason    string `json:"status_reason,omitempty"`
	PercentComplete int    `json:"percent_complete"`
	// InstancesToUpdate is how many instances are still to be replaced.
	InstancesToUpdate int  `json:"instances_to_update"`
	Done              bool `json:"done"`      // the refresh ended (any way)
	Succeeded         bool `json:"succeeded"` // it ended with every instance replaced
}
