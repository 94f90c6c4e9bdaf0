package provider

import "github.com/cloud-compose/cloud-compose-go/internal/config"

// NodeName is the Name tag of a node's instance: <cluster>-<node id>, as
// the original named it, and <cluster>-<env>-<node id> in an environment.
func NodeName(cluster ClusterID, node string) string { return cluster.Qualified() + "-" + node }

// Qualified is the cluster's name in an environment, <cluster>-<env>: what
// names the resources one environment of a cluster has for itself (an
// Auto Scaling group, its launch template, an instance profile). Without
// an environment, the cluster's name, as the original's.
func (c ClusterID) Qualified() string {
	if c.Env == "" {
		return c.Name
	}
	return c.Name + "-" + c.Env
}

// LaunchTags are the tags an instance is launched with, in order: the
// original's ClusterName and Name, the user's tags (except those the tool
// sets itself: the tool's value wins), then the tool's own — node,
// environment, generation and spec, each only when set. The one tag
// builder every provider uses.
func LaunchTags(cluster ClusterID, node, generation, specTag string, user []config.KeyValue) []config.KeyValue {
	own := []config.KeyValue{{Key: TagCluster, Value: cluster.Name}, {Key: TagName, Value: NodeName(cluster, node)}}
	var tool []config.KeyValue
	for _, kv := range []config.KeyValue{{Key: TagNode, Value: node}, {Key: TagEnv, Value: cluster.Env}, {Key: TagGeneration, Value: generation}, {Key: TagSpec, Value: specTag}} {
		if kv.Value != "" {
			tool = append(tool, kv)
		}
	}
	taken := map[string]bool{}
	for _, kv := range append(append([]config.KeyValue{}, own...), tool...) {
		taken[kv.Key] = true
	}
	out := own
	for _, kv := range user {
		if !taken[kv.Key] {
			out = append(out, kv)
		}
	}
	return append(out, tool...)
}

// TagMap is tags as a map.
func TagMap(tags []config.KeyValue) map[string]string {
	m := make(map[string]string, len(tags))
	for _, kv := range tags {
		m[kv.Key] = kv.Value
	}
	return m
}
