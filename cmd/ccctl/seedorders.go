package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// seedBatchOrders is how many orders one COPY transaction writes: big enough that COPY's
// per-statement cost vanishes, small enough that a batch (about 4 lines an order) stays a few
// megabytes in memory.
const seedBatchOrders = 20_000

// seedCountry is a buyer country with its currency and standard VAT rate (US sales tax is
// not VAT and is not modelled: 0 bp; Ontario's HST is charged like VAT).
type seedCountry struct {
	code, currency string
	vatBP          int32
	reducedBP      int32
	storefront     bool
}

var seedCountries = []seedCountry{
	{"US", "USD", 0, 0, true}, {"US", "USD", 0, 0, true}, {"US", "USD", 0, 0, true}, {"CA", "CAD", 1300, 500, true},
	{"NL", "EUR", 2100, 900, false}, {"DE", "EUR", 1900, 700, false}, {"DE", "EUR", 1900, 700, false},
	{"FR", "EUR", 2000, 550, false}, {"BE", "EUR", 2100, 600, false}, {"IE", "EUR", 2300, 1350, false},
	{"ES", "EUR", 2100, 1000, false}, {"IT", "EUR", 2200, 1000, false}, {"SE", "SEK", 2500, 600, false},
	{"GB", "GBP", 2000, 500, false}, {"GB", "GBP", 2000, 500, false}, {"CH", "CHF", 810, 260, false},
}

// seedProducts are the catalogue: SKU, description and list price in minor units.
var seedProducts = []struct {
	sku, description string
	price            int64
}{
	{"LUM-TEACHER-1Y", "Lumio teacher licence, 12 months", 9_900},
	{"LUM-STUDENT-1Y", "Lumio student licence, 12 months", 1_250},
	{"LUM-SCHOOL-1Y", "Lumio school licence, 12 months", 450_000},
	{"LUM-DISTRICT-1Y", "Lumio district licence, 12 months", 1_850_000},
	{"LUM-TRUST-1Y", "Lumio multi-academy trust licence, 12 months", 1_200_000},
	{"LUM-BUSINESS-1Y", "Lumio business training licence, 12 months", 14_900},
	{"LUM-PD-WORKSHOP", "On-site professional development workshop (1 day)", 120_000},
	{"LUM-TRAIN-ONLINE", "Online teacher training seat", 2_500},
	{"LUM-CLASSKIT-30", "Class set of interactive tablets (30)", 89_900},
	{"LUM-CLASSKIT-10", "Class set of interactive tablets (10)", 32_900},
	{"LUM-PEN-STYLUS", "Replacement stylus", 1_900},
	{"LUM-CHARGE-CART", "Charging cart for 30 tablets", 149_000},
	{"LUM-SUPPORT-PREM", "Premium support, 12 months", 99_000},
	{"LUM-CONTENT-MATH", "Mathematics content pack", 39_900},
	{"LUM-CONTENT-LANG", "Language arts content pack", 39_900},
	{"LUM-CONTENT-SCI", "Science content pack", 44_900},
	{"LUM-BOOK-GUIDE", "Printed teacher guide", 2_900},
	{"LUM-ADDON-AI", "AI lesson assistant add-on, 12 months", 4_900},
}

