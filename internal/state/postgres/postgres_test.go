package postgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
	"github.com/cloud-compose/cloud-compose-go/internal/state/statetest"
)

// testDB is the database scripts/test starts.
const testDB = "CLOUD_COMPOSE_TEST_POSTGRES"

// database returns the test database's URL, or skips under -short and
// fails without it.
func database(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs PostgreSQL (skipped under -short)")
	}
	u := os.Getenv(testDB)
	if u == "" {
		t.Fatalf("%s is not set: run scripts/test, which starts a throwaway PostgreSQL", testDB)
	}
	return u
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freshSchema creates an empty schema (dropped at the end of the test) and
// returns the URL whose search_path is it: the tables are created there on
// first use, as in a new database.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := database(t)
	ctx := context.Background()
	name := "t_" + randomHex(6)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, location string) state.Backend {
	t.Helper()
	b, err := state.Open(context.Background(), location, t.TempDir())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b
}

// waitGone waits until server process pid has ended.
func waitGone(t testing.TB, location string, pid uint32) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, location)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var gone bool
		if err := conn.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, int64(pid)).Scan(&gone); err != nil {
			t.Fatal(err)
		}
		if gone {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server process %d still there after 10s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIntegrationConformance(t *testing.T) {
	location := freshSchema(t)
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Backend { return open(t, location) },
		// The holder's socket is closed without a goodbye, as when its
		// process is killed: the server ends the session and with it the
		// advisory lock.
		HolderGone: func(t *testing.T, key state.Key) state.LockInfo {
			b := open(t, location)
			info := statetest.Info("gone")
			lk, err := b.Lock(context.Background(), key, info)
			if err != nil {
				t.Fatalf("lock: %v", err)
			}
			pc := lk.(*lock).conn.PgConn()
			pid := pc.PID()
			if err := pc.Conn().Close(); err != nil {
				t.Fatal(err)
			}
			waitGone(t, location, pid)
			return info
		},
		ReportsTakeOver: true,
	})
}

// TestIntegrationConcurrentFirstUse: clients that find no tables and create
// them at once all succeed, and the schema is at the newest version.
func TestIntegrationConcurrentFirstUse(t *testing.T) {
	for round := range 3 {
		location := freshSchema(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				b, err := state.Open(context.Background(), location, "")
				if err == nil {
					err = b.Close()
				}
				errs[i] = err
			}()
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %d clients opening a fresh schema at once: %v", round, n, err)
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, location)
		if err != nil {
			t.Fatal(err)
		}
		var versions []int
		rows, _ := conn.Query(ctx, `SELECT version FROM cloud_compose_schema ORDER BY version`)
		versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(versions) != len(migrations) || versions[len(versions)-1] != len(migrations) {
			t.Fatalf("round %d: schema versions %v, want 1..%d once each", round, versions, len(migrations))
		}
	}
}

// TestIntegrationNewerSchema: a database migrated by a newer binary is
// refused, not written with the old layout.
func TestIntegrationNewerSchema(t *testing.T) {
	location := freshSchema(t)
	open(t, location)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, location)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO cloud_compose_schema (version) VALUES ($1)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	_, err = state.Open(ctx, location, "")
	if err == nil || !strings.Contains(err.Error(), "upgrade cloud-compose") {
		t.Fatalf("open of a newer schema: %v, want an error saying to upgrade", err)
	}
}

