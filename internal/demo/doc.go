// Package demo is the quickstart's HTTP service, shipped inside the
// cloud-compose binary (hidden command `__demo-service`) so the example runs
// on a machine with nothing else installed. It owns no cluster logic: it
// serves /health and a request counter kept in its data directory.
package demo