// runSeedOrders implements `ccctl seed --orders N`: it writes N orders (about 4 lines each)
// with their customers, payments and refunds straight into DATABASE_URL with COPY, for
// reporting benchmarks. Rows satisfy every CHECK of the schema and carry the flow lists the
// dataflow policy computes; encrypted columns (contact details, ship_to) stay NULL, so the
// seeded orders are figures, not people. The data is deterministic for a given --seed.
func runSeedOrders(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	orders := fs.Int("orders", 0, "number of orders to generate (about 4 lines each)")
	days := fs.Int("days", 365, "spread create times over this many days before --end")
	endFlag := fs.String("end", "", "latest create time, RFC 3339 (default: the start of today, UTC)")
	seed := fs.Uint64("seed", 1, "random seed (the same seed writes the same figures)")
	workers := fs.Int("workers", 2, "concurrent COPY connections")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ccctl seed --orders N [--days D] [--end TIME] [--seed S] [--workers W]\n\nenv: DATABASE_URL")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *orders <= 0 || *days <= 0 || *workers <= 0 || fs.NArg() != 0 {
		fs.Usage()
		return errors.New("seed: --orders, --days and --workers must be positive")
	}
	end := time.Now().UTC().Truncate(24 * time.Hour)
	if *endFlag != "" {
		t, err := time.Parse(time.RFC3339, *endFlag)
		if err != nil {
			return fmt.Errorf("seed: --end: %w", err)
		}
		end = t.UTC()
	}
	dbURL := getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("seed: DATABASE_URL is not set")
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer pool.Close()

	began := time.Now()
	g := seedGen{
		seed: *seed, end: end, span: time.Duration(*days) * 24 * time.Hour,
		policy: dataflow.NewPolicy(dataflow.DefaultNorthAmerica), flows: map[[3]string][]string{},
	}
	g.customers = g.makeCustomers(max(50, min(*orders/20, 100_000)))
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"customers"}, customerColumns, pgx.CopyFromSlice(len(g.customers), g.customerRow)); err != nil {
		return fmt.Errorf("seed: copy customers: %w", err)
	}

	batches := (*orders + seedBatchOrders - 1) / seedBatchOrders
	var counts [4]int64
	results := make(chan [4]int64, batches)
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(*workers)
	for b := range batches {
		n := min(seedBatchOrders, *orders-b*seedBatchOrders)
		eg.Go(func() error {
			c, err := g.writeBatch(ectx, pool, b, n)
			results <- c
			return err
		})
	}
	err = eg.Wait()
	close(results)
	for c := range results {
		for i := range counts {
			counts[i] += c[i]
		}
	}
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// Index-only scans need the visibility map, and the planner needs statistics for a
	// table that grew by millions of rows.
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) customers, orders, order_lines, payments, payment_refunds`); err != nil {
		return fmt.Errorf("seed: vacuum: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "seeded %d customers, %d orders, %d order lines, %d payments, %d refunds in %s\n",
		len(g.customers), counts[0], counts[1], counts[2], counts[3], time.Since(began).Round(time.Millisecond))
	return err
}

type seedCustomer struct {
	id, reseller string
	country      seedCountry
	flows        []string
	created      time.Time
}

type seedGen struct {
	seed      uint64
	end       time.Time
	span      time.Duration
	policy    dataflow.Policy
	customers []seedCustomer
	// flows caches the policy's order decisions by (channel, entity, country): they depend on
	// nothing else here, and computing them per order would dominate the generator.
	flows map[[3]string][]string
}

var customerColumns = []string{"id", "org_name", "personal_dek_id", "retained_dek_id", "address_country",
	"residency_country", "reseller_id", "allowed_subprocessors", "create_by", "create_time", "update_time"}

func (g *seedGen) makeCustomers(n int) []seedCustomer {
	rng := rand.New(rand.NewPCG(g.seed, 0)) //nolint:gosec // benchmark data: reproducible by seed, not secret
	out := make([]seedCustomer, n)
	for i := range out {
		c := seedCountries[rng.IntN(len(seedCountries))]
		cu := seedCustomer{id: uuid.Must(uuid.NewV7()).String(), country: c, created: g.end.Add(-g.span - time.Duration(rng.Int64N(int64(g.span))))}
		if !c.storefront {
			cu.reseller = "edu-partners-" + lower(c.code)
		}
		cu.flows = g.policy.Decide(dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: c.code, HasReseller: cu.reseller != ""}).Allowed
		out[i] = cu
	}
	// Order flow lists, decided once per kind of order.
	for _, c := range seedCountries {
		for _, ch := range []string{"reseller", "storefront"} {
			entity := ""
			if ch == "storefront" {
				entity = stripeEntityFor(c.code)
			}
			g.flows[[3]string{ch, entity, c.code}] = g.policy.Decide(dataflow.Facts{
				Kind: dataflow.KindOrder, ResidencyCountry: c.code, OrderChannel: ch, StripeEntity: entity,
			}).Allowed
		}
	}
	return out
}

func (g *seedGen) customerRow(i int) ([]any, error) {
	c := g.customers[i]
	return []any{c.id, fmt.Sprintf("Seed School %d", i+1), uuid.Must(uuid.NewRandom()).String(), uuid.Must(uuid.NewRandom()).String(),
		c.country.code, c.country.code, c.reseller, c.flows, "ccctl-seed", c.created, c.created}, nil
}

// stripeEntityFor mirrors DOMAIN.md rule 4 for the seed's countries.
func stripeEntityFor(country string) string {
	switch country {
	case "US", "CA":
		return "stripe_us"
	}
	return "stripe_ie"
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// writeBatch generates batch b (n orders) from its own random stream and writes it in one
// transaction: orders, then lines, payments and refunds, each with one COPY.
func (g *seedGen) writeBatch(ctx context.Context, pool *pgxpool.Pool, b, n int) ([4]int64, error) {
	rng := rand.New(rand.NewPCG(g.seed, uint64(b)+1)) //nolint:gosec // b >= 0
	var orders, lines, payments, refunds [][]any
	for range n {
		c := g.customers[rng.IntN(len(g.customers))]
		channel, entity, reseller := "reseller", "", c.reseller
		// A few European buyers order in the storefront too (through Stripe Payments Europe),
		// so that every Stripe entity appears in the reports.
		if c.reseller == "" || rng.IntN(50) == 0 {
			channel, entity, reseller = "storefront", stripeEntityFor(c.country.code), ""
		}
		status := "paid"
		switch r := rng.IntN(100); {
		case channel == "storefront" && r < 4:
			status = "pending_payment"
		case channel == "storefront" && r < 8:
			status = "cancelled"
		case r < 10:
			status = "refunded"
		case r < 55:
			status = "fulfilled"
		}
		created := g.end.Add(-time.Duration(rng.Int64N(int64(g.span)))).Truncate(time.Microsecond)
		id := uuid.Must(uuid.NewV7()).String()
		var net, vat int64
		nlines := 1 + rng.IntN(7)
		for ln := 1; ln <= nlines; ln++ {
			p := seedProducts[rng.IntN(len(seedProducts))]
			qty := int64(1)
			if p.price < 20_000 {
				qty = 1 + rng.Int64N(120)
			}
			rate := c.country.vatBP
			if p.sku == "LUM-BOOK-GUIDE" {
				rate = c.country.reducedBP
			}
			ln := []any{id, int32(ln), p.sku, p.description, qty, p.price, rate, qty * p.price, vatHalfUp(qty*p.price, rate)}
			net += qty * p.price
			vat += vatHalfUp(qty*p.price, rate)
			lines = append(lines, ln)
		}
		gross := net + vat
		orders = append(orders, []any{id, c.id, channel, reseller, c.country.currency, status, net, vat, gross, entity,
			c.country.code, uuid.Must(uuid.NewRandom()).String(), g.flows[[3]string{channel, entity, c.country.code}],
			"ccctl-seed", created, created, created.AddDate(10, 0, 0)})
		if channel != "storefront" || status == "pending_payment" || status == "cancelled" {
			continue
		}
		// A storefront order that counts was paid by card; some are refunded in part or fully.
		payID := uuid.Must(uuid.NewV7()).String()
		payStatus, refunded := "succeeded", int64(0)
		switch {
		case status == "refunded":
			payStatus, refunded = "refunded", gross
		case rng.IntN(20) == 0:
			payStatus, refunded = "partially_refunded", 1+rng.Int64N(gross)
			if refunded == gross {
				refunded--
			}
			if refunded == 0 {
				payStatus = "succeeded"
			}
		}
		paid := created.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		payments = append(payments, []any{payID, id, c.id, entity, fmt.Sprintf("pi_seed%d_%d", b, len(payments)),
			uuid.Must(uuid.NewRandom()).String(), gross, c.country.currency, payStatus, refunded,
			g.flows[[3]string{channel, entity, c.country.code}], "ccctl-seed", paid, paid})
		if refunded > 0 {
			refundTime := paid.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
			refunds = append(refunds, []any{uuid.Must(uuid.NewV7()).String(), payID, fmt.Sprintf("re_seed%d_%d", b, len(refunds)),
				refunded, c.country.currency, "succeeded", "stripe", refundTime, refundTime})
		}
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return [4]int64{}, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"orders", []string{"id", "customer_id", "channel", "reseller_id", "currency", "status", "net_minor", "vat_minor",
			"gross_minor", "stripe_entity", "country", "dek_id", "allowed_subprocessors", "create_by", "create_time",
			"update_time", "retain_until"}, orders},
		{"order_lines", []string{"order_id", "line_number", "sku", "description", "quantity", "unit_price_minor",
			"vat_rate_bp", "net_minor", "vat_minor"}, lines},
		{"payments", []string{"id", "order_id", "customer_id", "stripe_entity", "payment_intent_id", "dek_id", "amount_minor",
			"currency", "status", "refunded_minor", "allowed_subprocessors", "create_by", "create_time", "update_time"}, payments},
		{"payment_refunds", []string{"id", "payment_id", "stripe_refund_id", "amount_minor", "currency", "status",
			"create_by", "create_time", "update_time"}, refunds},
	}
	var counts [4]int64
	for i, c := range copies {
		if len(c.rows) == 0 {
			continue
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows))
		if err != nil {
			return counts, fmt.Errorf("copy %s: %w", c.table, err)
		}
		counts[i] = n
	}
	return counts, tx.Commit(ctx)
}

// vatHalfUp is billing's per-line VAT: net × bp / 10000 rounded half-up. Seed amounts are far
// from overflowing int64.
func vatHalfUp(net int64, bp int32) int64 {
	return (net*int64(bp)*2 + 10000) / 20000
}
