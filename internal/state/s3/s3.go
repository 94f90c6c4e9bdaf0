// Package s3state is the coordinator on an S3 bucket (state:
// s3://bucket/prefix): the lock, the journal and the generations of every
// cluster are objects under the prefix.
//
//	<prefix>/<cluster>[@env]/lock.json
//	<prefix>/<cluster>[@env]/events/<inverted time>-<id>.json  (newest first)
//	<prefix>/<cluster>[@env]/generations/<number>.json   (zero-padded)
//	<prefix>/<cluster>[@env]/groups.json  (node-group members, every group)
//
// The lock is a conditional write: PutObject with If-None-Match: * creates
// lock.json only if it does not exist (S3 answers 412 Precondition Failed,
// or 409 ConditionalRequestConflict to concurrent writers, when it does),
// so exactly one of several lockers gets it and the others read who holds
// it. The lock is a lease: the holder rewrites it every Lease/3 with
// If-Match on the ETag it holds, and a lock that has not been rewritten for
// Lease is stale — its holder is gone — and the next locker takes it over
// with an If-Match overwrite of the stale object, so of two takers only one
// wins. Staleness is judged on the server's clocks (the object's
// Last-Modified against the Date of the response that read it), so the
// clocks of the machines taking part need not agree. Unlock and
// ForceUnlock delete with If-Match, so they never delete a lock that
// someone else has taken since.
//
// groups.json (state.GroupStore) is rewritten whole for every group put:
// read, changed and written back with If-Match on the ETag read (If-None-
// Match: * when there was none), again from the read when another writer
// came between, so that writers of different groups at once all keep
// theirs.
//
// Every object is written with server-side encryption (SSE-S3, AES256;
// SSE-KMS with ?kms_key_id=ARN): generations hold every node's full spec,
// rendered user data and environment values included. Encryption at rest is
// not access control: the bucket policy should allow only the operators and
// CI roles that run cloud-compose, and block public access.
//
// The location takes query parameters: region (default: the SDK's
// configuration, else us-east-1) and kms_key_id. The SDK's default
// configuration is used otherwise (environment, profiles, SSO, instance
// role); AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3 (a test server, an
// S3-compatible store) switches to path-style addressing.
package s3state

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

func init() {
	state.Register("s3", func(ctx context.Context, location, _ string) (state.Backend, error) {
		return New(ctx, location, Options{})
	})
}

// DefaultLease is how long a lock lives without being renewed; its holder
// renews it every third of that.
const DefaultLease = 30 * time.Second

// clockSlack covers the one-second resolution of Last-Modified and Date.
const clockSlack = time.Second

// readers is how many objects Events and Generations read at once.
const readers = 16

// ErrLost is what a renewal that finds the lock no longer ours returns
// (see Lost).
var ErrLost = errors.New("lock lost")

// Options tune the backend.
type Options struct {
	// Lease is how long a lock lives unless renewed (DefaultLease if 0).
	Lease time.Duration
	// Config is the AWS configuration; nil loads the SDK's default.
	Config *aws.Config
}

type backend struct {
	s3     *s3.Client
	bucket string
	prefix string // "" or ends without "/"
	loc    string // for messages
	lease  time.Duration
	kmsKey string

	mu     sync.Mutex
	events map[string]string // event id -> object key this client wrote
}

var _ state.Backend = (*backend)(nil)

// New opens the S3 backend at location (s3://bucket/prefix).
func New(ctx context.Context, location string, o Options) (state.Backend, error) {
	bucket, prefix, q, err := parseLocation(location)
	if err != nil {
		return nil, err
	}
	var cfg aws.Config
	if o.Config != nil {
		cfg = o.Config.Copy()
	} else {
		var opts []func(*awsconfig.LoadOptions) error
		if r := q.Get("region"); r != "" {
			opts = append(opts, awsconfig.WithRegion(r))
		}
		cfg, err = awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("state %s: load AWS configuration: %w", location, err)
		}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	custom := cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		// GetObject of an object written without a checksum would log
		// "Response has no supported checksum" to stderr.
		so.DisableLogOutputChecksumValidationSkipped = true
		if custom {
			so.UsePathStyle = true // test servers and S3-compatible stores: no bucket DNS names
		}
	})
	lease := o.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	return &backend{
		s3: client, bucket: bucket, prefix: prefix, loc: location, lease: lease,
		kmsKey: q.Get("kms_key_id"), events: map[string]string{},
	}, nil
}

