// Package postgres is the coordinator on PostgreSQL (state:
// postgres://user:pass@host:port/db?sslmode=…; postgresql:// too), for
// teams: any number of machines against one database, no local state.
//
// Locks are session-level advisory locks (pg_try_advisory_lock) held on a
// connection of their own for as long as the lock is held, so a holder
// that dies — killed, its machine gone — loses its lock with its
// connection (as soon as the server notices: at once for a killed process,
// after the TCP keepalive for a machine that vanished). While it holds the
// lock the holder keeps its LockInfo in the cloud_compose_locks table, so
// a loser's *state.LockError names it; a row whose advisory lock is free is
// stale (its holder went away without unlocking) and is overwritten by the
// next holder, whose Lock reports it (TookOver). ForceUnlock terminates the
// holder's server process (pg_terminate_backend: the same role, a
// superuser or pg_signal_backend is needed) and deletes the row.
//
// The advisory lock key is a 64-bit FNV-1a hash of the schema, the cluster
// and the environment. Advisory locks are per database, shared with every
// other application using it: a collision (another key, or another
// application's lock, with the same 64-bit number) would make two
// unrelated locks exclude each other — never two holders of one lock —
// with odds of about n²/2⁶⁵ for n keys.
//
// The journal (cloud_compose_events), the generations
// (cloud_compose_generations) and the node-group members
// (cloud_compose_groups, one row for every group) are tables created on
// first use in the connection's current schema (choose one with
// ?search_path=NAME), with their version in cloud_compose_schema;
// migrations run in a transaction under a transaction-level advisory lock,
// so clients starting at once do not collide, and a database of an older
// schema gets the newer tables when a newer binary opens it (a binary
// older than the database's schema refuses it: upgrade it).
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

func init() {
	state.Register("postgres", func(ctx context.Context, location, _ string) (state.Backend, error) {
		return Open(ctx, location)
	})
}

// backend is a state.Backend on one database.
type backend struct {
	pool    *pgxpool.Pool
	lockCfg *pgx.ConnConfig // for the connections that hold locks
	where   string          // the location with its password redacted
	secrets []string        // what errors must not show
	schema  string          // current_schema(), part of the lock keys

	mu    sync.Mutex
	locks map[*lock]struct{} // held, released by Close
}

var _ state.Backend = (*backend)(nil)

// Open connects to the database at location, a postgres:// or
// postgresql:// URL, and creates or migrates the tables.
func Open(ctx context.Context, location string) (state.Backend, error) {
	b := &backend{where: redactURL(location), secrets: urlSecrets(location), locks: map[*lock]struct{}{}}
	cfg, err := pgxpool.ParseConfig(location)
	if err != nil {
		return nil, b.errorf(err, "not a PostgreSQL URL")
	}
	if p := cfg.ConnConfig.Password; p != "" { // from the URL or PGPASSWORD
		b.secrets = append(b.secrets, p)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "cloud-compose"
	}
	cfg.MaxConns = 4
	b.lockCfg = cfg.ConnConfig.Copy()
	b.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, b.errorf(err, "connecting")
	}
	if err := b.migrate(ctx); err != nil {
		b.pool.Close()
		return nil, err
	}
	return b, nil
}

// Close releases the locks still held and closes the connections.
func (b *backend) Close() error {
	b.mu.Lock()
	held := make([]*lock, 0, len(b.locks))
	for l := range b.locks {
		held = append(held, l)
	}
	b.mu.Unlock()
	var errs []error
	for _, l := range held {
		errs = append(errs, l.Unlock(context.Background()))
	}
	b.pool.Close()
	return errors.Join(errs...)
}

// lockKey is the advisory lock key of key (see the package comment on
// collisions).
func (b *backend) lockKey(key state.Key) int64 {
	h := fnv.New64a()
	for _, s := range []string{"cloud-compose", b.schema, key.Cluster, key.Env} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return int64(h.Sum64())
}

