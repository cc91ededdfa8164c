package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/country"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/validate"
)

// Payments applies the payment rules on top of a PaymentStore and the card processor.
type Payments struct {
	store   PaymentStore
	gateway Gateway
	policy  dataflow.Policy
	now     func() time.Time
}

// NewPayments returns a Payments service. gateway holds one Stripe account per entity; policy
// decides the payments' flow lists; now is injectable so that tests control time.
func NewPayments(store PaymentStore, gateway Gateway, policy dataflow.Policy, now func() time.Time) *Payments {
	return &Payments{store: store, gateway: gateway, policy: policy, now: now}
}

// ResolveEntity returns the Stripe entity that serves residents of residencyCountry and its
// publishable key. There is no fallback: an unknown code is an error, never a guess.
//
// Errors: *apperr.InvalidError ("residency_country") for a code that is not an assigned ISO
// 3166-1 alpha-2 code in upper case; an error when the entity has no configured account.
func (s *Payments) ResolveEntity(residencyCountry string) (Entity, error) {
	name, err := country.StripeEntityFor(residencyCountry)
	if errors.Is(err, country.ErrUnassigned) {
		return Entity{}, apperr.Invalid("residency_country", "is not an assigned ISO 3166-1 alpha-2 code (upper case)")
	}
	if err != nil {
		return Entity{}, err
	}
	key, err := s.gateway.PublishableKey(name)
	if err != nil {
		return Entity{}, fmt.Errorf("resolve stripe entity: %w", err)
	}
	return Entity{Name: name, PublishableKey: key}, nil
}

// Create starts the card payment of a storefront order, or returns the payment an earlier call
// with the same idempotency key started. Our payment row is committed first; the PaymentIntent
// is then created with the order's entity's own account under a key derived from the payment
// id, so a retry after a crash between the two never creates a second PaymentIntent.
//
// Errors: *apperr.InvalidError naming order_id or idempotency_key; apperr.ErrNotFound when the
// order does not exist or the caller may not pay it (another storefront's order);
// *apperr.PreconditionError for a reseller order, an order not awaiting payment, an order with
// nothing to pay, an order that already has a live payment under another key, a payment whose
// flow list does not name its Stripe entity (the call is refused and audited), or a refusal by
// Stripe; apperr.ErrAlreadyExists when the key was used by a different request;
// apperr.ErrUnavailable when the database or Stripe cannot be reached (retry with the same key).
func (s *Payments) Create(ctx context.Context, who auth.Identity, orderID, idempotencyKey string) (Payment, error) {
	orderID, err := validate.ID("order_id", orderID)
	if err != nil {
		return Payment{}, err
	}
	if err := validateIdempotencyKey(idempotencyKey); err != nil {
		return Payment{}, err
	}
	now := s.timestamp()
	claim := PaymentClaim{
		PaymentID:      uuid.Must(uuid.NewV7()).String(),
		OrderID:        orderID,
		IdempotencyKey: idempotencyKey,
		CreateBy:       who.Subject,
	}
	see := func(f OrderFacts) error {
		if !mayPay(who, f) {
			return apperr.ErrNotFound
		}
		return nil
	}
	p, _, err := s.store.ClaimPayment(ctx, claim, see, func(f OrderFacts) (Payment, error) {
		return s.buildPayment(who, claim.PaymentID, f, now)
	})
	if err != nil {
		return Payment{}, fmt.Errorf("create payment for order %s: %w", orderID, err)
	}
	if p.PaymentIntentID == "" {
		p, err = s.store.AttachIntent(ctx, p.ID, s.timestamp(), func(p Payment) (Intent, error) {
			return s.gateway.CreateIntent(ctx, p.StripeEntity, IntentInput{
				IdempotencyKey: IntentKey(p.ID),
				PaymentID:      p.ID,
				OrderID:        p.OrderID,
				AmountMinor:    p.AmountMinor,
				Currency:       p.Currency,
			})
		})
		if err != nil {
			return Payment{}, fmt.Errorf("create payment intent for payment %s: %w", claim.PaymentID, err)
		}
	}
	return s.present(who, p)
}

