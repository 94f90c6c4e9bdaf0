// Package local is the `local` provider: a cloud on one machine. An
// instance is a detached supervisor process running the node's boot script
// with bash in its own root directory, on a loopback IP (127.0.0.0/8);
// images, volumes and snapshots are directories; the records of all of them
// live in a bbolt database under the user's state directory, safe under
// concurrent CLI invocations. Linux only (process groups, /proc,
// PR_SET_CHILD_SUBREAPER, the whole of 127/8 routed to loopback).
//
// It must not know YAML or the engine: it gets a typed config.Cluster and
// implements provider.Provider plus Cleaner, Snapshotter, LogReader,
// Watcher and UserDataReader. Resolve reads the store and keeps nothing;
// Spec is pure; Launch makes exactly the spec it is given (image by id,
// volumes restored from the spec's snapshots, the spec's environment and
// boot script) and keeps that spec with the instance while it lives
// (Instance.LaunchedSpec), for field-level plan reasons.
//
// What a node sees: a supervisor and the node's processes do not keep the
// caller's environment (AWS_* credentials and the like would live as long
// as the node). They get PATH (a default one if unset), HOME, USER,
// LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ and TMPDIR; the boot script
// adds NODE_ID, INSTANCE_ID, INSTANCE_IP, CLUSTER_NAME, CLUSTER_ENV,
// NODE_ROOT, VOLUME_<NAME> per volume, the cluster's `environment:`,
// CLOUD_COMPOSE_BIN, and when the spec has hardware (provider.Hardware:
// the node asked for `hardware:` instead of an instance type) NODE_CORES
// (min_cores) and NODE_RAM (min_ram in MiB), each when set; the hardware
// is recorded with the instance. Nothing enforces it: the node shares this
// machine.
//
// Safety rules: an instance is failed only when its process tree is gone
// (not while a supervisor that has not claimed it yet, or a process of the
// node, still runs); a launch is refused when another process listens on
// the node's health check address (IP and health.port, or the wildcard
// address), naming it, so no health check is answered by someone else.
//
// Layout of the store directory:
//
//	state.db                 bbolt: instances, volumes, images, snapshots (nothing secret)
//	instances/<id>/root/     the node's root (seeded from the image), cwd of the boot script
//	instances/<id>/user-data the rendered boot script, removed at termination
//	instances/<id>/spec.json the rest of the launch spec (environment values), removed at termination
//	instances/<id>/log       boot script and supervisor output
//	volumes/<id>/            one directory per volume
//	images/<name>/<date>-<suffix>/ imported images
//	snapshots/<cluster>/<date>-<node>-<device>-<id>/
package local