// holderQuery finds the server process holding the advisory lock $1 in
// this database: a bigint key shows in pg_locks as classid (high 32 bits),
// objid (low 32 bits) and objsubid 1.
const holderQuery = `SELECT pid FROM pg_locks
	WHERE locktype = 'advisory' AND granted AND objsubid = 1
	  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
	  AND classid::bigint = ($1::bigint >> 32) & 4294967295
	  AND objid::bigint = $1::bigint & 4294967295
	LIMIT 1`

// lockInfoTries bounds how often a loser looks for the holder's row: the
// holder writes it just after taking the advisory lock.
const (
	lockInfoTries = 20
	lockInfoWait  = 25 * time.Millisecond
)

func (b *backend) Lock(ctx context.Context, key state.Key, info state.LockInfo) (state.Lock, error) {
	if info.ID == "" {
		return nil, b.errorf(nil, "lock %s: the lock info has no id", key)
	}
	k := b.lockKey(key)
	conn, err := pgx.ConnectConfig(ctx, b.lockCfg.Copy())
	if err != nil {
		return nil, b.errorf(err, "lock %s: connecting", key)
	}
	fail := func(err error, format string, a ...any) (state.Lock, error) {
		closeConn(conn)
		return nil, b.errorf(err, format, a...)
	}
	// A session that holds a lock is idle for as long as the command runs:
	// a server's idle_session_timeout (PostgreSQL 14+) must not end it.
	if _, err := conn.Exec(ctx, `SELECT set_config('idle_session_timeout', '0', false)
		WHERE current_setting('server_version_num')::int >= 140000`); err != nil {
		return fail(err, "lock %s", key)
	}
	var lerr *state.LockError
	for try := 0; try < lockInfoTries; try++ {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, k).Scan(&got); err != nil {
			return fail(err, "lock %s", key)
		}
		if got {
			data, err := json.Marshal(info)
			if err != nil {
				return fail(err, "lock %s", key)
			}
			// A row there is stale: its holder went away without
			// unlocking (Unlock and ForceUnlock delete the row), and this
			// lock takes it over.
			var prev []byte
			if err := conn.QueryRow(ctx, `WITH old AS (
					SELECT info FROM cloud_compose_locks WHERE cluster = $1 AND env = $2)
				INSERT INTO cloud_compose_locks (cluster, env, id, info, backend_pid)
				VALUES ($1, $2, $3, $4, pg_backend_pid())
				ON CONFLICT (cluster, env) DO UPDATE SET id = excluded.id, info = excluded.info,
					backend_pid = excluded.backend_pid, taken = now()
				RETURNING (SELECT info::text FROM old)`,
				key.Cluster, key.Env, info.ID, string(data)).Scan(&prev); err != nil {
				return fail(err, "lock %s: recording the holder", key)
			}
			l := &lock{b: b, key: key, info: info, conn: conn}
			if prev != nil && json.Unmarshal(prev, &l.prev) == nil && l.prev.ID != "" {
				l.tookOver = true
			}
			b.mu.Lock()
			b.locks[l] = struct{}{}
			b.mu.Unlock()
			return l, nil
		}
		// Held: name the holder if its row is its own (the row's server
		// process is the one holding the advisory lock).
		lerr = &state.LockError{Key: key}
		var (
			data      []byte
			rowPID    int32
			holderPID *int32
		)
		err := conn.QueryRow(ctx, `SELECT l.info, l.backend_pid, (`+holderQuery+`)
			FROM cloud_compose_locks l WHERE l.cluster = $2 AND l.env = $3`, k, key.Cluster, key.Env).
			Scan(&data, &rowPID, &holderPID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fail(err, "lock %s: reading the holder", key)
		case holderPID == nil:
			continue // released meanwhile: try again at once
		case *holderPID == rowPID:
			if err := json.Unmarshal(data, &lerr.Info); err != nil {
				lerr.Err = fmt.Errorf("reading the holder: %w", err)
			}
			closeConn(conn)
			return nil, lerr
		}
		select {
		case <-ctx.Done():
			closeConn(conn)
			return nil, errors.Join(ctx.Err(), lerr)
		case <-time.After(lockInfoWait):
		}
	}
	closeConn(conn)
	return nil, lerr // the holder has not written its row (yet)
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// lock is a held lock: its connection holds the advisory lock.
type lock struct {
	b    *backend
	key  state.Key
	info state.LockInfo

	prev     state.LockInfo // the gone holder's, when tookOver
	tookOver bool

	mu   sync.Mutex
	conn *pgx.Conn // nil once released
}

