// Package dataflow is the single source of truth for where data may go: the registry of
// subprocessors and the policy that computes, from a record's facts, the sorted list of
// processors it may flow to, with a reason for every processor allowed or refused.
package dataflow

import "slices"

// Processor ids, as in DOMAIN.md's registry.
const (
	Reseller    = "reseller"
	BlueOcean   = "blue_ocean"
	CallMiner   = "callminer"
	AWSUS       = "aws_us"
	Google      = "google"
	Microsoft   = "microsoft"
	BigCommerce = "bigcommerce"
	StripeUS    = "stripe_us"
	StripeIE    = "stripe_ie"
	Salesforce  = "salesforce"
	HubSpot     = "hubspot"
	Mixpanel    = "mixpanel"
	Gainsight   = "gainsight"
	Twilio      = "twilio"
	Sentry      = "sentry"
)

// DataClass is the form in which a processor receives data.
type DataClass string

const (
	// Identifiable data names or can directly identify people.
	Identifiable DataClass = "identifiable"
	// Pseudonymised data has its identifiers replaced by keyed hashes and no contact fields.
	Pseudonymised DataClass = "pseudonymised"
)

// Transfer bases for data of EU/EEA customers (DOMAIN.md rule 7).
const (
	BasisNone      = "none needed: processing inside the EU/EEA"
	BasisAdequacy  = "EU adequacy decision for Canada (2002/2/EC)"
	BasisSCCDPF    = "EU-US Data Privacy Framework or standard contractual clauses (2021/914)"
	BasisWorldwide = "standard contractual clauses (2021/914) for processing outside the EU/EEA"
)

// Subprocessor is one registry entry.
type Subprocessor struct {
	ID        string
	LegalName string
	Countries []string
	Roles     []string
	Purpose   string
	Data      DataClass
	// Disclosed is false for a processor the published privacy policy does not list.
	Disclosed     bool
	TransferBasis string
	// Categories, Subjects and Retention are the record of processing's entries (GDPR Art. 30):
	// the categories of personal data the processor receives, whose data it is, and how long
	// it may keep it. They come from the processing table below.
	Categories []string
	Subjects   []string
	Retention  string
}

// processing is the record of processing per processor (ccctl ropa), kept beside the registry
// so that the disclosure, the record and the enforcement read one package.
var processing = map[string]struct {
	categories []string
	subjects   []string
	retention  string
}{
	Reseller: {[]string{"organisation name", "buyer contact (name, job title, email, phone)", "address", "order data (products, quantities, prices, VAT, delivery)"},
		[]string{"buyer contacts"}, "for the sale and delivery; order and invoice data for the statutory bookkeeping period"},
	BlueOcean: {[]string{"organisation name", "caller name or job title only", "email or a non-personal alias", "phone", "address", "problem description and what was shared to solve it", "call recordings"},
		[]string{"callers", "buyer contacts"}, "while the ticket is worked; deleted on the customer's erasure request (deletion request through the outbox)"},
	CallMiner: {[]string{"recorded calls (only without the caller's opt-out)", "support emails", "interaction metadata"},
		[]string{"callers"}, "recordings and emails temporarily for analysis; aggregated metadata for trend analysis"},
	AWSUS: {[]string{"all customer, ticket and order data (hosting, encrypted at rest)", "call recordings"},
		[]string{"buyer contacts", "callers", "users filing error reports"}, "as long as the records themselves; crypto-shredded on erasure"},
	Google: {[]string{"field support form contents (contact, site address, problem description)"},
		[]string{"buyer contacts"}, "until the on-site visit is completed"},
	Microsoft: {[]string{"buyer contact", "order and accounting data", "support email"},
		[]string{"buyer contacts", "callers"}, "contact data until erasure; accounting data for the statutory bookkeeping period"},
	BigCommerce: {[]string{"buyer name, job title, email, phone", "address", "products", "whether payment was received"},
		[]string{"buyer contacts"}, "for the purchase; order data for the statutory bookkeeping period"},
	StripeUS: {[]string{"card data (held by Stripe, never by us)", "payment amount and currency", "Stripe object ids"},
		[]string{"card holders"}, "as Stripe's own legal retention for payment data requires"},
	StripeIE: {[]string{"card data (held by Stripe, never by us)", "payment amount and currency", "Stripe object ids"},
		[]string{"card holders"}, "as Stripe's own legal retention for payment data requires"},
	Salesforce: {[]string{"buyer contact (CRM)", "order data", "optional error reports (name, email, details, contact consent)"},
		[]string{"buyer contacts", "users filing error reports"}, "contact data until erasure; order data for the statutory bookkeeping period"},
	HubSpot: {[]string{"contact name", "email", "organisation name"},
		[]string{"buyer contacts with marketing consent"}, "until consent is withdrawn (deletion request through the outbox)"},
	Mixpanel: {[]string{"pseudonymised usage facts only: keyed hashes of ids, record kind, country, channel, status"},
		[]string{"buyer contacts (pseudonymised)"}, "as configured for product analytics; no direct identifiers are ever sent"},
	Gainsight: {[]string{"contact name", "email", "organisation name"},
		[]string{"North American buyer contacts with marketing consent"}, "until consent is withdrawn (deletion request through the outbox)"},
	Twilio: {[]string{"caller phone numbers", "call audio until copied to the recordings host"},
		[]string{"callers"}, "call recordings are deleted at the carrier once copied; call metadata as the carrier's law requires"},
	Sentry: {[]string{"none from this backend (the product sends anonymous error reports with hashed user and session ids)"},
		[]string{"users (hashed ids only)"}, "as configured in the product's error reporting"},
}

