package recordingtwilio

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome labels of webhook_requests_total for Twilio's endpoints.
const (
	MetricOK         = "ok"
	MetricForbidden  = "forbidden"
	MetricBadRequest = "bad_request"
	MetricError      = "error"
)

// MetricOutcomes is every outcome label value the Twilio endpoints use.
var MetricOutcomes = []string{MetricOK, MetricForbidden, MetricBadRequest, MetricError}

// MetricEndpoints is every endpoint label value.
var MetricEndpoints = []string{VoicePath, GatherPath, RecordingStatusPath}

// The metric is shared with the Stripe endpoints (billingstripe): name, help and labels must
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
// there); a nil reg returns nil. A conflicting metric of that name panics, as MustRegister.
func NewWebhookMetrics(reg prometheus.Registerer) *WebhookMetrics {
	if reg == nil {
		return nil
	}
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: webhookMetric, Help: webhookHelp}, []string{"endpoint", "outcome"})
	if err := reg.Register(cv); err != nil {
		var are prometheus.AlreadyRegisteredError
		existing, ok := cv, false
		if errors.As(err, &are) {
			existing, ok = are.ExistingCollector.(*prometheus.CounterVec)
		}
		if !ok {
			panic(err)
		}
		cv = existing
	}
	for _, e := range MetricEndpoints {
		for _, o := range MetricOutcomes {
			cv.WithLabelValues(e, o)
		}
	}
	return &WebhookMetrics{requests: cv}
}

// WithMetrics counts the webhooks' outcomes in m (nil counts nothing) and returns h. Call it
// before Register.
func (h *Handler) WithMetrics(m *WebhookMetrics) *Handler {
	h.metrics = m
	return h
}

// observed counts fn's outcome under endpoint, read from the status it answers with.
func (h *Handler) observed(endpoint string, fn http.HandlerFunc) http.HandlerFunc {
	if h.metrics == nil {
		return fn
	}
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		fn(sw, r)
		h.metrics.requests.WithLabelValues(endpoint, sw.outcome()).Inc()
	}
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	// failed marks a request answered with success on purpose (the call must go on) whose
	// work nevertheless failed.
	failed bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) outcome() string {
	switch {
	case w.failed:
		return MetricError
	case w.status == 0 || w.status < 300:
		return MetricOK
	case w.status == http.StatusForbidden:
		return MetricForbidden
	case w.status == http.StatusBadRequest:
		return MetricBadRequest
	}
	return MetricError
}

// markFailed counts the request as an error whatever status it is answered with.
func markFailed(w http.ResponseWriter) {
	if sw, ok := w.(*statusWriter); ok {
		sw.failed = true
	}
}
