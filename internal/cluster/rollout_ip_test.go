package cluster

import (
	"strings"
	"testing"
)

// TestRolloutWaitsForTheIPToBeReleased: EC2 frees a terminated instance's
// network interface a little after the instance is terminated; a launch
// that finds the node's IP still in use is tried again, and the wait is
// shown on the node's row.
func TestRolloutWaitsForTheIPToBeReleased(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 3})
	ip := h.live("1").IP
	h.cloud.HoldIP = map[string]int{ip: 2}
	h.newImage()
	res, err := h.rollout(RolloutOptions{})
	if err != nil || !res.Complete {
		t.Fatalf("%v (%s)", err, states(res))
	}
	waited := 0
	for _, ev := range h.recorded() {
		if ev.Node.ID == "1" && ev.Node.State == StateLaunching && strings.Contains(ev.Detail, "waiting for "+ip+" to be released") {
			waited++
		}
	}
	if waited != 2 || h.cloud.HoldIP[ip] != 0 {
		t.Errorf("node 1 waited %d times for its IP (held %d more)", waited, h.cloud.HoldIP[ip])
	}
}
