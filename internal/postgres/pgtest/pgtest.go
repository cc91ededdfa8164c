// Package pgtest gives tests their own PostgreSQL database, cloned from a template that is
// migrated once per test binary. It reads TEST_DATABASE_URL (default: the local server) and
// skips database tests under -short.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/migrations"
)

// DefaultURL is the local server that make test starts or finds.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	templateOnce sync.Once
	templateName string
	errTemplate  error
	// cloneMu serialises CREATE DATABASE ... TEMPLATE: PostgreSQL refuses to copy a template
	// that another session is copying at the same moment.
	cloneMu sync.Mutex
)

// AdminURL returns the server URL tests connect to.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDB creates a fresh, fully migrated database for the test, dropped at cleanup, and returns
// a pool on it and its URL.
func NewDB(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("database test: skipped under -short")
	}
	ctx := context.Background()
	templateOnce.Do(func() { templateName, errTemplate = makeTemplate(ctx) })
	if errTemplate != nil {
		t.Fatalf("pgtest: template database: %v", errTemplate)
	}
	name := "cctest_" + randomHex(6)
	admin := connectAdmin(t)
	cloneMu.Lock()
	_, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName))
	cloneMu.Unlock()
	admin.Close(ctx)
	if err != nil {
		t.Fatalf("pgtest: clone template: %v", err)
	}
	dbURL := withDatabase(AdminURL(), name)
	pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 8})
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", name, err)
	}
	t.Cleanup(func() {
		pool.Close()
		admin := connectAdmin(t)
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return pool, dbURL
}

// EmptyDB creates a database with no schema at all (for migration tests), dropped at cleanup.
func EmptyDB(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("database test: skipped under -short")
	}
	ctx := context.Background()
	name := "cctest_" + randomHex(6)
	admin := connectAdmin(t)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("pgtest: create %s: %v", name, err)
	}
	admin.Close(ctx)
	dbURL := withDatabase(AdminURL(), name)
	pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 4})
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", name, err)
	}
	t.Cleanup(func() {
		pool.Close()
		admin := connectAdmin(t)
		defer admin.Close(ctx)
		_, _ = admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
	})
	return pool, dbURL
}

func makeTemplate(ctx context.Context) (string, error) {
	migs, err := postgres.LoadMigrations(migrations.FS)
	if err != nil {
		return "", err
	}
	name := "cctemplate_" + randomHex(6)
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", fmt.Errorf("connect %s (set TEST_DATABASE_URL or run make db/up): %w", redact(AdminURL()), err)
	}
	defer admin.Close(ctx)
	dropStaleTemplates(ctx, admin)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		return "", err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: withDatabase(AdminURL(), name), MaxConns: 2})
	if err != nil {
		return "", err
	}
	_, err = postgres.MigrateUp(ctx, pool, migs)
	pool.Close()
	if err != nil {
		return "", err
	}
	return name, nil
}

// dropStaleTemplates removes templates and clones left by test binaries that were killed, so
// an interrupted run does not fill the server. Only databases older than an hour go.
func dropStaleTemplates(ctx context.Context, admin *pgx.Conn) {
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database
		WHERE datname ~ '^cc(template|test)_' AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification < now() - interval '1 hour'`)
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, n := range names {
		_, _ = admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, n))
	}
}

func connectAdmin(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", redact(AdminURL()), err)
	}
	return conn
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "TEST_DATABASE_URL"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
