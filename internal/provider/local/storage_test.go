package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

func TestIntegrationImages(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	src := t.TempDir()
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/version", "v1\n")
	write("bin/hello", "#!/bin/bash\necho hello from the image\n")
	if err := os.Chmod(filepath.Join(src, "bin/hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	v1, err := ImportImage(ctx, "base", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ImportImage(ctx, "empty", src); err == nil {
		t.Fatal("importing over the built-in image: want an error")
	}
	if _, err := ImportImage(ctx, "../x", src); err == nil {
		t.Fatal("a name with a slash: want an error")
	}

	c := h.cluster("img", 1, "    image: base\n")
	p := h.open(c, time.Second)
	script := `#!/bin/bash
set -e
cp etc/version "$VOLUME_DATA/version"
./bin/hello > "$VOLUME_DATA/hello"
exec sleep 600
`
	res := resolve(ctx, t, p, c, provider.UpOptions{})
	if res.Image.ID != v1.ID || res.Image.Name != "base" || !strings.HasPrefix(res.ImageHow, "newest") {
		t.Fatalf("Resolve = %+v (%s), want %s (base), the newest", res.Image, res.ImageHow, v1.ID)
	}
	ls := launchSpec(p, c, res, c.Nodes()[0], script)
	if ls.Spec.Image != v1.ID || ls.Spec.ImageName != "base" {
		t.Fatalf("Spec image = %s (%s), want %s (base)", ls.Spec.Image, ls.Spec.ImageName, v1.ID)
	}
	in, err := p.Launch(ctx, ls)
	if err != nil {
		t.Fatal(err)
	}
	if in.Image != v1.ID {
		t.Fatalf("launched image %s, want %s", in.Image, v1.ID)
	}
	if _, err := p.WaitRunning(ctx, []provider.Instance{in}); err != nil {
		t.Fatal(err)
	}
	vol := volumeDirs(t, p, in.ID)["data"]
	waitFile(t, filepath.Join(vol, "hello"), "hello from the image\n")
	waitFile(t, filepath.Join(vol, "version"), "v1\n")

	time.Sleep(10 * time.Millisecond) // a distinct creation time
	write("etc/version", "v2\n")
	v2, err := ImportImage(ctx, "base", src)
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := ListImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, im := range imgs {
		names = append(names, im.Name+"="+im.ID)
	}
	if want := []string{"empty=" + emptyImageID, "base=" + v2.ID, "base=" + v1.ID}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("ListImages = %v, want %v", names, want)
	}
	observed, err := p.Instances(ctx, provider.ClusterID{Name: "img"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		observed []provider.Instance
		upgrade  bool
		want     string
		how      string
	}{
		{"the cluster's image", observed, false, v1.ID, "the image the cluster runs"},
		{"upgrade", observed, true, v2.ID, "newest, created "},
		{"new cluster: newest", nil, false, v2.ID, "newest, created "},
	} {
		res, err := p.Resolve(ctx, provider.ClusterID{Name: "img"}, tc.observed, provider.ResolveOptions{UpOptions: provider.UpOptions{UpgradeImage: tc.upgrade}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Image.ID != tc.want || !strings.HasPrefix(res.ImageHow, tc.how) {
			t.Errorf("%s: resolved %s %s, want %s %s", tc.name, res.Image.ID, res.ImageHow, tc.want, tc.how)
		}
	}
	// A launch spec names its image by id: the newer image does not
	// change what the running spec launches.
	again, err := p.Launch(ctx, ls)
	if err != nil || again.ID != in.ID {
		t.Fatalf("relaunch of the same spec after a newer image = %s, %v; want the running %s", again.ID, err, in.ID)
	}
	missing := h.open(h.cluster("img2", 1, "    image: nope\n"), time.Second)
	if _, err := missing.Resolve(ctx, provider.ClusterID{Name: "img2"}, nil, provider.ResolveOptions{}); !errors.Is(err, ErrNoImage) {
		t.Fatalf("unknown image: %v, want ErrNoImage", err)
	}
	gone := ls
	gone.Node, gone.Spec.IP, gone.Spec.Image = c.Nodes()[0], h.ip(5), "img-0000000000000000"
	gone.Cluster.Name = "img3"
	if _, err := p.Launch(ctx, gone); !errors.Is(err, ErrNoImage) {
		t.Fatalf("launch of an image id not in the store = %v, want ErrNoImage", err)
	}
	if err := p.Terminate(ctx, []string{in.ID}, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitTerminated(ctx, []string{in.ID}); err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q, %v; want %q", path, b, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIntegrationSnapshotRestore(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	// The data volume is deleted on termination here, so only a snapshot
	// can bring the counter back.
	src := fmt.Sprintf(`cluster:
  name: snap
  search_path: [templates]
  local:
    volumes:
      - {name: data, mount: /data, block: /dev/xvdb}
    nodes:
      - {id: 1, ip: %s}
      - {id: 2, ip: %s}
`, h.ip(0), h.ip(1))
	c := parseCluster(t, src)
	p := h.open(c, time.Second)
	id := provider.ClusterID{Name: "snap"}
	insts := up(ctx, t, p, c, h.demoScript(), provider.UpOptions{UseSnapshots: true})
	for i := range insts {
		waitHealthy(t, h.url(i, "/health"))
		for range i + 2 { // node 1 counts to 2, node 2 to 3
			if _, _, err := get(h.url(i, "/")); err != nil {
				t.Fatal(err)
			}
		}
	}
	snaps, err := p.Snapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 || snaps[0].Device != "/dev/xvdb" {
		t.Fatalf("Snapshot = %+v, want 2 of /dev/xvdb", snaps)
	}
	taken := snaps[0].Created
	for i := range insts { // counts moving on after the snapshot are lost
		_, _, _ = get(h.url(i, "/"))
	}
	down := func(insts []provider.Instance) {
		t.Helper()
		ids := []string{insts[0].ID, insts[1].ID}
		if err := p.Terminate(ctx, ids, true); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitTerminated(ctx, ids); err != nil {
			t.Fatal(err)
		}
	}
	down(insts)

	res := resolve(ctx, t, p, c, provider.UpOptions{UseSnapshots: true})
	byNode := map[string]string{}
	for _, s := range snaps {
		byNode[s.NodeID] = s.ID
	}
	if got := res.Snapshots[0]; len(got.ByNode) != 2 || got.ByNode["1"] != byNode["1"] || got.ByNode["2"] != byNode["2"] {
		t.Errorf("Resolve: volume 0 starts from %+v, want each node's own snapshot %v", got, byNode)
	}
	for _, n := range c.Nodes() {
		if s := p.Spec(n, res, "", nil).Volumes[0].Snapshot; s != byNode[n.ID] {
			t.Errorf("Spec of node %s: volume data starts from %q, want %s", n.ID, s, byNode[n.ID])
		}
	}
	insts = up(ctx, t, p, c, h.demoScript(), provider.UpOptions{UseSnapshots: true})
	for i := range insts {
		waitHealthy(t, h.url(i, "/health"))
		if _, body, _ := get(h.url(i, "/")); body != fmt.Sprintf("node %d: request %d\n", i+1, i+3) {
			t.Errorf("restored node %d answers %q, want request %d", i+1, body, i+3)
		}
	}
	down(insts)

	// Before the snapshot's time, or without --use-snapshots: fresh volumes.
	for _, opts := range []provider.UpOptions{
		{UseSnapshots: true, SnapshotTime: taken.Add(-time.Second)},
		{UseSnapshots: false},
		{UseSnapshots: true, SnapshotCluster: "other"},
	} {
		insts = up(ctx, t, p, c, h.demoScript(), opts)
		for i := range insts {
			waitHealthy(t, h.url(i, "/health"))
			if _, body, _ := get(h.url(i, "/")); body != fmt.Sprintf("node %d: request 1\n", i+1) {
				t.Errorf("%+v: node %d answers %q, want a fresh counter", opts, i+1, body)
			}
		}
		down(insts)
	}
	// Another cluster restores from this one with --snapshot-cluster.
	other := parseCluster(t, strings.Replace(src, "name: snap", "name: copy", 1))
	po := h.open(other, time.Second)
	insts = up(ctx, t, po, other, h.demoScript(), provider.UpOptions{UseSnapshots: true, SnapshotCluster: "snap"})
	for i := range insts {
		waitHealthy(t, h.url(i, "/health"))
		if _, body, _ := get(h.url(i, "/")); body != fmt.Sprintf("node %d: request %d\n", i+1, i+3) {
			t.Errorf("cluster copy node %d answers %q, want request %d", i+1, body, i+3)
		}
	}
	down(insts)
}

func TestCheckIP(t *testing.T) {
	for ip, ok := range map[string]bool{
		"127.0.0.1": true, "127.0.0.11": true, "127.255.1.2": true,
		"128.0.0.1": false, "10.0.0.1": false, "::1": false, "localhost": false, "": false,
	} {
		if err := checkIP(ip); (err == nil) != ok {
			t.Errorf("checkIP(%q) = %v", ip, err)
		}
	}
}

func TestVolumeEnv(t *testing.T) {
	for name, want := range map[string]string{"data": "VOLUME_DATA", "mongo-data": "VOLUME_MONGO_DATA", "a.b c": "VOLUME_A_B_C"} {
		if got := volumeEnv(name); got != want {
			t.Errorf("volumeEnv(%q) = %s, want %s", name, got, want)
		}
	}
}

func TestFindSnapshots(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snaps := []snapshotRecord{
		{ID: "old-1", Cluster: "c", NodeID: "1", Device: "d", Created: t0, State: snapshotCompleted},
		{ID: "new-1", Cluster: "c", NodeID: "1", Device: "d", Created: t0.Add(time.Hour), State: snapshotCompleted},
		{ID: "new-2", Cluster: "c", NodeID: "2", Device: "d", Created: t0.Add(2 * time.Hour), State: snapshotCompleted},
		{ID: "pending", Cluster: "c", NodeID: "1", Device: "d", Created: t0.Add(3 * time.Hour), State: snapshotPending},
		{ID: "other-dev", Cluster: "c", NodeID: "1", Device: "e", Created: t0.Add(4 * time.Hour), State: snapshotCompleted},
		{ID: "other-cluster", Cluster: "x", NodeID: "1", Device: "d", Created: t0.Add(4 * time.Hour), State: snapshotCompleted},
	}
	rs, ok := findSnapshots(snaps, "c", "", "d", time.Time{})
	if !ok || rs.Newest != "new-2" || rs.For("1") != "new-1" || rs.For("2") != "new-2" || rs.For("3") != "new-2" {
		t.Errorf("now: %+v", rs)
	}
	rs, ok = findSnapshots(snaps, "c", "", "d", t0.Add(30*time.Minute))
	if !ok || rs.Newest != "old-1" || rs.For("2") != "old-1" {
		t.Errorf("at t0+30m: %+v", rs)
	}
	if _, ok := findSnapshots(snaps, "c", "", "d", t0.Add(-time.Minute)); ok {
		t.Error("before every snapshot: found one")
	}
	if _, err := explicitSnapshot(snaps, "pending"); !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("explicit pending snapshot: %v", err)
	}
}

func TestTailOffset(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 10000)
	for name, content := range map[string]string{
		"empty": "", "one": "a\n", "no-final-newline": "a\nb\nc", "long-lines": "1" + long + "\n2" + long + "\n3\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(content, "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		for n := 0; n <= len(lines)+1; n++ {
			off, err := tailOffset(f, n)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join(lines[len(lines)-min(n, len(lines)):], "")
			if got := content[off:]; got != want {
				t.Errorf("%s: tail %d = %q, want %q", name, n, trunc(got), trunc(want))
			}
		}
		f.Close()
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:20] + "..." + s[len(s)-20:]
	}
	return s
}

func TestStoreDir(t *testing.T) {
	t.Setenv(EnvDir, "")
	t.Setenv("XDG_STATE_HOME", "/xdg")
	if d, _ := Dir(); d != "/xdg/cloud-compose" {
		t.Errorf("XDG_STATE_HOME: %s", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := Dir(); d != "/home/u/.local/state/cloud-compose" {
		t.Errorf("fallback: %s", d)
	}
	t.Setenv(EnvDir, "/elsewhere")
	if d, _ := Dir(); d != "/elsewhere" {
		t.Errorf("%s: %s", EnvDir, d)
	}
}

func TestStoreConcurrentUpdates(t *testing.T) {
	s, err := openStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			errs <- s.update(ctx, func(tx *txn) error {
				var count int
				if _, err := tx.get(bucketImages, "counter", &count); err != nil {
					return err
				}
				return tx.put(bucketImages, "counter", count+1)
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var count int
	if err := s.view(ctx, func(tx *txn) error { _, err := tx.get(bucketImages, "counter", &count); return err }); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("counter = %d after %d increments", count, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.view(cctx, func(*txn) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled view: %v", err)
	}
}
