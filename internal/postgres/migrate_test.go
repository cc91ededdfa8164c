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
