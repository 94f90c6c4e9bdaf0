package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema, in order: migrations[i] brings the schema to
// version i+1. Append, never edit: a database records the versions it has.
var migrations = []string{
	// 1: locks (the holder's row, written while it holds the advisory
	// lock), the journal and the generations. The documents are json, not
	// jsonb: kept as written (jsonb refuses \u0000, which user data may
	// hold) and returned without conversion.
	`CREATE TABLE cloud_compose_locks (
		cluster     text        NOT NULL,
		env         text        NOT NULL,
		id          text        NOT NULL,
		info        json        NOT NULL,
		backend_pid integer     NOT NULL,
		taken       timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (cluster, env)
	);
	CREATE TABLE cloud_compose_events (
		seq     bigserial   NOT NULL,
		cluster text        NOT NULL,
		env     text        NOT NULL,
		id      text        NOT NULL,
		time    timestamptz NOT NULL,
		data    json        NOT NULL,
		PRIMARY KEY (cluster, env, id)
	);
	CREATE INDEX cloud_compose_events_order ON cloud_compose_events (cluster, env, seq DESC);
	CREATE TABLE cloud_compose_generations (
		cluster text    NOT NULL,
		env     text    NOT NULL,
		number  integer NOT NULL,
		state   text    NOT NULL,
		data    json    NOT NULL,
		PRIMARY KEY (cluster, env, number)
	);`,
	// 2: node-group members as converge last set them (state.GroupStore),
	// one row for every group of a key; data is the state.GroupMembers.
	`CREATE TABLE cloud_compose_groups (
		cluster text NOT NULL,
		env     text NOT NULL,
		name    text NOT NULL,
		data    json NOT NULL,
		PRIMARY KEY (cluster, env, name)
	);`,
}

// migrateLock is the transaction-level advisory lock key that serializes
// migrations: two clients creating the tables at once would otherwise
// collide in the catalog (CREATE TABLE IF NOT EXISTS is not safe under
// concurrency). "cloud-compose schema" in ASCII, truncated to 8 bytes.
const migrateLock = 0x636c6f7564636f6d

// schemaVersion returns the version the database has (0: no tables yet)
// and the current schema (the first of search_path that exists).
func schemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (version int, schema string, err error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('cloud_compose_schema') IS NOT NULL, coalesce(current_schema(), '')`).Scan(&exists, &schema); err != nil {
		return 0, "", err
	}
	if !exists {
		return 0, schema, nil
	}
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM cloud_compose_schema`).Scan(&version); err != nil {
		return 0, "", err
	}
	return version, schema, nil
}

// migrate brings the schema to the newest version. The fast path (the
// tables are current) is one query and needs no privilege beyond reading;
// otherwise the migrations run in one transaction under migrateLock.
func (b *backend) migrate(ctx context.Context) error {
	v, schema, err := schemaVersion(ctx, b.pool)
	if err != nil {
		return b.errorf(err, "reading the schema version")
	}
	b.schema = schema
	if v == len(migrations) {
		return nil
	}
	if v > len(migrations) {
		return b.errorf(nil, "the database's schema is version %d, newer than this binary knows (%d): upgrade cloud-compose", v, len(migrations))
	}
	err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS cloud_compose_schema (
			version integer PRIMARY KEY,
			applied timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM cloud_compose_schema`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("the database's schema is version %d, newer than this binary knows (%d): upgrade cloud-compose", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO cloud_compose_schema (version) VALUES ($1)`, i+1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return b.errorf(err, "creating the tables")
	}
	return nil
}
