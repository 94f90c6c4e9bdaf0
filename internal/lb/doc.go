// Package lb is the local provider's load balancer: a reverse proxy that
// runs as a process of the binary (`cloud-compose __lb-proxy`, see Main),
// round robin over healthy targets with health checks and graceful drain,
// and the Client the provider drives it with over its control socket.
//
// It owns only the proxy and its directory (targets.json, control.sock,
// proxy.pid, proxy.lock); it must not know the config, the store or the
// engine: who registers which node, and when, is the caller's business.
//
// Layout (one file per idea, after kamal-proxy's internal/server):
// target.go (a target: state, requests in flight, its connections),
// health_check.go (the probe loop), load_balancer.go (picking, retrying,
// proxying, register and drain), persist.go (targets.json), control.go
// (the control API), client.go (its client), main.go (the process).
//
// Control API (HTTP over DIR/control.sock, JSON answers):
//
//	GET    /health                   200 {"pid":N,"listen":"IP:PORT","targets":N}
//	GET    /targets                  200 [{"address":"IP:PORT","state":"healthy|unhealthy|draining","in_flight":N}]
//	PUT    /targets/IP:PORT?wait=5s  200 target (healthy); 504 {"error":...} when not healthy within wait
//	                                 (it stays registered and probed); 202 without wait while not healthy yet
//	DELETE /targets/IP:PORT?drain=10s 200 {"drained":true|false,"in_flight_left":N}; unknown: drained true
//
// Errors are {"error":"..."} with 400 (bad address or duration), 409 (a
// target re-registered while it was being drained) or 504.
package lb
