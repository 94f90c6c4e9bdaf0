// Package cluster is the engine: desired nodes from the config, observed
// instances from the provider, and what up, down and status do about the
// difference. It knows the provider contract, never a particular cloud,
// and never prints: the CLI formats its results.
package cluster
