package dataflow_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// TestPolicyProperties checks invariants of DOMAIN.md over generated facts.
func TestPolicyProperties(t *testing.T) {
	t.Parallel()
	p := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	r := rand.New(rand.NewPCG(7, 11))
	kinds := []dataflow.Kind{dataflow.KindTicket, dataflow.KindRecording, dataflow.KindCustomer, dataflow.KindOrder, dataflow.KindPayment}
	channels := []string{"", dataflow.ChannelPhone, dataflow.ChannelEmail, dataflow.ChannelChat, dataflow.ChannelFieldForm, dataflow.ChannelErrorReport}
	countries := []string{"", "US", "CA", "NL", "IE", "GB", "CH", "MX"}
	orderChannels := []string{"", dataflow.OrderChannelReseller, dataflow.OrderChannelStorefront}
	entities := []string{"", dataflow.StripeUS, dataflow.StripeIE, "stripe_xx"}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	for range 20_000 {
		f := dataflow.Facts{
			Kind: kinds[r.IntN(len(kinds))], TicketChannel: pick(channels), RecordingOptOut: r.IntN(2) == 0,
			ResidencyCountry: pick(countries), MarketingConsent: r.IntN(2) == 0, HasReseller: r.IntN(2) == 0,
			OrderChannel: pick(orderChannels), StripeEntity: pick(entities),
		}
		d := p.Decide(f)
		has := d.Allows
		fail := func(rule string) { t.Fatalf("%s violated for %+v: %v", rule, f, d.Allowed) }
		if !slices.IsSorted(d.Allowed) {
			fail("sorted list")
		}
		if has(dataflow.StripeUS) && has(dataflow.StripeIE) {
			fail("exactly one Stripe entity")
		}
		if has(dataflow.Google) && (f.Kind != dataflow.KindTicket || f.TicketChannel != dataflow.ChannelFieldForm) {
			fail("google only for field forms")
		}
		if has(dataflow.Gainsight) && (!f.MarketingConsent || !p.InNorthAmerica(f.ResidencyCountry)) {
			fail("gainsight only with consent in North America")
		}
		if has(dataflow.HubSpot) && !f.MarketingConsent {
			fail("hubspot only with consent")
		}
		if (has(dataflow.BigCommerce) || has(dataflow.StripeUS) || has(dataflow.StripeIE)) && f.OrderChannel != dataflow.OrderChannelStorefront {
			fail("bigcommerce and stripe only for storefront purchases")
		}
		if has(dataflow.CallMiner) && f.RecordingOptOut && f.TicketChannel != dataflow.ChannelEmail {
			fail("no callminer after a recording opt-out")
		}
		if has(dataflow.Sentry) {
			fail("sentry receives nothing")
		}
		for _, id := range d.Allowed {
			if _, ok := dataflow.Lookup(id); !ok {
				fail("only registry processors")
			}
		}
	}
}
