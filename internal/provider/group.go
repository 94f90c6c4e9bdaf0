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
