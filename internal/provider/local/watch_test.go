package local

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// TestIntegrationAlive checks provider.Watcher on real processes: alive
// while the node runs (also when only its supervisor is gone), an error
// saying how it ended once it exited 0, failed, or lost its supervisor and
// every process.
func TestIntegrationAlive(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.cluster("alive", 3, "    terminate_protection: false\n")
	p := h.open(c, time.Second)
	var w provider.Watcher = p
	nodes := c.Nodes()
	scripts := []string{h.demoScript(), "#!/bin/bash\necho done\n", "#!/bin/bash\necho oops >&2\nexit 3\n"}
	var ids []string
	for i, n := range nodes {
		in, err := p.Launch(ctx, specFor(t, p, c, n, scripts[i]))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.ID)
	}
	t.Cleanup(func() {
		_ = p.Terminate(ctx, ids, true)
		_ = p.WaitTerminated(ctx, ids)
	})

	// alive: pending or running, then healthy
	if err := w.Alive(ctx, ids[0]); err != nil {
		t.Errorf("Alive of a starting node = %v", err)
	}
	waitHealthy(t, h.url(0, "/health"))
	if err := w.Alive(ctx, ids[0]); err != nil {
		t.Errorf("Alive of a running node = %v", err)
	}

	// exited 0: stopped, no process left to answer anything
	waitState(ctx, t, p, ids[1], provider.Stopped)
	if err := w.Alive(ctx, ids[1]); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "stopped with exit code 0") {
		t.Errorf("Alive of a node whose boot script exited 0 = %v", err)
	}

	// failed
	waitState(ctx, t, p, ids[2], provider.Failed)
	if err := w.Alive(ctx, ids[2]); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "failed with exit code 3") {
		t.Errorf("Alive of a failed node = %v", err)
	}

	// supervisor killed: the service still runs, so the node is alive
	// (unsupervised); once the service is gone too, it is not.
	sup := processesUsing("--instance " + ids[0])
	if len(sup) != 1 {
		t.Fatalf("supervisor processes: %v", sup)
	}
	if err := syscall.Kill(sup[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := w.Alive(ctx, ids[0]); err != nil {
		t.Errorf("Alive of a node whose supervisor was killed but whose service runs = %v", err)
	}
	svc := processesUsing("--addr " + h.ip(0))
	if len(svc) != 1 {
		t.Fatalf("service processes: %v", svc)
	}
	_ = syscall.Kill(svc[0], syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := w.Alive(ctx, ids[0])
		if err != nil {
			if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "supervisor died") {
				t.Errorf("Alive of a node whose supervisor and service were killed = %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Alive still nil 5s after the node's supervisor and service were killed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := w.Alive(ctx, "i-0000000000000000"); !errors.Is(err, ErrNoInstance) {
		t.Errorf("Alive of an unknown instance = %v", err)
	}
}
