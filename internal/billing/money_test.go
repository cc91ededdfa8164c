package billing_test

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/billing"
)

func TestVATRoundsHalfUpPerLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		net  int64
		rate int32
		want int64
	}{
		{"zero rate", 12345, 0, 0},
		{"zero net", 0, 2100, 0},
		{"exact", 10000, 2100, 2100},
		{"21 % of 123 cents = 25.83 rounds to 26", 123, 2100, 26},
		{"exact half rounds up: 19 % of 50 = 9.5", 50, 1900, 10},
		{"just below half rounds down: 19 % of 49 = 9.31", 49, 1900, 9},
		{"just above half rounds up: 21 % of 0.50 = 10.5", 50, 2100, 11},
		{"one minor unit at 49.99 % = 0.4999", 1, 4999, 0},
		{"one minor unit at 50 % = 0.5", 1, 5000, 1},
		{"100 %", 987654321, 10000, 987654321},
		{"JPY 10 % of 1,234 yen = 123.4", 1234, 1000, 123},
		{"JPY 10 % of 1,235 yen = 123.5", 1235, 1000, 124},
		{"JPY 8 % of 99 yen = 7.92", 99, 800, 8},
		{"largest net at 100 % does not overflow", math.MaxInt64, 10000, math.MaxInt64},
		{"largest net at 23 %", math.MaxInt64, 2300, halfUp(math.MaxInt64, 2300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := billing.VAT(tc.net, tc.rate); got != tc.want {
				t.Errorf("VAT(%d, %d) = %d, want %d", tc.net, tc.rate, got, tc.want)
			}
		})
	}
}

// halfUp is the reference: net × rate / 10000 rounded half-up, in arbitrary precision.
func halfUp(net int64, rate int32) int64 {
	p := new(big.Int).Mul(big.NewInt(net), big.NewInt(int64(rate)))
	p.Add(p, big.NewInt(5000))
	return p.Quo(p, big.NewInt(10000)).Int64()
}

