// Package reporting answers finance's questions about revenue and VAT, exactly, over millions of
// order lines, and exports the lines themselves. It imports neither gRPC nor the database nor
// the billing domain: it reads orders as the store hands them over.
//
// Revenue semantics (docs/reporting.md says the same for finance):
//
//   - Which orders count: those with status paid, fulfilled or refunded. Reseller orders are
//     created paid, so they count from creation; storefront orders count once their card
//     payment succeeded. Pending-payment and cancelled orders never count.
//   - Which period: an order belongs to the period that contains its create_time (UTC); MONTH
//     is create_time's UTC year and month. A storefront order paid after its period closed
//     therefore appears in that earlier period from the moment it is paid: reports are as of
//     the moment they run.
//   - Amounts: net and VAT are summed from the order lines (the lines, not the order totals,
//     are the source of truth); gross = net + VAT. Every figure is in the order's currency and
//     rows are per currency: nothing is converted.
//   - Refunds: refunded_minor is the sum of the order's succeeded refunds (any time, also after
//     the period), attributed to the order's own group, so that net revenue of a group is
//     gross_minor - refunded_minor. When lines are grouped (SKU, VAT rate), an order's refund
//     R is split over its lines in line-number order by the cumulative rule
//     share_i = ⌊R·C_i/G⌋ - ⌊R·C_{i-1}/G⌋, where C_i is the gross of lines 1..i and G the
//     order's gross: the shares are integers, each within one minor unit of the exact
//     proportion, and they add up to R exactly. The VAT part of a line's share is
//     share·vat/gross of that line, rounded half-up.
//   - order_count counts orders (an order appears once in each line group it has lines in);
//     line_count counts lines.
package reporting

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lumio/contactcentre/internal/apperr"
)

// MaxInteractiveRange is the longest range RevenueReport aggregates in one call: a year of
// order lines is what PostgreSQL sums within an interactive deadline on our hardware. Longer
// ranges go through ExportOrders, which streams without such a bound.
const MaxInteractiveRange = 366 * 24 * time.Hour

// Dimension is a way to group revenue.
type Dimension int

// Dimensions. The order-level ones describe the order; SKU and VATRate describe a line.
const (
	DimStripeEntity Dimension = iota + 1
	DimCountry
	DimReseller
	DimSKU
	DimMonth
	DimChannel
	DimVATRate
)

// String names the dimension for error messages.
func (d Dimension) String() string {
	switch d {
	case DimStripeEntity:
		return "STRIPE_ENTITY"
	case DimCountry:
		return "COUNTRY"
	case DimReseller:
		return "RESELLER"
	case DimSKU:
		return "SKU"
	case DimMonth:
		return "MONTH"
	case DimChannel:
		return "CHANNEL"
	case DimVATRate:
		return "VAT_RATE"
	}
	return "UNSPECIFIED"
}

// Valid reports whether d is a known dimension.
func (d Dimension) Valid() bool { return d >= DimStripeEntity && d <= DimVATRate }

// LineLevel reports whether d is a fact of a line rather than of its order, which changes how
// orders are counted and refunds attributed.
func (d Dimension) LineLevel() bool { return d == DimSKU || d == DimVATRate }

// Range is a half-open time range [Start, End).
type Range struct {
	Start, End time.Time
}

// Query is a validated revenue question. GroupBy holds distinct dimensions in request order.
type Query struct {
	Range
	GroupBy []Dimension
}

// Key holds the grouped dimensions' values of a row; dimensions not grouped are zero.
// StripeEntity and Channel use the stored spellings ("stripe_us", "reseller").
type Key struct {
	StripeEntity string
	Country      string
	ResellerID   string
	SKU          string
	Month        string
	Channel      string
	VATRateBP    int32
	Currency     string
}

// Row is one group of a revenue report. Amounts are exact minor units of Currency.
type Row struct {
	Key
	OrderCount       int64
	LineCount        int64
	NetMinor         int64
	VATMinor         int64
	GrossMinor       int64
	RefundedMinor    int64
	RefundedVATMinor int64
}

// ExportLine is one order line with its order's facts, as exported.
type ExportLine struct {
	OrderID        string
	CustomerID     string
	Channel        string
	ResellerID     string
	StripeEntity   string
	Country        string
	Currency       string
	Status         string
	CreateTime     time.Time
	LineNumber     int32
	SKU            string
	Description    string
	Quantity       int64
	UnitPriceMinor int64
	VATRateBP      int32
	NetMinor       int64
	VATMinor       int64
}