// buildPayment applies the rules that depend on the order. It is pure: the store calls it
// under the order's lock.
func (s *Payments) buildPayment(who auth.Identity, id string, f OrderFacts, now time.Time) (Payment, error) {
	switch {
	case f.Channel != ChannelStorefront:
		return Payment{}, apperr.Precondition("only storefront orders are paid by card here; reseller orders are invoiced by the reseller")
	case f.Status != StatusPendingPayment:
		return Payment{}, apperr.Precondition("the order is %s, not awaiting payment", statusName(f.Status))
	case f.GrossMinor <= 0:
		return Payment{}, apperr.Precondition("the order has nothing to pay")
	case f.CustomerErased:
		return Payment{}, apperr.Precondition("the customer's data was erased: no new payments can be taken")
	case f.HasLivePayment:
		return Payment{}, apperr.Precondition("the order already has a payment; repeat its idempotency_key to get it back " +
			"(a second PaymentIntent could charge the buyer twice)")
	case f.StripeEntity != country.StripeUS && f.StripeEntity != country.StripeIE:
		// The entity was decided when the order was made; a payment never decides it again.
		return Payment{}, apperr.Precondition("the order has no Stripe entity")
	}
	p := Payment{
		ID:           id,
		OrderID:      f.OrderID,
		CustomerID:   f.CustomerID,
		StripeEntity: f.StripeEntity,
		AmountMinor:  f.GrossMinor,
		Currency:     f.Currency,
		Status:       PaymentRequiresPayment,
		Version:      1,
		CreateBy:     who.Subject,
		CreateTime:   now,
		UpdateTime:   now,
	}
	p.AllowedSubprocessors = s.PaymentFlows(p, f.ResidencyCountry)
	return p, nil
}

// PaymentFlows returns the sorted flow list of a storefront payment: its one Stripe entity
// plus what DOMAIN.md's table gives every payment.
func (s *Payments) PaymentFlows(p Payment, residencyCountry string) []string {
	return s.policy.Decide(PaymentFacts(p, residencyCountry)).Allowed
}

// Get returns the payment if the caller may see it. The client secret is returned only to the
// storefront that created the payment, and only while the buyer can still pay.
//
// Errors: *apperr.InvalidError ("id"); apperr.ErrNotFound when it does not exist or the
// caller may not see it; apperr.ErrUnavailable.
func (s *Payments) Get(ctx context.Context, who auth.Identity, id string) (Payment, error) {
	id, err := validate.ID("id", id)
	if err != nil {
		return Payment{}, err
	}
	p, err := s.store.GetPayment(ctx, id)
	if err != nil {
		return Payment{}, fmt.Errorf("get payment %s: %w", id, err)
	}
	if !seesPayment(who, p) {
		return Payment{}, fmt.Errorf("get payment %s: %w", id, apperr.ErrNotFound)
	}
	return s.present(who, p)
}

// Refund refunds amountMinor of a captured payment through its entity's account. The refund
// row is committed first (reserving the amount), then Stripe is called under a key derived
// from the refund id. The same idempotency key returns the same refund.
//
// Errors: *apperr.InvalidError naming payment_id, amount_minor or idempotency_key;
// apperr.ErrPermission unless the caller is finance or admin; apperr.ErrNotFound;
// *apperr.PreconditionError when the payment was not captured, when the refunds would exceed
// what was captured, when the payment's flow list does not name its Stripe entity (the call is
// refused and audited), or when Stripe refused; apperr.ErrAlreadyExists when the key was used by
// a different request; apperr.ErrUnavailable (retry with the same key).
func (s *Payments) Refund(ctx context.Context, who auth.Identity, paymentID string, amountMinor int64, idempotencyKey string) (Refund, error) {
	paymentID, err := validate.ID("payment_id", paymentID)
	if err != nil {
		return Refund{}, err
	}
	if amountMinor <= 0 {
		return Refund{}, apperr.Invalid("amount_minor", "must be greater than 0")
	}
	if err := validateIdempotencyKey(idempotencyKey); err != nil {
		return Refund{}, err
	}
	if !mayRefund(who) {
		return Refund{}, fmt.Errorf("refund payment %s: %w", paymentID, apperr.ErrPermission)
	}
	claim := RefundClaim{
		RefundID:       uuid.Must(uuid.NewV7()).String(),
		PaymentID:      paymentID,
		IdempotencyKey: idempotencyKey,
		AmountMinor:    amountMinor,
		CreateBy:       who.Subject,
		At:             s.timestamp(),
	}
	r, _, err := s.store.ClaimRefund(ctx, claim, func(p Payment, reserved int64) error {
		return checkRefund(p, reserved, amountMinor)
	})
	if err != nil {
		return Refund{}, fmt.Errorf("refund payment %s: %w", paymentID, err)
	}
	if r.Status != RefundPending || r.StripeRefundID != "" {
		return r, nil
	}
	r, err = s.store.FinishRefund(ctx, r.ID, s.timestamp(), func(r Refund, p Payment) (ProcessorRefund, error) {
		return s.gateway.CreateRefund(ctx, p.StripeEntity, RefundInput{
			IdempotencyKey:  RefundKey(r.ID),
			RefundID:        r.ID,
			PaymentID:       p.ID,
			PaymentIntentID: p.PaymentIntentID,
			AmountMinor:     r.AmountMinor,
			Currency:        r.Currency,
		})
	}, SettleRefund)
	if err != nil {
		return Refund{}, fmt.Errorf("refund payment %s: %w", paymentID, err)
	}
	return r, nil
}

