// Package reportingdb computes finance reports in PostgreSQL. Revenue is aggregated from the
// order lines in one statement (one snapshot) whose GROUP BY is assembled from a fixed table
// of SQL expressions, one per dimension: no request text ever reaches the SQL. Sums are taken
// as numeric and cast back to bigint in SQL, so a total beyond int64 is an error, never a wrap.
// The export walks the lines in keyset batches (sqlc, internal/dbsqlc), so memory and the
// database's work per call stay bounded for any range.
package reportingdb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/reporting"
	"github.com/lumio/contactcentre/internal/reporting/reportingdb/internal/dbsqlc"
)

// DefaultBatchSize is how many lines one export query returns: large enough that the round
// trip is amortised, small enough that a batch is a few hundred kilobytes.
const DefaultBatchSize = 2000

// Report session settings. A year of lines takes seconds to aggregate, longer than the
// service-wide statement timeout meant for OLTP calls (DATABASE_STATEMENT_TIMEOUT, 15 s), so a
// report raises it for its own read-only transaction; the RPC deadline still cancels it. The
// larger work_mem keeps the report's hash tables and the count(DISTINCT) sorts in memory.
const (
	reportStatementTimeout = "120s"
	reportWorkMem          = "64MB"
)

// Store implements reporting.Store.
type Store struct {
	pool  *pgxpool.Pool
	q     *dbsqlc.Queries
	batch int32
}

var _ reporting.Store = (*Store)(nil)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, q: dbsqlc.New(), batch: DefaultBatchSize}
}

// WithBatchSize returns a copy of s whose export reads n lines per query (tests use small
// batches to cross many batch boundaries).
func (s *Store) WithBatchSize(n int32) *Store {
	c := *s
	c.batch = max(n, 1)
	return &c
}

// dimension is how one dimension appears in SQL: expr is evaluated per line and is both a
// branch's select item and its GROUP BY item, with {o} standing for the orders alias and {l}
// for the order_lines alias; none is the key column's value when the dimension is not grouped.
type dimension struct {
	column string
	expr   string
	none   string
}

// dims is the whitelist: the only SQL text a request can select, in key column order.
// MONTH is grouped as a truncated UTC timestamp (cheaper than formatting every row) and
// formatted once per group by the outer query.
var dims = []struct {
	d reporting.Dimension
	dimension
}{
	{reporting.DimStripeEntity, dimension{"stripe_entity", "{o}.stripe_entity", "''::text"}},
	{reporting.DimCountry, dimension{"country", "{o}.country", "''::text"}},
	{reporting.DimReseller, dimension{"reseller_id", "{o}.reseller_id", "''::text"}},
	{reporting.DimSKU, dimension{"sku", "{l}.sku", "''::text"}},
	{reporting.DimMonth, dimension{"month", "date_trunc('month', {o}.create_time AT TIME ZONE 'UTC')", "NULL::timestamp"}},
	{reporting.DimChannel, dimension{"channel", "{o}.channel", "''::text"}},
	{reporting.DimVATRate, dimension{"vat_rate_bp", "{l}.vat_rate_bp", "0::integer"}},
}

// counts is the filter of the orders that count (package reporting's doc): $1 and $2 are the
// range.
const counts = `o.create_time >= $1 AND o.create_time < $2 AND o.status IN ('paid', 'fulfilled', 'refunded')`

// refundsPerOrder sums the succeeded refunds of each order's payments.
const refundsPerOrder = `(SELECT p.order_id, sum(r.amount_minor) AS refunded
	FROM payment_refunds r JOIN payments p ON p.id = r.payment_id
	WHERE r.status = 'succeeded' GROUP BY p.order_id)`