// Store reads what reports need.
type Store interface {
	// Revenue aggregates the orders that count (see the package doc) in q.Range grouped by
	// q.GroupBy and currency, in one consistent snapshot. Rows come sorted by their key. A sum
	// that does not fit in int64 is an *apperr.PreconditionError.
	Revenue(ctx context.Context, q Query) ([]Row, error)
	// Export calls fn for every line of every order (of any status) created in r, ordered by
	// create_time, order id and line number, reading in bounded batches so that memory stays
	// constant whatever the range. It stops at the first error fn returns, or when ctx ends,
	// and returns that error.
	Export(ctx context.Context, r Range, fn func(ExportLine) error) error
}

// Service answers reporting questions. Who may call it is decided per RPC by auth (finance
// and admin); every caller that gets here sees all orders.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store. now is the clock (time.Now outside tests).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// RevenueRequest is the input of Revenue as the caller sent it.
type RevenueRequest struct {
	Start, End time.Time
	GroupBy    []Dimension
}

// Revenue returns one row per group and currency. It returns an *apperr.InvalidError for a
// missing or inverted range (start_time, end_time) or an unknown or repeated dimension
// (group_by), an *apperr.PreconditionError for a range longer than MaxInteractiveRange
// (pointing to ExportOrders) or a sum beyond int64, and the store's other errors.
func (s *Service) Revenue(ctx context.Context, req RevenueRequest) ([]Row, error) {
	q, err := ValidateRevenue(req)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Revenue(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("revenue report: %w", err)
	}
	return rows, nil
}

// Export streams every line of the orders created in [start, end) to fn, in constant memory.
// It returns an *apperr.InvalidError for a missing or inverted range, fn's error, ctx's error
// when the caller goes away, and the store's other errors.
func (s *Service) Export(ctx context.Context, start, end time.Time, fn func(ExportLine) error) error {
	r, err := ValidateRange(start, end)
	if err != nil {
		return err
	}
	return s.store.Export(ctx, r, fn)
}

// ValidateRange checks that both ends are set and end is after start. It returns nil or an
// *apperr.InvalidError naming start_time or end_time.
func ValidateRange(start, end time.Time) (Range, error) {
	switch {
	case start.IsZero():
		return Range{}, apperr.Invalid("start_time", "is required: reports need a bounded range")
	case end.IsZero():
		return Range{}, apperr.Invalid("end_time", "is required: reports need a bounded range")
	case !end.After(start):
		return Range{}, apperr.Invalid("end_time", "must be after start_time")
	}
	return Range{Start: start.UTC(), End: end.UTC()}, nil
}

// ValidateRevenue turns a request into a Query. It returns an *apperr.InvalidError naming
// start_time, end_time or group_by, or an *apperr.PreconditionError when the range is longer
// than MaxInteractiveRange.
func ValidateRevenue(req RevenueRequest) (Query, error) {
	r, err := ValidateRange(req.Start, req.End)
	if err != nil {
		return Query{}, err
	}
	seen := make(map[Dimension]bool, len(req.GroupBy))
	for i, d := range req.GroupBy {
		if !d.Valid() {
			return Query{}, apperr.Invalid(fmt.Sprintf("group_by[%d]", i), "is not a known dimension")
		}
		if seen[d] {
			return Query{}, apperr.Invalid(fmt.Sprintf("group_by[%d]", i), "repeats %s", d)
		}
		seen[d] = true
	}
	if r.End.Sub(r.Start) > MaxInteractiveRange {
		return Query{}, apperr.Precondition(
			"the range is longer than %d days, too large for an interactive report: split it, or use ExportOrders, which streams any range",
			int(MaxInteractiveRange/(24*time.Hour)))
	}
	return Query{Range: r, GroupBy: append([]Dimension(nil), req.GroupBy...)}, nil
}

// MonthOf is the MONTH dimension's value for t: its UTC year and month as YYYY-MM.
func MonthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// Has reports whether q groups by d.
func (q Query) Has(d Dimension) bool {
	for _, g := range q.GroupBy {
		if g == d {
			return true
		}
	}
	return false
}

// Describe renders the grouping for logs, e.g. "COUNTRY,VAT_RATE".
func (q Query) Describe() string {
	names := make([]string, len(q.GroupBy))
	for i, d := range q.GroupBy {
		names[i] = d.String()
	}
	return strings.Join(names, ",")
}
