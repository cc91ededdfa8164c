package billingstripe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingstripe"
	"github.com/lumio/contactcentre/internal/country"
)

// metricsApplier answers each event with the outcome its type names, or fails.
type metricsApplier struct{}

func (metricsApplier) ApplyEvent(_ context.Context, ev billing.PaymentEvent) (billing.Outcome, error) {
	switch ev.ID {
	case "evt_fail":
		return "", errors.New("database unavailable")
	case "evt_dup":
		return billing.OutcomeDuplicate, nil
	case "evt_mismatch":
		return billing.OutcomeMismatch, nil
	case "evt_future":
		return billing.Outcome("some_new_outcome"), nil
	}
	if billing.KindOf(ev.Type) == billing.EventIgnored {
		return billing.OutcomeIgnored, nil
	}
	return billing.OutcomeApplied, nil
}

func TestWebhookMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m := billingstripe.NewWebhookMetrics(reg)
	mux := http.NewServeMux()
	cfg := billingstripe.Config{US: billingstripe.Account{WebhookSecret: "whsec_us"}, IE: billingstripe.Account{WebhookSecret: "whsec_ie"}}
	if err := billingstripe.RegisterWebhooks(mux, cfg, metricsApplier{}, nil, billingstripe.WithMetrics(m)); err != nil {
		t.Fatal(err)
	}
	intent := `{"id":"pi_123","object":"payment_intent","amount":4900,"currency":"usd","metadata":{"payment_id":"0190a5f2-7c1e-7000-8000-000000000001"},"receipt_email":"pat@example.test"}`
	ev := func(id, typ, object string) []byte {
		return fmt.Appendf(nil, `{"id":%q,"object":"event","created":%d,"type":%q,"data":{"object":%s}}`, id, time.Now().Unix(), typ, object)
	}
	post := func(path, secret string, body []byte) int {
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: time.Now()})
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Stripe-Signature", signed.Header)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}

	steps := []struct {
		path, secret string
		body         []byte
		code         int
		outcome      string
	}{
		{billingstripe.PathUS, "whsec_us", ev("evt_ok", "payment_intent.succeeded", intent), http.StatusOK, billingstripe.MetricApplied},
		{billingstripe.PathUS, "whsec_us", ev("evt_dup", "payment_intent.succeeded", intent), http.StatusOK, billingstripe.MetricDuplicate},
		{billingstripe.PathIE, "whsec_ie", ev("evt_ign", "customer.created", `{"id":"cus_1","email":"pat@example.test"}`), http.StatusOK, billingstripe.MetricIgnored},
		{billingstripe.PathIE, "whsec_ie", ev("evt_mismatch", "payment_intent.succeeded", intent), http.StatusOK, billingstripe.MetricAmountMismatch},
		{billingstripe.PathUS, "whsec_us", ev("evt_future", "payment_intent.succeeded", intent), http.StatusOK, billingstripe.MetricOther},
		{billingstripe.PathIE, "whsec_us", ev("evt_ok", "payment_intent.succeeded", intent), http.StatusBadRequest, billingstripe.MetricBadSignature},
		{billingstripe.PathUS, "whsec_us", ev("evt_bad", "payment_intent.succeeded", `{"object":"charge"}`), http.StatusBadRequest, billingstripe.MetricBadRequest},
		{billingstripe.PathUS, "whsec_us", bytes.Repeat([]byte("x"), billingstripe.DefaultMaxBody+1), http.StatusRequestEntityTooLarge, billingstripe.MetricTooLarge},
		{billingstripe.PathUS, "whsec_us", ev("evt_fail", "payment_intent.succeeded", intent), http.StatusInternalServerError, billingstripe.MetricError},
	}
	want := map[[2]string]float64{}
	for _, s := range steps {
		before := webhookCount(t, reg, s.path, s.outcome)
		if code := post(s.path, s.secret, s.body); code != s.code {
			t.Fatalf("POST %s (%s) = %d, want %d", s.path, s.outcome, code, s.code)
		}
		if got := webhookCount(t, reg, s.path, s.outcome); got != before+1 {
			t.Errorf("%s %s: counter %v -> %v, want +1", s.path, s.outcome, before, got)
		}
		want[[2]string{s.path, s.outcome}]++
	}
	// Nothing else moved, and no label carries an id, an email or anything outside its set.
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var key [2]string
			for _, l := range m.GetLabel() {
				switch {
				case l.GetName() == "endpoint" && slices.Contains([]string{billingstripe.PathUS, billingstripe.PathIE}, l.GetValue()):
					key[0] = l.GetValue()
				case l.GetName() == "outcome" && slices.Contains(billingstripe.MetricOutcomes, l.GetValue()):
					key[1] = l.GetValue()
				default:
					t.Errorf("%s: label %s=%q is outside its fixed set", f.GetName(), l.GetName(), l.GetValue())
				}
				if strings.Contains(l.GetValue(), "@") || strings.Contains(l.GetValue(), "evt_") || strings.Contains(l.GetValue(), "pi_") {
					t.Errorf("%s: label %s=%q carries an id or an email", f.GetName(), l.GetName(), l.GetValue())
				}
			}
			if got := m.GetCounter().GetValue(); got != want[key] {
				t.Errorf("webhook_requests_total%v = %v, want %v", key, got, want[key])
			}
		}
	}
}

func TestWebhookMetricsOptional(t *testing.T) {
	t.Parallel()
	if m := billingstripe.NewWebhookMetrics(nil); m != nil {
		t.Fatalf("NewWebhookMetrics(nil) = %v, want nil", m)
	}
	h, err := billingstripe.NewWebhook(billingstripe.WebhookConfig{Entity: country.StripeUS, Secret: "whsec_us"}, metricsApplier{}, nil,
		billingstripe.WithMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, billingstripe.PathUS, strings.NewReader("{}")))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("unsigned POST = %d", rec.Code)
	}
	// Registering twice on one registry shares the counter.
	reg := prometheus.NewRegistry()
	billingstripe.NewWebhookMetrics(reg)
	billingstripe.NewWebhookMetrics(reg)
}

// webhookCount reads one series of webhook_requests_total. (prometheus/testutil needs a module
// this repository does not require.)
func webhookCount(t *testing.T, reg prometheus.Gatherer, endpoint, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			has := func(name, value string) bool {
				return slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == name && l.GetValue() == value })
			}
			if f.GetName() == "webhook_requests_total" && has("endpoint", endpoint) && has("outcome", outcome) {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series webhook_requests_total{%s,%s}", endpoint, outcome)
	return 0
}
