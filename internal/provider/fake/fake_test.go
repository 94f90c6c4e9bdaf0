package fake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/fake"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/providertest"
)

// harness runs the conformance suite on fake clouds: the fake finds a taken
// IP both in Resolve's check and at launch, like the local provider.
func harness() providertest.Harness {
	return providertest.Harness{
		NewCloud: func(t *testing.T) providertest.Cloud {
			cloud := fake.NewCloud()
			return providertest.Cloud{
				Open: func(t *testing.T, c providertest.Cluster) providertest.Opened {
					nodes := make([]config.Node, c.Nodes)
					for i := range nodes {
						nodes[i] = config.Node{ID: strconv.Itoa(i), IP: fmt.Sprintf("10.0.0.%d", 10+c.FirstIP+i), Index: i}
					}
					return providertest.Opened{
						Provider: fake.New(cloud, fake.Options{TerminateProtection: c.Protected}),
						Nodes:    nodes,
						UserData: "#!/bin/bash\nexec sleep infinity\n",
						Calls:    cloud.TotalCalls,
					}
				},
				Kill: func(t *testing.T, id string) {
					if err := cloud.Kill(id, 137); err != nil {
						t.Fatal(err)
					}
				},
			}
		},
		IPConflict: providertest.IPConflict{Resolve: true, Launch: true},
		Watcher:    true,
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness()) }

func launch(t *testing.T, p *fake.Provider, cluster provider.ClusterID, n config.Node) (provider.LaunchSpec, provider.Instance, error) {
	t.Helper()
	res, err := p.Resolve(context.Background(), cluster, nil, provider.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ls := provider.LaunchSpec{Cluster: cluster, Node: n, Spec: p.Spec(n, res, "echo "+n.ID, nil)}
	in, err := p.Launch(context.Background(), ls)
	return ls, in, err
}

// The hooks do what the engine tests rely on, and nothing else.
func TestHooks(t *testing.T) {
	ctx := context.Background()
	cloud := fake.NewCloud()
	boom := errors.New("InsufficientInstanceCapacity")
	reset := errors.New("connection reset")
	eip := errors.New("associate eipalloc-1: InvalidAllocationID.NotFound")
	died := errors.New("instance failed (exit code 1)")
	cloud.FailLaunch = map[string]error{"1": boom}
	cloud.LoseLaunch = map[string]error{"2": reset}
	cloud.FailAfterLaunch = map[string]error{"3": eip}
	cloud.DieAfterStart = map[string]error{"4": died}
	cloud.BootLog = map[string]string{"4": "error: address already in use\n"}
	p := fake.New(cloud, fake.Options{})
	id := provider.ClusterID{Name: "c"}
	node := func(i int) config.Node { return config.Node{ID: strconv.Itoa(i), IP: fmt.Sprintf("10.0.0.%d", i)} }

	if _, _, err := launch(t, p, id, node(1)); !errors.Is(err, boom) || cloud.Made() != 0 {
		t.Fatalf("failed launch: %v, %d made", err, cloud.Made())
	}
	if _, _, err := launch(t, p, id, node(2)); !errors.Is(err, reset) || cloud.Made() != 1 {
		t.Fatalf("lost launch: %v, %d made", err, cloud.Made())
	}
	_, i3, err := launch(t, p, id, node(3))
	if err != nil {
		t.Fatal(err)
	}
	_, i4, err := launch(t, p, id, node(4))
	if err != nil {
		t.Fatal(err)
	}
	running, err := p.WaitRunning(ctx, []provider.Instance{i3, i4})
	var per provider.InstanceErrors
	if !errors.As(err, &per) || len(per) != 1 || !errors.Is(per[i3.ID], eip) || len(running) != 1 || running[0].ID != i4.ID {
		t.Fatalf("post-launch failure: %v %+v", err, running)
	}
	if err := p.Alive(ctx, i4.ID); !errors.Is(err, died) {
		t.Errorf("Alive of a node that died after start: %v", err)
	}
	if err := p.Alive(ctx, i3.ID); err != nil {
		t.Errorf("Alive of a running node whose post-launch step failed: %v", err)
	}
	var log bytes.Buffer
	if err := p.Logs(ctx, i4.ID, &log, false, 1); err != nil || log.String() != "error: address already in use\n" {
		t.Errorf("log tail: %q %v", log.String(), err)
	}
	insts, _ := p.Instances(ctx, id)
	states := ""
	for _, in := range insts {
		states += in.NodeID + "=" + string(in.State) + " "
	}
	if states != "2=pending 3=running 4=failed " {
		t.Errorf("states: %s", states)
	}

	// Foreign instances are listed, never terminated, and hold no IP here.
	theirs := cloud.Put(id, provider.Instance{NodeID: "5", State: provider.Running, IP: "10.0.0.5", Foreign: "vpc-b"})
	if err := p.Terminate(ctx, []string{theirs.ID, i3.ID}, true); !errors.Is(err, fake.ErrForeign) || len(cloud.Terminated()) != 0 {
		t.Errorf("terminating a foreign instance: %v, terminated %v", err, cloud.Terminated())
	}
	if _, _, err := launch(t, p, id, node(5)); err != nil {
		t.Errorf("a foreign instance's IP is another network's: %v", err)
	}
	// A stopped instance holds its IP until it is terminated, as on EC2.
	stopped := cloud.Put(id, provider.Instance{NodeID: "6", State: provider.Stopped, IP: "10.0.0.6"})
	var iu *provider.IPInUseError
	if _, _, err := launch(t, p, id, node(6)); !errors.As(err, &iu) || iu.IP != "10.0.0.6" {
		t.Errorf("launch on a stopped instance's IP: %v", err)
	}
	if err := p.Terminate(ctx, []string{stopped.ID}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := launch(t, p, id, node(6)); err != nil {
		t.Errorf("launch once the IP is free: %v", err)
	}
	if c := cloud.Calls(); c["Launch"] != 7 || c["Terminate"] != 2 {
		t.Errorf("calls: %v", c)
	}
	if cloud.MaxConcurrentLaunches() != 1 {
		t.Errorf("max concurrent launches: %d", cloud.MaxConcurrentLaunches())
	}
}

// Another Provider on the same cloud is another run: its launch of the
// same spec is not the first run's retry.
func TestIdempotencyIsPerRun(t *testing.T) {
	cloud := fake.NewCloud()
	id := provider.ClusterID{Name: "c"}
	n := config.Node{ID: "0"}
	_, first, err := launch(t, fake.New(cloud, fake.Options{}), id, n)
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := launch(t, fake.New(cloud, fake.Options{}), id, n)
	if err != nil || second.ID == first.ID || cloud.Made() != 2 {
		t.Fatalf("second run: %s %v (%d made)", second.ID, err, cloud.Made())
	}
}
