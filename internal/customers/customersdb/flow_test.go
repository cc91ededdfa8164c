package customersdb_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
)

func (b bundle) deliveries(t *testing.T, id string) map[string][]string {
	t.Helper()
	ds, err := dataflowdb.New(b.pool, b.kr).Deliveries(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, d := range ds {
		out[d.Subprocessor] = append(out[d.Subprocessor], string(d.Kind)+":"+string(d.Status))
	}
	return out
}

func TestCreateEnqueuesAndConsentWithdrawalCancels(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	ctx := context.Background()
	sales := auth.Identity{Subject: "sales-1", Roles: []auth.Role{auth.RoleSales}}
	in := school()
	in.MarketingConsent = true
	in.ResellerID = "reseller-7"
	c, err := svc.Create(ctx, sales, in, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, p := range []string{dataflow.Gainsight, dataflow.HubSpot, dataflow.Microsoft, dataflow.Mixpanel, dataflow.Reseller, dataflow.Salesforce} {
		want[p] = []string{"record:pending"}
	}
	if diff := cmp.Diff(want, b.deliveries(t, c.ID)); diff != "" {
		t.Errorf("deliveries after create (-want +got):\n%s", diff)
	}

	_, err = svc.Update(ctx, sales, customers.Update{ID: c.ID, Mask: []string{"marketing_consent"}, Values: customers.NewCustomer{MarketingConsent: false}})
	if err != nil {
		t.Fatal(err)
	}
	want[dataflow.Gainsight] = []string{"record:cancelled"}
	want[dataflow.HubSpot] = []string{"record:cancelled"}
	if diff := cmp.Diff(want, b.deliveries(t, c.ID)); diff != "" {
		t.Errorf("deliveries after consent withdrawal (-want +got):\n%s", diff)
	}
	rec, err := dataflowdb.New(b.pool, b.kr).Record(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Facts.MarketingConsent || rec.Allows(dataflow.HubSpot) {
		t.Errorf("ledger after withdrawal = %+v", rec)
	}
}
