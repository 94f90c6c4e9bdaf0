package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/health"
)

// Node-group members surge: each new instance is launched, gated and
// registered while the old one runs; only then is the old one terminated.
// A new instance that fails its gate is terminated and the old one kept
// (nothing to roll back there).
func TestRolloutSurgesGroupMembers(t *testing.T) {
	h := newRolloutEnv(t, envOpts{n: 2, group: true})
	old := h.lives()
	if len(old) != 2 || old["web-0"] == "" {
		t.Fatalf("members: %v", old)
	}
	h.newImage()
	res, err := h.rollout(RolloutOptions{})
	if err != nil || !res.Complete {
		t.Fatalf("rollout: %v %+v", err, res)
	}
	// per member: launching (surge) → booting → healthy → draining? →
	// terminating the old one → done, never terminating before the new
	// one was healthy
	for _, node := range []string{"web-0", "web-1"} {
		var seq []string
		for _, ev := range h.recorded() {
			if ev.Node.ID == node {
				seq = append(seq, ev.Node.State)
			}
		}
		s := strings.Join(seq, " ")
		launch, term := strings.Index(s, StateLaunching), strings.Index(s, StateTerminating)
		if launch < 0 || term < 0 || term < launch || !strings.Contains(s[launch:term], StateHealthy) {
			t.Errorf("%s: %s (want launching, then healthy, then terminating)", node, s)
		}
		if i := h.live(node); i.ID == old[node] || i.Generation != "2" {
			t.Errorf("%s: %+v after the rollout", node, i)
		}
	}

	// a bad new instance: terminated, the old one kept
	h2 := newRolloutEnv(t, envOpts{n: 2, group: true})
	h2.e.Cluster.Rollout.HealthyDeadline = 500 * time.Millisecond
	old = h2.lives()
	h2.newImage()
	h2.setBad("web-0", "2")
	res, err = h2.rollout(RolloutOptions{})
	if !errors.Is(err, ErrRolloutFailed) || !errors.Is(err, health.ErrUnhealthy) {
		t.Fatalf("want a failed rollout: %v", err)
	}
	if got := h2.lives(); got["web-0"] != old["web-0"] || got["web-1"] != old["web-1"] {
		t.Errorf("after the failed surge: %v, want the old instances %v", got, old)
	}
	if res.RolledBack {
		t.Errorf("a failed surge has nothing to roll back: %+v", res)
	}
}
