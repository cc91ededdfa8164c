package dataflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
)

type fakeLedger struct {
	records map[string]dataflow.Record
}

func (f fakeLedger) Record(_ context.Context, id string) (dataflow.Record, error) {
	r, ok := f.records[id]
	if !ok {
		return dataflow.Record{}, apperr.ErrNotFound
	}
	return r, nil
}

func (f fakeLedger) Deliveries(_ context.Context, id string) ([]dataflow.Delivery, error) {
	if _, ok := f.records[id]; !ok {
		return nil, apperr.ErrNotFound
	}
	return []dataflow.Delivery{{ID: "d", RecordID: id, Subprocessor: dataflow.BlueOcean, Status: dataflow.StatusPending}}, nil
}

func TestExplainFlow(t *testing.T) {
	t.Parallel()
	p := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	const ticketID, nlCustomer, usCustomer = "0190f5d2-0000-7000-8000-000000000001", "0190f5d2-0000-7000-8000-000000000002", "0190f5d2-0000-7000-8000-000000000003"
	tf := dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: dataflow.ChannelPhone, RecordingOptOut: true}
	nl := dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "NL"}
	us := dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "US", MarketingConsent: true}
	svc := dataflow.NewService(fakeLedger{records: map[string]dataflow.Record{
		ticketID:   {ID: ticketID, Kind: dataflow.KindTicket, Facts: tf, Allowed: p.Decide(tf).Allowed, CustomerResidency: "NL"},
		nlCustomer: {ID: nlCustomer, Kind: dataflow.KindCustomer, Facts: nl, Allowed: p.Decide(nl).Allowed},
		usCustomer: {ID: usCustomer, Kind: dataflow.KindCustomer, Facts: us, Allowed: p.Decide(us).Allowed},
	}}, p)
	ctx := context.Background()

	tests := []struct {
		record, processor string
		allowed           bool
		reason, basis     string
	}{
		{ticketID, dataflow.CallMiner, false, "declined recording", dataflow.BasisAdequacy},
		{ticketID, dataflow.BlueOcean, true, "allowed", dataflow.BasisAdequacy},
		{nlCustomer, dataflow.Salesforce, true, "allowed", dataflow.BasisSCCDPF},
		{nlCustomer, dataflow.Gainsight, false, "North American", dataflow.BasisSCCDPF},
		{usCustomer, dataflow.Gainsight, true, "allowed", "outside the EU/EEA"},
	}
	for _, tt := range tests {
		e, err := svc.ExplainFlow(ctx, tt.record, tt.processor)
		if err != nil {
			t.Fatal(err)
		}
		if e.Allowed != tt.allowed || !strings.Contains(e.Reason, tt.reason) || !strings.Contains(e.TransferBasis, tt.basis) {
			t.Errorf("%s→%s = %+v, want allowed %v, reason ~%q, basis ~%q", tt.record, tt.processor, e, tt.allowed, tt.reason, tt.basis)
		}
	}

	if _, err := svc.ExplainFlow(ctx, "0190f5d2-0000-7000-8000-0000000000ff", dataflow.BlueOcean); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("unknown record: %v, want ErrNotFound", err)
	}
	for _, bad := range []struct{ record, processor, field string }{
		{"nope", dataflow.BlueOcean, "record_id"},
		{"", dataflow.BlueOcean, "record_id"},
		{ticketID, "acme", "subprocessor_id"},
		{ticketID, "", "subprocessor_id"},
	} {
		_, err := svc.ExplainFlow(ctx, bad.record, bad.processor)
		if f, ok := apperr.Field(err); !ok || f != bad.field {
			t.Errorf("ExplainFlow(%q, %q) = %v, want INVALID_ARGUMENT on %s", bad.record, bad.processor, err, bad.field)
		}
	}
	if ds, err := svc.ListDeliveries(ctx, ticketID); err != nil || len(ds) != 1 {
		t.Errorf("ListDeliveries = %v, %v", ds, err)
	}
	if _, err := svc.ListDeliveries(ctx, "0190f5d2-0000-7000-8000-0000000000ff"); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("ListDeliveries(unknown) = %v", err)
	}
}

// TestExplainFlowReportsStaleList: when the stored list disagrees with today's policy (the
// North-America set changed), the enforced stored list wins and the reason says so.
func TestExplainFlowReportsStaleList(t *testing.T) {
	t.Parallel()
	const id = "0190f5d2-0000-7000-8000-000000000004"
	f := dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "MX", MarketingConsent: true}
	old := dataflow.NewPolicy([]string{"US", "CA", "MX"})
	svc := dataflow.NewService(fakeLedger{records: map[string]dataflow.Record{id: {ID: id, Facts: f, Allowed: old.Decide(f).Allowed}}}, dataflow.NewPolicy(dataflow.DefaultNorthAmerica))
	e, err := svc.ExplainFlow(context.Background(), id, dataflow.Gainsight)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Allowed || !strings.Contains(e.Reason, "stored list") {
		t.Errorf("explanation = %+v", e)
	}
}
