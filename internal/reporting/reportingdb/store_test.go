package reportingdb_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/reporting"
	"github.com/lumio/contactcentre/internal/reporting/reportingdb"
)

var (
	epoch  = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	allDim = []reporting.Dimension{reporting.DimStripeEntity, reporting.DimCountry, reporting.DimReseller,
		reporting.DimSKU, reporting.DimMonth, reporting.DimChannel, reporting.DimVATRate}
)

// fixture inserts rows the way billing writes them (the schema's CHECKs hold), so the report
// is tested against the real tables, triggers and indexes.
type fixture struct {
	t    *testing.T
	pool *pgxpool.Pool
	rng  *rand.Rand
}

type orderSpec struct {
	channel, status, currency, country string
	create                             time.Time
	lines                              [][3]int64 // quantity, unit price, vat bp
	skus                               []string
	refunds                            []refundSpec
}

type refundSpec struct {
	amount int64
	status string
}

func (f fixture) customer() string {
	id := uuid.Must(uuid.NewV7()).String()
	_, err := f.pool.Exec(context.Background(), `INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id,
		address_country, residency_country, allowed_subprocessors, create_by, create_time, update_time)
		VALUES ($1, 'Test School', gen_random_uuid(), gen_random_uuid(), 'NL', 'NL', '{}', 'test', now(), now())`, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// order inserts o and returns its id and the gross of its lines.
func (f fixture) order(customerID string, o orderSpec) (string, int64) {
	f.t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7()).String()
	var net, vat int64
	for _, l := range o.lines {
		n := l[0] * l[1]
		net += n
		vat += reporting.RefundVAT(n, l[2], 10000) // n·bp/10000 half-up, billing's rule
	}
	reseller, entity := "", ""
	if o.channel == "reseller" {
		reseller = "edu-partners-" + o.country
	} else {
		entity = "stripe_us"
		if o.country != "US" && o.country != "CA" {
			entity = "stripe_ie"
		}
	}
	_, err := f.pool.Exec(ctx, `INSERT INTO orders (id, customer_id, channel, reseller_id, currency, status,
		net_minor, vat_minor, gross_minor, stripe_entity, country, dek_id, allowed_subprocessors, create_by,
		create_time, update_time, retain_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, gen_random_uuid(), '{}', 'test', $12, $12, $12::timestamptz + interval '10 years')`,
		id, customerID, o.channel, reseller, o.currency, o.status, net, vat, net+vat, entity, o.country, o.create)
	if err != nil {
		f.t.Fatal(err)
	}
	for i, l := range o.lines {
		n := l[0] * l[1]
		_, err := f.pool.Exec(ctx, `INSERT INTO order_lines (order_id, line_number, sku, description, quantity,
			unit_price_minor, vat_rate_bp, net_minor, vat_minor) VALUES ($1, $2, $3, 'x', $4, $5, $6, $7, $8)`,
			id, i+1, o.skus[i], l[0], l[1], l[2], n, reporting.RefundVAT(n, l[2], 10000))
		if err != nil {
			f.t.Fatal(err)
		}
	}
	if len(o.refunds) > 0 {
		f.refund(id, customerID, entity, o.currency, net+vat, o.refunds...)
	}
	return id, net + vat
}

// refund adds a succeeded payment for the order (once) and the given refunds of it.
func (f fixture) refund(orderID, customerID, entity, currency string, amount int64, refunds ...refundSpec) {
	f.t.Helper()
	ctx := context.Background()
	var paymentID string
	err := f.pool.QueryRow(ctx, `SELECT id FROM payments WHERE order_id = $1`, orderID).Scan(&paymentID)
	if err != nil {
		paymentID = uuid.Must(uuid.NewV7()).String()
		if entity == "" {
			entity = "stripe_ie"
		}
		_, err = f.pool.Exec(ctx, `INSERT INTO payments (id, order_id, customer_id, stripe_entity, dek_id, amount_minor,
			currency, status, allowed_subprocessors, create_by, create_time, update_time)
			VALUES ($1, $2, $3, $4, gen_random_uuid(), $5, $6, 'succeeded', '{}', 'test', now(), now())`,
			paymentID, orderID, customerID, entity, max(amount, 1), currency)
		if err != nil {
			f.t.Fatal(err)
		}
	}
	for _, r := range refunds {
		_, err := f.pool.Exec(ctx, `INSERT INTO payment_refunds (id, payment_id, amount_minor, currency, status,
			create_by, create_time, update_time) VALUES ($1, $2, $3, $4, $5, 'test', now(), now())`,
			uuid.Must(uuid.NewV7()).String(), paymentID, r.amount, currency, r.status)
		if err != nil {
			f.t.Fatal(err)
		}
	}
}

// randomOrders inserts n orders spread over three months around the test range, of every
// channel, status and currency, with repeated SKUs, free lines and partial refunds.
func (f fixture) randomOrders(n int) {
	f.t.Helper()
	customers := []string{f.customer(), f.customer(), f.customer()}
	statuses := []string{"pending_payment", "paid", "fulfilled", "cancelled", "refunded"}
	countries := []string{"US", "CA", "NL", "DE", "IE"}
	skus := []string{"LUM-A", "LUM-B", "LUM-C", "LUM-D"}
	rates := []int64{0, 900, 1900, 2100, 2300}
	for range n {
		o := orderSpec{
			channel:  []string{"reseller", "storefront"}[f.rng.IntN(2)],
			currency: []string{"EUR", "USD", "GBP"}[f.rng.IntN(3)],
			country:  countries[f.rng.IntN(len(countries))],
			// Some orders sit exactly on a month boundary, some before and after the range.
			create: epoch.Add(time.Duration(f.rng.Int64N(int64(100 * 24 * time.Hour)))).Add(-5 * 24 * time.Hour).Truncate(time.Second),
		}
		if f.rng.IntN(20) == 0 {
			o.create = time.Date(2026, time.February, 1, 0, 0, 0, 0, time.UTC)
		}
		o.status = statuses[f.rng.IntN(len(statuses))]
		if o.channel == "reseller" && (o.status == "pending_payment" || o.status == "cancelled") {
			o.status = "paid"
		}
		for range 1 + f.rng.IntN(5) {
			price := f.rng.Int64N(100_000)
			if f.rng.IntN(8) == 0 {
				price = 0
			}
			o.lines = append(o.lines, [3]int64{1 + f.rng.Int64N(30), price, rates[f.rng.IntN(len(rates))]})
			o.skus = append(o.skus, skus[f.rng.IntN(len(skus))])
		}
		id, gross := f.order(customers[f.rng.IntN(len(customers))], o)
		if o.channel == "storefront" && gross > 0 && f.rng.IntN(3) == 0 {
			first := 1 + f.rng.Int64N(gross)
			rs := []refundSpec{{first, "succeeded"}, {1 + f.rng.Int64N(gross), []string{"pending", "failed"}[f.rng.IntN(2)]}}
			if first < gross {
				rs = append(rs, refundSpec{1 + f.rng.Int64N(gross-first), "succeeded"})
			}
			f.refund(id, customers[0], "", o.currency, gross, rs...)
		}
	}
}

// naive recomputes a report from the raw rows with nothing but Go: it reads every line, every
// order and every refund, and applies the documented semantics one line at a time.
func naive(t *testing.T, pool *pgxpool.Pool, q reporting.Query) []reporting.Row {
	t.Helper()
	ctx := context.Background()
	refunded := map[string]int64{}
	rows, err := pool.Query(ctx, `SELECT p.order_id, r.amount_minor FROM payment_refunds r
		JOIN payments p ON p.id = r.payment_id WHERE r.status = 'succeeded'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var amount int64
		if err := rows.Scan(&id, &amount); err != nil {
			t.Fatal(err)
		}
		refunded[id] += amount
	}
	rows.Close()

	type line struct {
		reporting.Key
		orderID  string
		net, vat int64
		status   string
		create   time.Time
	}
	rows, err = pool.Query(ctx, `SELECT o.id, o.stripe_entity, o.country, o.reseller_id, o.channel, o.currency,
		o.status, o.create_time, l.sku, l.vat_rate_bp, l.net_minor, l.vat_minor
		FROM orders o JOIN order_lines l ON l.order_id = o.id ORDER BY o.id, l.line_number`)
	if err != nil {
		t.Fatal(err)
	}
	byOrder := map[string][]line{}
	var order []string
	for rows.Next() {
		var l line
		if err := rows.Scan(&l.orderID, &l.StripeEntity, &l.Country, &l.ResellerID, &l.Channel, &l.Currency,
			&l.status, &l.create, &l.SKU, &l.VATRateBP, &l.net, &l.vat); err != nil {
			t.Fatal(err)
		}
		if _, ok := byOrder[l.orderID]; !ok {
			order = append(order, l.orderID)
		}
		byOrder[l.orderID] = append(byOrder[l.orderID], l)
	}
	rows.Close()

	out := map[reporting.Key]*reporting.Row{}
	counted := map[reporting.Key]map[string]bool{}
	for _, id := range order {
		lines := byOrder[id]
		first := lines[0]
		if first.create.Before(q.Start) || !first.create.Before(q.End) {
			continue
		}
		if first.status != "paid" && first.status != "fulfilled" && first.status != "refunded" {
			continue
		}
		grosses := make([]int64, len(lines))
		for i, l := range lines {
			grosses[i] = l.net + l.vat
		}
		shares := reporting.AllocateRefund(refunded[id], grosses)
		for i, l := range lines {
			k := reporting.Key{Currency: l.Currency}
			if q.Has(reporting.DimStripeEntity) {
				k.StripeEntity = l.StripeEntity
			}
			if q.Has(reporting.DimCountry) {
				k.Country = l.Country
			}
			if q.Has(reporting.DimReseller) {
				k.ResellerID = l.ResellerID
			}
			if q.Has(reporting.DimSKU) {
				k.SKU = l.SKU
			}
			if q.Has(reporting.DimMonth) {
				k.Month = reporting.MonthOf(l.create)
			}
			if q.Has(reporting.DimChannel) {
				k.Channel = l.Channel
			}
			if q.Has(reporting.DimVATRate) {
				k.VATRateBP = l.VATRateBP
			}
			r := out[k]
			if r == nil {
				r = &reporting.Row{Key: k}
				out[k] = r
				counted[k] = map[string]bool{}
			}
			if !counted[k][id] {
				counted[k][id] = true
				r.OrderCount++
			}
			r.LineCount++
			r.NetMinor += l.net
			r.VATMinor += l.vat
			r.GrossMinor += l.net + l.vat
			r.RefundedMinor += shares[i]
			r.RefundedVATMinor += reporting.RefundVAT(shares[i], l.vat, grosses[i])
		}
	}
	res := make([]reporting.Row, 0, len(out))
	for _, r := range out {
		res = append(res, *r)
	}
	sortRows(res)
	return res
}

func sortRows(rs []reporting.Row) {
	key := func(r reporting.Row) string {
		return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%06d|%s", r.StripeEntity, r.Country, r.ResellerID, r.SKU, r.Month, r.Channel, r.VATRateBP, r.Currency)
	}
	sort.Slice(rs, func(i, j int) bool { return key(rs[i]) < key(rs[j]) })
}

func setup(t *testing.T, seed uint64) (*reportingdb.Store, fixture) {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	return reportingdb.New(pool), fixture{t: t, pool: pool, rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
}

// TestRevenueMatchesNaive checks every grouping (all 128 subsets of the dimensions, in a
// random order) against the naive recomputation, then again after late refunds arrive for
// orders of past periods.
func TestRevenueMatchesNaive(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	store, f := setup(t, seed)
	f.randomOrders(250)
	rng := rand.New(rand.NewPCG(seed, 7))
	r := reporting.Range{Start: epoch, End: epoch.AddDate(0, 3, 0)}

	check := func(t *testing.T) {
		t.Helper()
		for _, mask := range rng.Perm(1 << len(allDim)) {
			var group []reporting.Dimension
			for i, d := range allDim {
				if mask&(1<<i) != 0 {
					group = append(group, d)
				}
			}
			rng.Shuffle(len(group), func(i, j int) { group[i], group[j] = group[j], group[i] })
			q := reporting.Query{Range: r, GroupBy: group}
			got, err := store.Revenue(context.Background(), q)
			if err != nil {
				t.Fatalf("group by %s: %v", q.Describe(), err)
			}
			sortRows(got)
			if diff := cmp.Diff(naive(t, f.pool, q), got); diff != "" {
				t.Fatalf("group by %s: report differs from the naive recomputation (-want +got):\n%s", q.Describe(), diff)
			}
		}
	}
	check(t)

	// Late refunds of January orders: the January rows must change at once.
	rows, err := f.pool.Query(context.Background(), `SELECT o.id, o.customer_id, o.stripe_entity, o.currency, o.gross_minor
		FROM orders o WHERE o.channel = 'storefront' AND o.status IN ('paid', 'fulfilled') AND o.gross_minor > 10
		AND o.create_time >= $1 AND o.create_time < $2 LIMIT 5`, epoch, epoch.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	type late struct {
		id, customer, entity, currency string
		gross                          int64
	}
	var lates []late
	for rows.Next() {
		var l late
		if err := rows.Scan(&l.id, &l.customer, &l.entity, &l.currency, &l.gross); err != nil {
			t.Fatal(err)
		}
		lates = append(lates, l)
	}
	rows.Close()
	if len(lates) == 0 {
		t.Fatal("fixture has no paid January storefront order to refund")
	}
	before, err := store.Revenue(context.Background(), reporting.Query{Range: r})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lates {
		f.refund(l.id, l.customer, l.entity, l.currency, l.gross, refundSpec{l.gross / 3, "succeeded"})
	}
	after, err := store.Revenue(context.Background(), reporting.Query{Range: r})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(before, after) {
		t.Fatal("late refunds did not change the report")
	}
	check(t)
}

func TestRevenueRangeIsHalfOpen(t *testing.T) {
	t.Parallel()
	store, f := setup(t, 1)
	c := f.customer()
	at := time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
	f.order(c, orderSpec{channel: "reseller", status: "paid", currency: "EUR", country: "NL", create: at,
		lines: [][3]int64{{2, 1000, 2100}}, skus: []string{"LUM-A"}})
	f.order(c, orderSpec{channel: "storefront", status: "pending_payment", currency: "USD", country: "US", create: at,
		lines: [][3]int64{{1, 500, 0}}, skus: []string{"LUM-B"}})

	feb, err := store.Revenue(context.Background(), reporting.Query{Range: reporting.Range{Start: at.AddDate(0, -1, 0), End: at}})
	if err != nil {
		t.Fatal(err)
	}
	if len(feb) != 0 {
		t.Errorf("an order at end_time must not count: got %+v", feb)
	}
	mar, err := store.Revenue(context.Background(), reporting.Query{
		Range:   reporting.Range{Start: at, End: at.AddDate(0, 1, 0)},
		GroupBy: []reporting.Dimension{reporting.DimMonth, reporting.DimChannel},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []reporting.Row{{
		Key:        reporting.Key{Month: "2026-03", Channel: "reseller", Currency: "EUR"},
		OrderCount: 1, LineCount: 1, NetMinor: 2000, VATMinor: 420, GrossMinor: 2420,
	}}
	if diff := cmp.Diff(want, mar); diff != "" {
		t.Errorf("March (-want +got):\n%s", diff)
	}
}

func TestRevenueOverflowIsPrecondition(t *testing.T) {
	t.Parallel()
	store, f := setup(t, 2)
	c := f.customer()
	big := int64(math.MaxInt64/2 + 1)
	for range 2 {
		f.order(c, orderSpec{channel: "reseller", status: "paid", currency: "EUR", country: "NL", create: epoch,
			lines: [][3]int64{{1, big, 0}}, skus: []string{"LUM-A"}})
	}
	_, err := store.Revenue(context.Background(), reporting.Query{Range: reporting.Range{Start: epoch, End: epoch.Add(time.Hour)}})
	var pre *apperr.PreconditionError
	if !errors.As(err, &pre) {
		t.Fatalf("Revenue = %v, want a PreconditionError for a sum beyond int64", err)
	}
}

func TestExportStreamsRangeInOrder(t *testing.T) {
	t.Parallel()
	store, f := setup(t, 3)
	f.randomOrders(60)
	r := reporting.Range{Start: epoch.AddDate(0, 0, 10), End: epoch.AddDate(0, 2, 0)}
	// Line-less orders (billing never writes one) must not stop or break the export.
	for i := range 3 {
		f.order(f.customer(), orderSpec{channel: "reseller", status: "paid", currency: "EUR", country: "NL",
			create: r.Start.Add(time.Duration(i) * 24 * time.Hour)})
	}

	var want []string
	rows, err := f.pool.Query(context.Background(), `SELECT o.id, l.line_number FROM orders o
		JOIN order_lines l ON l.order_id = o.id WHERE o.create_time >= $1 AND o.create_time < $2
		ORDER BY o.create_time, o.id, l.line_number`, r.Start, r.End)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int32
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%s/%d", id, n))
	}
	rows.Close()
	if len(want) < 20 {
		t.Fatalf("fixture too small: %d lines in range", len(want))
	}

	for _, batch := range []int32{1, 3, 7, 1000} {
		var got []string
		err := store.WithBatchSize(batch).Export(context.Background(), r, func(l reporting.ExportLine) error {
			if l.CreateTime.Before(r.Start) || !l.CreateTime.Before(r.End) {
				t.Errorf("line of %s outside the range", l.CreateTime)
			}
			got = append(got, fmt.Sprintf("%s/%d", l.OrderID, l.LineNumber))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("batch %d: exported lines (-want +got):\n%s", batch, diff)
		}
	}
}

func TestExportStopsOnCancelAndError(t *testing.T) {
	t.Parallel()
	store, f := setup(t, 4)
	f.randomOrders(40)
	r := reporting.Range{Start: epoch.AddDate(0, 0, -10), End: epoch.AddDate(0, 4, 0)}
	store = store.WithBatchSize(5)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := store.Export(ctx, r, func(reporting.ExportLine) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Export after cancel = %v, want context.Canceled", err)
	}
	if n > 5 {
		t.Errorf("Export delivered %d lines after cancel; want it to stop within the batch (5)", n)
	}

	stop := errors.New("reader gone")
	n = 0
	err = store.Export(context.Background(), r, func(reporting.ExportLine) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Export = %v after %d lines, want the callback's error after 1", err, n)
	}
}
