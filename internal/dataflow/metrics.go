package dataflow

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome labels of outbox_deliveries_total: the statuses a claimed delivery is settled to,
// with a retried one as "retry".
const (
	MetricDelivered = "delivered"
	MetricRetry     = "retry"
	MetricDead      = "dead"
	MetricRefused   = "refused"
	MetricCancelled = "cancelled"
)

// MetricOutcomes is every outcome label value.
var MetricOutcomes = []string{MetricDelivered, MetricRetry, MetricDead, MetricRefused, MetricCancelled}

// MetricOther stands in for a processor id that is not in the registry, so that a stray value
// in the database can never become a label.
const MetricOther = "other"

// ProcessorLabel returns id when the registry lists it and MetricOther otherwise.
func ProcessorLabel(id string) string {
	for _, s := range registry {
		if s.ID == id {
			return id
		}
	}
	return MetricOther
}

// ProcessorLabels is every value ProcessorLabel returns.
func ProcessorLabels() []string {
	out := make([]string, 0, len(registry)+1)
	for _, s := range registry {
		out = append(out, s.ID)
	}
	return append(out, MetricOther)
}

// DispatchMetrics counts settled deliveries. A nil *DispatchMetrics counts nothing.
type DispatchMetrics struct {
	deliveries *prometheus.CounterVec
}

// NewDispatchMetrics registers outbox_deliveries_total with reg; a nil reg returns nil. Many
// dispatchers on one registry share the counter.
func NewDispatchMetrics(reg prometheus.Registerer) *DispatchMetrics {
	if reg == nil {
		return nil
	}
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outbox_deliveries_total",
		Help: "Outbox deliveries settled by the dispatcher, by processor and outcome.",
	}, []string{"processor", "outcome"})
	if err := reg.Register(cv); err != nil {
		var are prometheus.AlreadyRegisteredError
		existing, ok := cv, false
		if errors.As(err, &are) {
			existing, ok = are.ExistingCollector.(*prometheus.CounterVec)
		}
		if !ok {
			panic(err) // a conflicting metric of the same name: a wiring mistake, as MustRegister
		}
		cv = existing
	}
	// Every series exists from the start, so rate() sees the first event.
	for _, p := range ProcessorLabels() {
		for _, o := range MetricOutcomes {
			cv.WithLabelValues(p, o)
		}
	}
	return &DispatchMetrics{deliveries: cv}
}

// settled counts the outcomes of a committed settle. Releases and deliveries settled elsewhere
// changed nothing and are not counted.
func (m *DispatchMetrics) settled(claims []Claim, outcomes []Outcome) {
	if m == nil {
		return
	}
	processor := make(map[string]string, len(claims))
	for _, c := range claims {
		processor[c.Delivery.ID] = c.Delivery.Subprocessor
	}
	for _, o := range outcomes {
		var label string
		switch {
		case o.Release || o.Status == "":
			continue
		case o.Status == StatusPending:
			label = MetricRetry
		case o.Status == StatusDelivered, o.Status == StatusDead, o.Status == StatusRefused, o.Status == StatusCancelled:
			label = string(o.Status)
		default:
			continue
		}
		m.deliveries.WithLabelValues(ProcessorLabel(processor[o.ID]), label).Inc()
	}
}
