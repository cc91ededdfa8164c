package billingstripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/country"
)

// Webhook defaults.
const (
	// DefaultTolerance is how old a signature's timestamp may be (Stripe's recommendation);
	// older deliveries are refused as possible replays.
	DefaultTolerance = webhook.DefaultTolerance
	// DefaultMaxBody bounds a webhook body. Stripe's payment events are a few KiB; the bound
	// keeps an unauthenticated sender from making us buffer much before the signature check.
	DefaultMaxBody = 256 << 10
)

// Applier applies verified payment events (billing.Payments).
type Applier interface {
	ApplyEvent(ctx context.Context, ev billing.PaymentEvent) (billing.Outcome, error)
}

// WebhookConfig configures one entity's endpoint.
type WebhookConfig struct {
	// Entity is country.StripeUS or country.StripeIE.
	Entity string
	// Secret is that entity's endpoint signing secret (whsec_…).
	Secret string
	// Tolerance defaults to DefaultTolerance; MaxBody to DefaultMaxBody.
	Tolerance time.Duration
	MaxBody   int64
}

// Webhook is the HTTP endpoint of one Stripe entity's events.
type Webhook struct {
	cfg     WebhookConfig
	applier Applier
	logger  *slog.Logger
	metrics *WebhookMetrics
	path    string
}

// NewWebhook returns the endpoint of cfg.Entity. logger may be nil.
func NewWebhook(cfg WebhookConfig, applier Applier, logger *slog.Logger, opts ...WebhookOption) (*Webhook, error) {
	if cfg.Entity != country.StripeUS && cfg.Entity != country.StripeIE {
		return nil, fmt.Errorf("billingstripe: unknown entity %q", cfg.Entity)
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("billingstripe: %s webhook needs its signing secret", cfg.Entity)
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Webhook{cfg: cfg, applier: applier, logger: logger.With("stripe_entity", cfg.Entity), path: PathUS}
	if cfg.Entity == country.StripeIE {
		h.path = PathIE
	}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// Webhook paths (API.md).
const (
	PathUS = "/stripe/webhook/us"
	PathIE = "/stripe/webhook/ie"
)

// RegisterWebhooks adds POST PathUS and POST PathIE to mux, each verified with its own entity's
// signing secret from cfg.
func RegisterWebhooks(mux *http.ServeMux, cfg Config, applier Applier, logger *slog.Logger, opts ...WebhookOption) error {
	for path, wc := range map[string]WebhookConfig{
		PathUS: {Entity: country.StripeUS, Secret: cfg.US.WebhookSecret},
		PathIE: {Entity: country.StripeIE, Secret: cfg.IE.WebhookSecret},
	} {
		h, err := NewWebhook(wc, applier, logger, opts...)
		if err != nil {
			return err
		}
		mux.Handle(http.MethodPost+" "+path, h)
	}
	return nil
}

// ServeHTTP verifies the raw body against the entity's secret, then applies the event.
// Answers: 200 once the event is applied or known (duplicates, unknown types and payments we
// do not hold included, so Stripe stops retrying); 400 for a bad signature, a stale timestamp
// or a malformed event, with nothing changed; 413 for an oversized body; 500 when the event
// could not be recorded (Stripe retries).
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		h.metrics.count(h.path, MetricTooLarge)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		h.metrics.count(h.path, MetricBadRequest)
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	// The API-version check is off on purpose: stripe-go v76 rejects every event whose
	// endpoint API version is not 2023-10-16, which would turn an account-side version bump
	// into lost payments. We read only fields that are stable across versions, with our own
	// types (decodeEvent), so a newer version cannot mis-decode into stripe-go's structs.
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), h.cfg.Secret,
		webhook.ConstructEventOptions{Tolerance: h.cfg.Tolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		h.logger.WarnContext(r.Context(), "stripe webhook refused", "reason", signatureReason(err))
		h.metrics.count(h.path, MetricBadSignature)
		http.Error(w, "invalid signature", http.StatusBadRequest)
		return
	}
	pe, err := decodeEvent(h.cfg.Entity, ev)
	if err != nil {
		h.logger.WarnContext(r.Context(), "stripe webhook malformed", "event_id", safeID(ev.ID), "error", err.Error())
		h.metrics.count(h.path, MetricBadRequest)
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	out, err := h.applier.ApplyEvent(r.Context(), pe)
	if err != nil {
		h.logger.ErrorContext(r.Context(), "stripe webhook not applied", "event_id", pe.ID, "type", pe.Type, "error", err.Error())
		h.metrics.count(h.path, MetricError)
		http.Error(w, "not applied", http.StatusInternalServerError)
		return
	}
	h.logger.InfoContext(r.Context(), "stripe webhook", "event_id", pe.ID, "type", pe.Type, "outcome", string(out))
	h.metrics.count(h.path, outcomeLabel(out))
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(struct {
		Outcome billing.Outcome `json:"outcome"`
	}{out}); err != nil {
		h.logger.DebugContext(r.Context(), "stripe webhook answer not written", "error", err.Error())
	}
}

func signatureReason(err error) string {
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return "timestamp outside tolerance"
	case errors.Is(err, webhook.ErrNotSigned):
		return "no signature header"
	case errors.Is(err, webhook.ErrInvalidHeader):
		return "malformed signature header"
	case errors.Is(err, webhook.ErrNoValidSignature):
		return "no valid signature"
	}
	return "unparsable body"
}

