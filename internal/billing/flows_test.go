package billing_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/dataflow"
)

func TestOrderPushes(t *testing.T) {
	t.Parallel()
	policy := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	order := func(ch billing.Channel, c billing.CustomerFacts) billing.Order {
		o := billing.Order{
			ID: "0190a1b2-0000-7000-8000-000000000001", CustomerID: "0190a1b2-0000-7000-8000-000000000002",
			Channel: ch, Currency: "USD", Status: billing.InitialStatus(ch), Country: c.AddressCountry,
			Lines:    []billing.Line{{SKU: "LUM-TEACHER-1Y", Description: "Teacher licence", Quantity: 2, UnitPriceMinor: 1250, NetMinor: 2500}},
			NetMinor: 2500, GrossMinor: 2500,
			ShipTo:     billing.Address{Lines: []string{"1 Main St"}, City: "Springfield", Country: "US"},
			CreateTime: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC),
		}
		if ch == billing.ChannelReseller {
			o.ResellerID = "edu-partners"
		} else {
			o.StripeEntity = dataflow.StripeUS
		}
		o.AllowedSubprocessors = policy.Decide(billing.Facts(o, c)).Allowed
		return o
	}
	tests := []struct {
		name string
		o    billing.Order
		// want groups the processors by identical payload, in push order.
		want [][]string
	}{
		{
			name: "storefront order with consent, customer with a reseller",
			o:    order(billing.ChannelStorefront, billing.CustomerFacts{AddressCountry: "US", ResidencyCountry: "US", MarketingConsent: true, ResellerID: "edu-partners"}),
			// The reseller is on the list but did not sell this order; Stripe and aws_us are
			// never pushed to.
			want: [][]string{{"salesforce", "microsoft"}, {"bigcommerce"}, {"hubspot", "gainsight"}, {"mixpanel"}},
		},
		{
			name: "reseller order without consent",
			o:    order(billing.ChannelReseller, billing.CustomerFacts{AddressCountry: "NL", ResidencyCountry: "NL", ResellerID: "edu-partners"}),
			want: [][]string{{"salesforce", "microsoft"}, {"reseller"}, {"mixpanel"}},
		},
		{
			name: "nothing allowed, nothing pushed",
			o: func() billing.Order {
				o := order(billing.ChannelReseller, billing.CustomerFacts{AddressCountry: "NL"})
				o.AllowedSubprocessors = nil
				return o
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pushes, err := billing.OrderPushes(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, p := range pushes {
				got = append(got, p.Processors)
				var doc map[string]any
				if err := json.Unmarshal(p.Payload, &doc); err != nil {
					t.Fatal(err)
				}
				delivers := p.Processors[0] == dataflow.Reseller || p.Processors[0] == dataflow.BigCommerce
				if _, ok := doc["ship_to"]; ok != delivers {
					t.Errorf("payload to %v has ship_to %v, want %v", p.Processors, ok, delivers)
				}
				if strings.Contains(string(p.Payload), "Springfield") != delivers {
					t.Errorf("payload to %v: address leaks or is missing: %s", p.Processors, p.Payload)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("processors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOrderPushesMonitoringSurvivesPseudonymisation(t *testing.T) {
	t.Parallel()
	o := billing.Order{
		ID: "order-1", CustomerID: "customer-1", Channel: billing.ChannelStorefront, Currency: "USD",
		Status: billing.StatusPendingPayment, Country: "US", StripeEntity: dataflow.StripeUS,
		Lines: []billing.Line{{SKU: "A", Description: "free text", Quantity: 1}}, GrossMinor: 100,
		AllowedSubprocessors: []string{dataflow.Mixpanel},
		CreateTime:           time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC),
	}
	pushes, err := billing.OrderPushes(o)
	if err != nil || len(pushes) != 1 {
		t.Fatalf("OrderPushes = %v, %v; want one push", pushes, err)
	}
	out, err := dataflow.Pseudonymise(pushes[0].Payload, func(s string) string { return "h(" + s + ")" })
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	// Every field the monitoring payload carries passes the allow-list: none is silently lost.
	want := map[string]any{
		"id": "h(order-1)", "customer_id": "h(customer-1)", "kind": "order", "channel": "storefront",
		"status": "pending_payment", "currency": "USD", "country": "US", "stripe_entity": "stripe_us",
		"line_count": 1.0, "net_minor": 0.0, "vat_minor": 0.0, "gross_minor": 100.0,
		"create_time": "2026-02-01T09:00:00Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pseudonymised order (-want +got):\n%s", diff)
	}
}
