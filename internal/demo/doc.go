// Package demo is the quickstart's HTTP service, shipped inside the
// cloud-compose binary (hidden command `__demo-service`) so the example runs
// on a machine with nothing else installed. It owns no cluster logic: it
// serves /health and a request counter kept in its data directory, and
// reports the --version it was started with (--unhealthy makes a version
// whose /health never passes, for rollout tests).
package demo
