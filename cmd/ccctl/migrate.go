package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/migrations"
)

// runMigrate applies (up) or reverts (down) the embedded migrations on DATABASE_URL. Down
// reverts one migration unless --steps says otherwise (--steps -1: all).
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return errors.New("usage: ccctl migrate up|down [--steps N]")
	}
	direction := args[0]
	fs := flag.NewFlagSet("migrate "+direction, flag.ContinueOnError)
	fs.SetOutput(stderr)
	steps := fs.Int("steps", 1, "with down: how many migrations to revert (-1 for all)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	dbURL := getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	migs, err := postgres.LoadMigrations(migrations.FS)
	if err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()

	var n int
	if direction == "up" {
		n, err = postgres.MigrateUp(ctx, pool, migs)
	} else {
		n, err = postgres.MigrateDown(ctx, pool, migs, *steps)
	}
	if err != nil {
		return err
	}
	v, err := postgres.SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrate %s: %d migration(s) applied; schema version %d\n", direction, n, v)
	return nil
}
