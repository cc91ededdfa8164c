// Package billingstripe connects payments to Stripe with stripe-go v76: a Gateway that holds one
// client.API per Stripe entity (each with its own secret key, never the package-global one),
// and the webhook endpoints that verify each entity's events with that entity's signing secret.
// It converts between Stripe's objects and the billing domain; the rules stay in billing.
package billingstripe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/country"
)

// Account is one Stripe entity's credentials: each entity is a separate Stripe account.
type Account struct {
	SecretKey      string `json:"-"`
	PublishableKey string
	WebhookSecret  string `json:"-"`
}

// Config configures the Gateway and the webhooks.
type Config struct {
	US Account
	IE Account
	// APIBaseURL replaces https://api.stripe.com when not empty (stripe-mock in tests).
	APIBaseURL string
	// HTTPClient carries the API calls; nil means a client with RequestTimeout.
	HTTPClient *http.Client
	// MaxNetworkRetries is stripe-go's retry count for network errors and 409/429/5xx
	// answers (safe because every call carries an idempotency key); nil keeps its default.
	MaxNetworkRetries *int64
}

// RequestTimeout bounds one Stripe API call when Config.HTTPClient is nil. The create calls run
// while a payment row is locked, so they must not hang for stripe-go's default 80 s.
const RequestTimeout = 20 * time.Second

// Gateway implements billing.Gateway over one client per Stripe entity.
type Gateway struct {
	clients     map[string]*client.API
	publishable map[string]string
}

var _ billing.Gateway = (*Gateway)(nil)

// New returns a Gateway with a client per entity. Both accounts must have a secret and a
// publishable key, and the two secret keys must differ (one entity per payment only holds if
// they are different accounts).
func New(cfg Config) (*Gateway, error) {
	accounts := map[string]Account{country.StripeUS: cfg.US, country.StripeIE: cfg.IE}
	if cfg.US.SecretKey == cfg.IE.SecretKey {
		return nil, errors.New("billingstripe: the US and IE entities need different secret keys")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: RequestTimeout}
	}
	g := &Gateway{clients: map[string]*client.API{}, publishable: map[string]string{}}
	for entity, acct := range accounts {
		if acct.SecretKey == "" || acct.PublishableKey == "" {
			return nil, fmt.Errorf("billingstripe: %s needs a secret and a publishable key", entity)
		}
		bc := &stripe.BackendConfig{
			HTTPClient:        hc,
			MaxNetworkRetries: cfg.MaxNetworkRetries,
			// stripe-go logs request failures with their messages; the domain reports them.
			LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
		}
		if cfg.APIBaseURL != "" {
			bc.URL = stripe.String(strings.TrimRight(cfg.APIBaseURL, "/"))
		}
		backend := stripe.GetBackendWithConfig(stripe.APIBackend, bc)
		g.clients[entity] = client.New(acct.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
		g.publishable[entity] = acct.PublishableKey
	}
	return g, nil
}

// PublishableKey implements billing.Gateway.
func (g *Gateway) PublishableKey(entity string) (string, error) {
	k, ok := g.publishable[entity]
	if !ok {
		return "", fmt.Errorf("billingstripe: no account for entity %q", entity)
	}
	return k, nil
}

func (g *Gateway) client(entity string) (*client.API, error) {
	c, ok := g.clients[entity]
	if !ok {
		return nil, fmt.Errorf("billingstripe: no account for entity %q", entity)
	}
	return c, nil
}