func parseLocation(location string) (bucket, prefix string, q url.Values, err error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.Opaque != "" {
		return "", "", nil, fmt.Errorf("state %q: not an S3 location: use s3://bucket/prefix", location)
	}
	for k := range u.Query() {
		if k != "region" && k != "kms_key_id" {
			return "", "", nil, fmt.Errorf("state %q: unknown parameter %q (known: region, kms_key_id)", location, k)
		}
	}
	return u.Host, strings.Trim(u.Path, "/"), u.Query(), nil
}

func (b *backend) Close() error { return nil }

func (b *backend) dir(key state.Key) (string, error) {
	k := key.String()
	if key.Cluster == "" || strings.ContainsAny(k, "/\\") || k == "." || k == ".." {
		return "", fmt.Errorf("state %s: bad cluster name %q", b.loc, k)
	}
	if b.prefix == "" {
		return k, nil
	}
	return b.prefix + "/" + k, nil
}

// put writes body to key with SSE and the given conditions; it returns the
// new ETag.
func (b *backend) put(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string) (string, error) {
	in := &s3.PutObjectInput{
		Bucket:               &b.bucket,
		Key:                  &key,
		Body:                 bytes.NewReader(body),
		ContentType:          aws.String("application/json"),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	}
	if b.kmsKey != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = &b.kmsKey
	}
	if ifMatch != "" {
		in.IfMatch = &ifMatch
	}
	if ifNoneMatch != "" {
		in.IfNoneMatch = &ifNoneMatch
	}
	out, err := b.s3.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// object is a read object: its body, ETag, Last-Modified and the server's
// time when it answered (zero if it sent no Date).
type object struct {
	body     []byte
	etag     string
	modified time.Time
	now      time.Time
}

func (b *backend) get(ctx context.Context, key string) (object, error) {
	out, err := b.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return object{}, err
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return object{}, err
	}
	o := object{body: body, etag: aws.ToString(out.ETag), modified: aws.ToTime(out.LastModified)}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		if t, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			o.now = t
		}
	}
	return o, nil
}

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// conflict: a condition did not hold (412), or a concurrent conditional
// write won (409 ConditionalRequestConflict).
func conflict(err error) bool {
	s := status(err)
	return s == http.StatusPreconditionFailed || s == http.StatusConflict
}

func notFound(err error) bool { return status(err) == http.StatusNotFound }

// lockObject is lock.json: the holder and when it last renewed (its own
// clock; Expires - Renewed is the lease, free of clock skew).
type lockObject struct {
	state.LockInfo
	Renewed time.Time `json:"renewed"`
}

func (o lockObject) lease() time.Duration { return o.Expires.Sub(o.Renewed) }

