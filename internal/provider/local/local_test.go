package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// volumeDirs returns the directories of instance id's volumes by name.
func volumeDirs(t *testing.T, p *localProvider, id string) map[string]string {
	t.Helper()
	r, err := p.record(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range r.Volumes {
		out[a.Name] = p.store.volumeDir(a.VolumeID)
	}
	return out
}

func TestIntegrationClusterLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.cluster("life", 3, "")
	p := h.open(c, 2*time.Second)
	id := provider.ClusterID{Name: "life"}

	start := time.Now()
	insts := up(ctx, t, p, c, h.demoScript(), provider.UpOptions{})
	for i := range insts {
		waitHealthy(t, h.url(i, "/health"))
	}
	t.Logf("3 nodes launched, running and healthy in %s", time.Since(start).Round(time.Millisecond))

	for i := range insts {
		_, body, err := get(h.url(i, "/"))
		if want := fmt.Sprintf("node %d: request 1\n", i+1); err != nil || body != want {
			t.Fatalf("node %d answers %q, %v; want %q", i+1, body, err, want)
		}
	}
	observed, err := p.Instances(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(observed) != 3 {
		t.Fatalf("Instances = %d, want 3: %+v", len(observed), observed)
	}
	for i, in := range observed {
		node := fmt.Sprint(i + 1)
		if in.State != provider.Running || in.NodeID != node || in.IP != h.ip(i) || !in.Protected || in.Image != emptyImageID {
			t.Errorf("instance %d = %+v", i, in)
		}
		if in.Tags[provider.TagCluster] != "life" || in.Tags[provider.TagName] != "life-"+node || in.Tags[provider.TagSpec] != in.Spec || in.Tags[provider.TagGeneration] != "g1" {
			t.Errorf("instance %d tags = %v", i, in.Tags)
		}
	}

	// Instances returns the spec each instance was launched with, as
	// launched; a desired spec with another environment value differs in
	// that key only, and never shows the values.
	res := resolve(ctx, t, p, c, provider.UpOptions{})
	for i, in := range observed {
		n := c.Nodes()[i]
		want := launchSpec(p, c, res, n, h.demoScript()).Spec
		if in.LaunchedSpec == nil {
			t.Fatalf("instance %d: no LaunchedSpec", i)
		}
		if diff := cmp.Diff(want, *in.LaunchedSpec); diff != "" {
			t.Errorf("instance %d: LaunchedSpec differs from the launched spec (-launched +returned):\n%s", i, diff)
		}
		if in.Spec != want.Tag() || in.LaunchedSpec.Hash() != want.Hash() {
			t.Errorf("instance %d: spec tag %s, hash %s; want %s, %s", i, in.Spec, in.LaunchedSpec.Hash(), want.Tag(), want.Hash())
		}
		if ch := provider.Changes(in, want); len(ch) != 0 {
			t.Errorf("instance %d: changes against its own spec: %v", i, ch)
		}
		other := p.Spec(n, res, h.demoScript(), []config.KeyValue{{Key: "GREETING", Value: "bonjour"}, greeting[1]})
		ch := provider.Changes(in, other)
		if len(ch) != 1 || ch[0] != (provider.Change{Field: "env[GREETING]"}) {
			t.Errorf("instance %d: changes for another GREETING = %v, want env[GREETING] changed, no values", i, ch)
		}
		ud, err := p.UserData(ctx, in.ID)
		if err != nil || ud != h.demoScript() {
			t.Errorf("instance %d: UserData = %q, %v; want the boot script", i, ud, err)
		}
	}

	// The boot script saw its variables, root, mounts and environment.
	var log bytes.Buffer
	if err := p.Logs(ctx, insts[1].ID, &log, false, -1); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("booting node 2 of life on %s", h.ip(1)); !strings.Contains(log.String(), want) {
		t.Errorf("log of node 2 lacks %q:\n%s", want, log.String())
	}
	env := procEnviron(t, processesUsing("--addr "+h.ip(1)))
	vols := volumeDirs(t, p, insts[1].ID)
	for k, want := range map[string]string{"NODE_ID": "2", "INSTANCE_ID": insts[1].ID, "INSTANCE_IP": h.ip(1),
		"CLUSTER_NAME": "life", "GREETING": "hello", "VOLUME_DATA": vols["data"], "VOLUME_SCRATCH": vols["scratch"]} {
		if env[k] != want {
			t.Errorf("node 2's service has %s=%q, want %q", k, env[k], want)
		}
	}
	if target, err := os.Readlink(filepath.Join(p.store.rootDir(insts[1].ID), "data")); err != nil || target != vols["data"] {
		t.Errorf("root/data -> %q, %v; want the data volume %s", target, err, vols["data"])
	}

	// Launching again with the same spec returns the same instance.
	again, err := p.Launch(ctx, specFor(t, p, c, c.Nodes()[0], h.demoScript()))
	if err != nil || again.ID != insts[0].ID {
		t.Fatalf("relaunch = %s, %v; want the running %s", again.ID, err, insts[0].ID)
	}

	ids := []string{insts[0].ID, insts[1].ID, insts[2].ID}
	err = p.Terminate(ctx, ids, false)
	var pe *provider.ProtectedError
	if !errors.As(err, &pe) || len(pe.Instances) != 3 || !errors.Is(err, provider.ErrProtected) {
		t.Fatalf("Terminate without force = %v, want a ProtectedError for 3 instances", err)
	}
	for i := range insts {
		if code, _, err := get(h.url(i, "/health")); err != nil || code != 200 {
			t.Fatalf("node %d down after a refused termination: %d %v", i+1, code, err)
		}
	}

	start = time.Now()
	if err := p.Terminate(ctx, ids, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, ids); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 nodes terminated in %s", time.Since(start).Round(time.Millisecond))
	if left := processesUsing(h.dir); len(left) > 0 {
		t.Fatalf("processes left after termination: %v", left)
	}
	if left := processesUsing(h.net); len(left) > 0 {
		t.Fatalf("processes on the cluster's IPs left after termination: %v", left)
	}
	observed, err = p.Instances(ctx, id)
	if err != nil || len(observed) != 0 {
		t.Fatalf("Instances after termination = %v, %v; want none", observed, err)
	}
	// The launch spec (boot script, environment values) went with them:
	// no file of the store holds the boot script or a value of the
	// environment (state.db included).
	for _, in := range insts {
		if s, err := p.store.launchSpec(in.ID); err != nil || s != nil {
			t.Errorf("launch spec of terminated %s: %v, %v; want none", in.ID, s, err)
		}
		if _, err := p.UserData(ctx, in.ID); !errors.Is(err, ErrNoUserData) {
			t.Errorf("UserData of terminated %s = %v, want ErrNoUserData", in.ID, err)
		}
	}
	for _, secret := range []string{secretToken, "exec \"$CLOUD_COMPOSE_BIN\" __demo-service"} {
		if files := testbin.FilesContaining(t, h.dir, secret); len(files) > 0 {
			t.Errorf("%q left in the store after termination: %v", secret, files)
		}
	}
	for _, in := range insts {
		vols := volumeDirs(t, p, in.ID)
		if _, err := os.Stat(vols["scratch"]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("scratch volume (delete_on_termination) of %s still there: %v", in.ID, err)
		}
		if b, err := os.ReadFile(filepath.Join(vols["data"], "counter")); err != nil || strings.TrimSpace(string(b)) != "1" {
			t.Errorf("data volume of %s lost its counter: %q, %v", in.ID, b, err)
		}
		if _, err := os.Stat(p.store.rootDir(in.ID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("root of %s still there: %v", in.ID, err)
		}
	}

	// The next up gets the kept volumes back.
	insts2 := up(ctx, t, p, c, h.demoScript(), provider.UpOptions{})
	for i := range insts2 {
		waitHealthy(t, h.url(i, "/health"))
		if _, body, _ := get(h.url(i, "/")); body != fmt.Sprintf("node %d: request 2\n", i+1) {
			t.Errorf("node %d after relaunch answers %q, want request 2", i+1, body)
		}
		if volumeDirs(t, p, insts2[i].ID)["data"] != volumeDirs(t, p, insts[i].ID)["data"] {
			t.Errorf("node %d did not get its data volume back", i+1)
		}
	}
	ids2 := []string{insts2[0].ID, insts2[1].ID, insts2[2].ID}
	if err := p.Terminate(ctx, ids2, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, ids2); err != nil {
		t.Fatal(err)
	}
	removed, err := p.Cleanup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 6+6 { // 6 instances, 6 scratch volumes
		t.Errorf("Cleanup removed %d things, want 12: %v", len(removed), removed)
	}
	if _, err := p.record(ctx, ids[0]); !errors.Is(err, ErrNoInstance) {
		t.Errorf("record of %s after cleanup: %v", ids[0], err)
	}
	if _, err := os.Stat(p.store.instanceDir(ids[0])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("instance dir after cleanup: %v", err)
	}
}

func procEnviron(t *testing.T, pids []int) map[string]string {
	t.Helper()
	if len(pids) != 1 {
		t.Fatalf("want one process, got %v", pids)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pids[0]))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			out[k] = v
		}
	}
	return out
}

