package billing

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/lumio/contactcentre/internal/apperr"
)

// Money and VAT. Amounts are int64 counts of the currency's minor unit (cents for EUR, yen for
// JPY, fils for KWD: country.CurrencyExponent says how many decimals a unit has); the server
// alone computes them, with integer arithmetic only:
//
//	line net   = quantity × unit_price_minor                 (an int64 overflow is invalid input)
//	line VAT   = net × vat_rate_bp / 10000, rounded half-up  (per line, to the minor unit)
//	order net  = Σ line net;  order VAT = Σ line VAT;  gross = net + VAT
//
// Rounding per line (not on the order total) matches how invoices print VAT per line, so the
// lines always add up to the totals. Half-up on non-negative amounts means an exact half minor
// unit rounds away from zero. The product net × rate is computed in 128 bits, so no net that
// fits in int64 can overflow the VAT computation.

// bpDenominator is 100 % in basis points.
const bpDenominator = 10000

// VAT returns net × rateBP / 10000 rounded half-up to the minor unit. net must be >= 0 and
// rateBP in 0..10000 (ValidateNewOrder guarantees both); the result is then <= net.
func VAT(net int64, rateBP int32) int64 {
	if net <= 0 || rateBP <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(net), uint64(rateBP))
	var carry uint64
	lo, carry = bits.Add64(lo, bpDenominator/2, 0)
	hi += carry
	// hi < bpDenominator holds because net < 2^63 and rateBP <= 10000, so Div64 cannot panic.
	q, _ := bits.Div64(hi, lo, bpDenominator)
	return int64(q)
}

// Priced is the server's computation of an order's amounts.
type Priced struct {
	Lines      []Line
	NetMinor   int64
	VATMinor   int64
	GrossMinor int64
}

// Price computes every line's amounts and the order's totals from validated lines. An amount
// that does not fit in int64 is an *apperr.InvalidError naming the line or the order.
func Price(lines []NewLine) (Priced, error) {
	p := Priced{Lines: make([]Line, 0, len(lines))}
	for i, l := range lines {
		net, ok := mulNonNeg(l.Quantity, l.UnitPriceMinor)
		if !ok {
			return Priced{}, apperr.Invalid(fmt.Sprintf("order.lines[%d].unit_price_minor", i),
				"quantity × unit_price_minor exceeds the largest amount")
		}
		vat := VAT(net, l.VATRateBP)
		if p.NetMinor > math.MaxInt64-net || p.VATMinor > math.MaxInt64-vat {
			return Priced{}, apperr.Invalid("order.lines", "the order total exceeds the largest amount")
		}
		p.NetMinor += net
		p.VATMinor += vat
		p.Lines = append(p.Lines, Line{
			SKU:            l.SKU,
			Description:    l.Description,
			Quantity:       l.Quantity,
			UnitPriceMinor: l.UnitPriceMinor,
			VATRateBP:      l.VATRateBP,
			NetMinor:       net,
			VATMinor:       vat,
		})
	}
	if p.NetMinor > math.MaxInt64-p.VATMinor {
		return Priced{}, apperr.Invalid("order.lines", "the order total exceeds the largest amount")
	}
	p.GrossMinor = p.NetMinor + p.VATMinor
	return p, nil
}

// mulNonNeg multiplies two non-negative int64 values and reports whether the product fits.
func mulNonNeg(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}
