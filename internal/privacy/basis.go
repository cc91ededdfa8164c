package privacy

import (
	"fmt"
	"strings"
)

// The bases below say which law keeps a record and what exactly it keeps. The date itself is
// the order's retain_until, computed by billing's retention policy when the order was made (7
// years after the end of its calendar year, longer per country by configuration): the basis
// explains that date, it does not compute a second one.

// countryLaw names the record-keeping law of the country whose rules govern an order (the
// customer's address country when the order was made). Where we have not verified a national
// rule the text says so instead of guessing a statute.
func countryLaw(country string) string {
	switch strings.ToUpper(country) {
	case "NL":
		return "Netherlands: Algemene wet inzake rijksbelastingen art. 52 and Burgerlijk Wetboek 2:10 " +
			"(basic records of the administration kept 7 years)"
	case "DE":
		return "Germany: Handelsgesetzbuch §257 and Abgabenordnung §147 (books, annual accounts and " +
			"accounting vouchers up to 10 years; commercial letters 6 years)"
	case "BE":
		return "Belgium: Code of Economic Law art. III.88 and the VAT Code art. 60 (7 to 10 years)"
	case "FR":
		return "France: Code de commerce art. L123-22 (accounting records and vouchers 10 years)"
	case "GB":
		return "United Kingdom: Companies Act 2006 s.388 and VAT record-keeping rules (6 years)"
	case "US":
		return "United States: 26 U.S.C. §6001 and IRS record-keeping rules, and state law"
	case "CA":
		return "Canada: Income Tax Act s.230 and Excise Tax Act s.286 (6 years after the tax year)"
	case "":
		return "the commercial and tax record-keeping law of the buyer's country"
	}
	if InEU(country) {
		return fmt.Sprintf("%s: Council Directive 2006/112/EC (VAT) arts. 244-249 with the national "+
			"storage period, and national commercial law", strings.ToUpper(country))
	}
	return fmt.Sprintf("%s: its commercial and tax record-keeping law", strings.ToUpper(country))
}

// Basis returns the legal basis on which a held record of kind is kept, for the record's
// country. It names what is kept and why, never a value.
func Basis(kind, country string) string {
	law := countryLaw(country)
	switch kind {
	case KindOrder:
		return "Commercial and tax record (invoice data: lines, amounts, VAT, date, the buyer's organisation " +
			"and delivery address), GDPR art. 6(1)(c) and 17(3)(b); " + law +
			". The address stays under the retained key and is destroyed at retain_until; amounts stay for reporting."
	case KindPayment:
		return "Accounting voucher of the order's payment (Stripe object ids, amount, currency, status; no card " +
			"data is held), GDPR art. 6(1)(c) and 17(3)(b); " + law + "; kept as long as its order."
	case KindRefund:
		return "Accounting voucher of a refund (Stripe refund id, amount, currency, status), GDPR art. 6(1)(c) " +
			"and 17(3)(b); " + law + "; kept as long as its order."
	case KindCustomer:
		return "The buyer's particulars that its invoices must state (organisation name, invoicing address, " +
			"VAT country and residency), GDPR art. 6(1)(c) and 17(3)(b); " + law +
			". Contact persons are erased now; these are purged at the last order's retain_until."
	}
	return "GDPR art. 17(3)(b): a legal obligation to retain; " + law
}

// eu is the EU 27: the VAT Directive applies.
var eu = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true,
	"FI": true, "FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true,
	"LT": true, "LU": true, "MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true,
	"SI": true, "ES": true, "SE": true,
}

// InEU reports whether country (ISO 3166-1 alpha-2) is in the European Union.
func InEU(country string) bool { return eu[strings.ToUpper(country)] }
