package billingdb_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingdb"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
)

// deliveries returns a record's outbox rows as processor -> ["kind:status", ...].
func (b bundle) deliveries(t *testing.T, recordID string) map[string][]string {
	t.Helper()
	ds, err := dataflowdb.New(b.pool, b.kr).Deliveries(context.Background(), recordID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, d := range ds {
		out[d.Subprocessor] = append(out[d.Subprocessor], string(d.Kind)+":"+string(d.Status))
	}
	return out
}

// ledger returns a record's flow ledger entry.
func (b bundle) ledger(t *testing.T, recordID string) dataflow.Record {
	t.Helper()
	rec, err := dataflowdb.New(b.pool, b.kr).Record(context.Background(), recordID)
	if err != nil {
		t.Fatalf("ledger entry of %s: %v", recordID, err)
	}
	return rec
}

// audit returns a record's flow audit trail as "processor:action", sorted.
func (b bundle) audit(t *testing.T, recordID string) []string {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT subprocessor_id || ':' || action FROM flow_audit
		WHERE record_id = $1 ORDER BY 1`, recordID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// payloads claims every due delivery of the database and returns the opened payloads of
// recordID's record deliveries by processor.
func (b bundle) payloads(t *testing.T, recordID string) map[string]map[string]any {
	t.Helper()
	now := time.Now()
	claims, err := dataflowdb.New(b.pool, b.kr).Claim(context.Background(), 1000, now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, c := range claims {
		if c.Delivery.RecordID != recordID || c.Delivery.Kind != dataflow.DeliveryRecord {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(c.Payload, &doc); err != nil {
			t.Fatalf("payload to %s: %v", c.Delivery.Subprocessor, err)
		}
		out[c.Delivery.Subprocessor] = doc
	}
	return out
}

func pending(processors ...string) map[string][]string {
	out := map[string][]string{}
	for _, p := range processors {
		out[p] = []string{"record:pending"}
	}
	return out
}

func TestCreateTracksAndQueuesTheOrder(t *testing.T) {
	t.Parallel()
	shipTo := billing.Address{Lines: []string{"1 Main St"}, City: "Springfield", PostalCode: "62701", Country: "US"}
	tests := []struct {
		name      string
		customer  customer
		wantList  []string
		wantQueue []string
		wantFacts dataflow.Facts
	}{
		{
			name:     "reseller order",
			customer: customer{addressCountry: "NL", consent: true, reseller: "edu-partners-nl", createBy: "sam"},
			// aws_us hosts us and receives nothing; a reseller order has no Stripe entity.
			wantList:  []string{"aws_us", "hubspot", "microsoft", "mixpanel", "reseller", "salesforce"},
			wantQueue: []string{"hubspot", "microsoft", "mixpanel", "reseller", "salesforce"},
			wantFacts: dataflow.Facts{Kind: dataflow.KindOrder, ResidencyCountry: "NL", MarketingConsent: true, HasReseller: true, OrderChannel: "reseller"},
		},
		{
			name:     "storefront order",
			customer: customer{addressCountry: "US", consent: true, createBy: "shop"},
			// stripe_us receives the order only as the payment API call.
			wantList:  []string{"aws_us", "bigcommerce", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce", "stripe_us"},
			wantQueue: []string{"bigcommerce", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce"},
			wantFacts: dataflow.Facts{Kind: dataflow.KindOrder, ResidencyCountry: "US", MarketingConsent: true, OrderChannel: "storefront", StripeEntity: "stripe_us"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			cust := b.addCustomer(t, tt.customer)
			in, who := resellerOrder(cust), sales
			if tt.customer.createBy == "shop" {
				in, who = storefrontOrder(cust), shop
				in.ShipTo = shipTo
			}
			o, err := b.svc.Create(ctx, who, in, "req-1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantList, o.AllowedSubprocessors); diff != "" {
				t.Errorf("order list (-want +got):\n%s", diff)
			}
			rec := b.ledger(t, o.ID)
			if rec.Kind != dataflow.KindOrder || rec.CustomerID != cust || !cmp.Equal(tt.wantList, rec.Allowed) {
				t.Errorf("ledger entry %s of %s: %v, want the order's list", rec.Kind, rec.CustomerID, rec.Allowed)
			}
			if diff := cmp.Diff(tt.wantFacts, rec.Facts); diff != "" {
				t.Errorf("ledger facts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(pending(tt.wantQueue...), b.deliveries(t, o.ID)); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			// A replay of the request queues nothing more.
			if _, err := b.svc.Create(ctx, who, in, "req-1"); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pending(tt.wantQueue...), b.deliveries(t, o.ID)); diff != "" {
				t.Errorf("deliveries after a replay (-want +got):\n%s", diff)
			}

			docs := b.payloads(t, o.ID)
			if len(docs) != len(tt.wantQueue) {
				t.Fatalf("opened %d payloads, want %d", len(docs), len(tt.wantQueue))
			}
			for p, doc := range docs {
				_, hasShipTo := doc["ship_to"]
				if delivers := p == dataflow.Reseller || p == dataflow.BigCommerce; hasShipTo != delivers {
					t.Errorf("payload to %s has ship_to %v, want %v", p, hasShipTo, delivers)
				}
				if doc["id"] != o.ID {
					t.Errorf("payload to %s is about %v, want order %s", p, doc["id"], o.ID)
				}
				_, hasPrices := doc["gross_minor"]
				if marketing := p == dataflow.HubSpot || p == dataflow.Gainsight; hasPrices == marketing {
					t.Errorf("payload to %s has totals %v", p, hasPrices)
				}
			}
		})
	}
}

// TestConsentWithdrawalRevokesOrderDeliveries wires customersdb's facts hook to RecomputeFlows
// as cmd/ordersvc does: withdrawing consent in the customer's update cancels the order's queued
// marketing deliveries and asks a marketing processor that already holds the order to delete it.
func TestConsentWithdrawalRevokesOrderDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	orderStore := billingdb.New(b.pool, b.kr)
	customerStore := customersdb.New(b.pool, b.kr).OnFactsChange(
		func(ctx context.Context, tx pgx.Tx, _, after customers.Customer) error {
			_, err := orderStore.RecomputeFlows(ctx, tx, after.ID, after.UpdateTime, b.svc.Flows)
			return err
		})
	customerSvc := customers.NewService(customerStore, dataflow.NewPolicy(dataflow.DefaultNorthAmerica), time.Now)
	c, err := customerSvc.Create(ctx, shop, customers.NewCustomer{
		OrgName: "Maple Grove School", Contact: customers.Contact{Title: "Purchasing"},
		Address: customers.Address{City: "Toronto", Country: "CA"}, MarketingConsent: true,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.svc.Create(ctx, shop, storefrontOrder(c.ID), "")
	if err != nil {
		t.Fatal(err)
	}
	before := pending("bigcommerce", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce")
	if diff := cmp.Diff(before, b.deliveries(t, o.ID)); diff != "" {
		t.Fatalf("deliveries before (-want +got):\n%s", diff)
	}
	// HubSpot already received the order; Gainsight's delivery is still queued.
	if _, err := b.pool.Exec(ctx, `UPDATE outbox_deliveries SET status = 'delivered', payload_ct = NULL
		WHERE record_id = $1 AND subprocessor_id = 'hubspot'`, o.ID); err != nil {
		t.Fatal(err)
	}

	_, err = customerSvc.Update(ctx, shop, customers.Update{
		ID: c.ID, Mask: []string{"marketing_consent"}, Values: customers.NewCustomer{MarketingConsent: false},
	})
	if err != nil {
		t.Fatal(err)
	}

	want := pending("bigcommerce", "microsoft", "mixpanel", "salesforce")
	want["gainsight"] = []string{"record:cancelled"}
	want["hubspot"] = []string{"record:delivered", "deletion:pending"}
	if diff := cmp.Diff(want, b.deliveries(t, o.ID)); diff != "" {
		t.Errorf("deliveries after withdrawal (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"gainsight:cancelled", "hubspot:deletion_requested"}, b.audit(t, o.ID)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	list := []string{"aws_us", "bigcommerce", "microsoft", "mixpanel", "salesforce", "stripe_us"}
	got, err := b.svc.Get(ctx, admin, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec := b.ledger(t, o.ID)
	if !cmp.Equal(list, got.AllowedSubprocessors) || !cmp.Equal(list, rec.Allowed) || rec.Facts.MarketingConsent {
		t.Errorf("order list %v, ledger %v (consent %v); want both %v", got.AllowedSubprocessors, rec.Allowed, rec.Facts.MarketingConsent, list)
	}
}