// TestIntegrationSchemasIndependent: two schemas of one database are two
// coordinators: the same key is locked independently in each.
func TestIntegrationSchemasIndependent(t *testing.T) {
	a, b := open(t, freshSchema(t)), open(t, freshSchema(t))
	ctx := context.Background()
	key := state.Key{Cluster: "web"}
	la, err := a.Lock(ctx, key, statetest.Info("alice"))
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Lock(ctx, key, statetest.Info("bob"))
	if err != nil {
		t.Fatalf("lock in another schema: %v", err)
	}
	for _, l := range []state.Lock{la, lb} {
		if err := l.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIntegrationCloseReleases: closing a backend releases the locks it
// still holds.
func TestIntegrationCloseReleases(t *testing.T) {
	location := freshSchema(t)
	ctx := context.Background()
	a, err := state.Open(ctx, location, "")
	if err != nil {
		t.Fatal(err)
	}
	key := state.Key{Cluster: "web", Env: "prod"}
	if _, err := a.Lock(ctx, key, statetest.Info("alice")); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	lk, err := open(t, location).Lock(ctx, key, statetest.Info("bob"))
	if err != nil {
		t.Fatalf("lock after the holder's backend was closed: %v", err)
	}
	if _, took := lk.(*lock).TookOver(); took {
		t.Error("TookOver() = true after the holder closed its backend")
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// holderEnv makes the test binary a lock holder (see TestMain).
const holderEnv = "CLOUD_COMPOSE_TEST_PG_HOLDER"

// TestMain runs the tests, or — with holderEnv set, as
// TestIntegrationKilledHolder starts it — is a lock holder: it takes the
// lock, prints its info and waits to be killed.
func TestMain(m *testing.M) {
	spec := os.Getenv(holderEnv)
	if spec == "" {
		os.Exit(m.Run())
	}
	location, cluster, _ := strings.Cut(spec, " ")
	b, err := state.Open(context.Background(), location, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	info := statetest.Info("child")
	if _, err := b.Lock(context.Background(), state.Key{Cluster: cluster}, info); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	data, _ := json.Marshal(info)
	fmt.Printf("LOCKED %s\n", data)
	time.Sleep(time.Minute)
	fmt.Fprintln(os.Stderr, "holder: not killed")
	os.Exit(1)
}

// TestIntegrationKilledHolder: a process holding the lock is killed with
// SIGKILL; its lock is named while it lives and free once it is gone,
// taken over with its info.
func TestIntegrationKilledHolder(t *testing.T) {
	location := freshSchema(t)
	cluster := "killed-" + randomHex(4)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), holderEnv+"="+location+" "+cluster)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var held state.LockInfo
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "LOCKED "); ok {
			if err := json.Unmarshal([]byte(s), &held); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if held.ID == "" {
		t.Fatal("the holder process did not take the lock")
	}
	ctx := context.Background()
	b := open(t, location)
	key := state.Key{Cluster: cluster}
	_, err = b.Lock(ctx, key, statetest.Info("bob"))
	var le *state.LockError
	if !errors.As(err, &le) || le.Info.ID != held.ID || le.Info.Who != "child" {
		t.Fatalf("lock held by another process: %v, want a *LockError naming lock %s", err, held.ID)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	start := time.Now()
	lk, err := state.Acquire(ctx, b, key, statetest.Info("bob"), 10*time.Second)
	if err != nil {
		t.Fatalf("lock after its holder was killed: %v", err)
	}
	t.Logf("lock free %s after the holder was killed", time.Since(start).Round(time.Millisecond))
	if prev, took := lk.(*lock).TookOver(); !took || prev.ID != held.ID {
		t.Errorf("TookOver() = %v, %v; want the killed holder's lock %s", prev.ID, took, held.ID)
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOpenErrorsRedactPassword: no error shows the password, whether the
// URL does not parse or the server cannot be reached.
func TestOpenErrorsRedactPassword(t *testing.T) {
	const secret = "s3cr3t-pa55"
	for _, loc := range []string{
		"postgres://alice:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
		"postgresql://alice:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
		"postgres://alice:" + secret + "@127.0.0.1:notaport/db",
		"postgres://alice:" + secret + "@[::1/db",
		"postgres://alice@127.0.0.1:1/db?password=" + secret + "&connect_timeout=2&sslmode=disable",
		"postgres://alice:" + url.PathEscape(secret+"/@:") + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
		"postgres://alice@127.0.0.1:1/db?sslmode=bogus&password=" + secret,
	} {
		_, err := state.Open(context.Background(), loc, "")
		if err == nil {
			t.Fatalf("open %s: no error", loc)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "alice") {
			t.Errorf("the error does not name the location: %v", err)
		}
	}
}

func TestLockKey(t *testing.T) {
	b := &backend{schema: "public"}
	seen := map[int64]state.Key{}
	for _, k := range []state.Key{{Cluster: "web"}, {Cluster: "web", Env: "staging"}, {Cluster: "webstaging"}, {Cluster: "web@staging"}, {Cluster: "db"}} {
		n := b.lockKey(k)
		if o, ok := seen[n]; ok {
			t.Errorf("keys %v and %v share lock key %d", o, k, n)
		}
		seen[n] = k
	}
	if other := (&backend{schema: "other"}).lockKey(state.Key{Cluster: "web"}); other == b.lockKey(state.Key{Cluster: "web"}) {
		t.Error("the schema is not part of the lock key")
	}
}

// TestIntegrationMigrateFromVersion1: a database made by a binary that
// knew only schema version 1 (no cloud_compose_groups) gets the groups
// table when this binary opens it, and keeps what it had.
func TestIntegrationMigrateFromVersion1(t *testing.T) {
	location := freshSchema(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, location)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`CREATE TABLE cloud_compose_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`,
		migrations[0],
		`INSERT INTO cloud_compose_schema (version) VALUES (1)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	key := state.Key{Cluster: "old", Env: "prod"}
	gen := state.Generation{Number: 1, State: state.GenActive, Event: "e1", Created: time.Now().UTC().Truncate(time.Second)}
	data, _ := json.Marshal(gen)
	if _, err := conn.Exec(ctx, `INSERT INTO cloud_compose_generations (cluster, env, number, state, data) VALUES ($1, $2, 1, $3, $4)`,
		key.Cluster, key.Env, gen.State, string(data)); err != nil {
		t.Fatal(err)
	}

	b := open(t, location)
	rows, _ := conn.Query(ctx, `SELECT version FROM cloud_compose_schema ORDER BY version`)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(migrations) || versions[len(versions)-1] != len(migrations) {
		t.Fatalf("schema versions after opening a version 1 database: %v, want 1..%d", versions, len(migrations))
	}
	gens, err := b.Generations(ctx, key)
	if err != nil || len(gens) != 1 || gens[0].Event != "e1" {
		t.Fatalf("the version 1 generation after the migration: %+v, %v", gens, err)
	}
	gs := b.(state.GroupStore)
	want := state.GroupMembers{Group: "web", Members: []string{"web-1", "web-0"}, Event: "e2", Updated: time.Now().UTC()}
	if err := gs.PutGroupMembers(ctx, key, want); err != nil {
		t.Fatalf("PutGroupMembers on a migrated database: %v", err)
	}
	got, err := gs.GroupMembers(ctx, key)
	if err != nil || len(got) != 1 || got[0].Group != "web" || strings.Join(got[0].Members, ",") != "web-1,web-0" {
		t.Fatalf("GroupMembers on a migrated database: %+v, %v", got, err)
	}
}

// TestIntegrationGroupsByteOrder: groups come back in byte order (as the
// other backends sort them), whatever the database's collation would say:
// the test makes a database with an ICU en-US collation, which orders
// "api_b" before "api-a" and "web" before "Web" (where the server cannot,
// PostgreSQL before 15 or built without ICU, the test database's).
func TestIntegrationGroupsByteOrder(t *testing.T) {
	base := database(t)
	location := base
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := "cc_icu_" + randomHex(4)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"); err != nil {
		t.Logf("no ICU database (%v): ordering in the test database's collation", err)
	} else {
		t.Cleanup(func() {
			c, err := pgx.Connect(ctx, base)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close(ctx)
			if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
				t.Error(err)
			}
		})
		u, err := url.Parse(location)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		location = u.String()
	}
	gs := open(t, location).(state.GroupStore)
	key := state.Key{Cluster: "order"}
	names := []string{"web1", "Web", "web-2", "web", "api_b", "api-a", "ÄPI"}
	for _, n := range names {
		if err := gs.PutGroupMembers(ctx, key, state.GroupMembers{Group: n}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := gs.GroupMembers(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, g := range got {
		order = append(order, g.Group)
	}
	slices.Sort(names)
	if !slices.Equal(order, names) {
		t.Errorf("GroupMembers order %q, want byte order %q", order, names)
	}
}
