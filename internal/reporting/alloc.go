package reporting

import "math/big"

// AllocateRefund splits an order's refund over its lines in line order, in proportion to the
// lines' gross amounts, by the cumulative rule of the package doc: share_i = ⌊R·C_i/G⌋ -
// ⌊R·C_{i-1}/G⌋. The shares are never negative and add up to refund exactly, whatever the
// rounding, because the sum telescopes to ⌊R·G/G⌋ = R. When every line is free (G = 0) the
// whole refund goes to the first line, so that no refunded money disappears from a report.
// The store computes the same rule in SQL; this is the reference that tests hold it to.
func AllocateRefund(refund int64, grosses []int64) []int64 {
	shares := make([]int64, len(grosses))
	if len(grosses) == 0 || refund == 0 {
		return shares
	}
	total := new(big.Int)
	for _, g := range grosses {
		total.Add(total, big.NewInt(g))
	}
	if total.Sign() == 0 {
		shares[0] = refund
		return shares
	}
	r := big.NewInt(refund)
	cum := new(big.Int)
	prev := new(big.Int)
	for i, g := range grosses {
		cum.Add(cum, big.NewInt(g))
		// Operands are non-negative, so Quo (truncation) is the floor.
		cur := new(big.Int).Quo(new(big.Int).Mul(r, cum), total)
		shares[i] = new(big.Int).Sub(cur, prev).Int64()
		prev = cur
	}
	return shares
}

// RefundVAT is the VAT part of a line's refund share: share·vat/gross rounded half-up, 0 for
// a free line. It is at most share because vat <= gross.
func RefundVAT(share, vat, gross int64) int64 {
	if gross <= 0 || share <= 0 || vat <= 0 {
		return 0
	}
	num := new(big.Int).Mul(big.NewInt(share), big.NewInt(vat))
	num.Mul(num, big.NewInt(2))
	num.Add(num, big.NewInt(gross))
	den := big.NewInt(2 * gross)
	return num.Quo(num, den).Int64()
}