// stale says whether the lock read in obj has lapsed: not rewritten for its
// lease, by the server's clock when it said the time, else by ours.
func stale(lo lockObject, obj object) bool {
	if !obj.now.IsZero() && !obj.modified.IsZero() {
		return obj.now.Sub(obj.modified) > lo.lease()+clockSlack
	}
	return time.Now().After(lo.Expires.Add(clockSlack))
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Lock takes the lock on key: created if absent, taken over if stale.
func (b *backend) Lock(ctx context.Context, key state.Key, info state.LockInfo) (state.Lock, error) {
	dir, err := b.dir(key)
	if err != nil {
		return nil, err
	}
	if info.ID == "" {
		info.ID = newID()
	}
	if info.Created.IsZero() {
		info.Created = time.Now()
	}
	l := &lock{b: b, key: key, obj: dir + "/lock.json", info: info, stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
	var holder state.LockInfo
	for range 5 {
		body, exp := l.body()
		etag, err := b.put(ctx, l.obj, body, "", "*")
		if err == nil {
			return l.start(etag, exp), nil
		}
		if !conflict(err) {
			return nil, fmt.Errorf("state %s: lock %s: %w", b.loc, key, err)
		}
		obj, err := b.get(ctx, l.obj)
		if notFound(err) {
			continue // released meanwhile: try again
		}
		if err != nil {
			return nil, fmt.Errorf("state %s: read lock %s: %w", b.loc, key, err)
		}
		var lo lockObject
		if err := json.Unmarshal(obj.body, &lo); err != nil {
			return nil, &state.LockError{Key: key, Err: fmt.Errorf("unreadable lock object s3://%s/%s: %w", b.bucket, l.obj, err)}
		}
		if lo.ID == info.ID {
			// Ours: a retried PutObject whose first attempt succeeded.
			return l.start(obj.etag, lo.Expires), nil
		}
		holder = lo.LockInfo
		if !stale(lo, obj) {
			return nil, &state.LockError{Key: key, Info: holder}
		}
		body, exp = l.body()
		etag, err = b.put(ctx, l.obj, body, obj.etag, "")
		if err == nil {
			l.prev = &holder
			return l.start(etag, exp), nil
		}
		if !conflict(err) && !notFound(err) {
			return nil, fmt.Errorf("state %s: take over stale lock %s: %w", b.loc, key, err)
		}
		// Another taker won, or the holder came back: look again.
	}
	return nil, &state.LockError{Key: key, Info: holder}
}

// ForceUnlock deletes the lock on key if its id is id.
func (b *backend) ForceUnlock(ctx context.Context, key state.Key, id string) error {
	dir, err := b.dir(key)
	if err != nil {
		return err
	}
	name := dir + "/lock.json"
	for range 5 {
		obj, err := b.get(ctx, name)
		if notFound(err) {
			return fmt.Errorf("cluster %s is not locked: %w", key, state.ErrNoLock)
		}
		if err != nil {
			return fmt.Errorf("state %s: read lock %s: %w", b.loc, key, err)
		}
		var lo lockObject
		if err := json.Unmarshal(obj.body, &lo); err != nil {
			return fmt.Errorf("cluster %s: unreadable lock object s3://%s/%s (%v; delete it by hand if no run is going on): %w", key, b.bucket, name, err, state.ErrNoLock)
		}
		if lo.ID != id {
			return fmt.Errorf("cluster %s is locked by %s, not %s: %w", key, lo.ID, id, state.ErrNoLock)
		}
		_, err = b.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &name, IfMatch: &obj.etag})
		if err == nil || notFound(err) {
			return nil
		}
		if !conflict(err) {
			return fmt.Errorf("state %s: delete lock %s: %w", b.loc, key, err)
		}
		// Renewed (or replaced) between read and delete: look again.
	}
	return fmt.Errorf("state %s: lock %s keeps changing; try again", b.loc, key)
}

// lock is a held lock and its renewer.
type lock struct {
	b    *backend
	key  state.Key
	obj  string
	prev *state.LockInfo // the stale holder taken over, if any

	mu      sync.Mutex
	info    state.LockInfo
	etag    string
	lostErr error

	stop, done, lost chan struct{}
	once             sync.Once
	unlockErr        error
}

// body is lock.json as of now: renewed now, expiring a lease later.
func (l *lock) body() ([]byte, time.Time) {
	now := time.Now()
	l.mu.Lock()
	lo := lockObject{LockInfo: l.info, Renewed: now}
	l.mu.Unlock()
	lo.Expires = now.Add(l.b.lease)
	body, _ := json.Marshal(lo)
	return body, lo.Expires
}

func (l *lock) start(etag string, expires time.Time) *lock {
	l.etag = etag
	l.info.Expires = expires
	go l.renew()
	return l
}

// Info is the holder's record, Expires as of the last renewal.
func (l *lock) Info() state.LockInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info
}