func TestIntegrationFailureAndReplacement(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.cluster("fail", 1, "")
	p := h.open(c, 2*time.Second)
	id := provider.ClusterID{Name: "fail"}
	inst := up(ctx, t, p, c, h.demoScript(), provider.UpOptions{})[0]
	waitHealthy(t, h.url(0, "/health"))
	for range 2 {
		if _, _, err := get(h.url(0, "/")); err != nil {
			t.Fatal(err)
		}
	}

	// Kill the node's service: the instance fails with the exit code.
	svc := processesUsing("--addr " + h.ip(0))
	if len(svc) != 1 {
		t.Fatalf("service processes: %v", svc)
	}
	if err := syscall.Kill(svc[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	failed := waitState(ctx, t, p, inst.ID, provider.Failed)
	if failed.ExitCode == nil || *failed.ExitCode != 128+int(syscall.SIGKILL) {
		t.Fatalf("failed instance exit code = %v, want 137", failed.ExitCode)
	}
	if _, err := p.WaitRunning(ctx, []provider.Instance{inst}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("WaitRunning on a failed instance = %v, want ErrNotRunning", err)
	}

	// The engine's path: terminate the dead instance (force), then launch.
	if err := p.Terminate(ctx, []string{inst.ID}, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, []string{inst.ID}); err != nil {
		t.Fatal(err)
	}
	inst2 := up(ctx, t, p, c, h.demoScript(), provider.UpOptions{})[0]
	if inst2.ID == inst.ID || inst2.IP != h.ip(0) {
		t.Fatalf("replacement = %+v", inst2)
	}
	waitHealthy(t, h.url(0, "/health"))
	if _, body, _ := get(h.url(0, "/")); body != "node 1: request 3\n" {
		t.Fatalf("after replacement: %q, want request 3 (counter kept)", body)
	}

	// Kill the supervisor: the instance stays running while its service
	// runs (its process tree is not gone), and a launch keeps it.
	sup := processesUsing("--instance " + inst2.ID)
	if len(sup) != 1 {
		t.Fatalf("supervisor processes: %v", sup)
	}
	if err := syscall.Kill(sup[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		time.Sleep(30 * time.Millisecond)
		if r, _ := p.record(ctx, inst2.ID); r.instance().State != provider.Running {
			t.Fatalf("instance without supervisor, service alive: %s, want running", r.instance().State)
		}
	}
	if code, _, err := get(h.url(0, "/health")); err != nil || code != 200 {
		t.Fatalf("unsupervised service should still answer: %d %v", code, err)
	}
	if again := up(ctx, t, p, c, h.demoScript(), provider.UpOptions{})[0]; again.ID != inst2.ID {
		t.Fatalf("a launch replaced the live unsupervised instance %s with %s", inst2.ID, again.ID)
	}
	// Once its service dies too it is failed, and a launch replaces it.
	svc = processesUsing("--addr " + h.ip(0))
	if len(svc) != 1 {
		t.Fatalf("service processes: %v", svc)
	}
	_ = syscall.Kill(svc[0], syscall.SIGKILL)
	waitState(ctx, t, p, inst2.ID, provider.Failed)
	inst3 := up(ctx, t, p, c, h.demoScript(), provider.UpOptions{})[0]
	waitHealthy(t, h.url(0, "/health"))
	if _, body, _ := get(h.url(0, "/")); body != "node 1: request 4\n" {
		t.Fatalf("after the replacement: %q, want request 4", body)
	}
	if n := len(processesUsing("--addr " + h.ip(0))); n != 1 {
		t.Fatalf("%d services on the node's IP, want 1", n)
	}
	all, _ := p.Instances(ctx, id)
	if len(all) != 1 || all[0].ID != inst3.ID {
		t.Fatalf("Instances = %+v, want only %s", all, inst3.ID)
	}

	// A supervisor killed with its orphan still running, then terminated:
	// a reaper finishes it.
	sup = processesUsing("--instance " + inst3.ID)
	if len(sup) != 1 {
		t.Fatalf("supervisor processes: %v", sup)
	}
	_ = syscall.Kill(sup[0], syscall.SIGKILL)
	if err := p.Terminate(ctx, []string{inst3.ID}, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, []string{inst3.ID}); err != nil {
		t.Fatal(err)
	}
	if left := processesUsing(h.dir); len(left) > 0 {
		t.Fatalf("processes left: %v", left)
	}
}

func TestIntegrationExitStatusAndLogs(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.cluster("exit", 2, "    terminate_protection: false\n")
	p := h.open(c, time.Second)
	script := `#!/bin/bash
for i in 1 2 3 4 5; do echo "line $i of node $NODE_ID"; sleep 0.05; done
( sleep 0.3; echo "background child of $NODE_ID done" ) &
[ "$NODE_ID" = 1 ] && exit 0
exit 3
`
	n1, err := p.Launch(ctx, specFor(t, p, c, c.Nodes()[0], script))
	if err != nil {
		t.Fatal(err)
	}
	n2, err := p.Launch(ctx, specFor(t, p, c, c.Nodes()[1], script))
	if err != nil {
		t.Fatal(err)
	}
	// Follow node 2 from the start: Logs returns once the instance ended.
	var followed bytes.Buffer
	if err := p.Logs(ctx, n2.ID, &followed, true, -1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(followed.String(), "line 5 of node 2") || !strings.Contains(followed.String(), "background child of 2 done") {
		t.Fatalf("followed log lacks the boot script's output:\n%s", followed.String())
	}
	stopped := waitState(ctx, t, p, n1.ID, provider.Stopped)
	if stopped.ExitCode == nil || *stopped.ExitCode != 0 {
		t.Fatalf("node 1 stopped with %v, want exit code 0", stopped.ExitCode)
	}
	failed := waitState(ctx, t, p, n2.ID, provider.Failed)
	if failed.ExitCode == nil || *failed.ExitCode != 3 {
		t.Fatalf("node 2 failed with %v, want exit code 3", failed.ExitCode)
	}
	// The instance stays up until its background child is done.
	var full bytes.Buffer
	if err := p.Logs(ctx, n1.ID, &full, false, -1); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(full.String(), "\n"), "\n")
	child, ended := -1, -1
	for i, l := range lines {
		if strings.Contains(l, "background child of 1 done") {
			child = i
		}
		if strings.Contains(l, "boot script exited with code 0") {
			ended = i
		}
	}
	if child < 0 || ended < 0 {
		t.Fatalf("log of node 1 lacks the child's line or the exit:\n%s", full.String())
	}
	for _, tail := range []int{0, 1, 3, len(lines), len(lines) + 5} {
		var got bytes.Buffer
		if err := p.Logs(ctx, n1.ID, &got, false, tail); err != nil {
			t.Fatal(err)
		}
		want := ""
		if k := min(tail, len(lines)); k > 0 {
			want = strings.Join(lines[len(lines)-k:], "\n") + "\n"
		}
		if got.String() != want {
			t.Errorf("tail %d = %q, want %q", tail, got.String(), want)
		}
	}
	// `up` treats them as gone: a launch replaces both.
	for i, old := range []provider.Instance{n1, n2} {
		in, err := p.Launch(ctx, specFor(t, p, c, c.Nodes()[i], "exec sleep 600\n"))
		if err != nil {
			t.Fatal(err)
		}
		if in.ID == old.ID {
			t.Fatalf("node %d not replaced", i+1)
		}
		r, _ := p.record(ctx, old.ID)
		if r.State != provider.Terminated {
			t.Fatalf("replaced instance is %s", r.State)
		}
		if err := p.Terminate(ctx, []string{in.ID}, false); err != nil {
			t.Fatalf("unprotected instance: %v", err)
		}
		if err := p.WaitTerminated(ctx, []string{in.ID}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIntegrationGraceThenKill(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.cluster("grace", 1, "")
	p := h.open(c, 700*time.Millisecond)
	script := `#!/bin/bash
trap 'echo "got TERM, ignoring"' TERM
setsid bash -c 'trap "" TERM; exec sleep 600' &
while true; do sleep 0.05; done
`
	in, err := p.Launch(ctx, specFor(t, p, c, c.Nodes()[0], script))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitRunning(ctx, []provider.Instance{in}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the daemon leave the group
	start := time.Now()
	if err := p.Terminate(ctx, []string{in.ID}, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, []string{in.ID}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < 700*time.Millisecond || took > 5*time.Second {
		t.Errorf("termination took %s, want the 700ms grace then a kill", took)
	}
	if left := processesUsing(h.dir); len(left) > 0 {
		t.Fatalf("processes left (the setsid daemon?): %v", left)
	}
	var log bytes.Buffer
	_ = p.Logs(ctx, in.ID, &log, false, -1)
	if !strings.Contains(log.String(), "got TERM, ignoring") || !strings.Contains(log.String(), "killed") {
		t.Errorf("log does not show SIGTERM then SIGKILL:\n%s", log.String())
	}
}

func TestIntegrationAddresses(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)

	// A node outside 127/8, or without an IP, is reported when the
	// config is loaded, with its place in the file.
	doc, err := config.Parse("cloud-compose.yml", []byte(`cluster:
  name: bad
  search_path: [templates]
  local:
    nodes:
      - {id: a, ip: 10.0.0.5}
      - {id: b}
      - {id: c, ip: 127.0.0.12}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.LoadCluster(doc)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("LoadCluster = %v, want a config error with 2 problems", err)
	}
	if p := ce.Problems[0]; p.Line != 6 || p.Key != "cluster.local.nodes[0].ip" || !strings.Contains(p.Msg, "127.0.0.0/8") || !strings.Contains(p.Msg, "e.g. 127.0.0.11") {
		t.Errorf("problem 0 = %+v", p)
	}
	if p := ce.Problems[1]; !strings.Contains(p.Msg, "needs an ip") {
		t.Errorf("problem 1 = %+v", p)
	}

	a := h.cluster("a", 1, "")
	pa := h.open(a, time.Second)
	ina, err := pa.Launch(ctx, specFor(t, pa, a, a.Nodes()[0], "exec sleep 600\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := h.cluster("b", 1, "")
	pb := h.open(b, time.Second)
	_, err = pb.Launch(ctx, specFor(t, pb, b, b.Nodes()[0], "exec sleep 600\n"))
	var ipe *provider.IPInUseError
	if !errors.As(err, &ipe) || ipe.IP != h.ip(0) || !strings.Contains(ipe.Holder, ina.ID) || !strings.Contains(ipe.Holder, "cluster a") {
		t.Fatalf("launch on a held IP = %v, want IPInUseError naming %s", err, ina.ID)
	}
	// A different spec for the same node of the same cluster is refused too.
	_, err = pa.Launch(ctx, specFor(t, pa, a, a.Nodes()[0], "exec sleep 601\n"))
	if !errors.As(err, &ipe) {
		t.Fatalf("second instance of a node = %v, want IPInUseError", err)
	}
	n := a.Nodes()[0]
	n.IP = "192.168.1.1"
	if _, err := pa.Launch(ctx, specFor(t, pa, a, n, "true\n")); !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("launch outside 127/8 = %v", err)
	}
	if err := pa.Terminate(ctx, []string{ina.ID}, true); err != nil {
		t.Fatal(err)
	}
	if err := pa.WaitTerminated(ctx, []string{ina.ID}); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationConcurrentLaunches(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.cluster("race", 3, "")
	// Two providers, as two CLI invocations would have, each launching
	// every node at once.
	p1, p2 := h.open(c, time.Second), h.open(c, time.Second)
	var wg sync.WaitGroup
	results := make([][]provider.Instance, 2)
	errs := make([]error, 2)
	for k, p := range []*localProvider{p1, p2} {
		res := resolve(ctx, t, p, c, provider.UpOptions{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[k] = make([]provider.Instance, 3)
			var inner sync.WaitGroup
			for i, n := range c.Nodes() {
				inner.Add(1)
				go func() {
					defer inner.Done()
					in, err := p.Launch(ctx, launchSpec(p, c, res, n, h.demoScript()))
					if err != nil {
						errs[k] = err
					}
					results[k][i] = in
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if results[0][i].ID != results[1][i].ID {
			t.Errorf("node %d launched twice: %s and %s", i+1, results[0][i].ID, results[1][i].ID)
		}
	}
	if _, err := p1.WaitRunning(ctx, results[0]); err != nil {
		t.Fatal(err)
	}
	all, err := p1.Instances(ctx, provider.ClusterID{Name: "race"})
	if err != nil || len(all) != 3 {
		t.Fatalf("Instances = %d, %v; want 3", len(all), err)
	}
	for i := range 3 {
		waitHealthy(t, h.url(i, "/health"))
		if n := len(processesUsing(fmt.Sprintf("--addr %s:", h.ip(i)))); n != 1 {
			t.Errorf("node %d has %d services", i+1, n)
		}
	}
	ids := []string{all[0].ID, all[1].ID, all[2].ID}
	if err := p2.Terminate(ctx, ids, true); err != nil {
		t.Fatal(err)
	}
	if err := p2.WaitTerminated(ctx, ids); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationCancelledLaunch(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.cluster("cancel", 1, "")
	p := h.open(c, time.Second)
	spec := specFor(t, p, c, c.Nodes()[0], h.demoScript())
	// Cancel at different points of the launch; after each, a launch with
	// a live context must end with exactly one healthy service.
	for _, after := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond} {
		cctx, cancel := context.WithTimeout(ctx, after)
		in, err := p.Launch(cctx, spec)
		cancel()
		t.Logf("cancelled after %s: %v (%s)", after, err, in.ID)
		got, err := p.Launch(ctx, spec)
		if err != nil {
			t.Fatalf("launch after a cancelled one (%s): %v", after, err)
		}
		if _, err := p.WaitRunning(ctx, []provider.Instance{got}); err != nil {
			t.Fatalf("after %s: %v", after, err)
		}
		waitHealthy(t, h.url(0, "/health"))
		all, err := p.Instances(ctx, provider.ClusterID{Name: "cancel"})
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, in := range all {
			if in.State.Live() {
				live++
			}
		}
		if live != 1 {
			t.Fatalf("after %s: %d live instances: %+v", after, live, all)
		}
		ids := make([]string, len(all))
		for i, in := range all {
			ids[i] = in.ID
		}
		if err := p.Terminate(ctx, ids, true); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitTerminated(ctx, ids); err != nil {
			t.Fatal(err)
		}
		if left := processesUsing(h.dir); len(left) > 0 {
			t.Fatalf("after %s: processes left: %v", after, left)
		}
	}
}
