// Package country holds the reference tables that rules about places and money need: the
// assigned ISO 3166-1 alpha-2 codes, the versioned classification of countries to a Stripe
// entity (DOMAIN.md rule 4), and the active ISO 4217 currencies with their minor-unit exponents.
// The tables are data compiled into the binary, so a decision never depends on a network call,
// and every change to them is a reviewed diff that bumps a version constant.
package country

import (
	"errors"
	"fmt"
	"sort"
)

// TableVersion names the revision of the country list and of the Stripe classification. It is
// bumped whenever either changes, so that a decision recorded with an order can be traced back
// to the table that made it.
const TableVersion = "2025.1"

// Stripe entities, spelled as the dataflow registry spells the processors.
const (
	StripeUS = "stripe_us"
	StripeIE = "stripe_ie"
)

// ErrUnassigned means a code is not an officially assigned ISO 3166-1 alpha-2 code.
var ErrUnassigned = errors.New("not an assigned ISO 3166-1 alpha-2 code")

// names indexes assigned by code.
var names = func() map[string]string {
	m := make(map[string]string, len(assigned))
	for _, c := range assigned {
		m[c.code] = c.name
	}
	return m
}()

// IsAssigned reports whether code is an officially assigned ISO 3166-1 alpha-2 code, in upper
// case. It does no normalisation: "us" and " US" are not codes.
func IsAssigned(code string) bool {
	_, ok := names[code]
	return ok
}

// Name returns the short English name of an assigned code, or "" for any other string.
func Name(code string) string { return names[code] }

// Codes returns every assigned code, sorted.
func Codes() []string {
	out := make([]string, 0, len(assigned))
	for _, c := range assigned {
		out = append(out, c.code)
	}
	sort.Strings(out)
	return out
}

// StripeEntityFor returns the Stripe entity that takes card payments of residents of code:
// StripeIE for the EEA, the United Kingdom and Switzerland (with the territory decisions in
// stripeIE), StripeUS for every other assigned code. A code that is not assigned is an error
// wrapping ErrUnassigned: there is deliberately no fallback, because silently sending a
// European resident's payment to the US entity would be a transfer without a basis.
func StripeEntityFor(code string) (string, error) {
	if !IsAssigned(code) {
		return "", fmt.Errorf("stripe entity for %q: %w", code, ErrUnassigned)
	}
	if _, ok := stripeIE[code]; ok {
		return StripeIE, nil
	}
	return StripeUS, nil
}

// StripeBasis returns why code goes to its Stripe entity, for disclosure and audit. It is ""
// for an unassigned code.
func StripeBasis(code string) string {
	if !IsAssigned(code) {
		return ""
	}
	if why, ok := stripeIE[code]; ok {
		return why
	}
	if why, ok := stripeUSTerritories[code]; ok {
		return why
	}
	return "outside the EEA, the United Kingdom and Switzerland"
}