// TookOver returns the holder of the stale lock this one replaced, if it
// replaced one (for a warning that names it).
func (l *lock) TookOver() (state.LockInfo, bool) {
	if l.prev == nil {
		return state.LockInfo{}, false
	}
	return *l.prev, true
}

// Lost is closed when the lock is no longer held although Unlock was not
// called: a renewal found it replaced or deleted, or renewals failed until
// the lease ran out. A long-running command should stop when it is.
func (l *lock) Lost() <-chan struct{} { return l.lost }

// Err says why the lock was lost (after Lost is closed); nil while held.
func (l *lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

func (l *lock) renew() {
	defer close(l.done)
	every := l.b.lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := l.renewOnce(ctx)
		cancel()
		if err == nil {
			continue
		}
		l.mu.Lock()
		lapsed := time.Now().After(l.info.Expires)
		l.mu.Unlock()
		if conflict(err) || notFound(err) || errors.Is(err, ErrLost) || lapsed {
			l.mu.Lock()
			l.lostErr = err
			l.mu.Unlock()
			close(l.lost)
			return
		}
		// A transient failure: the lease still runs; try at the next tick.
	}
}

func (l *lock) renewOnce(ctx context.Context) error {
	body, exp := l.body()
	l.mu.Lock()
	etag, id := l.etag, l.info.ID
	l.mu.Unlock()
	newTag, err := l.b.put(ctx, l.obj, body, etag, "")
	if conflict(err) {
		// A retried PutObject whose first attempt succeeded changed the
		// ETag: still ours if the object carries our id.
		obj, gerr := l.b.get(ctx, l.obj)
		if gerr != nil {
			return err
		}
		var lo lockObject
		if json.Unmarshal(obj.body, &lo) != nil || lo.ID != id {
			return fmt.Errorf("%w: now held by %s@%s (lock %s)", ErrLost, lo.Who, lo.Host, lo.ID)
		}
		newTag, exp = obj.etag, lo.Expires
	} else if err != nil {
		return err
	}
	l.mu.Lock()
	l.etag, l.info.Expires = newTag, exp
	l.mu.Unlock()
	return nil
}

// Unlock stops renewing and deletes the lock if it is still ours (If-Match
// on the ETag it holds); a lock that is no longer ours is released already,
// which is no error.
func (l *lock) Unlock(ctx context.Context) error {
	l.once.Do(func() { l.unlockErr = l.unlock(ctx) })
	return l.unlockErr
}

func (l *lock) unlock(ctx context.Context) error {
	close(l.stop)
	<-l.done
	select {
	case <-l.lost:
		return nil // released already: force-unlocked, or lapsed and taken over (Lost said so)
	default:
	}
	_, err := l.b.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &l.b.bucket, Key: &l.obj, IfMatch: &l.etag})
	if err == nil || notFound(err) || conflict(err) {
		// Gone, or replaced by another holder since (force-unlocked and
		// taken): not ours to delete, and released as far as we go.
		return nil
	}
	return fmt.Errorf("state %s: unlock %s: %w", l.b.loc, l.key, err)
}

// abandon stops renewing without deleting: the holder is gone (tests).
func (l *lock) abandon() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
	})
}

// eventKey sorts newest first: the key starts with the time left until the
// end of Unix nanoseconds, so ListObjectsV2 (ascending) gives the newest n
// in one page, however long the history. The time is the event's (its
// start), so the running record and the final one are the same object.
func eventKey(dir string, ev state.Event) string {
	ns := max(ev.Time.UnixNano(), 0) // before 1970 (or zero): oldest
	return fmt.Sprintf("%s/events/%019d-%s.json", dir, int64(math.MaxInt64)-ns, ev.ID)
}