// registry restates the published policy (shared/seed, 23 October 2023) plus the carrier it
// does not list. Order is the policy's order. The last three fields are filled from processing.
var registry = []Subprocessor{
	{Reseller, "The reseller or regional office", []string{"worldwide"}, []string{"seller"},
		"Sells the product and delivers orders: buyer contact details and order data.", Identifiable, true, BasisWorldwide, nil, nil, ""},
	{BlueOcean, "Blue Ocean Contact Centers, Inc.", []string{"CA"}, []string{"support"},
		"Live support by phone, email and online; calls are recorded.", Identifiable, true, BasisAdequacy, nil, nil, ""},
	{CallMiner, "CallMiner", []string{"CA"}, []string{"support"},
		"AI analytics of recorded calls and emails; calls only without the caller's recording opt-out.", Identifiable, true, BasisAdequacy, nil, nil, ""},
	{AWSUS, "Amazon Web Services, Inc.", []string{"US"}, []string{"processing", "back office"},
		"Product infrastructure, including hosting of support call recordings.", Identifiable, true, BasisSCCDPF, nil, nil, ""},
	{Google, "Google LLC", []string{"worldwide"}, []string{"processing", "back office"},
		"Google Forms, only for on-site field support forms.", Identifiable, true, BasisSCCDPF, nil, nil, ""},
	{Microsoft, "Microsoft, Inc.", []string{"worldwide"}, []string{"processing", "back office"},
		"ERP, email, Power BI, SharePoint and Office.", Identifiable, true, BasisSCCDPF, nil, nil, ""},
	{BigCommerce, "BigCommerce, Inc.", []string{"US"}, []string{"ordering"},
		"E-commerce store, only for storefront purchases.", Identifiable, true, BasisSCCDPF, nil, nil, ""},
	{StripeUS, "Stripe, Inc.", []string{"US"}, []string{"ordering"},
		"Card payments in the storefront for residents outside the EEA, UK and Switzerland.", Identifiable, true, BasisSCCDPF, nil, nil, ""},
	{StripeIE, "Stripe Payments Europe, Ltd.", []string{"IE"}, []string{"ordering"},
		"Card payments in the storefront for residents of the EEA, UK and Switzerland.", Identifiable, true, BasisNone, nil, nil, ""},
	{Salesforce, "Salesforce.com, Inc.", []string{"US"}, []string{"ordering", "marketing", "channel support"},
		"Order data and CRM, shared in part with authorised resellers; optional user error reports.", Identifiable, true, BasisSCCDPF, nil, nil, ""},
	{HubSpot, "HubSpot, Inc.", []string{"DE"}, []string{"marketing", "customer communication"},
		"Marketing, training, news and offers, with marketing consent.", Identifiable, true, BasisNone, nil, nil, ""},
	{Mixpanel, "Mixpanel, Inc.", []string{"US"}, []string{"monitoring"},
		"Product improvement and service monitoring, pseudonymised only.", Pseudonymised, true, BasisSCCDPF, nil, nil, ""},
	{Gainsight, "Gainsight, Inc.", []string{"US"}, []string{"customer communication"},
		"Email marketing to North American customers with marketing consent.", Identifiable, true, BasisSCCDPF, nil, nil, ""},
	{Twilio, "Twilio Inc.", []string{"US"}, []string{"telephony"},
		"Places and records support calls; recordings are copied to the recordings host and deleted at the carrier. Not listed in the published policy.", Identifiable, false, BasisSCCDPF, nil, nil, ""},
	{Sentry, "Functional Software, Inc. (Sentry)", []string{"US"}, []string{"monitoring"},
		"Anonymous error reports sent by the product itself; this backend sends it nothing.", Pseudonymised, true, BasisSCCDPF, nil, nil, ""},
}

// Registry returns a copy of every subprocessor, in the policy's order.
func Registry() []Subprocessor {
	out := make([]Subprocessor, len(registry))
	for i, s := range registry {
		s.Countries = slices.Clone(s.Countries)
		s.Roles = slices.Clone(s.Roles)
		withProcessing(&s)
		out[i] = s
	}
	return out
}

// Lookup returns the subprocessor with the given id.
func Lookup(id string) (Subprocessor, bool) {
	for _, s := range registry {
		if s.ID == id {
			s.Countries, s.Roles = slices.Clone(s.Countries), slices.Clone(s.Roles)
			withProcessing(&s)
			return s, true
		}
	}
	return Subprocessor{}, false
}

func withProcessing(s *Subprocessor) {
	p := processing[s.ID]
	s.Categories, s.Subjects, s.Retention = slices.Clone(p.categories), slices.Clone(p.subjects), p.retention
}