// checkRefund is the refund rule: only captured money, and never more than was captured in
// total (refunds not yet answered by Stripe count, so concurrent refunds cannot overshoot).
func checkRefund(p Payment, reservedMinor, amountMinor int64) error {
	if !p.Captured() {
		return apperr.Precondition("only a captured payment can be refunded; this one is %s", p.Status)
	}
	if amountMinor > p.AmountMinor-reservedMinor {
		return apperr.Precondition("refunds would exceed the captured amount: %d of %d minor units are left to refund",
			max(p.AmountMinor-reservedMinor, 0), p.AmountMinor)
	}
	return nil
}

// Captured reports whether the payment's money was taken and not all refunded.
func (p Payment) Captured() bool { return p.Status.Captured() }

// ApplyEvent applies a verified Stripe event once, whatever the number and order of its
// deliveries. Unknown event types, and events about payments we do not hold, are recorded and
// acknowledged.
//
// Errors: apperr.ErrUnavailable (Stripe should deliver again).
func (s *Payments) ApplyEvent(ctx context.Context, ev PaymentEvent) (Outcome, error) {
	out, err := s.store.ApplyEvent(ctx, ev, s.timestamp(), DecideEvent)
	if err != nil {
		return "", fmt.Errorf("apply stripe event %s: %w", ev.ID, err)
	}
	return out, nil
}

// present fills the publishable key and hides the client secret from everyone but the
// storefront that created the payment.
func (s *Payments) present(who auth.Identity, p Payment) (Payment, error) {
	key, err := s.gateway.PublishableKey(p.StripeEntity)
	if err != nil {
		return Payment{}, err
	}
	p.PublishableKey = key
	if !who.Has(auth.RoleStorefront) || who.Subject == "" || p.CreateBy != who.Subject || !p.Status.Confirmable() {
		p.ClientSecret = ""
	}
	return p, nil
}

func (s *Payments) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Record-level rules for payments (the role table in auth decides who may call which RPC).

// mayPay reports whether the caller may start a payment for the order: the storefront that
// created the order, or admin.
func mayPay(who auth.Identity, f OrderFacts) bool {
	if who.IsAdmin() {
		return true
	}
	return who.Has(auth.RoleStorefront) && who.Subject != "" && f.CreateBy == who.Subject
}

// seesPayment reports whether the caller may read the payment: finance and admin read every
// payment, the storefront the payments it created. Agents never see payments (API.md).
func seesPayment(who auth.Identity, p Payment) bool {
	if who.IsAdmin() || who.Has(auth.RoleFinance) {
		return true
	}
	return who.Has(auth.RoleStorefront) && who.Subject != "" && p.CreateBy == who.Subject
}

// mayRefund reports whether the caller may refund: finance and admin.
func mayRefund(who auth.Identity) bool { return who.IsAdmin() || who.Has(auth.RoleFinance) }

// ValidateIdempotencyKey checks a payment or refund idempotency key. Unlike an order's
// request_id it is required: a payment without one could be started twice by a retry.
// It returns nil or an *apperr.InvalidError naming idempotency_key.
func ValidateIdempotencyKey(key string) error { return validateIdempotencyKey(key) }

func validateIdempotencyKey(key string) error {
	if key == "" {
		return apperr.Invalid("idempotency_key", "is required")
	}
	return validate.RequestID("idempotency_key", key)
}