var (
	eventIDRE  = regexp.MustCompile(`^evt_[A-Za-z0-9_]{1,250}$`)
	objectIDRE = regexp.MustCompile(`^[a-z]{2,4}_[A-Za-z0-9_]{1,250}$`)
)

// safeID keeps anything but a well-formed event id out of logs.
func safeID(id string) string {
	if eventIDRE.MatchString(id) {
		return id
	}
	return "(malformed)"
}

// intentObject is the part of a PaymentIntent that payments read.
type intentObject struct {
	ID       string            `json:"id"`
	Object   string            `json:"object"`
	Amount   int64             `json:"amount"`
	Currency string            `json:"currency"`
	Metadata map[string]string `json:"metadata"`
}

// chargeObject is the part of a Charge that payments read. payment_intent is an id, or the
// intent itself when the endpoint expands it.
type chargeObject struct {
	ID             string          `json:"id"`
	Object         string          `json:"object"`
	Amount         int64           `json:"amount"`
	AmountRefunded int64           `json:"amount_refunded"`
	Currency       string          `json:"currency"`
	PaymentIntent  json.RawMessage `json:"payment_intent"`
	Refunds        *struct {
		Data []struct {
			ID     string `json:"id"`
			Amount int64  `json:"amount"`
			Status string `json:"status"`
		} `json:"data"`
	} `json:"refunds"`
}

// decodeEvent reduces a verified event to billing.PaymentEvent. Event types that payments do
// not act on keep only their id, type and time.
func decodeEvent(entity string, ev stripe.Event) (billing.PaymentEvent, error) {
	if !eventIDRE.MatchString(ev.ID) {
		return billing.PaymentEvent{}, errors.New("event id is malformed")
	}
	if ev.Type == "" || len(ev.Type) > 100 {
		return billing.PaymentEvent{}, errors.New("event type is missing or too long")
	}
	pe := billing.PaymentEvent{ID: ev.ID, Type: string(ev.Type), Created: time.Unix(ev.Created, 0).UTC(), Entity: entity}
	kind := billing.KindOf(pe.Type)
	if kind == billing.EventIgnored {
		return pe, nil
	}
	if ev.Data == nil || len(ev.Data.Raw) == 0 {
		return billing.PaymentEvent{}, errors.New("event has no data object")
	}
	if kind == billing.EventRefunded {
		var ch chargeObject
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil || ch.Object != "charge" {
			return billing.PaymentEvent{}, errors.New("data object is not a charge")
		}
		intent, err := intentRef(ch.PaymentIntent)
		if err != nil {
			return billing.PaymentEvent{}, err
		}
		cur := strings.ToUpper(ch.Currency)
		pe.IntentID = intent
		pe.Currency = cur
		pe.AmountMinor = fromStripeAmount(cur, ch.Amount)
		pe.AmountRefunded = fromStripeAmount(cur, ch.AmountRefunded)
		if ch.Refunds != nil {
			for _, r := range ch.Refunds.Data {
				if !objectIDRE.MatchString(r.ID) || r.Amount <= 0 {
					continue
				}
				pe.Refunds = append(pe.Refunds, billing.RefundFact{
					StripeRefundID: r.ID, AmountMinor: fromStripeAmount(cur, r.Amount), Status: refundStatus(r.Status),
				})
			}
		}
		return pe, nil
	}
	var pi intentObject
	if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.Object != "payment_intent" || !objectIDRE.MatchString(pi.ID) {
		return billing.PaymentEvent{}, errors.New("data object is not a payment intent")
	}
	cur := strings.ToUpper(pi.Currency)
	pe.IntentID = pi.ID
	pe.PaymentID = pi.Metadata["payment_id"]
	pe.Currency = cur
	pe.AmountMinor = fromStripeAmount(cur, pi.Amount)
	return pe, nil
}

// intentRef reads a charge's payment_intent, either an id or an expanded object.
func intentRef(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var id string
	if err := json.Unmarshal(raw, &id); err == nil {
		if id != "" && !objectIDRE.MatchString(id) {
			return "", errors.New("payment_intent is malformed")
		}
		return id, nil
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || !objectIDRE.MatchString(obj.ID) {
		return "", errors.New("payment_intent is malformed")
	}
	return obj.ID, nil
}
