package cli

import (
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
)

func TestProgressLines(t *testing.T) {
	now := time.Date(2026, 11, 22, 11, 1, 3, 0, time.FixedZone("CET", 3600))
	launched := progressLine(cluster.Event{Step: cluster.EventLaunched, Node: cluster.NodeResult{ID: "1", InstanceID: "i-1", IP: "127.0.0.12"}})
	if got := formatProgress(now, false, launched); got != "2026-11-22T10:01:03Z node 1: launched i-1 (127.0.0.12)\n" {
		t.Errorf("piped: %q", got)
	}
	if got := formatProgress(now, true, launched); got != "node 1: launched i-1 (127.0.0.12)\n" {
		t.Errorf("terminal: %q", got)
	}
	waiting := progressLine(cluster.Event{Step: cluster.EventWaiting, Node: cluster.NodeResult{ID: "1"},
		Check: "GET :8080/health", Elapsed: 10*time.Second + 300*time.Millisecond, Timeout: time.Minute})
	if waiting != "node 1: waiting for GET :8080/health (10s of 60s)" {
		t.Errorf("waiting: %q", waiting)
	}
}