// PutEvent writes ev as one object; an event re-put with the same id and a
// different Time (this client's own) replaces its earlier object.
func (b *backend) PutEvent(ctx context.Context, key state.Key, ev state.Event) error {
	dir, err := b.dir(key)
	if err != nil {
		return err
	}
	if ev.ID == "" || strings.ContainsAny(ev.ID, "/\\") {
		return fmt.Errorf("state %s: event id %q: must be set, without slashes", b.loc, ev.ID)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	name := eventKey(dir, ev)
	if _, err := b.put(ctx, name, body, "", ""); err != nil {
		return fmt.Errorf("state %s: journal %s: %w", b.loc, key, err)
	}
	b.mu.Lock()
	old := b.events[ev.ID]
	b.events[ev.ID] = name
	b.mu.Unlock()
	if old != "" && old != name {
		if _, err := b.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &old}); err != nil && !notFound(err) {
			return fmt.Errorf("state %s: journal %s: replace event %s: %w", b.loc, key, ev.ID, err)
		}
	}
	return nil
}

// list returns the first max keys under p (all when max <= 0), sorted.
func (b *backend) list(ctx context.Context, p string, limit int) ([]string, error) {
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &p}
	if limit > 0 && limit < 1000 {
		in.MaxKeys = aws.Int32(int32(limit))
	}
	pages := s3.NewListObjectsV2Paginator(b.s3, in)
	for pages.HasMorePages() && (limit <= 0 || len(keys) < limit) {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); strings.HasSuffix(k, ".json") {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	return keys, nil
}

// readAll reads and decodes every key into out[i], readers at a time.
func readAll[T any](ctx context.Context, b *backend, keys []string) ([]T, error) {
	out := make([]T, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			obj, err := b.get(ctx, k)
			if err == nil {
				err = json.Unmarshal(obj.body, &out[i])
			}
			if err != nil && !notFound(err) { // deleted since the listing: skip
				errs[i] = fmt.Errorf("s3://%s/%s: %w", b.bucket, k, err)
			} else if err != nil {
				errs[i] = errSkip
			}
		}()
	}
	wg.Wait()
	kept := out[:0]
	for i, err := range errs {
		switch {
		case err == nil:
			kept = append(kept, out[i])
		case err != errSkip:
			return nil, err
		}
	}
	return kept, nil
}

var errSkip = errors.New("skip")

// Events lists the journal newest first: the first n keys.
func (b *backend) Events(ctx context.Context, key state.Key, n int) ([]state.Event, error) {
	dir, err := b.dir(key)
	if err != nil {
		return nil, err
	}
	keys, err := b.list(ctx, dir+"/events/", n)
	if err != nil {
		return nil, fmt.Errorf("state %s: history %s: %w", b.loc, key, err)
	}
	evs, err := readAll[state.Event](ctx, b, keys)
	if err != nil {
		return nil, fmt.Errorf("state %s: history %s: %w", b.loc, key, err)
	}
	return evs, nil
}

func genKey(dir string, n int) string {
	return dir + "/generations/" + fmt.Sprintf("%010d", n) + ".json"
}

// PutGeneration writes g as generations/<number>.json.
func (b *backend) PutGeneration(ctx context.Context, key state.Key, g state.Generation) error {
	dir, err := b.dir(key)
	if err != nil {
		return err
	}
	if g.Number < 0 {
		return fmt.Errorf("state %s: generation %d: must not be negative", b.loc, g.Number)
	}
	body, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if _, err := b.put(ctx, genKey(dir, g.Number), body, "", ""); err != nil {
		return fmt.Errorf("state %s: generation %d of %s: %w", b.loc, g.Number, key, err)
	}
	return nil
}

// Generations reads every generation, lowest number first.
func (b *backend) Generations(ctx context.Context, key state.Key) ([]state.Generation, error) {
	dir, err := b.dir(key)
	if err != nil {
		return nil, err
	}
	keys, err := b.list(ctx, dir+"/generations/", 0)
	if err != nil {
		return nil, fmt.Errorf("state %s: generations %s: %w", b.loc, key, err)
	}
	gens, err := readAll[state.Generation](ctx, b, keys)
	if err != nil {
		return nil, fmt.Errorf("state %s: generations %s: %w", b.loc, key, err)
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i].Number < gens[j].Number })
	return gens, nil
}