// revenueSQL builds the report statement for q. It has up to three branches, each grouped by
// the same keys, added up by the outer query:
//
//   - lines: net, VAT and line count of every line of the orders that count (and the order
//     count, as count(DISTINCT), when a line dimension splits orders);
//   - orders: the order count from the orders alone, when no line dimension is grouped
//     (cheaper than count(DISTINCT) over the lines);
//   - refunds: each refunded order's refund allocated over its lines by the cumulative rule
//     (reporting.AllocateRefund) and its VAT part (reporting.RefundVAT); only refunded orders
//     are windowed, so this branch is small.
func revenueSQL(q reporting.Query) string {
	lineLevel := false
	outerKeys := make([]string, 0, len(dims)+1)
	for _, d := range dims {
		lineLevel = lineLevel || (q.Has(d.d) && d.d.LineLevel())
		outerKeys = append(outerKeys, d.column)
	}
	outerKeys = append(outerKeys, "currency")
	keyList, groupList := keysFor(q, "o", "l")

	orderCount := "0::bigint"
	if lineLevel {
		orderCount = "count(DISTINCT o.id)"
	}
	branches := []string{fmt.Sprintf(`SELECT %s, %s AS order_count, count(*) AS line_count,
		sum(l.net_minor) AS net, sum(l.vat_minor) AS vat, 0::numeric AS refunded, 0::numeric AS refunded_vat
	FROM orders o JOIN order_lines l ON l.order_id = o.id
	WHERE %s GROUP BY %s`, keyList, orderCount, counts, groupList)}
	if !lineLevel {
		branches = append(branches, fmt.Sprintf(`SELECT %s, count(*), 0::bigint, 0::numeric, 0::numeric, 0::numeric, 0::numeric
	FROM orders o
	WHERE %s GROUP BY %s`, keyList, counts, groupList))
	}
	aKeys, aGroup := keysFor(q, "a", "a")
	branches = append(branches, fmt.Sprintf(`SELECT %s, 0::bigint, 0::bigint, 0::numeric, 0::numeric, sum(a.share),
		sum(CASE WHEN a.gross > 0 THEN floor((2 * a.share * a.vat_minor + a.gross) / (2 * a.gross)) ELSE 0 END)
	FROM (
		SELECT o.stripe_entity, o.country, o.reseller_id, o.channel, o.currency, o.create_time,
			l.sku, l.vat_rate_bp, l.vat_minor, (l.net_minor + l.vat_minor)::numeric AS gross,
			CASE WHEN sum(l.net_minor + l.vat_minor) OVER ord = 0 THEN
				CASE WHEN row_number() OVER run = 1 THEN rf.refunded ELSE 0 END
			ELSE
				floor(rf.refunded * sum(l.net_minor + l.vat_minor) OVER run / sum(l.net_minor + l.vat_minor) OVER ord)
				- floor(rf.refunded * (sum(l.net_minor + l.vat_minor) OVER run - (l.net_minor + l.vat_minor)) / sum(l.net_minor + l.vat_minor) OVER ord)
			END AS share
		FROM orders o
		JOIN %s rf ON rf.order_id = o.id
		JOIN order_lines l ON l.order_id = o.id
		WHERE %s
		WINDOW ord AS (PARTITION BY o.id), run AS (PARTITION BY o.id ORDER BY l.line_number)
	) a
	GROUP BY %s`, aKeys, refundsPerOrder, counts, aGroup))

	return fmt.Sprintf(`SELECT stripe_entity, country, reseller_id, sku,
		coalesce(to_char(month, 'YYYY-MM'), '') AS month, channel, vat_rate_bp, currency,
		sum(order_count)::bigint, sum(line_count)::bigint, sum(net)::bigint, sum(vat)::bigint,
		(sum(net) + sum(vat))::bigint, sum(refunded)::bigint, sum(refunded_vat)::bigint
	FROM (
	%s
	) u
	GROUP BY %s
	ORDER BY %s`, strings.Join(branches, "\n\tUNION ALL\n\t"), strings.Join(outerKeys, ", "), strings.Join(outerKeys, ", "))
}

