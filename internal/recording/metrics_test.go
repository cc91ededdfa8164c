package recording_test

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lumio/contactcentre/internal/recording"
)

func TestMetricsReasonsAreBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m := recording.NewMetrics(reg)
	m.Stored()
	m.Deleted(recording.ReasonRetention)
	m.Deleted(recording.ReasonErased)
	// A free-text reason (it may name a person) never becomes a label.
	m.Deleted("caller pat@example.test asked on 0190a5f2-7c1e-7000-8000-000000000001")
	recording.NewMetrics(reg).Deleted(recording.ReasonRetention) // a second store shares the counters

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			key := f.GetName()
			for _, l := range s.GetLabel() {
				if l.GetName() != "reason" || !slices.Contains(recording.MetricReasons, l.GetValue()) {
					t.Errorf("%s: label %s=%q is outside its fixed set", f.GetName(), l.GetName(), l.GetValue())
				}
				key += "{" + l.GetValue() + "}"
			}
			got[key] = s.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"recordings_stored_total":                   1,
		"recordings_deleted_total{retention}":       2,
		"recordings_deleted_total{customer_erased}": 1,
		"recordings_deleted_total{other}":           1,
		"recordings_deleted_total{opt_out}":         0,
		"recordings_deleted_total{request}":         0,
		"recordings_deleted_total{carrier_absent}":  0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want exactly %v", got, want)
	}
}

func TestMetricsOptional(t *testing.T) {
	t.Parallel()
	m := recording.NewMetrics(nil)
	if m != nil {
		t.Fatalf("NewMetrics(nil) = %v, want nil", m)
	}
	m.Stored()
	m.Deleted(recording.ReasonOptOut)
}
