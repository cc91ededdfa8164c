package recording

import (
	"errors"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// ReasonErased: the customer's personal key was destroyed, so the audio cannot be kept.
const ReasonErased = "customer_erased"

// MetricOther stands in for a delete reason outside MetricReasons, so that no free text can
// become a label.
const MetricOther = "other"

// MetricReasons is every reason label value of recordings_deleted_total.
var MetricReasons = []string{ReasonOptOut, ReasonRetention, ReasonRequest, ReasonAbsent, ReasonErased, MetricOther}

// Metrics counts recordings reaching their final states. A nil *Metrics counts nothing.
type Metrics struct {
	stored  prometheus.Counter
	deleted *prometheus.CounterVec
}

// NewMetrics registers recordings_stored_total and recordings_deleted_total with reg; a nil reg
// returns nil. A conflicting registration panics, as MustRegister.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		return nil
	}
	m := &Metrics{
		stored: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recordings_stored_total",
			Help: "Recordings whose audio reached our store and left the carrier.",
		})),
		deleted: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recordings_deleted_total",
			Help: "Recordings deleted everywhere (carrier and store), by reason.",
		}, []string{"reason"})),
	}
	for _, r := range MetricReasons {
		m.deleted.WithLabelValues(r)
	}
	return m
}

// register registers c, or returns the equal collector registered already (one registry may
// serve several stores).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}

// Stored counts a recording that became stored; call it once the change is committed.
func (m *Metrics) Stored() {
	if m != nil {
		m.stored.Inc()
	}
}

// Deleted counts a recording that became deleted for reason; call it once the change is
// committed.
func (m *Metrics) Deleted(reason string) {
	if m == nil {
		return
	}
	if !slices.Contains(MetricReasons, reason) {
		reason = MetricOther
	}
	m.deleted.WithLabelValues(reason).Inc()
}