// keysFor renders the key columns (every dimension, grouped or not, then currency) and the
// GROUP BY list for q with the given table aliases.
func keysFor(q reporting.Query, orders, lines string) (keyList, groupList string) {
	r := strings.NewReplacer("{o}", orders, "{l}", lines)
	var keys, group []string
	for _, d := range dims {
		if q.Has(d.d) {
			e := r.Replace(d.expr)
			keys = append(keys, e+" AS "+d.column)
			group = append(group, e)
		} else {
			keys = append(keys, d.none+" AS "+d.column)
		}
	}
	keys = append(keys, orders+".currency AS currency")
	group = append(group, orders+".currency")
	return strings.Join(keys, ", "), strings.Join(group, ", ")
}

// Revenue implements reporting.Store. It runs in one read-only transaction with the report
// session settings above.
func (s *Store) Revenue(ctx context.Context, q reporting.Query) ([]reporting.Row, error) {
	var out []reporting.Row
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true), set_config('work_mem', $2, true)`,
			reportStatementTimeout, reportWorkMem); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, revenueSQL(q), q.Start, q.End)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r reporting.Row
			if err := rows.Scan(&r.StripeEntity, &r.Country, &r.ResellerID, &r.SKU, &r.Month, &r.Channel,
				&r.VATRateBP, &r.Currency, &r.OrderCount, &r.LineCount, &r.NetMinor, &r.VATMinor,
				&r.GrossMinor, &r.RefundedMinor, &r.RefundedVATMinor); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, interpret(err)
	}
	return out, nil
}

// Export implements reporting.Store. Each batch is its own statement, so no snapshot or
// connection is held while the caller waits on a slow reader; lines never change once
// written, so the keyset sees every line exactly once (an order's status is read as of its
// batch).
func (s *Store) Export(ctx context.Context, r reporting.Range, fn func(reporting.ExportLine) error) error {
	p := dbsqlc.ExportBatchParams{
		StartTime: r.Start, EndTime: r.End,
		AfterTime: r.Start, AfterID: "00000000-0000-0000-0000-000000000000", AfterLine: 0,
		BatchSize: s.batch, OrderLimit: s.batch + 1,
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := s.q.ExportBatch(ctx, s.pool, p)
		if err != nil {
			return interpret(err)
		}
		for _, b := range batch {
			if !b.LineNumber.Valid {
				continue // an order without lines: nothing to export, but the cursor moves on
			}
			if err := fn(toExportLine(b)); err != nil {
				return err
			}
		}
		if len(batch) < int(s.batch) {
			return nil
		}
		last := batch[len(batch)-1]
		p.AfterTime, p.AfterID, p.AfterLine = last.CreateTime, last.ID, last.LineNumber.Int32
	}
}

func toExportLine(b dbsqlc.ExportBatchRow) reporting.ExportLine {
	return reporting.ExportLine{
		OrderID:        b.ID,
		CustomerID:     b.CustomerID,
		Channel:        b.Channel,
		ResellerID:     b.ResellerID,
		StripeEntity:   b.StripeEntity,
		Country:        b.Country,
		Currency:       b.Currency,
		Status:         b.Status,
		CreateTime:     b.CreateTime.UTC(),
		LineNumber:     b.LineNumber.Int32,
		SKU:            b.Sku.String,
		Description:    b.Description.String,
		Quantity:       b.Quantity.Int64,
		UnitPriceMinor: b.UnitPriceMinor.Int64,
		VATRateBP:      b.VatRateBp.Int32,
		NetMinor:       b.NetMinor.Int64,
		VATMinor:       b.VatMinor.Int64,
	}
}

// numericOutOfRange is SQLSTATE 22003: a numeric sum cast to bigint did not fit.
const numericOutOfRange = "22003"

func interpret(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == numericOutOfRange {
		return apperr.Precondition("a total of this report exceeds the largest amount an int64 holds; report a shorter range or a finer grouping")
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return postgres.Interpret(err)
}
