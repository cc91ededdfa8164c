package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/auth"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	"github.com/lumio/contactcentre/internal/grpcserver"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/reporting"
	"github.com/lumio/contactcentre/internal/reporting/reportingdb"
	"github.com/lumio/contactcentre/internal/reporting/reportinggrpc"
)

// TestSeedOrdersThenExport seeds orders with COPY (every CHECK of the schema applies), serves
// ReportingService on a loopback port behind the real interceptors, and exports a month with
// `ccctl export` to a file: the CSV must hold exactly the month's lines.
func TestSeedOrdersThenExport(t *testing.T) {
	t.Parallel()
	pool, dbURL := pgtest.NewDB(t)
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": dbURL}
	var out bytes.Buffer
	err := runSeedOrders(ctx, []string{"--orders", "30000", "--days", "90", "--end", "2026-04-01T00:00:00Z", "--seed", "7"},
		func(k string) string { return env[k] }, &out, &out)
	if err != nil {
		t.Fatalf("seed: %v\n%s", err, out.String())
	}
	var orders, lines, refunds int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines),
		(SELECT count(*) FROM payment_refunds)`).Scan(&orders, &lines, &refunds); err != nil {
		t.Fatal(err)
	}
	if orders != 30000 || lines < 3*orders || refunds == 0 {
		t.Fatalf("seeded %d orders, %d lines, %d refunds; want 30000 orders, ~4 lines each, some refunds", orders, lines, refunds)
	}
	// Order totals are the sums of their lines, as billing computes them.
	var bad int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM orders o JOIN (SELECT order_id, sum(net_minor) n, sum(vat_minor) v
		FROM order_lines GROUP BY order_id) l ON l.order_id = o.id WHERE o.net_minor <> l.n OR o.vat_minor <> l.v`).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("%d orders whose totals differ from their lines (err %v)", bad, err)
	}

	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	priv, err := auth.LoadOrCreateDevKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := grpcserver.New(nil, auth.NewDevVerifier(priv.Public().(ed25519.PublicKey), defaultIssuer, defaultAudience), nil, grpcserver.Config{})
	ordersv1.RegisterReportingServiceServer(srv, reportinggrpc.NewServer(reporting.NewService(reportingdb.New(pool), time.Now)))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	file := filepath.Join(t.TempDir(), "march.csv")
	env = map[string]string{"ORDERSVC_GRPC_ADDR": lis.Addr().String(), "AUTH_DEV_KEY_FILE": keyFile}
	err = runExport(ctx, []string{"--from", "2026-03-01", "--to", "2026-04-01", "--format", "csv", "--out", file},
		func(k string) string { return env[k] }, &out, &out)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out.String())
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id
		WHERE o.create_time >= '2026-03-01Z' AND o.create_time < '2026-04-01Z'`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(exportHeader, recs[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if int64(len(recs)-1) != want {
		t.Errorf("exported %d lines, want %d", len(recs)-1, want)
	}
	if _, err := os.Stat(file + ".partial"); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}

	err = runExport(ctx, []string{"--from", "2026-04-01", "--to", "2026-03-01", "--out", filepath.Join(t.TempDir(), "x.csv")},
		func(k string) string { return env[k] }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "end_time") {
		t.Errorf("inverted export = %v, want an error naming end_time", err)
	}
}
