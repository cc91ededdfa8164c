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
}

// registry restates the published policy (shared/seed, 23 October 2023) plus the carrier it
// does not list. Order is the policy's order.
var registry = []Subprocessor{
	{Reseller, "The reseller or regional office", []string{"worldwide"}, []string{"seller"},
		"Sells the product and delivers orders: buyer contact details and order data.", Identifiable, true, BasisWorldwide},
	{BlueOcean, "Blue Ocean Contact Centers, Inc.", []string{"CA"}, []string{"support"},
		"Live support by phone, email and online; calls are recorded.", Identifiable, true, BasisAdequacy},
	{CallMiner, "CallMiner", []string{"CA"}, []string{"support"},
		"AI analytics of recorded calls and emails; calls only without the caller's recording opt-out.", Identifiable, true, BasisAdequacy},
	{AWSUS, "Amazon Web Services, Inc.", []string{"US"}, []string{"processing", "back office"},
		"Product infrastructure, including hosting of support call recordings.", Identifiable, true, BasisSCCDPF},
	{Google, "Google LLC", []string{"worldwide"}, []string{"processing", "back office"},
		"Google Forms, only for on-site field support forms.", Identifiable, true, BasisSCCDPF},
	{Microsoft, "Microsoft, Inc.", []string{"worldwide"}, []string{"processing", "back office"},
		"ERP, email, Power BI, SharePoint and Office.", Identifiable, true, BasisSCCDPF},
	{BigCommerce, "BigCommerce, Inc.", []string{"US"}, []string{"ordering"},
		"E-commerce store, only for storefront purchases.", Identifiable, true, BasisSCCDPF},
	{StripeUS, "Stripe, Inc.", []string{"US"}, []string{"ordering"},
		"Card payments in the storefront for residents outside the EEA, UK and Switzerland.", Identifiable, true, BasisSCCDPF},
	{StripeIE, "Stripe Payments Europe, Ltd.", []string{"IE"}, []string{"ordering"},
		"Card payments in the storefront for residents of the EEA, UK and Switzerland.", Identifiable, true, BasisNone},
	{Salesforce, "Salesforce.com, Inc.", []string{"US"}, []string{"ordering", "marketing", "channel support"},
		"Order data and CRM, shared in part with authorised resellers; optional user error reports.", Identifiable, true, BasisSCCDPF},
	{HubSpot, "HubSpot, Inc.", []string{"DE"}, []string{"marketing", "customer communication"},
		"Marketing, training, news and offers, with marketing consent.", Identifiable, true, BasisNone},
	{Mixpanel, "Mixpanel, Inc.", []string{"US"}, []string{"monitoring"},
		"Product improvement and service monitoring, pseudonymised only.", Pseudonymised, true, BasisSCCDPF},
	{Gainsight, "Gainsight, Inc.", []string{"US"}, []string{"customer communication"},
		"Email marketing to North American customers with marketing consent.", Identifiable, true, BasisSCCDPF},
	{Twilio, "Twilio Inc.", []string{"US"}, []string{"telephony"},
		"Places and records support calls; recordings are copied to the recordings host and deleted at the carrier. Not listed in the published policy.", Identifiable, false, BasisSCCDPF},
	{Sentry, "Functional Software, Inc. (Sentry)", []string{"US"}, []string{"monitoring"},
		"Anonymous error reports sent by the product itself; this backend sends it nothing.", Pseudonymised, true, BasisSCCDPF},
}

// Registry returns a copy of every subprocessor, in the policy's order.
func Registry() []Subprocessor {
	out := make([]Subprocessor, len(registry))
	for i, s := range registry {
		s.Countries = slices.Clone(s.Countries)
		s.Roles = slices.Clone(s.Roles)
		out[i] = s
	}
	return out
}

// Lookup returns the subprocessor with the given id.
func Lookup(id string) (Subprocessor, bool) {
	for _, s := range registry {
		if s.ID == id {
			return s, true
		}
	}
	return Subprocessor{}, false
}
