package cli

import (
	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// instanceName is how down names an instance: <cluster>-<node id> for a
// node's; for an instance with no node id (an auto scaling group's member)
// its Name tag, else the cluster name.
func instanceName(id provider.ClusterID, i provider.Instance) string {
	if i.NodeID != "" {
		return cluster.NodeName(id, i.NodeID)
	}
	if n := i.Tags[provider.TagName]; n != "" {
		return n
	}
	return id.Qualified()
}
