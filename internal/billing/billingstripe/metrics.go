package billingstripe

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lumio/contactcentre/internal/billing"
)

// Outcome labels of webhook_requests_total for Stripe's endpoints. A verified event is labelled
// with what payments did with it; the rest say why nothing was applied.
const (
	MetricApplied        = "applied"
	MetricDuplicate      = "duplicate"
	MetricIgnored        = "ignored"
	MetricStale          = "stale"
	MetricUnknownPayment = "unknown_payment"
	MetricAmountMismatch = "amount_mismatch"
	MetricBadSignature   = "bad_signature"
	MetricBadRequest     = "bad_request"
	MetricTooLarge       = "too_large"
	MetricError          = "error"
	MetricOther          = "other"
)

// MetricOutcomes is every outcome label value the Stripe endpoints use.
var MetricOutcomes = []string{
	MetricApplied, MetricDuplicate, MetricIgnored, MetricStale, MetricUnknownPayment, MetricAmountMismatch,
	MetricBadSignature, MetricBadRequest, MetricTooLarge, MetricError, MetricOther,
}

// The metric is shared with the Twilio endpoints (recordingtwilio): name, help and labels must
// stay identical for both to register on one registry.
const (
	webhookMetric = "webhook_requests_total"
	webhookHelp   = "Webhook requests by endpoint and outcome."
)

// WebhookMetrics counts webhook outcomes. A nil *WebhookMetrics counts nothing.
type WebhookMetrics struct {
	requests *prometheus.CounterVec
}

// NewWebhookMetrics registers webhook_requests_total with reg (or reuses the one registered
// there); a nil reg returns nil.
func NewWebhookMetrics(reg prometheus.Registerer) *WebhookMetrics {
	if reg == nil {
		return nil
	}
	cv := registerCounterVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: webhookMetric, Help: webhookHelp}, []string{"endpoint", "outcome"}))
	for _, path := range []string{PathUS, PathIE} {
		for _, o := range MetricOutcomes {
			cv.WithLabelValues(path, o)
		}
	}
	return &WebhookMetrics{requests: cv}
}

// registerCounterVec registers cv, or returns the equal one already registered. Any other
// conflict is a wiring mistake and panics, as MustRegister would.
func registerCounterVec(reg prometheus.Registerer, cv *prometheus.CounterVec) *prometheus.CounterVec {
	err := reg.Register(cv)
	if err == nil {
		return cv
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing
		}
	}
	panic(err)
}

func (m *WebhookMetrics) count(endpoint, outcome string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(endpoint, outcome).Inc()
}

// outcomeLabel maps payments' outcome to its label; an outcome added to billing later shows as
// "other" until it gets its own, never as a new label value.
func outcomeLabel(o billing.Outcome) string {
	switch o {
	case billing.OutcomeApplied:
		return MetricApplied
	case billing.OutcomeDuplicate:
		return MetricDuplicate
	case billing.OutcomeIgnored:
		return MetricIgnored
	case billing.OutcomeStale:
		return MetricStale
	case billing.OutcomeUnknownPayment:
		return MetricUnknownPayment
	case billing.OutcomeMismatch:
		return MetricAmountMismatch
	}
	return MetricOther
}

// WebhookOption configures a Webhook.
type WebhookOption func(*Webhook)

// WithMetrics counts the endpoint's outcomes in m (nil counts nothing).
func WithMetrics(m *WebhookMetrics) WebhookOption {
	return func(h *Webhook) { h.metrics = m }
}
