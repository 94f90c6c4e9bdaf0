package local

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// specCluster has three volumes: one restored by --use-snapshots (by its
// block device), one with a configured snapshot, one with neither (and the default size, 10G).
const specCluster = `cluster:
  name: spec
  search_path: [templates]
  local:
    image: base
    terminate_protection: false
    tags: {team: data, tier: web}
    volumes:
      - {name: data, size: 2G, mount: /data, block: /dev/xvdb}
      - {name: logs, mount: /logs, snapshot: snap-explicit, delete_on_termination: false}
      - {name: tmp}
    nodes:
      - {id: "1", ip: 127.0.0.11}
      - {id: "2", ip: 127.0.0.12}
      - {id: "3", ip: 127.0.0.13}
`

// openUnit opens the local provider for src on a private, empty store.
func openUnit(t *testing.T, src string) (*localProvider, *config.Cluster) {
	t.Helper()
	t.Setenv(EnvDir, t.TempDir())
	c := parseCluster(t, src)
	p, err := provider.Open(context.Background(), c, provider.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*localProvider), c
}

// TestSpecIsPure: Spec reads nothing but its arguments and the config —
// it works with no store at all — and says everything that defines a
// local server; it survives the store's JSON unchanged (hash included).
func TestSpecIsPure(t *testing.T) {
	p, c := openUnit(t, specCluster)
	p.store = nil // any store access would panic
	res := provider.Resolution{
		Image: provider.Image{ID: "img-1", Name: "base"},
		Snapshots: map[int]provider.SnapshotChoice{
			0: {Newest: "snap-new", ByNode: map[string]string{"2": "snap-2"}},
			1: {Newest: "snap-explicit"},
		},
	}
	env := []config.KeyValue{{Key: "GREETING", Value: "hello"}, {Key: "DB_PASSWORD", Value: "s3cret"}}
	nodes := c.Nodes()
	got := p.Spec(nodes[1], res, "#!/bin/bash\necho hi\n", env)
	want := provider.Spec{
		Image: "img-1", ImageName: "base", UserData: "#!/bin/bash\necho hi\n", IP: "127.0.0.12",
		Volumes: []provider.VolumeSpec{
			{Name: "data", Device: "/dev/xvdb", SizeGB: 2, Mount: "/data", DeleteOnTermination: true, Snapshot: "snap-2"},
			{Name: "logs", SizeGB: 10, Mount: "/logs", DeleteOnTermination: false, Snapshot: "snap-explicit"},
			{Name: "tmp", SizeGB: 10, DeleteOnTermination: true},
		},
		Tags:  []config.KeyValue{{Key: "team", Value: "data"}, {Key: "tier", Value: "web"}},
		Env:   env,
		Flags: provider.Flags{TerminateProtection: false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Spec (-want +got):\n%s", diff)
	}
	// A node without a snapshot of its own starts from the newest.
	if s := p.Spec(nodes[0], res, "", env).Volumes[0].Snapshot; s != "snap-new" {
		t.Errorf("node 1's data volume starts from %q, want snap-new", s)
	}
	// The same inputs give the same spec, and the spec does not share the
	// caller's environment slice.
	again := p.Spec(nodes[1], res, "#!/bin/bash\necho hi\n", env)
	env[0].Value = "changed"
	if again.Hash() != got.Hash() || got.Env[0].Value != "hello" {
		t.Errorf("Spec is not a pure value: hash %s vs %s, env %v", again.Hash(), got.Hash(), got.Env)
	}
	// Through the store and back: equal, same hash and tag (also with an
	// empty, not nil, environment).
	st, err := openStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []provider.Spec{got, p.Spec(nodes[2], provider.Resolution{Image: provider.Image{ID: emptyImageID}}, "", []config.KeyValue{})} {
		id := "i-" + strconv.Itoa(i)
		if err := st.writeLaunchSpec(id, s); err != nil {
			t.Fatal(err)
		}
		back, err := st.launchSpec(id)
		if err != nil || back == nil {
			t.Fatalf("launchSpec = %v, %v", back, err)
		}
		if diff := cmp.Diff(s, *back); diff != "" || back.Hash() != s.Hash() || back.Tag() != s.Tag() {
			t.Errorf("spec after a round trip through the store (-before +after):\n%s\nhash %s → %s", diff, s.Hash(), back.Hash())
		}
	}
	// What changes a server changes the hash; snapshots and the image's
	// name do not (they are data and labels, not definition).
	for name, mod := range map[string]func(*provider.Spec){
		"image":    func(s *provider.Spec) { s.Image = "img-2" },
		"env":      func(s *provider.Spec) { s.Env = []config.KeyValue{{Key: "GREETING", Value: "bonjour"}} },
		"ip":       func(s *provider.Spec) { s.IP = "127.0.0.99" },
		"volume":   func(s *provider.Spec) { s.Volumes = s.Volumes[:1] },
		"tags":     func(s *provider.Spec) { s.Tags = nil },
		"protect":  func(s *provider.Spec) { s.Flags.TerminateProtection = true },
		"userdata": func(s *provider.Spec) { s.UserData += "#\n" },
	} {
		s := got
		s.Volumes = append([]provider.VolumeSpec(nil), got.Volumes...)
		mod(&s)
		if s.Hash() == got.Hash() {
			t.Errorf("%s: changed spec, same hash", name)
		}
	}
	s := got
	s.ImageName, s.Volumes = "other", append([]provider.VolumeSpec(nil), got.Volumes...)
	s.Volumes[0].Snapshot = "snap-other"
	if s.Hash() != got.Hash() {
		t.Error("image name or snapshot changed the hash")
	}
}

// TestResolve: the image and, by volume index, the snapshots of the
// cluster's own environment; the configured snapshot must exist; nothing
// is kept between calls.
func TestResolve(t *testing.T) {
	p, _ := openUnit(t, specCluster)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := func(id, cluster, env, node, dev string, at time.Duration) snapshotRecord {
		return snapshotRecord{ID: id, Cluster: cluster, Env: env, NodeID: node, Device: dev, Created: t0.Add(at), State: snapshotCompleted}
	}
	put := func(recs ...any) {
		t.Helper()
		err := p.store.update(ctx, func(tx *txn) error {
			for _, r := range recs {
				var err error
				switch r := r.(type) {
				case imageRecord:
					err = tx.put(bucketImages, r.ID, r)
				case snapshotRecord:
					err = tx.put(bucketSnapshots, r.ID, r)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	id := provider.ClusterID{Name: "spec"}
	if _, err := p.Resolve(ctx, id, nil, provider.ResolveOptions{}); !errors.Is(err, ErrNoImage) {
		t.Fatalf("Resolve with no image `base` = %v, want ErrNoImage", err)
	}
	put(imageRecord{ID: "img-old", Name: "base", Created: t0}, imageRecord{ID: "img-new", Name: "base", Created: t0.Add(time.Hour)})
	if _, err := p.Resolve(ctx, id, nil, provider.ResolveOptions{}); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Resolve with volume logs' snapshot missing = %v, want ErrNoSnapshot", err)
	}
	put(snap("snap-explicit", "elsewhere", "", "9", "logs", 0),
		snap("snap-d1", "spec", "", "1", "/dev/xvdb", time.Minute),
		snap("snap-d2", "spec", "", "2", "/dev/xvdb", 2*time.Minute),
		snap("snap-staging", "spec", "staging", "1", "/dev/xvdb", 3*time.Minute),
		snap("snap-byname", "spec", "", "1", "data", 4*time.Minute), // not its device
		snap("snap-tmp", "spec", "", "1", "tmp", 5*time.Minute))

	observed := []provider.Instance{{ID: "i-1", NodeID: "1", State: provider.Running, Image: "img-old"}}
	for _, tc := range []struct {
		name     string
		cluster  provider.ClusterID
		observed []provider.Instance
		opts     provider.UpOptions
		image    string
		snaps    map[int]provider.SnapshotChoice
	}{
		{"new cluster, no snapshots", id, nil, provider.UpOptions{}, "img-new",
			map[int]provider.SnapshotChoice{1: {Newest: "snap-explicit"}}},
		{"running image, snapshots", id, observed, provider.UpOptions{UseSnapshots: true}, "img-old",
			map[int]provider.SnapshotChoice{
				0: {Newest: "snap-d2", ByNode: map[string]string{"1": "snap-d1", "2": "snap-d2"}},
				1: {Newest: "snap-explicit"},
				2: {Newest: "snap-tmp", ByNode: map[string]string{"1": "snap-tmp"}},
			}},
		{"upgrade, before the second snapshot", id, observed, provider.UpOptions{UpgradeImage: true, UseSnapshots: true, SnapshotTime: t0.Add(90 * time.Second)}, "img-new",
			map[int]provider.SnapshotChoice{
				0: {Newest: "snap-d1", ByNode: map[string]string{"1": "snap-d1"}},
				1: {Newest: "snap-explicit"},
			}},
		{"environment staging", provider.ClusterID{Name: "spec", Env: "staging"}, nil, provider.UpOptions{UseSnapshots: true}, "img-new",
			map[int]provider.SnapshotChoice{
				0: {Newest: "snap-staging", ByNode: map[string]string{"1": "snap-staging"}},
				1: {Newest: "snap-explicit"},
			}},
		{"another cluster's", id, nil, provider.UpOptions{UseSnapshots: true, SnapshotCluster: "elsewhere"}, "img-new",
			map[int]provider.SnapshotChoice{1: {Newest: "snap-explicit"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := p.Resolve(ctx, tc.cluster, tc.observed, provider.ResolveOptions{UpOptions: tc.opts})
			if err != nil {
				t.Fatal(err)
			}
			if res.Image.ID != tc.image || res.Image.Name != "base" || res.ImageHow == "" {
				t.Errorf("image = %+v %q, want %s (base)", res.Image, res.ImageHow, tc.image)
			}
			if diff := cmp.Diff(tc.snaps, res.Snapshots); diff != "" {
				t.Errorf("snapshots (-want +got):\n%s", diff)
			}
			if res.Blocked != nil {
				t.Errorf("Blocked without Check: %v", res.Blocked)
			}
		})
	}
}

// TestResolveChecks: with Check, each launch node that cannot be launched
// is blocked, with the error Launch would give; the others are not.
func TestResolveChecks(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.14:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	p, c := openUnit(t, `cluster:
  name: chk
  search_path: [templates]
  health: {port: `+strconv.Itoa(port)+`, path: /health}
  local:
    nodes:
      - {id: free, ip: 127.0.0.11}
      - {id: mine, ip: 127.0.0.12}
      - {id: taken, ip: 127.0.0.13}
      - {id: listened, ip: 127.0.0.14}
`)
	ctx := context.Background()
	// Live records (their supervisor is this process): node mine of this
	// cluster on its own IP, and another cluster's node on 127.0.0.13.
	err = p.store.update(ctx, func(tx *txn) error {
		for _, r := range []instanceRecord{
			{ID: "i-mine", Cluster: "chk", NodeID: "mine", IP: "127.0.0.12", State: provider.Running, Supervisor: self()},
			{ID: "i-other", Cluster: "other", NodeID: "x", IP: "127.0.0.13", State: provider.Running, Supervisor: self()},
		} {
			if err := tx.putInstance(&r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nodes := append(c.Nodes(), config.Node{ID: "outside", IP: "10.0.0.1"})
	id := provider.ClusterID{Name: "chk"}
	res, err := p.Resolve(ctx, id, nil, provider.ResolveOptions{Launch: nodes, Check: true})
	if err != nil {
		t.Fatal(err)
	}
	var ipe *provider.IPInUseError
	var aue *AddressInUseError
	for node, ok := range map[string]func(error) bool{
		"free":     func(err error) bool { return err == nil },
		"mine":     func(err error) bool { return err == nil },
		"taken":    func(err error) bool { return errors.As(err, &ipe) && strings.Contains(ipe.Holder, "i-other") },
		"listened": func(err error) bool { return errors.As(err, &aue) && aue.NodeID == "listened" },
		"outside":  func(err error) bool { return errors.Is(err, ErrNotLoopback) },
	} {
		if err := res.Blocked[node]; !ok(err) {
			t.Errorf("node %s: blocked by %v", node, err)
		}
	}
	// Without Check nothing is checked.
	res, err = p.Resolve(ctx, id, nil, provider.ResolveOptions{Launch: nodes})
	if err != nil || res.Blocked != nil {
		t.Errorf("Resolve without Check: %v, blocked %v", err, res.Blocked)
	}
}
