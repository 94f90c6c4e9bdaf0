package local

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/provider/providertest"
)

// TestIntegrationConformance runs the provider contract's suite on real
// processes: each case gets its own store and loopback network.
func TestIntegrationConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		NewCloud: func(t *testing.T) providertest.Cloud {
			h := newHarness(t)
			return providertest.Cloud{
				Open: func(t *testing.T, c providertest.Cluster) providertest.Opened {
					var b strings.Builder
					fmt.Fprintf(&b, "cluster:\n  name: %s\n  search_path: [templates]\n  local:\n    terminate_protection: %t\n    nodes:\n", c.Name, c.Protected)
					for i := range c.Nodes {
						fmt.Fprintf(&b, "      - {id: %q, ip: %s}\n", fmt.Sprint(i), h.ip(c.FirstIP+i))
					}
					cfg := parseCluster(t, b.String())
					return providertest.Opened{
						Provider: h.open(cfg, 0),
						Nodes:    cfg.Nodes(),
						UserData: "#!/bin/bash\nexec sleep 600\n",
					}
				},
				// A crash: the supervisor and every process of the node
				// (they have INSTANCE_ID in their environment) are killed.
				Kill: func(t *testing.T, id string) {
					pids := processesUsing(id)
					if len(pids) < 2 {
						t.Fatalf("instance %s: processes %v, want its supervisor and its node's", id, pids)
					}
					for _, pid := range pids {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				},
			}
		},
		IPConflict: providertest.IPConflict{Resolve: true, Launch: true},
		Watcher:    true,
	})
}
