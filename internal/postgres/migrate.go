package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Migration is one numbered schema change with its reverse.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

var migrationFile = regexp.MustCompile(`^(\d{6})_([a-z0-9_]+)\.(up|down)\.sql$`)

// LoadMigrations reads NNNNNN_name.up.sql / .down.sql pairs from fsys, in version order.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migration %06d_%s lacks its up or down file", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// migrationLock is the advisory-lock key that serialises concurrent migrators.
const migrationLock = 0x63636d6967 // "ccmig"

// MigrateUp applies every migration not yet applied, in version order and all in one
// transaction, and returns how many it applied. A version missing below the newest applied one
// (a branch merged late) is applied too rather than skipped. Concurrent callers wait for each
// other on an advisory lock.
func MigrateUp(ctx context.Context, db Beginner, migs []Migration) (int, error) {
	applied := 0
	err := InTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := lockAndVersion(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read applied migrations: %w", err)
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("read applied migrations: %w", err)
		}
		done := make(map[int]bool, len(versions))
		for _, v := range versions {
			done[v] = true
		}
		for _, m := range migs {
			if done[m.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.Up); err != nil {
				return fmt.Errorf("migrate up %06d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
				return fmt.Errorf("record migration %d: %w", m.Version, err)
			}
			applied++
		}
		return nil
	})
	return applied, err
}

// MigrateDown reverts up to steps applied migrations, newest first (steps < 0 reverts all).
func MigrateDown(ctx context.Context, db Beginner, migs []Migration, steps int) (int, error) {
	reverted := 0
	err := InTx(ctx, db, func(tx pgx.Tx) error {
		current, err := lockAndVersion(ctx, tx)
		if err != nil {
			return err
		}
		for i := len(migs) - 1; i >= 0 && (steps < 0 || reverted < steps); i-- {
			m := migs[i]
			if m.Version > current {
				continue
			}
			if _, err := tx.Exec(ctx, m.Down); err != nil {
				return fmt.Errorf("migrate down %06d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM schema_migrations WHERE version = $1`, m.Version); err != nil {
				return fmt.Errorf("unrecord migration %d: %w", m.Version, err)
			}
			reverted++
		}
		return nil
	})
	return reverted, err
}

// SchemaVersion returns the newest applied migration (0 for none).
func SchemaVersion(ctx context.Context, db DBTX) (int, error) {
	var v int
	err := db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

func lockAndVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return 0, fmt.Errorf("lock migrations: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, apply_time timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	return SchemaVersion(ctx, tx)
}
