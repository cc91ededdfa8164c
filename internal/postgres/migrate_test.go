package postgres_test

import (
	"context"
	"testing"

	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/migrations"
)

// TestMigrationsUpDownUp applies every migration, reverts them all, and applies them again:
// each down file must undo its up file completely.
func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.EmptyDB(t)
	migs, err := postgres.LoadMigrations(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 {
		t.Fatal("no migrations embedded")
	}
	want := migs[len(migs)-1].Version

	tables := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	if n, err := postgres.MigrateUp(ctx, pool, migs); err != nil || n != len(migs) {
		t.Fatalf("first up: applied %d of %d: %v", n, len(migs), err)
	}
	if v, _ := postgres.SchemaVersion(ctx, pool); v != want {
		t.Fatalf("version after up = %d, want %d", v, want)
	}
	if tables() == 0 {
		t.Fatal("up created no tables")
	}
	if n, err := postgres.MigrateUp(ctx, pool, migs); err != nil || n != 0 {
		t.Fatalf("second up should be a no-op: applied %d: %v", n, err)
	}
	if n, err := postgres.MigrateDown(ctx, pool, migs, -1); err != nil || n != len(migs) {
		t.Fatalf("down: reverted %d of %d: %v", n, len(migs), err)
	}
	if got := tables(); got != 0 {
		t.Fatalf("after down %d tables remain", got)
	}
	if n, err := postgres.MigrateUp(ctx, pool, migs); err != nil || n != len(migs) {
		t.Fatalf("up again: applied %d of %d: %v", n, len(migs), err)
	}
}

// TestMigrateUpAppliesALateMigration: a migration merged after a newer one was applied (a gap
// below the newest version) is applied, not skipped.
func TestMigrateUpAppliesALateMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.EmptyDB(t)
	mig := func(v int, table string) postgres.Migration {
		return postgres.Migration{Version: v, Name: table, Up: "CREATE TABLE " + table + " (id int)", Down: "DROP TABLE " + table}
	}
	all := []postgres.Migration{mig(1, "a"), mig(2, "b"), mig(3, "c")}
	if n, err := postgres.MigrateUp(ctx, pool, []postgres.Migration{all[0], all[2]}); err != nil || n != 2 {
		t.Fatalf("first up: %d, %v", n, err)
	}
	if n, err := postgres.MigrateUp(ctx, pool, all); err != nil || n != 1 {
		t.Fatalf("late migration: applied %d, %v; want 1", n, err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('b') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		t.Fatalf("table of the late migration exists = %v, %v", exists, err)
	}
	if n, err := postgres.MigrateDown(ctx, pool, all, -1); err != nil || n != 3 {
		t.Fatalf("down: %d, %v", n, err)
	}
}
