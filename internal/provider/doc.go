// Package provider is the contract between the engine and a cloud: what an
// instance is, how to observe, launch and terminate them, and a registry of
// providers by name. Providers know typed config, never YAML; the engine
// knows this package, never a particular cloud.
package provider