// CreateIntent implements billing.Gateway. Only cards are offered: DOMAIN.md names Stripe for
// card purchases. Our ids travel in the metadata so that a webhook can find the payment even
// before the intent id is stored.
func (g *Gateway) CreateIntent(ctx context.Context, entity string, in billing.IntentInput) (billing.Intent, error) {
	c, err := g.client(entity)
	if err != nil {
		return billing.Intent{}, err
	}
	amount, err := toStripeAmount(in.Currency, in.AmountMinor)
	if err != nil {
		return billing.Intent{}, err
	}
	params := &stripe.PaymentIntentParams{
		Amount:             stripe.Int64(amount),
		Currency:           stripe.String(strings.ToLower(in.Currency)),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
	}
	params.Context = ctx
	params.SetIdempotencyKey(in.IdempotencyKey)
	params.AddMetadata("payment_id", in.PaymentID)
	params.AddMetadata("order_id", in.OrderID)
	pi, err := c.PaymentIntents.New(params)
	if err != nil {
		return billing.Intent{}, classify("create payment intent", err)
	}
	if pi.ID == "" || pi.ClientSecret == "" {
		return billing.Intent{}, fmt.Errorf("%w: stripe returned a payment intent without id or client secret", apperr.ErrUnavailable)
	}
	return billing.Intent{ID: pi.ID, ClientSecret: pi.ClientSecret}, nil
}

// CreateRefund implements billing.Gateway.
func (g *Gateway) CreateRefund(ctx context.Context, entity string, in billing.RefundInput) (billing.ProcessorRefund, error) {
	c, err := g.client(entity)
	if err != nil {
		return billing.ProcessorRefund{}, err
	}
	if in.PaymentIntentID == "" {
		return billing.ProcessorRefund{}, apperr.Precondition("the payment has no PaymentIntent to refund")
	}
	amount, err := toStripeAmount(in.Currency, in.AmountMinor)
	if err != nil {
		return billing.ProcessorRefund{}, err
	}
	params := &stripe.RefundParams{
		PaymentIntent: stripe.String(in.PaymentIntentID),
		Amount:        stripe.Int64(amount),
	}
	params.Context = ctx
	params.SetIdempotencyKey(in.IdempotencyKey)
	params.AddMetadata("payment_id", in.PaymentID)
	params.AddMetadata("refund_id", in.RefundID)
	re, err := c.Refunds.New(params)
	if err != nil {
		return billing.ProcessorRefund{}, classify("create refund", err)
	}
	return billing.ProcessorRefund{ID: re.ID, Status: refundStatus(string(re.Status))}, nil
}

// refundStatus maps Stripe's refund statuses: requires_action is still pending; canceled is as
// good as failed (no money moved).
func refundStatus(s string) billing.RefundStatus {
	switch s {
	case "succeeded":
		return billing.RefundSucceeded
	case "failed", "canceled":
		return billing.RefundFailed
	}
	return billing.RefundPending
}

// classify turns a stripe-go error into a domain error. Stripe's messages are not passed on
// (they may quote request values); the error type and code are enough to act on.
func classify(op string, err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		// Network errors, timeouts and cancellations: retry with the same key.
		return fmt.Errorf("%s: %w: %w", op, apperr.ErrUnavailable, err)
	}
	switch {
	case se.HTTPStatusCode == http.StatusConflict || se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode >= 500:
		return fmt.Errorf("%s: %w: stripe answered %d", op, apperr.ErrUnavailable, se.HTTPStatusCode)
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		// Our configuration, not the caller's request: an internal error.
		return fmt.Errorf("%s: stripe refused our credentials (%d)", op, se.HTTPStatusCode)
	}
	code := string(se.Code)
	if code == "" {
		code = string(se.Type)
	}
	return apperr.Precondition("Stripe refused the request (%s)", code)
}

// zeroToTwo are the currencies that ISO 4217 gives no minor unit but Stripe expects in
// hundredths (stripe.com/docs/currencies#special-cases): our minor units are multiplied by 100.
var zeroToTwo = map[string]bool{"ISK": true, "UGX": true}

// toStripeAmount converts our minor units (ISO 4217 exponents) to Stripe's amount unit.
func toStripeAmount(currency string, minor int64) (int64, error) {
	if !zeroToTwo[strings.ToUpper(currency)] {
		return minor, nil
	}
	if minor > math.MaxInt64/100 {
		return 0, apperr.Precondition("the amount is too large for Stripe")
	}
	return minor * 100, nil
}

// fromStripeAmount is toStripeAmount's inverse, for amounts that webhooks report.
func fromStripeAmount(currency string, amount int64) int64 {
	if zeroToTwo[strings.ToUpper(currency)] {
		return amount / 100
	}
	return amount
}
