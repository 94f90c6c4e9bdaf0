package s3state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
	"github.com/cloud-compose/cloud-compose-go/internal/state/statetest"
)

func TestParseLocation(t *testing.T) {
	for _, c := range []struct {
		in, bucket, prefix, region, kms string
		bad                             bool
	}{
		{in: "s3://b", bucket: "b"},
		{in: "s3://b/", bucket: "b"},
		{in: "s3://my-bucket/cloud-compose/state/", bucket: "my-bucket", prefix: "cloud-compose/state"},
		{in: "s3://b/p?region=eu-west-1&kms_key_id=arn:aws:kms:eu-west-1:1:key/k", bucket: "b", prefix: "p", region: "eu-west-1", kms: "arn:aws:kms:eu-west-1:1:key/k"},
		{in: "s3:b/p", bad: true},
		{in: "s3:///p", bad: true},
		{in: "file:/tmp/x", bad: true},
		{in: "s3://b/p?acl=public-read", bad: true},
	} {
		t.Run(c.in, func(t *testing.T) {
			b, p, q, err := parseLocation(c.in)
			if c.bad {
				if err == nil {
					t.Fatalf("parseLocation(%q) = %q, %q; want an error", c.in, b, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b != c.bucket || p != c.prefix || q.Get("region") != c.region || q.Get("kms_key_id") != c.kms {
				t.Errorf("parseLocation(%q) = %q, %q, %v; want %q, %q, region %q, kms %q", c.in, b, p, q, c.bucket, c.prefix, c.region, c.kms)
			}
		})
	}
}

func TestStale(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lo := lockObject{LockInfo: state.LockInfo{Expires: t0.Add(30 * time.Second)}, Renewed: t0}
	for _, c := range []struct {
		name string
		obj  object
		want bool
	}{
		{"server: just written", object{modified: t0, now: t0}, false},
		{"server: within the lease", object{modified: t0, now: t0.Add(30 * time.Second)}, false},
		{"server: within the slack", object{modified: t0, now: t0.Add(31 * time.Second)}, false},
		{"server: lapsed", object{modified: t0, now: t0.Add(32 * time.Second)}, true},
		// The holder's clock is an hour behind the server's: the lease is
		// judged on the server's clocks only.
		{"server: holder's clock behind", object{modified: t0.Add(time.Hour), now: t0.Add(time.Hour + 10*time.Second)}, false},
		{"no server time: local clock past Expires", object{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := stale(lo, c.obj); got != c.want {
				t.Errorf("stale = %v, want %v", got, c.want)
			}
		})
	}
}

// moto returns the moto server's endpoint, or skips under -short.
func moto(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (moto's S3); skipped under -short")
	}
	ep := os.Getenv("CLOUD_COMPOSE_TEST_MOTO")
	if ep == "" {
		t.Fatal("CLOUD_COMPOSE_TEST_MOTO is not set: run the tests with scripts/test, which starts a moto server and sets AWS_ENDPOINT_URL (or use -short to skip integration tests)")
	}
	return ep
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testConfig is the SDK configuration on moto, with extra API options.
func testConfig(t *testing.T, endpoint string, opts ...func(*middleware.Stack) error) aws.Config {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion("us-east-1"), awsconfig.WithBaseEndpoint(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIOptions = append(cfg.APIOptions, opts...)
	return cfg
}

// newLocation creates a fresh bucket on moto and returns s3://bucket/prefix.
func newLocation(t *testing.T) (string, aws.Config) {
	t.Helper()
	cfg := testConfig(t, moto(t))
	bucket := "cc-state-" + randomHex(6)
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	return "s3://" + bucket + "/cloud-compose/state", cfg
}

func open(t *testing.T, loc string, o Options) *backend {
	t.Helper()
	b, err := New(context.Background(), loc, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b.(*backend)
}

func TestIntegrationConformance(t *testing.T) {
	loc, cfg := newLocation(t)
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Backend { return open(t, loc, Options{Config: &cfg}) },
		HolderGone: func(t *testing.T, key state.Key) state.LockInfo {
			b := open(t, loc, Options{Config: &cfg, Lease: time.Second})
			info := statetest.Info("gone")
			lk, err := b.Lock(context.Background(), key, info)
			if err != nil {
				t.Fatal(err)
			}
			lk.(*lock).abandon()
			return info
		},
		// A 1 s lease, the second of slack, and Last-Modified's resolution.
		GoneWithin:      5 * time.Second,
		ReportsTakeOver: true,
	})
}

// TestIntegrationOpen: the registered opener reads the SDK's configuration
// from the environment (AWS_ENDPOINT_URL: path-style addressing).
func TestIntegrationOpen(t *testing.T) {
	loc, _ := newLocation(t)
	t.Setenv("AWS_ENDPOINT_URL", moto(t))
	b, err := state.Open(context.Background(), loc, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lk, err := b.Lock(context.Background(), state.Key{Cluster: "open"}, statetest.Info("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := lk.Unlock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := state.Open(context.Background(), "s3://"+"no-such-bucket-"+randomHex(4)+"/p", t.TempDir()); err != nil {
		t.Fatalf("Open makes no call, so a missing bucket is found at first use: %v", err)
	}
}

type request struct {
	method, path string
	header       http.Header
}

// recorder records every request sent (after signing).
type recorder struct {
	mu   sync.Mutex
	reqs []request
}

func (r *recorder) option(s *middleware.Stack) error {
	return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("record", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			r.mu.Lock()
			r.reqs = append(r.reqs, request{req.Method, req.URL.Path, req.Header.Clone()})
			r.mu.Unlock()
		}
		return next.HandleFinalize(ctx, in)
	}), middleware.After)
}

func (r *recorder) take() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	reqs := r.reqs
	r.reqs = nil
	return reqs
}

// TestIntegrationRequestShape: the lock is created with If-None-Match: *,
// renewed and deleted with If-Match on its ETag; every object is written
// with server-side encryption.
func TestIntegrationRequestShape(t *testing.T) {
	loc, _ := newLocation(t)
	var rec recorder
	cfg := testConfig(t, moto(t), rec.option)
	// a lease long enough that a loaded machine (the whole suite runs at
	// once in CI) cannot lose it between renewals
	b := open(t, loc, Options{Config: &cfg, Lease: 3 * time.Second})
	ctx := context.Background()
	key := state.Key{Cluster: "shape", Env: "staging"}
	lockPath := "/" + strings.TrimPrefix(loc, "s3://") + "/shape@staging/lock.json"

	lk, err := b.Lock(ctx, key, statetest.Info("alice"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := rec.take()
	if len(reqs) != 1 || reqs[0].method != http.MethodPut || reqs[0].path != lockPath {
		t.Fatalf("Lock of a free key sent %v; want one PUT %s", reqs, lockPath)
	}
	if h := reqs[0].header; h.Get("If-None-Match") != "*" || h.Get("If-Match") != "" || h.Get("X-Amz-Server-Side-Encryption") != "AES256" {
		t.Errorf("lock PUT headers: If-None-Match %q, If-Match %q, SSE %q; want *, none, AES256",
			h.Get("If-None-Match"), h.Get("If-Match"), h.Get("X-Amz-Server-Side-Encryption"))
	}
	lk.(*lock).mu.Lock()
	etag := lk.(*lock).etag
	lk.(*lock).mu.Unlock()

	time.Sleep(2600 * time.Millisecond) // renewals every second
	renewals := rec.take()
	if len(renewals) < 2 {
		t.Fatalf("%d requests in 2.6 s of a 3 s lease; want at least 2 renewals", len(renewals))
	}
	for i, r := range renewals {
		match := r.header.Get("If-Match")
		if r.method != http.MethodPut || r.path != lockPath || match == "" || (i == 0 && match != etag) || r.header.Get("If-None-Match") != "" || r.header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
			t.Errorf("renewal %d: %s %s If-Match %q If-None-Match %q SSE %q; want PUT %s If-Match the ETag held (first: %s), SSE AES256",
				i, r.method, r.path, match, r.header.Get("If-None-Match"), r.header.Get("X-Amz-Server-Side-Encryption"), lockPath, etag)
		}
	}
	lk.(*lock).mu.Lock()
	etag = lk.(*lock).etag
	lk.(*lock).mu.Unlock()
	if err := lk.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	reqs = rec.take()
	if len(reqs) == 0 {
		t.Fatal("Unlock sent no request (was the lock lost?)")
	}
	last := reqs[len(reqs)-1]
	for _, r := range reqs[:len(reqs)-1] {
		if r.method == http.MethodPut && r.path == lockPath {
			// a renewal came between reading the ETag and Unlock: the
			// DELETE must match the renewal's ETag, which only the lock knows
			lk.(*lock).mu.Lock()
			etag = lk.(*lock).etag
			lk.(*lock).mu.Unlock()
		}
	}
	if last.method != http.MethodDelete || last.path != lockPath || last.header.Get("If-Match") != etag {
		t.Errorf("Unlock sent %s %s If-Match %q; want DELETE %s If-Match %s", last.method, last.path, last.header.Get("If-Match"), lockPath, etag)
	}

	if err := b.PutEvent(ctx, key, state.Event{ID: "e1", Time: time.Now(), Result: state.ResultOK}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutGeneration(ctx, key, state.Generation{Number: 7, State: state.GenActive}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.take() {
		if r.header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
			t.Errorf("%s %s without SSE", r.method, r.path)
		}
		if strings.Contains(r.path, "/generations/") && !strings.HasSuffix(r.path, "/generations/0000000007.json") {
			t.Errorf("generation 7 written to %s", r.path)
		}
	}
}

// TestIntegrationRenewal: a holder that runs longer than its lease keeps
// its lock, and Expires moves on.
func TestIntegrationRenewal(t *testing.T) {
	loc, cfg := newLocation(t)
	// a 2 s lease renewed every ~0.7 s: slack for a loaded machine (the
	// race detector, moto on two cores), where a 1 s lease once lapsed
	a := open(t, loc, Options{Config: &cfg, Lease: 2 * time.Second})
	b := open(t, loc, Options{Config: &cfg})
	ctx := context.Background()
	key := state.Key{Cluster: "renew"}
	ia := statetest.Info("alice")
	lk, err := a.Lock(ctx, key, ia)
	if err != nil {
		t.Fatal(err)
	}
	first := lk.Info().Expires
	// Staleness is judged on the server's clocks: the answer carries them.
	obj, err := b.get(ctx, lk.(*lock).obj)
	if err != nil {
		t.Fatal(err)
	}
	if obj.now.IsZero() || obj.modified.IsZero() || obj.now.Sub(obj.modified) > 2*time.Second || obj.now.Before(obj.modified.Add(-time.Second)) {
		t.Errorf("lock object read with server time %s, Last-Modified %s; want both, and close", obj.now, obj.modified)
	}
	time.Sleep(5 * time.Second) // two and a half leases
	_, err = b.Lock(ctx, key, statetest.Info("bob"))
	var le *state.LockError
	if !errors.As(err, &le) || le.Info.ID != ia.ID {
		t.Fatalf("lock held past its lease by a live holder: got %v, want a *LockError naming %s", err, ia.ID)
	}
	if !lk.Info().Expires.After(first.Add(2 * time.Second)) {
		t.Errorf("Expires %s after 5 s, first %s: not renewed", lk.Info().Expires, first)
	}
	select {
	case <-lk.(*lock).Lost():
		t.Fatalf("lost: %v", lk.(*lock).Err())
	default:
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationLost: a holder whose lock was force-unlocked learns it at
// its next renewal.
func TestIntegrationLost(t *testing.T) {
	loc, cfg := newLocation(t)
	a := open(t, loc, Options{Config: &cfg, Lease: 900 * time.Millisecond})
	ctx := context.Background()
	key := state.Key{Cluster: "lost"}
	ia := statetest.Info("alice")
	lk, err := a.Lock(ctx, key, ia)
	if err != nil {
		t.Fatal(err)
	}
	if err := open(t, loc, Options{Config: &cfg}).ForceUnlock(ctx, key, ia.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lk.(*lock).Lost():
	case <-time.After(3 * time.Second):
		t.Fatal("Lost not closed 3 s after a force-unlock (renewal every 300 ms)")
	}
	if lk.(*lock).Err() == nil {
		t.Error("Err() = nil after Lost")
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Errorf("Unlock of a lost lock: %v (want nil)", err)
	}
}

// TestIntegrationLapse: a holder whose renewals fail (the network is down)
// keeps trying until its lease runs out; then the lock is stale, another
// takes it over, and the old holder's Unlock does not delete it.
func TestIntegrationLapse(t *testing.T) {
	loc, _ := newLocation(t)
	var down atomic.Bool
	fail := func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("down", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if down.Load() {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, errors.New("network is down")
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
	}
	cfgA := testConfig(t, moto(t), fail)
	cfgA.RetryMaxAttempts = 1
	cfgB := testConfig(t, moto(t))
	a := open(t, loc, Options{Config: &cfgA, Lease: time.Second})
	b := open(t, loc, Options{Config: &cfgB})
	ctx := context.Background()
	key := state.Key{Cluster: "lapse"}
	ia, ib := statetest.Info("alice"), statetest.Info("bob")
	la, err := a.Lock(ctx, key, ia)
	if err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	select {
	case <-la.(*lock).Lost():
	case <-time.After(3 * time.Second):
		t.Fatal("Lost not closed 3 s after renewals began to fail (lease 1 s)")
	}
	lb, err := state.Acquire(ctx, b, key, ib, 5*time.Second)
	if err != nil {
		t.Fatalf("lock after the holder's lease lapsed: %v", err)
	}
	if prev, ok := lb.(*lock).TookOver(); !ok || prev.ID != ia.ID {
		t.Errorf("TookOver() = %s, %v; want %s, true", prev.ID, ok, ia.ID)
	}
	down.Store(false)
	if err := la.Unlock(ctx); err != nil {
		t.Errorf("Unlock of the lapsed lock: %v (want nil)", err)
	}
	_, err = a.Lock(ctx, key, statetest.Info("carol"))
	var le *state.LockError
	if !errors.As(err, &le) || le.Info.ID != ib.ID {
		t.Fatalf("after the old holder's Unlock: got %v, want a *LockError naming %s", err, ib.ID)
	}
	if err := lb.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationTakeOverOneWinner: of several lockers that find one stale
// lock, exactly one takes it over (If-Match on the stale object's ETag).
func TestIntegrationTakeOverOneWinner(t *testing.T) {
	loc, cfg := newLocation(t)
	ctx := context.Background()
	key := state.Key{Cluster: "takeover", Env: "prod"}
	for round := range 3 {
		gone := statetest.Info(fmt.Sprintf("gone-%d", round))
		lk, err := open(t, loc, Options{Config: &cfg, Lease: 500 * time.Millisecond}).Lock(ctx, key, gone)
		if err != nil {
			t.Fatal(err)
		}
		lk.(*lock).abandon()
		time.Sleep(3 * time.Second) // lease, slack and Last-Modified's second
		const n = 8
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			locks = make([]state.Lock, n)
			errs  = make([]error, n)
		)
		for i := range n {
			c := open(t, loc, Options{Config: &cfg})
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				locks[i], errs[i] = c.Lock(ctx, key, statetest.Info(fmt.Sprintf("taker-%d", i)))
			}()
		}
		close(start)
		wg.Wait()
		var won []int
		for i, err := range errs {
			if err == nil {
				won = append(won, i)
			} else if !errors.Is(err, state.ErrLocked) {
				t.Errorf("taker %d: %v (want a *LockError)", i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: takers %v won the stale lock; want exactly one", round, won)
		}
		if prev, ok := locks[won[0]].(*lock).TookOver(); !ok || prev.ID != gone.ID {
			t.Errorf("TookOver() = %s, %v; want %s", prev.ID, ok, gone.ID)
		}
		if err := locks[won[0]].Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIntegrationEventTimeChanged: an event put again by the same client
// with another Time is moved, not duplicated.
func TestIntegrationEventTimeChanged(t *testing.T) {
	loc, cfg := newLocation(t)
	b := open(t, loc, Options{Config: &cfg})
	ctx := context.Background()
	key := state.Key{Cluster: "moved"}
	t0 := time.Now().UTC()
	ev := state.Event{ID: "a1", Time: t0, Result: state.ResultRunning}
	if err := b.PutEvent(ctx, key, ev); err != nil {
		t.Fatal(err)
	}
	other := state.Event{ID: "b2", Time: t0.Add(time.Second), Result: state.ResultOK}
	if err := b.PutEvent(ctx, key, other); err != nil {
		t.Fatal(err)
	}
	ev.Time, ev.Result = t0.Add(2*time.Second), state.ResultOK
	if err := b.PutEvent(ctx, key, ev); err != nil {
		t.Fatal(err)
	}
	got, err := b.Events(ctx, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a1" || got[0].Result != state.ResultOK || got[1].ID != "b2" {
		t.Errorf("Events = %+v; want a1 (ok, moved to the newest) then b2", got)
	}
	if err := b.PutEvent(ctx, key, state.Event{ID: "a/b", Time: t0}); err == nil {
		t.Error("PutEvent with a slash in the id: no error")
	}
	if err := b.PutEvent(ctx, state.Key{Cluster: "../x"}, ev); err == nil {
		t.Error("PutEvent on cluster ../x: no error")
	}
}

// benchLocation is newLocation for benchmarks (moto required).
func benchLocation(b *testing.B) (*backend, context.Context) {
	ep := os.Getenv("CLOUD_COMPOSE_TEST_MOTO")
	if ep == "" {
		b.Skip("CLOUD_COMPOSE_TEST_MOTO is not set: run with scripts/test -run NONE -bench . ./internal/state/s3/")
	}
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"), awsconfig.WithBaseEndpoint(ep))
	if err != nil {
		b.Fatal(err)
	}
	bucket := "cc-bench-" + randomHex(6)
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		b.Fatal(err)
	}
	be, err := New(ctx, "s3://"+bucket+"/p", Options{Config: &cfg})
	if err != nil {
		b.Fatal(err)
	}
	return be.(*backend), ctx
}

// BenchmarkLockJournal is what a mutating command pays: lock, the event
// as running, the event as ok, unlock.
func BenchmarkLockJournal(b *testing.B) {
	be, ctx := benchLocation(b)
	key := state.Key{Cluster: "bench"}
	for i := 0; b.Loop(); i++ {
		lk, err := be.Lock(ctx, key, statetest.Info("bench"))
		if err != nil {
			b.Fatal(err)
		}
		ev := state.Event{ID: fmt.Sprint(i), Time: time.Now(), Result: state.ResultRunning}
		if err := be.PutEvent(ctx, key, ev); err != nil {
			b.Fatal(err)
		}
		ev.Result = state.ResultOK
		if err := be.PutEvent(ctx, key, ev); err != nil {
			b.Fatal(err)
		}
		if err := lk.Unlock(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvents: history -n 20 over 2,000 events (one listing of two
// pages, 20 reads).
func BenchmarkEvents(b *testing.B) {
	be, ctx := benchLocation(b)
	key := state.Key{Cluster: "history"}
	t0 := time.Now().Add(-time.Hour)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range 2000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := be.PutEvent(ctx, key, state.Event{ID: fmt.Sprint(i), Time: t0.Add(time.Duration(i) * time.Millisecond), Result: state.ResultOK}); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	for b.Loop() {
		evs, err := be.Events(ctx, key, 20)
		if err != nil || len(evs) != 20 || evs[0].ID != "1999" {
			b.Fatalf("Events: %d events, %v", len(evs), err)
		}
	}
}

// TestIntegrationCorruptLock: an unreadable lock.json is held by someone
// unknown (never taken over), and ForceUnlock does not delete it.
func TestIntegrationCorruptLock(t *testing.T) {
	loc, cfg := newLocation(t)
	b := open(t, loc, Options{Config: &cfg})
	ctx := context.Background()
	key := state.Key{Cluster: "corrupt"}
	name := b.prefix + "/corrupt/lock.json"
	if _, err := b.put(ctx, name, []byte("{not json"), "", ""); err != nil {
		t.Fatal(err)
	}
	_, err := b.Lock(ctx, key, statetest.Info("alice"))
	var le *state.LockError
	if !errors.As(err, &le) || le.Info.ID != "" || le.Err == nil || !strings.Contains(le.Err.Error(), name) {
		t.Fatalf("Lock of a corrupt lock object: %v; want a *LockError with no holder and an Err naming %s", err, name)
	}
	for _, id := range []string{"", "x"} {
		if err := b.ForceUnlock(ctx, key, id); !errors.Is(err, state.ErrNoLock) {
			t.Errorf("ForceUnlock(%q) of a corrupt lock object: %v; want ErrNoLock", id, err)
		}
	}
	if _, err := b.get(ctx, name); err != nil {
		t.Errorf("the corrupt lock object is gone: %v", err)
	}
}

// TestIntegrationGroupsRequestShape: groups.json is one object per key,
// created with If-None-Match: * and rewritten with If-Match on the ETag
// read, with server-side encryption; a writer whose read is out of date
// reads again and keeps the other's group.
func TestIntegrationGroupsRequestShape(t *testing.T) {
	loc, _ := newLocation(t)
	var rec recorder
	cfg := testConfig(t, moto(t), rec.option)
	b := open(t, loc, Options{Config: &cfg})
	ctx := context.Background()
	key := state.Key{Cluster: "groups", Env: "staging"}
	path := "/" + strings.TrimPrefix(loc, "s3://") + "/groups@staging/groups.json"

	web := state.GroupMembers{Group: "web", Members: []string{"web-0", "web-2"}, Event: "e1", Updated: time.Now().UTC()}
	if err := b.PutGroupMembers(ctx, key, web); err != nil {
		t.Fatal(err)
	}
	reqs := rec.take()
	if len(reqs) != 2 || reqs[0].method != http.MethodGet || reqs[1].method != http.MethodPut || reqs[1].path != path {
		t.Fatalf("first PutGroupMembers sent %v; want GET then PUT %s", reqs, path)
	}
	if h := reqs[1].header; h.Get("If-None-Match") != "*" || h.Get("If-Match") != "" || h.Get("X-Amz-Server-Side-Encryption") != "AES256" {
		t.Errorf("create headers: If-None-Match %q, If-Match %q, SSE %q; want *, none, AES256",
			h.Get("If-None-Match"), h.Get("If-Match"), h.Get("X-Amz-Server-Side-Encryption"))
	}
	obj, err := b.get(ctx, b.prefix+"/groups@staging/groups.json")
	if err != nil {
		t.Fatal(err)
	}
	rec.take()

	worker := state.GroupMembers{Group: "worker", Members: []string{"worker-1"}, Event: "e2", Updated: time.Now().UTC()}
	if err := b.PutGroupMembers(ctx, key, worker); err != nil {
		t.Fatal(err)
	}
	reqs = rec.take()
	if len(reqs) != 2 || reqs[1].method != http.MethodPut {
		t.Fatalf("second PutGroupMembers sent %v; want GET then PUT", reqs)
	}
	if h := reqs[1].header; h.Get("If-Match") != obj.etag || h.Get("If-None-Match") != "" || h.Get("X-Amz-Server-Side-Encryption") != "AES256" {
		t.Errorf("rewrite headers: If-Match %q, If-None-Match %q, SSE %q; want %s, none, AES256",
			h.Get("If-Match"), h.Get("If-None-Match"), h.Get("X-Amz-Server-Side-Encryption"), obj.etag)
	}

	// Another writer changes the object between this writer's read and
	// its write: the conditional write fails, and the writer reads again.
	other := open(t, loc, Options{Config: &cfg})
	raced := false
	hook := func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("race", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok && req.Method == http.MethodPut && !raced {
				raced = true
				if err := other.PutGroupMembers(ctx, key, state.GroupMembers{Group: "api", Members: []string{"api-0"}}); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
	}
	racyCfg := testConfig(t, moto(t), hook)
	racy := open(t, loc, Options{Config: &racyCfg})
	web.Members = []string{"web-2"}
	if err := racy.PutGroupMembers(ctx, key, web); err != nil {
		t.Fatal(err)
	}
	got, err := b.GroupMembers(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, g.Group+"="+strings.Join(g.Members, ","))
	}
	if s := strings.Join(names, " "); s != "api=api-0 web=web-2 worker=worker-1" {
		t.Errorf("groups after a raced write: %s; want api=api-0 web=web-2 worker=worker-1", s)
	}
}
