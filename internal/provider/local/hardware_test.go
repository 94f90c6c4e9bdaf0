package local

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// A spec with hardware: the instance records it, its boot script sees
// NODE_CORES and NODE_RAM (MiB), and a later plan finds the instance
// matches the spec it was launched with; a spec without hardware sets
// neither variable.
func TestIntegrationHardwareEnvironment(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.cluster("hw", 3, "    terminate_protection: false\n")
	p := h.open(c, time.Second)
	script := `#!/bin/bash
echo "cores=${NODE_CORES-unset} ram=${NODE_RAM-unset} node=$NODE_ID"
exec sleep 600
`
	hw := []*provider.Hardware{
		{MinCores: 2, MinRAMMiB: 4096, Arch: provider.ArchX86_64},
		{MinRAMMiB: 512}, // min_ram only
		nil,
	}
	want := []string{"cores=2 ram=4096 node=1", "cores=unset ram=512 node=2", "cores=unset ram=unset node=3"}
	var ids []string
	for i, n := range c.Nodes() {
		ls := specFor(t, p, c, n, script)
		ls.Spec.Hardware = hw[i]
		in, err := p.Launch(ctx, ls)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.ID)
		r, err := p.record(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (r.Hardware == nil) != (hw[i] == nil) || (r.Hardware != nil && *r.Hardware != *hw[i]) {
			t.Errorf("node %s: the record has hardware %v, want %v", n.ID, r.Hardware, hw[i])
		}
	}
	for i, id := range ids {
		deadline := time.Now().Add(10 * time.Second)
		for {
			var log bytes.Buffer
			if err := p.Logs(ctx, id, &log, false, -1); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(log.String(), want[i]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: the boot script did not print %q:\n%s", i+1, want[i], log.String())
			}
			time.Sleep(25 * time.Millisecond)
		}
	}

	// the spec kept with the instance has the hardware: no change against
	// the same desired spec, a hardware change against a bigger one
	observed, err := p.Instances(ctx, provider.ClusterID{Name: c.Name})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, in := range observed {
		if in.NodeID != "1" {
			continue
		}
		found = true
		desired := specFor(t, p, c, c.Nodes()[0], script).Spec
		desired.Hardware = hw[0]
		if ch := provider.Changes(in, desired); len(ch) != 0 {
			t.Errorf("unchanged hardware: changes %v", ch)
		}
		desired.Hardware = &provider.Hardware{MinCores: 4, MinRAMMiB: 4096}
		if ch := provider.Changes(in, desired); len(ch) != 1 || ch[0].String() != "hardware: ≥2 vCPUs, ≥4 GiB, x86_64 → ≥4 vCPUs, ≥4 GiB, x86_64" {
			t.Errorf("bigger hardware: changes %v", ch)
		}
	}
	if !found {
		t.Errorf("node 1 is not among the instances: %v", observed)
	}
	if err := p.Terminate(ctx, ids, false); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, ids); err != nil {
		t.Fatal(err)
	}
}