func (l *lock) Info() state.LockInfo { return l.info }

// TookOver returns the info of the holder whose lock this one replaced
// when that holder had gone away (its connection closed) without
// unlocking, for the caller's warning.
func (l *lock) TookOver() (state.LockInfo, bool) { return l.prev, l.tookOver }

// Unlock deletes the holder's row and closes the connection, which releases
// the advisory lock whatever else fails (a connection that is already gone,
// e.g. terminated by ForceUnlock, has released it).
func (l *lock) Unlock(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	conn := l.conn
	l.conn = nil
	l.b.mu.Lock()
	delete(l.b.locks, l)
	l.b.mu.Unlock()
	defer closeConn(conn)
	// Releasing must work after Ctrl-C has cancelled ctx.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := conn.Exec(ctx, `DELETE FROM cloud_compose_locks
		WHERE cluster = $1 AND env = $2 AND id = $3 AND backend_pid = pg_backend_pid()`,
		l.key.Cluster, l.key.Env, l.info.ID)
	var pgErr *pgconn.PgError
	if err != nil && errors.As(err, &pgErr) && pgErr.Code != "57P01" { // 57P01: terminated
		// The lock is released by closing the connection; the row left
		// behind is stale and overwritten by the next holder.
		return l.b.errorf(err, "unlock %s: deleting the holder's row", l.key)
	}
	return nil
}

// ForceUnlock terminates the server process holding key's lock if the
// lock's id is id, and deletes its row.
func (b *backend) ForceUnlock(ctx context.Context, key state.Key, id string) error {
	k := b.lockKey(key)
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var (
			rowID  string
			rowPID int32
		)
		err := tx.QueryRow(ctx, `SELECT id, backend_pid FROM cloud_compose_locks
			WHERE cluster = $1 AND env = $2 FOR UPDATE`, key.Cluster, key.Env).Scan(&rowID, &rowPID)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && rowID != id) {
			return fmt.Errorf("%w: cluster %s has no lock %s", state.ErrNoLock, key, id)
		}
		if err != nil {
			return err
		}
		var holder *int32
		if err := tx.QueryRow(ctx, `SELECT (`+holderQuery+`)`, k).Scan(&holder); err != nil {
			return err
		}
		if holder != nil && *holder == rowPID {
			if _, err := tx.Exec(ctx, `SELECT pg_terminate_backend($1)`, rowPID); err != nil {
				return fmt.Errorf("terminating the holder's connection (server process %d): %w", rowPID, err)
			}
			// Wait for the process to go, so the lock is free on return
			// (pg_locks is live; pg_stat_activity is a snapshot per
			// transaction).
			for {
				var holder *int32
				if err := tx.QueryRow(ctx, `SELECT (`+holderQuery+`)`, k).Scan(&holder); err != nil {
					return err
				}
				if holder == nil || *holder != rowPID {
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM cloud_compose_locks WHERE cluster = $1 AND env = $2 AND id = $3`, key.Cluster, key.Env, id)
		return err
	})
	if errors.Is(err, state.ErrNoLock) {
		return err
	}
	if err != nil {
		return b.errorf(err, "unlock %s", key)
	}
	return nil
}

func (b *backend) PutEvent(ctx context.Context, key state.Key, ev state.Event) error {
	if ev.ID == "" {
		return b.errorf(nil, "journal %s: the event has no id", key)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return b.errorf(err, "journal %s", key)
	}
	_, err = b.pool.Exec(ctx, `INSERT INTO cloud_compose_events (cluster, env, id, time, data)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (cluster, env, id) DO UPDATE SET time = excluded.time, data = excluded.data`,
		key.Cluster, key.Env, ev.ID, ev.Time, string(data))
	if err != nil {
		return b.errorf(err, "journal %s: writing event %s", key, ev.ID)
	}
	return nil
}

