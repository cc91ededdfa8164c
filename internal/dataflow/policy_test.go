package dataflow_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// TestFlowTable checks every row and condition of DOMAIN.md's flow table.
func TestFlowTable(t *testing.T) {
	t.Parallel()
	p := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	tests := []struct {
		name  string
		facts dataflow.Facts
		want  []string
	}{
		{"ticket chat", dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: "chat"},
			[]string{"aws_us", "blue_ocean", "microsoft"}},
		{"ticket email", dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: "email"},
			[]string{"aws_us", "blue_ocean", "callminer", "microsoft"}},
		{"ticket email ignores opt-out", dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: "email", RecordingOptOut: true},
			[]string{"aws_us", "blue_ocean", "callminer", "microsoft"}},
		{"ticket phone", dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: "phone"},
			[]string{"aws_us", "blue_ocean", "callminer", "microsoft", "twilio"}},
		{"ticket phone opted out", dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: "phone", RecordingOptOut: true},
			[]string{"aws_us", "blue_ocean", "microsoft", "twilio"}},
		{"ticket field form", dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: "field_form"},
			[]string{"aws_us", "blue_ocean", "google", "microsoft"}},
		{"ticket error report", dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: "error_report"},
			[]string{"aws_us", "blue_ocean", "microsoft", "salesforce"}},
		{"recording", dataflow.Facts{Kind: dataflow.KindRecording},
			[]string{"aws_us", "blue_ocean", "callminer", "twilio"}},
		{"recording opted out", dataflow.Facts{Kind: dataflow.KindRecording, RecordingOptOut: true}, nil},
		{"customer plain", dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "NL"},
			[]string{"aws_us", "microsoft", "mixpanel", "salesforce"}},
		{"customer reseller, consent, EU", dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "NL", HasReseller: true, MarketingConsent: true},
			[]string{"aws_us", "hubspot", "microsoft", "mixpanel", "reseller", "salesforce"}},
		{"customer consent, NA", dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "CA", MarketingConsent: true},
			[]string{"aws_us", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce"}},
		{"customer NA without consent", dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "US"},
			[]string{"aws_us", "microsoft", "mixpanel", "salesforce"}},
		{"order reseller", dataflow.Facts{Kind: dataflow.KindOrder, ResidencyCountry: "DE", OrderChannel: "reseller"},
			[]string{"aws_us", "microsoft", "mixpanel", "reseller", "salesforce"}},
		{"order storefront US", dataflow.Facts{Kind: dataflow.KindOrder, ResidencyCountry: "US", OrderChannel: "storefront", StripeEntity: "stripe_us", MarketingConsent: true},
			[]string{"aws_us", "bigcommerce", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce", "stripe_us"}},
		{"payment storefront IE", dataflow.Facts{Kind: dataflow.KindPayment, ResidencyCountry: "IE", OrderChannel: "storefront", StripeEntity: "stripe_ie"},
			[]string{"aws_us", "bigcommerce", "microsoft", "stripe_ie"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := p.Decide(tt.facts)
			if diff := cmp.Diff(tt.want, d.Allowed); diff != "" {
				t.Errorf("allowed (-want +got):\n%s", diff)
			}
			for _, s := range dataflow.Registry() {
				if d.Reasons[s.ID] == "" {
					t.Errorf("no reason for %s", s.ID)
				}
				if d.Allows(s.ID) != slices.Contains(tt.want, s.ID) {
					t.Errorf("Allows(%s) disagrees with the list", s.ID)
				}
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := dataflow.Registry()
	if len(reg) != 15 {
		t.Fatalf("registry has %d processors, want 15", len(reg))
	}
	for _, s := range reg {
		if s.TransferBasis == "" || s.LegalName == "" {
			t.Errorf("%s lacks a legal name or transfer basis", s.ID)
		}
		if s.Disclosed != (s.ID != dataflow.Twilio) {
			t.Errorf("%s disclosed = %v", s.ID, s.Disclosed)
		}
	}
}
