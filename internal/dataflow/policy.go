package dataflow

import (
	"slices"
	"strings"
)

// Kind is the kind of record a flow list belongs to.
type Kind string

// Record kinds of DOMAIN.md's flow table.
const (
	KindTicket    Kind = "ticket"
	KindRecording Kind = "recording"
	KindCustomer  Kind = "customer"
	KindOrder     Kind = "order"
	KindPayment   Kind = "payment"
)

// Ticket channels, order channels and Stripe entities as the policy names them.
const (
	ChannelPhone       = "phone"
	ChannelEmail       = "email"
	ChannelChat        = "chat"
	ChannelFieldForm   = "field_form"
	ChannelErrorReport = "error_report"

	OrderChannelReseller   = "reseller"
	OrderChannelStorefront = "storefront"
)

// Facts are what the policy decides from. Each kind reads only the facts that matter to it.
// The JSON names are those of the flow ledger (flow_records.facts), which ExplainFlow reads back.
type Facts struct {
	Kind Kind `json:"kind"`
	// Ticket and recording facts.
	TicketChannel   string `json:"ticket_channel,omitempty"`
	RecordingOptOut bool   `json:"recording_opt_out,omitempty"`
	// Customer facts (also for the customer's orders).
	ResidencyCountry string `json:"residency_country,omitempty"`
	MarketingConsent bool   `json:"marketing_consent,omitempty"`
	HasReseller      bool   `json:"has_reseller,omitempty"`
	// Order and payment facts. StripeEntity is StripeUS or StripeIE for storefront orders.
	OrderChannel string `json:"order_channel,omitempty"`
	StripeEntity string `json:"stripe_entity,omitempty"`
}

// Decision is the policy's answer for one record.
type Decision struct {
	// Allowed is sorted.
	Allowed []string
	// Reasons explains, for every registry processor, why it is allowed or refused.
	Reasons map[string]string
}

// Allows reports whether the record may flow to processor id.
func (d Decision) Allows(id string) bool {
	_, ok := slices.BinarySearch(d.Allowed, id)
	return ok
}

// DefaultNorthAmerica is the storefront and Gainsight country set (DOMAIN.md rule 5).
var DefaultNorthAmerica = []string{"US", "CA"}

// Policy computes flow lists. It holds the configurable North-America set.
type Policy struct {
	northAmerica map[string]bool
}

// NewPolicy returns a policy with the given North-America country set (ISO alpha-2).
func NewPolicy(northAmerica []string) Policy {
	na := map[string]bool{}
	for _, c := range northAmerica {
		na[strings.ToUpper(strings.TrimSpace(c))] = true
	}
	return Policy{northAmerica: na}
}

// InNorthAmerica reports whether country is in the storefront set.
func (p Policy) InNorthAmerica(country string) bool { return p.northAmerica[country] }

// Decide computes the flow list of a record from its facts. It is the only place where flow
// lists are made; it never allows a processor outside the registry.
func (p Policy) Decide(f Facts) Decision {
	d := Decision{Reasons: map[string]string{}}
	allow := func(id, why string) {
		d.Allowed = append(d.Allowed, id)
		d.Reasons[id] = "allowed: " + why
	}
	switch f.Kind {
	case KindTicket:
		allow(AWSUS, "hosts the support desk")
		allow(BlueOcean, "works support tickets")
		allow(Microsoft, "back office (email, ERP) for every ticket")
		switch {
		case f.TicketChannel == ChannelEmail:
			allow(CallMiner, "email interactions are always analysed")
		case f.TicketChannel == ChannelPhone && !f.RecordingOptOut:
			allow(CallMiner, "phone call without recording opt-out")
		case f.TicketChannel == ChannelPhone:
			d.Reasons[CallMiner] = "refused: the caller declined recording"
		}
		if f.TicketChannel == ChannelPhone {
			allow(Twilio, "carries the phone call")
		}
		if f.TicketChannel == ChannelFieldForm {
			allow(Google, "on-site field support form")
		}
		if f.TicketChannel == ChannelErrorReport {
			allow(Salesforce, "optional user error reports are stored in Salesforce")
		}
	case KindRecording:
		if f.RecordingOptOut {
			// A recording of an opted-out call must not exist; nothing may receive it.
			break
		}
		allow(AWSUS, "hosts support call recordings")
		allow(BlueOcean, "support agents review calls")
		allow(CallMiner, "analyses recorded calls")
		allow(Twilio, "recorded the call (deleted there once copied)")
	case KindCustomer, KindOrder, KindPayment:
		p.decideBuyer(f, allow)
	}
	for _, s := range registry {
		if _, ok := d.Reasons[s.ID]; !ok {
			d.Reasons[s.ID] = "refused: " + refusal(f, s.ID)
		}
	}
	slices.Sort(d.Allowed)
	return d
}

func (p Policy) decideBuyer(f Facts, allow func(id, why string)) {
	storefront := f.OrderChannel == OrderChannelStorefront
	allow(AWSUS, "hosts customer and order data")
	allow(Microsoft, "ERP and accounting")
	if f.Kind == KindPayment {
		if storefront {
			allow(BigCommerce, "storefront purchase")
		}
		if s := stripeEntity(f); s != "" {
			allow(s, "card payment by residency "+f.ResidencyCountry)
		}
		return
	}
	allow(Salesforce, "CRM and order data")
	allow(Mixpanel, "service monitoring, pseudonymised form only")
	if f.HasReseller || (f.Kind == KindOrder && f.OrderChannel == OrderChannelReseller) {
		allow(Reseller, "sold through a reseller")
	}
	if f.MarketingConsent {
		allow(HubSpot, "marketing consent given")
		if p.InNorthAmerica(f.ResidencyCountry) {
			allow(Gainsight, "marketing consent and North American customer")
		}
	}
	if f.Kind == KindOrder && storefront {
		allow(BigCommerce, "storefront purchase")
		if s := stripeEntity(f); s != "" {
			allow(s, "storefront card purchase by residency "+f.ResidencyCountry)
		}
	}
}

// stripeEntity returns the record's one Stripe entity, or "" when it has none or an unknown one.
func stripeEntity(f Facts) string {
	if f.OrderChannel != OrderChannelStorefront {
		return ""
	}
	if f.StripeEntity == StripeUS || f.StripeEntity == StripeIE {
		return f.StripeEntity
	}
	return ""
}

func refusal(f Facts, id string) string {
	switch id {
	case Google:
		return "only for on-site field support forms"
	case BigCommerce:
		return "only for storefront purchases"
	case StripeUS, StripeIE:
		if f.Kind == KindOrder || f.Kind == KindPayment {
			if f.OrderChannel == OrderChannelStorefront {
				return "payments of this residency go to the other Stripe entity"
			}
		}
		return "only for storefront card purchases, one entity by residency"
	case Gainsight:
		return "only for North American customers with marketing consent"
	case HubSpot:
		return "only with marketing consent"
	case CallMiner:
		return "only for email and recorded phone interactions"
	case Twilio:
		return "only for phone calls"
	case Sentry:
		return "receives nothing from this backend"
	case Reseller:
		return "no reseller for this record"
	case Salesforce:
		return "tickets go to Salesforce only as error reports"
	case Mixpanel:
		return "not a monitored record"
	}
	return "not a processor of " + string(f.Kind) + " records"
}
