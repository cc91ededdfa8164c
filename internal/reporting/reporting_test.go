package reporting_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/reporting"
)

// fakeStore is a Store of func fields.
type fakeStore struct {
	revenue func(context.Context, reporting.Query) ([]reporting.Row, error)
	export  func(context.Context, reporting.Range, func(reporting.ExportLine) error) error
}

func (f fakeStore) Revenue(ctx context.Context, q reporting.Query) ([]reporting.Row, error) {
	return f.revenue(ctx, q)
}

func (f fakeStore) Export(ctx context.Context, r reporting.Range, fn func(reporting.ExportLine) error) error {
	return f.export(ctx, r, fn)
}

var t0 = time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)

func TestValidateRevenue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		req     reporting.RevenueRequest
		field   string // InvalidError field; "" means a precondition or nil
		precond bool
	}{
		{"OK", reporting.RevenueRequest{Start: t0, End: t0.AddDate(0, 1, 0), GroupBy: []reporting.Dimension{reporting.DimSKU, reporting.DimVATRate}}, "", false},
		{"NoStart", reporting.RevenueRequest{End: t0}, "start_time", false},
		{"NoEnd", reporting.RevenueRequest{Start: t0}, "end_time", false},
		{"Inverted", reporting.RevenueRequest{Start: t0, End: t0.Add(-time.Second)}, "end_time", false},
		{"Unknown", reporting.RevenueRequest{Start: t0, End: t0.Add(time.Hour), GroupBy: []reporting.Dimension{0}}, "group_by[0]", false},
		{"Repeated", reporting.RevenueRequest{Start: t0, End: t0.Add(time.Hour), GroupBy: []reporting.Dimension{reporting.DimMonth, reporting.DimMonth}}, "group_by[1]", false},
		{"ExactlyMax", reporting.RevenueRequest{Start: t0, End: t0.Add(reporting.MaxInteractiveRange)}, "", false},
		{"TooLong", reporting.RevenueRequest{Start: t0, End: t0.Add(reporting.MaxInteractiveRange + time.Second)}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := reporting.ValidateRevenue(tt.req)
			field, _ := apperr.Field(err)
			if field != tt.field {
				t.Errorf("field = %q (err %v), want %q", field, err, tt.field)
			}
			var pre *apperr.PreconditionError
			if errors.As(err, &pre) != tt.precond {
				t.Errorf("precondition = %v (err %v), want %v", !tt.precond, err, tt.precond)
			}
		})
	}
}

func TestServiceRevenuePassesQuery(t *testing.T) {
	t.Parallel()
	var got reporting.Query
	svc := reporting.NewService(fakeStore{revenue: func(_ context.Context, q reporting.Query) ([]reporting.Row, error) {
		got = q
		return nil, nil
	}}, nil)
	local := time.FixedZone("CET", 3600)
	_, err := svc.Revenue(context.Background(), reporting.RevenueRequest{
		Start: t0.In(local), End: t0.AddDate(0, 1, 0), GroupBy: []reporting.Dimension{reporting.DimCountry, reporting.DimVATRate},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := reporting.Query{Range: reporting.Range{Start: t0, End: t0.AddDate(0, 1, 0)}, GroupBy: []reporting.Dimension{reporting.DimCountry, reporting.DimVATRate}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	// An invalid request never reaches the store.
	svc = reporting.NewService(fakeStore{}, nil)
	if _, err := svc.Revenue(context.Background(), reporting.RevenueRequest{}); err == nil {
		t.Error("Revenue of an empty request succeeded")
	}
	if err := svc.Export(context.Background(), t0, time.Time{}, nil); err == nil {
		t.Error("Export of an unbounded range succeeded")
	}
}

func TestAllocateRefund(t *testing.T) {
	t.Parallel()
	tests := []struct {
		refund  int64
		grosses []int64
		want    []int64
	}{
		{0, []int64{10, 20}, []int64{0, 0}},
		{100, []int64{100}, []int64{100}},
		{10, []int64{1, 1, 1}, []int64{3, 3, 4}},
		{1, []int64{1, 1}, []int64{0, 1}},
		{7, []int64{0, 0}, []int64{7, 0}},
		{50, []int64{0, 100, 0, 100}, []int64{0, 25, 0, 25}},
		{math.MaxInt64, []int64{math.MaxInt64 / 2, math.MaxInt64/2 + 1}, []int64{math.MaxInt64 / 2, math.MaxInt64/2 + 1}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, reporting.AllocateRefund(tt.refund, tt.grosses)); diff != "" {
			t.Errorf("AllocateRefund(%d, %v) (-want +got):\n%s", tt.refund, tt.grosses, diff)
		}
	}
	// Property: shares add up to the refund and each is within one unit of its exact share.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		grosses := make([]int64, 1+rng.IntN(8))
		var total int64
		for i := range grosses {
			grosses[i] = rng.Int64N(1_000_000)
			total += grosses[i]
		}
		if total == 0 {
			continue
		}
		refund := rng.Int64N(total + 1)
		var sum int64
		for i, s := range reporting.AllocateRefund(refund, grosses) {
			sum += s
			exact := float64(refund) * float64(grosses[i]) / float64(total)
			if s < 0 || math.Abs(float64(s)-exact) > 1.0001 {
				t.Fatalf("share %d of %d over %v is %d, exact %.3f", i, refund, grosses, s, exact)
			}
		}
		if sum != refund {
			t.Fatalf("shares of %d over %v add up to %d", refund, grosses, sum)
		}
	}
}

func TestRefundVAT(t *testing.T) {
	t.Parallel()
	tests := []struct{ share, vat, gross, want int64 }{
		{121, 21, 121, 21},
		{50, 21, 121, 9}, // 8.68 → 9
		{1, 1, 2, 1},     // 0.5 rounds half-up
		{10, 0, 10, 0},
		{0, 21, 121, 0},
		{5, 0, 0, 0},
	}
	for _, tt := range tests {
		if got := reporting.RefundVAT(tt.share, tt.vat, tt.gross); got != tt.want {
			t.Errorf("RefundVAT(%d, %d, %d) = %d, want %d", tt.share, tt.vat, tt.gross, got, tt.want)
		}
	}
}

func TestMonthOf(t *testing.T) {
	t.Parallel()
	// 00:30 on 1 April in Amsterdam is still March in UTC.
	ams := time.FixedZone("CEST", 2*3600)
	if got := reporting.MonthOf(time.Date(2026, time.April, 1, 0, 30, 0, 0, ams)); got != "2026-03" {
		t.Errorf("MonthOf = %q, want 2026-03", got)
	}
}

func FuzzValidateRevenue(f *testing.F) {
	f.Add(int64(0), int64(3600), []byte{1, 2, 3})
	f.Add(int64(-5), int64(-10), []byte{0})
	f.Add(int64(1), int64(1<<40), []byte{7, 7})
	f.Fuzz(func(t *testing.T, start, dur int64, dims []byte) {
		req := reporting.RevenueRequest{Start: time.Unix(start, 0), End: time.Unix(start, 0).Add(time.Duration(dur))}
		for _, d := range dims {
			req.GroupBy = append(req.GroupBy, reporting.Dimension(int8(d)))
		}
		_, err := reporting.ValidateRevenue(req)
		var invalid *apperr.InvalidError
		var pre *apperr.PreconditionError
		if err != nil && !errors.As(err, &invalid) && !errors.As(err, &pre) {
			t.Fatalf("ValidateRevenue returned %T %v", err, err)
		}
	})
}
