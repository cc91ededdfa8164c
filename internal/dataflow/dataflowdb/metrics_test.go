package dataflowdb_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// TestOutboxMetrics: the backlog shows per processor with the oldest delivery's age, the
// dispatcher's outcomes are counted, and a settled outbox reads empty.
func TestOutboxMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	customer := uuid.NewString()
	dek, err := keyringdb.Ensure(ctx, pool, kr, customer, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := dataflowdb.RegisterMetrics(reg, pool); err != nil {
		t.Fatal(err)
	}
	if got := metricGauge(t, reg, "outbox_oldest_pending_seconds", "", ""); got != 0 {
		t.Errorf("empty outbox: oldest pending = %v s", got)
	}

	facts := dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: "phone"}
	allowed := dataflow.NewPolicy(dataflow.DefaultNorthAmerica).Decide(facts).Allowed
	for range 2 {
		rec := dataflow.Record{ID: uuid.Must(uuid.NewV7()).String(), Kind: dataflow.KindTicket, CustomerID: customer, Facts: facts, Allowed: allowed}
		err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
			if err := dataflowdb.Track(ctx, tx, rec); err != nil {
				return err
			}
			// Salesforce is not on a phone ticket's list: refused at enqueue, never pending.
			return dataflowdb.Enqueue(ctx, tx, dek, rec.ID, []string{dataflow.BlueOcean, dataflow.Microsoft, dataflow.Salesforce},
				[]byte(`{"email":"pat@example.test"}`))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE outbox_deliveries SET create_time = now() - interval '90 seconds'
		WHERE subprocessor_id = $1`, dataflow.Microsoft); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]float64{dataflow.BlueOcean: 2, dataflow.Microsoft: 2, dataflow.Salesforce: 0, dataflow.MetricOther: 0} {
		if got := metricGauge(t, reg, "outbox_pending", "processor", p); got != want {
			t.Errorf("outbox_pending{%s} = %v, want %v", p, got, want)
		}
	}
	if got := metricGauge(t, reg, "outbox_oldest_pending_seconds", "", ""); got < 90 || got > 150 {
		t.Errorf("oldest pending = %v s, want about 90", got)
	}

	ok := dataflow.SinkFunc(func(context.Context, dataflow.Message) error { return nil })
	d := dataflow.NewDispatcher(dataflowdb.New(pool, kr), dataflow.SinkMap(map[string]dataflow.Sink{dataflow.BlueOcean: ok, dataflow.Microsoft: ok}),
		dataflow.DispatchConfig{}, nil, time.Now).WithMetrics(dataflow.NewDispatchMetrics(reg))
	if n, err := d.RunOnce(ctx); err != nil || n != 4 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	for _, p := range []string{dataflow.BlueOcean, dataflow.Microsoft} {
		if got := metricCounter(t, reg, "outbox_deliveries_total", p, "delivered"); got != 2 {
			t.Errorf("outbox_deliveries_total{%s,delivered} = %v, want 2", p, got)
		}
		if got := metricGauge(t, reg, "outbox_pending", "processor", p); got != 0 {
			t.Errorf("outbox_pending{%s} after dispatch = %v", p, got)
		}
	}
	if got := metricGauge(t, reg, "outbox_oldest_pending_seconds", "", ""); got != 0 {
		t.Errorf("oldest pending after dispatch = %v s", got)
	}
	assertMetricLabels(t, reg)

	// A scrape on a dead pool leaves the backlog out and counts the failure instead of failing
	// the whole scrape.
	pool.Close()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("scrape with the database gone: %v", err)
	}
	for _, f := range families {
		switch f.GetName() {
		case "outbox_pending", "outbox_oldest_pending_seconds":
			t.Errorf("%s reported without a database", f.GetName())
		case "outbox_collect_errors_total":
			if v := f.GetMetric()[0].GetCounter().GetValue(); v != 1 {
				t.Errorf("outbox_collect_errors_total = %v, want 1", v)
			}
		}
	}
}

// metricGauge returns the series of name whose label key has value (key "" for an unlabelled one).
func metricGauge(t *testing.T, reg prometheus.Gatherer, name, key, value string) float64 {
	t.Helper()
	m := metricFind(t, reg, name, func(ls []*dto.LabelPair) bool {
		return key == "" || slices.ContainsFunc(ls, func(l *dto.LabelPair) bool { return l.GetName() == key && l.GetValue() == value })
	})
	return m.GetGauge().GetValue()
}

func metricCounter(t *testing.T, reg prometheus.Gatherer, name, processor, outcome string) float64 {
	t.Helper()
	m := metricFind(t, reg, name, func(ls []*dto.LabelPair) bool {
		return slices.ContainsFunc(ls, func(l *dto.LabelPair) bool { return l.GetName() == "processor" && l.GetValue() == processor }) &&
			slices.ContainsFunc(ls, func(l *dto.LabelPair) bool { return l.GetName() == "outcome" && l.GetValue() == outcome })
	})
	return m.GetCounter().GetValue()
}

// metricFind returns the one series of name that match accepts. (prometheus/testutil needs a module
// this repository does not require.)
func metricFind(t *testing.T, reg prometheus.Gatherer, name string, match func([]*dto.LabelPair) bool) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if match(m.GetLabel()) {
				return m
			}
		}
	}
	t.Fatalf("no series %s", name)
	return nil
}

// assertMetricLabels checks every label value of every series against its fixed set.
func assertMetricLabels(t *testing.T, reg prometheus.Gatherer) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string][]string{"processor": dataflow.ProcessorLabels(), "outcome": dataflow.MetricOutcomes}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(allowed[l.GetName()], l.GetValue()) {
					t.Errorf("%s: label %s=%q is outside its fixed set", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}
