package reportingdb_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/reporting"
	"github.com/lumio/contactcentre/internal/reporting/reportingdb"
)

// benchGroupings are the groupings the benchmark times, each beside hand-written SQL that
// computes its core (line sums and counts per group over the same orders) in one plain
// aggregate: a floor that any correct answer has to pay for.
var benchGroupings = []struct {
	name  string
	group []reporting.Dimension
	hand  string
}{
	{"EntityCountryMonth", []reporting.Dimension{reporting.DimStripeEntity, reporting.DimCountry, reporting.DimMonth},
		`SELECT o.stripe_entity, o.country, date_trunc('month', o.create_time AT TIME ZONE 'UTC'), o.currency,
			count(*), sum(l.net_minor), sum(l.vat_minor)
		FROM orders o JOIN order_lines l ON l.order_id = o.id
		WHERE o.create_time >= $1 AND o.create_time < $2 AND o.status IN ('paid', 'fulfilled', 'refunded')
		GROUP BY 1, 2, 3, 4`},
	{"ResellerChannel", []reporting.Dimension{reporting.DimReseller, reporting.DimChannel},
		`SELECT o.reseller_id, o.channel, o.currency, count(*), sum(l.net_minor), sum(l.vat_minor)
		FROM orders o JOIN order_lines l ON l.order_id = o.id
		WHERE o.create_time >= $1 AND o.create_time < $2 AND o.status IN ('paid', 'fulfilled', 'refunded')
		GROUP BY 1, 2, 3`},
	{"SKUMonth", []reporting.Dimension{reporting.DimSKU, reporting.DimMonth},
		`SELECT l.sku, date_trunc('month', o.create_time AT TIME ZONE 'UTC'), o.currency,
			count(DISTINCT o.id), count(*), sum(l.net_minor), sum(l.vat_minor)
		FROM orders o JOIN order_lines l ON l.order_id = o.id
		WHERE o.create_time >= $1 AND o.create_time < $2 AND o.status IN ('paid', 'fulfilled', 'refunded')
		GROUP BY 1, 2, 3`},
	{"CountryVATRate", []reporting.Dimension{reporting.DimCountry, reporting.DimVATRate},
		`SELECT o.country, l.vat_rate_bp, o.currency, count(DISTINCT o.id), count(*), sum(l.net_minor), sum(l.vat_minor)
		FROM orders o JOIN order_lines l ON l.order_id = o.id
		WHERE o.create_time >= $1 AND o.create_time < $2 AND o.status IN ('paid', 'fulfilled', 'refunded')
		GROUP BY 1, 2, 3`},
}

// BenchmarkRevenue runs against a database seeded by `ccctl seed --orders N` (10 million lines
// for the figures in docs), named by REPORTING_BENCH_DATABASE_URL; it is skipped otherwise.
// Each grouping is timed through the Store and as hand-written SQL, alternately, in the same
// run. The range is the 366 days before REPORTING_BENCH_END (default 2026-12-01).
func BenchmarkRevenue(b *testing.B) {
	url := os.Getenv("REPORTING_BENCH_DATABASE_URL")
	if url == "" {
		b.Skip("REPORTING_BENCH_DATABASE_URL is not set")
	}
	end := time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)
	if v := os.Getenv("REPORTING_BENCH_END"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			b.Fatal(err)
		}
		end = t
	}
	r := reporting.Range{Start: end.Add(-reporting.MaxInteractiveRange), End: end}
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	// The hand-written SQL gets the work_mem the Store's report transaction sets.
	cfg.ConnConfig.RuntimeParams["work_mem"] = "64MB"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	store := reportingdb.New(pool)
	for _, g := range benchGroupings {
		b.Run(g.name+"/RevenueReport", func(b *testing.B) {
			for b.Loop() {
				rows, err := store.Revenue(ctx, reporting.Query{Range: r, GroupBy: g.group})
				if err != nil || len(rows) == 0 {
					b.Fatalf("%d rows, %v", len(rows), err)
				}
			}
		})
		b.Run(g.name+"/HandSQL", func(b *testing.B) {
			for b.Loop() {
				rows, err := pool.Query(ctx, g.hand, r.Start, r.End)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					n++
				}
				rows.Close()
				if rows.Err() != nil || n == 0 {
					b.Fatalf("%d rows, %v", n, rows.Err())
				}
			}
		})
	}
}
