package dataflow_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// metricsStore hands out one batch and settles it with checks, or fails the settle.
type metricsStore struct {
	claims    []dataflow.Claim
	checks    []dataflow.Check
	settleErr error
}

func (s *metricsStore) Claim(context.Context, int, time.Time, time.Time) ([]dataflow.Claim, error) {
	c := s.claims
	s.claims = nil
	return c, nil
}

func (s *metricsStore) Settle(ctx context.Context, _ []dataflow.Claim, _ time.Time, decide func(context.Context, []dataflow.Check) []dataflow.Outcome) error {
	decide(ctx, s.checks)
	return s.settleErr
}

func metricsClaim(id, processor string, attempts int) dataflow.Claim {
	// The record id is a uuid as in production: it must never reach a label.
	return dataflow.Claim{
		Delivery: dataflow.Delivery{ID: id, RecordID: "0190a5f2-7c1e-7000-8000-00000000" + id[:4], Subprocessor: processor,
			Kind: dataflow.DeliveryRecord, Attempts: attempts},
		RecordKind: dataflow.KindTicket, Payload: []byte(`{"email":"pat@example.test"}`),
	}
}

func TestDispatchMetricsCountSettledOutcomes(t *testing.T) {
	t.Parallel()
	listed := []string{dataflow.BlueOcean, dataflow.Microsoft, "not_a_processor"}
	erased := metricsClaim("erased", dataflow.BlueOcean, 1)
	erased.Erased = true
	store := &metricsStore{
		claims: []dataflow.Claim{
			metricsClaim("okay", dataflow.BlueOcean, 1),
			metricsClaim("unlisted", dataflow.CallMiner, 1),
			metricsClaim("retry", dataflow.Microsoft, 1),
			metricsClaim("dead", dataflow.Microsoft, 3),
			erased,
			metricsClaim("busy", dataflow.BlueOcean, 1),
			metricsClaim("elsewhere", dataflow.BlueOcean, 1),
			metricsClaim("stray", "not_a_processor", 1),
		},
		checks: []dataflow.Check{
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Busy: true, Known: true},
			{Pending: false, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
		},
	}
	ok := dataflow.SinkFunc(func(context.Context, dataflow.Message) error { return nil })
	failing := dataflow.SinkFunc(func(context.Context, dataflow.Message) error { return errors.New("HTTP 503") })
	sinks := dataflow.SinkMap(map[string]dataflow.Sink{dataflow.BlueOcean: ok, dataflow.Microsoft: failing, "not_a_processor": ok})
	reg := prometheus.NewPedanticRegistry()
	m := dataflow.NewDispatchMetrics(reg)
	d := dataflow.NewDispatcher(store, sinks, dataflow.DispatchConfig{MaxAttempts: 3}, nil, time.Now).WithMetrics(m)
	if _, err := d.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}

	want := map[[2]string]float64{
		{dataflow.BlueOcean, "delivered"}:   1,
		{dataflow.CallMiner, "refused"}:     1,
		{dataflow.Microsoft, "retry"}:       1,
		{dataflow.Microsoft, "dead"}:        1,
		{dataflow.BlueOcean, "cancelled"}:   1,
		{dataflow.MetricOther, "delivered"}: 1, // a processor outside the registry is not a label
	}
	total := 0.0
	for _, p := range dataflow.ProcessorLabels() {
		for _, o := range dataflow.MetricOutcomes {
			got := sample(t, reg, "outbox_deliveries_total", "processor", p, "outcome", o)
			total += got
			if got != want[[2]string{p, o}] {
				t.Errorf("outbox_deliveries_total{%s,%s} = %v, want %v", p, o, got, want[[2]string{p, o}])
			}
		}
	}
	if total != 6 {
		t.Errorf("counted %v outcomes, want 6 (releases and deliveries settled elsewhere are not counted)", total)
	}
	assertOutboxLabels(t, reg)
}

func TestDispatchMetricsIgnoreFailedSettle(t *testing.T) {
	t.Parallel()
	store := &metricsStore{
		claims:    []dataflow.Claim{metricsClaim("okay", dataflow.BlueOcean, 1)},
		checks:    []dataflow.Check{{Pending: true, Known: true, Allowed: []string{dataflow.BlueOcean}}},
		settleErr: errors.New("connection reset"),
	}
	reg := prometheus.NewRegistry()
	ok := dataflow.SinkFunc(func(context.Context, dataflow.Message) error { return nil })
	d := dataflow.NewDispatcher(store, dataflow.SinkMap(map[string]dataflow.Sink{dataflow.BlueOcean: ok}), dataflow.DispatchConfig{}, nil, time.Now).
		WithMetrics(dataflow.NewDispatchMetrics(reg))
	if _, err := d.RunOnce(t.Context()); err == nil {
		t.Fatal("RunOnce succeeded with a failing settle")
	}
	if got := sample(t, reg, "outbox_deliveries_total", "processor", dataflow.BlueOcean, "outcome", "delivered"); got != 0 {
		t.Errorf("an uncommitted delivery was counted: %v", got)
	}
}

func TestDispatchMetricsOptional(t *testing.T) {
	t.Parallel()
	if m := dataflow.NewDispatchMetrics(nil); m != nil {
		t.Fatalf("NewDispatchMetrics(nil) = %v, want nil", m)
	}
	store := &metricsStore{
		claims: []dataflow.Claim{metricsClaim("okay", dataflow.BlueOcean, 1)},
		checks: []dataflow.Check{{Pending: true, Known: true, Allowed: []string{dataflow.BlueOcean}}},
	}
	d := dataflow.NewDispatcher(store, dataflow.SinkMap(nil), dataflow.DispatchConfig{}, nil, time.Now).WithMetrics(nil)
	if _, err := d.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Two dispatchers on one registry share the counter instead of failing to register.
	reg := prometheus.NewRegistry()
	dataflow.NewDispatchMetrics(reg)
	dataflow.NewDispatchMetrics(reg)
	if n := seriesCount(t, reg, "outbox_deliveries_total"); n != len(dataflow.ProcessorLabels())*len(dataflow.MetricOutcomes) {
		t.Errorf("%d series, want every processor and outcome once", n)
	}
}

// sample returns the value of the series of name with the given label pairs. (testutil is not
// used: it needs a module this repository does not require.)
func sample(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] }) {
					continue series
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// seriesCount returns how many series of name reg has.
func seriesCount(t *testing.T, reg prometheus.Gatherer, name string) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

// assertOutboxLabels checks every label value of every series against its fixed set.
func assertOutboxLabels(t *testing.T, reg *prometheus.Registry) {
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