// Events returns the newest n events, newest first: in the order they
// were first put (an event rewritten with its result keeps its place).
func (b *backend) Events(ctx context.Context, key state.Key, n int) ([]state.Event, error) {
	var limit any // NULL: all
	if n > 0 {
		limit = n
	}
	rows, err := b.pool.Query(ctx, `SELECT data::text FROM cloud_compose_events
		WHERE cluster = $1 AND env = $2 ORDER BY seq DESC LIMIT $3`, key.Cluster, key.Env, limit)
	if err != nil {
		return nil, b.errorf(err, "journal %s", key)
	}
	evs, err := scanJSON[state.Event](rows)
	if err != nil {
		return nil, b.errorf(err, "journal %s", key)
	}
	return evs, nil
}

func (b *backend) PutGeneration(ctx context.Context, key state.Key, g state.Generation) error {
	data, err := json.Marshal(g)
	if err != nil {
		return b.errorf(err, "generations %s", key)
	}
	_, err = b.pool.Exec(ctx, `INSERT INTO cloud_compose_generations (cluster, env, number, state, data)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (cluster, env, number) DO UPDATE SET state = excluded.state, data = excluded.data`,
		key.Cluster, key.Env, g.Number, g.State, string(data))
	if err != nil {
		return b.errorf(err, "generations %s: writing generation %d", key, g.Number)
	}
	return nil
}

func (b *backend) Generations(ctx context.Context, key state.Key) ([]state.Generation, error) {
	rows, err := b.pool.Query(ctx, `SELECT data::text FROM cloud_compose_generations
		WHERE cluster = $1 AND env = $2 ORDER BY number`, key.Cluster, key.Env)
	if err != nil {
		return nil, b.errorf(err, "generations %s", key)
	}
	gs, err := scanJSON[state.Generation](rows)
	if err != nil {
		return nil, b.errorf(err, "generations %s", key)
	}
	return gs, nil
}

// scanJSON decodes rows of one JSON text column; long results (history
// over thousands of events) are decoded on every core.
func scanJSON[T any](rows pgx.Rows) ([]T, error) {
	defer rows.Close()
	var raw [][]byte
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		raw = append(raw, data)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]T, len(raw))
	workers := min(runtime.GOMAXPROCS(0), len(raw)/256+1)
	chunk := (len(raw) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * chunk; i < min(len(raw), (w+1)*chunk); i++ {
				if err := json.Unmarshal(raw[i], &out[i]); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// errorf wraps err as "state LOCATION: what: err" with every secret
// redacted: pgx errors can carry parts of the connection string.
func (b *backend) errorf(err error, format string, a ...any) error {
	msg := "state " + b.where + ": " + fmt.Sprintf(format, a...)
	if err != nil {
		msg += ": " + err.Error()
	}
	for _, s := range b.secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError shows a redacted message and unwraps to the cause (for
// errors.Is with context.Canceled and the like).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// urlSecrets are the passwords in location, as written and decoded; for
// a URL that does not parse, what lies between the user's ':' and the
// last '@' of the authority.
func urlSecrets(location string) []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		out = append(out, p)
		if d, err := url.PathUnescape(p); err == nil && d != p {
			out = append(out, d)
		}
	}
	if _, rest, ok := strings.Cut(location, "://"); ok {
		auth, _, _ := strings.Cut(rest, "/")
		if at := strings.LastIndex(auth, "@"); at >= 0 {
			if _, p, ok := strings.Cut(auth[:at], ":"); ok {
				add(p)
			}
		}
	}
	if u, err := url.Parse(location); err == nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		for _, k := range []string{"password", "sslpassword"} {
			add(u.Query().Get(k))
		}
	}
	return out
}

// redactURL is location without its password (and without a password=
// query parameter).
func redactURL(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		for _, s := range urlSecrets(location) {
			location = strings.ReplaceAll(location, s, "xxxxx")
		}
		return location
	}
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}