func TestPriceComputesLinesAndTotals(t *testing.T) {
	t.Parallel()
	got, err := billing.Price([]billing.NewLine{
		{SKU: "A", Quantity: 3, UnitPriceMinor: 333, VATRateBP: 2100},  // 999 net, 209.79 → 210
		{SKU: "B", Quantity: 1, UnitPriceMinor: 50, VATRateBP: 1900},   // 50 net, 9.5 → 10
		{SKU: "C", Quantity: 7, UnitPriceMinor: 0, VATRateBP: 2100},    // free line
		{SKU: "D", Quantity: 2, UnitPriceMinor: 1001, VATRateBP: 0},    // zero-rated
		{SKU: "E", Quantity: 1, UnitPriceMinor: 1, VATRateBP: 10000},   // 100 %
		{SKU: "F", Quantity: 1, UnitPriceMinor: 49, VATRateBP: 1900},   // 9.31 → 9
		{SKU: "G", Quantity: 4, UnitPriceMinor: 12, VATRateBP: 550},    // 48 × 5.5 % = 2.64 → 3
		{SKU: "H", Quantity: 1, UnitPriceMinor: 100, VATRateBP: 2300},  // 23
		{SKU: "I", Quantity: 2, UnitPriceMinor: 2500, VATRateBP: 1300}, // 650
	})
	if err != nil {
		t.Fatal(err)
	}
	wantVAT := []int64{210, 10, 0, 0, 1, 9, 3, 23, 650}
	wantNet := []int64{999, 50, 0, 2002, 1, 49, 48, 100, 5000}
	var gotVAT, gotNet []int64
	for _, l := range got.Lines {
		gotVAT = append(gotVAT, l.VATMinor)
		gotNet = append(gotNet, l.NetMinor)
	}
	if diff := cmp.Diff(wantNet, gotNet); diff != "" {
		t.Errorf("line nets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantVAT, gotVAT); diff != "" {
		t.Errorf("line VAT (-want +got):\n%s", diff)
	}
	want := [3]int64{8249, 906, 9155}
	if diff := cmp.Diff(want, [3]int64{got.NetMinor, got.VATMinor, got.GrossMinor}); diff != "" {
		t.Errorf("net, vat, gross (-want +got):\n%s", diff)
	}
}

// TestPriceRoundsPerLineNotPerOrder shows why the rule matters: three lines of 0.5 VAT each
// round to 1 each (3), where rounding the order's VAT (1.5) once would give 2.
func TestPriceRoundsPerLineNotPerOrder(t *testing.T) {
	t.Parallel()
	line := billing.NewLine{SKU: "X", Quantity: 1, UnitPriceMinor: 5, VATRateBP: 1000}
	got, err := billing.Price([]billing.NewLine{line, line, line})
	if err != nil {
		t.Fatal(err)
	}
	if got.VATMinor != 3 || got.NetMinor != 15 || got.GrossMinor != 18 {
		t.Errorf("net %d vat %d gross %d, want 15 3 18", got.NetMinor, got.VATMinor, got.GrossMinor)
	}
}

func TestPriceJPYHasNoFractions(t *testing.T) {
	t.Parallel()
	// JPY's exponent is 0: minor units are whole yen, and VAT (consumption tax) rounds to yen.
	got, err := billing.Price([]billing.NewLine{{SKU: "LUM-JP", Quantity: 3, UnitPriceMinor: 1980, VATRateBP: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if got.NetMinor != 5940 || got.VATMinor != 594 || got.GrossMinor != 6534 {
		t.Errorf("net %d vat %d gross %d, want 5940 594 6534", got.NetMinor, got.VATMinor, got.GrossMinor)
	}
}

func TestPriceRefusesOverflow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lines []billing.NewLine
		field string
	}{
		{"line net overflows", []billing.NewLine{{SKU: "A", Quantity: math.MaxInt64/2 + 1, UnitPriceMinor: 2}}, "order.lines[0].unit_price_minor"},
		{"line net overflows by far", []billing.NewLine{{SKU: "A", Quantity: math.MaxInt64, UnitPriceMinor: math.MaxInt64}}, "order.lines[0].unit_price_minor"},
		{"second line overflows", []billing.NewLine{{SKU: "A", Quantity: 1, UnitPriceMinor: 1}, {SKU: "B", Quantity: 1 << 32, UnitPriceMinor: 1 << 31}}, "order.lines[1].unit_price_minor"},
		{"net sum overflows", []billing.NewLine{{SKU: "A", Quantity: 1, UnitPriceMinor: math.MaxInt64}, {SKU: "B", Quantity: 1, UnitPriceMinor: 1}}, "order.lines"},
		{"net plus VAT overflows", []billing.NewLine{{SKU: "A", Quantity: 1, UnitPriceMinor: math.MaxInt64 - 10, VATRateBP: 2100}}, "order.lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := billing.Price(tc.lines)
			if f, ok := apperr.Field(err); !ok || f != tc.field {
				t.Errorf("Price: %v; want an InvalidError naming %s", err, tc.field)
			}
		})
	}
	// The largest order that fits is accepted.
	if p, err := billing.Price([]billing.NewLine{{SKU: "A", Quantity: 1, UnitPriceMinor: math.MaxInt64}}); err != nil || p.GrossMinor != math.MaxInt64 {
		t.Errorf("largest amount: %+v, %v", p, err)
	}
}

// FuzzTotals checks the money rules as properties: every line's VAT is its net's half-up VAT
// (computed independently in arbitrary precision), the order's VAT is the sum of the lines',
// gross is net plus VAT, and an overflow is an *apperr.InvalidError, never a panic or a wrap.
func FuzzTotals(f *testing.F) {
	f.Add(int64(3), int64(333), int32(2100), int64(1), int64(50), int32(1900))
	f.Add(int64(1), int64(math.MaxInt64), int32(10000), int64(1), int64(1), int32(0))
	f.Add(int64(1234), int64(1980), int32(1000), int64(7), int64(0), int32(550))
	f.Fuzz(func(t *testing.T, q1, p1 int64, r1 int32, q2, p2 int64, r2 int32) {
		lines := []billing.NewLine{
			{SKU: "A", Quantity: clampPos(q1), UnitPriceMinor: clampNonNeg(p1), VATRateBP: clampRate(r1)},
			{SKU: "B", Quantity: clampPos(q2), UnitPriceMinor: clampNonNeg(p2), VATRateBP: clampRate(r2)},
		}
		got, err := billing.Price(lines)
		if err != nil {
			var inv *apperr.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Price error %T %v, want *apperr.InvalidError", err, err)
			}
			// An error is only allowed when the exact amounts do not fit in int64.
			if fits(lines) {
				t.Fatalf("Price(%+v) refused amounts that fit: %v", lines, err)
			}
			return
		}
		var net, vat int64
		for i, l := range got.Lines {
			wantNet := new(big.Int).Mul(big.NewInt(l.Quantity), big.NewInt(l.UnitPriceMinor))
			if !wantNet.IsInt64() || wantNet.Int64() != l.NetMinor {
				t.Fatalf("line %d net %d, want %s", i, l.NetMinor, wantNet)
			}
			if want := halfUp(l.NetMinor, l.VATRateBP); l.VATMinor != want {
				t.Fatalf("line %d vat %d, want %d", i, l.VATMinor, want)
			}
			net += l.NetMinor
			vat += l.VATMinor
		}
		if got.NetMinor != net || got.VATMinor != vat || got.GrossMinor != net+vat {
			t.Fatalf("totals %d/%d/%d, want %d/%d/%d", got.NetMinor, got.VATMinor, got.GrossMinor, net, vat, net+vat)
		}
	})
}

// fits reports whether every amount of lines fits in int64, computed in arbitrary precision.
func fits(lines []billing.NewLine) bool {
	gross := new(big.Int)
	for _, l := range lines {
		net := new(big.Int).Mul(big.NewInt(l.Quantity), big.NewInt(l.UnitPriceMinor))
		if !net.IsInt64() {
			return false
		}
		gross.Add(gross, net)
		gross.Add(gross, big.NewInt(halfUp(net.Int64(), l.VATRateBP)))
	}
	return gross.IsInt64()
}

func clampPos(v int64) int64 {
	if v <= 0 {
		if v == math.MinInt64 {
			return 1
		}
		v = -v
	}
	if v == 0 {
		return 1
	}
	return v
}

func clampNonNeg(v int64) int64 {
	if v < 0 {
		if v == math.MinInt64 {
			return 0
		}
		return -v
	}
	return v
}

func clampRate(r int32) int32 {
	if r < 0 {
		r = -(r + 1)
	}
	return r % 10001
}
