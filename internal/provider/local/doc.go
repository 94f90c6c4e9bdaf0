// Package local is the `local` provider: a cloud on one machine. An
// instance is a detached supervisor process running the node's boot script
// with bash in its own root directory, on a loopback IP (127.0.0.0/8);
// images, volumes and snapshots are directories; the records of all of them
// live in a bbolt database under the user's state directory, safe under
// concurrent CLI invocations. Linux only (process groups, /proc,
// PR_SET_CHILD_SUBREAPER, the whole of 127/8 routed to loopback).
//
// It must not know YAML or the engine: it gets a typed config.Cluster and
// implements provider.Provider plus Cleaner, Snapshotter and LogReader.
//
// Layout of the store directory:
//
//	state.db                 bbolt: instances, volumes, images, snapshots
//	instances/<id>/root/     the node's root (seeded from the image), cwd of the boot script
//	instances/<id>/user-data the rendered boot script
//	instances/<id>/log       boot script and supervisor output
//	volumes/<id>/            one directory per volume
//	images/<name>/<date>-<suffix>/ imported images
//	snapshots/<cluster>/<date>-<node>-<device>-<id>/
package local
