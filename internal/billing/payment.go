package billing

import (
	"context"
	"strconv"
	"time"
)

// PaymentStatus is where a storefront card payment is, following its Stripe PaymentIntent.
type PaymentStatus string

// Payment statuses. Stripe's requires_payment_method, requires_confirmation and requires_action
// are all "the buyer has not paid yet": RequiresPayment.
const (
	PaymentRequiresPayment   PaymentStatus = "requires_payment"
	PaymentProcessing        PaymentStatus = "processing"
	PaymentSucceeded         PaymentStatus = "succeeded"
	PaymentFailed            PaymentStatus = "failed"
	PaymentCanceled          PaymentStatus = "canceled"
	PaymentPartiallyRefunded PaymentStatus = "partially_refunded"
	PaymentRefunded          PaymentStatus = "refunded"
)

// Rank orders payment statuses so that a stale or out-of-order webhook never moves a payment
// backwards: an event may only raise the rank. Processing and Failed share a rank because
// Stripe moves between them both ways (a failed attempt is retried with another card, an
// asynchronous attempt fails); within that rank the newer event wins. Succeeded and Canceled
// are final for the PaymentIntent; refunds only grow.
func (s PaymentStatus) Rank() int {
	switch s {
	case PaymentRequiresPayment:
		return 0
	case PaymentProcessing, PaymentFailed:
		return 1
	case PaymentSucceeded, PaymentCanceled:
		return 2
	case PaymentPartiallyRefunded:
		return 3
	case PaymentRefunded:
		return 4
	}
	return -1
}

// Confirmable reports whether the buyer can still pay: only then is the client_secret useful,
// so only then is it kept and handed out.
func (s PaymentStatus) Confirmable() bool {
	return s == PaymentRequiresPayment || s == PaymentProcessing || s == PaymentFailed
}

// Captured reports whether the payment's money was taken, so that it can be refunded.
func (s PaymentStatus) Captured() bool {
	return s == PaymentSucceeded || s == PaymentPartiallyRefunded
}

// Payment is a storefront card payment as stored. We hold Stripe ids, never card data.
type Payment struct {
	ID         string
	OrderID    string
	CustomerID string
	// StripeEntity is the order's entity (country.StripeUS or country.StripeIE), never guessed.
	StripeEntity string
	// PaymentIntentID is empty until Stripe answered the create call.
	PaymentIntentID string
	// ClientSecret is the PaymentIntent's client secret. The store fills it while the payment
	// is confirmable; the service clears it for every caller but the storefront that made it.
	ClientSecret string
	// PublishableKey is the entity's publishable key, set by the service (not stored).
	PublishableKey string
	AmountMinor    int64
	Currency       string
	Status         PaymentStatus
	// StatusEventTime is the creation time of the Stripe event that set Status; zero when
	// Status was set by us.
	StatusEventTime      time.Time
	RefundedMinor        int64
	AllowedSubprocessors []string
	Version              int64
	CreateBy             string
	CreateTime           time.Time
	UpdateTime           time.Time
}

// ETag is the payment's version rendered for AIP-154.
func (p Payment) ETag() string { return strconv.FormatInt(p.Version, 10) }

// RefundStatus follows a Stripe refund; Pending also covers a refund we recorded but Stripe
// has not answered yet.
type RefundStatus string

// Refund statuses.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Refund is a refund of a payment.
type Refund struct {
	ID        string
	PaymentID string
	// StripeRefundID is empty until Stripe answered.
	StripeRefundID string
	AmountMinor    int64
	Currency       string
	Status         RefundStatus
	CreateBy       string
	CreateTime     time.Time
	UpdateTime     time.Time
}

// Entity is a Stripe entity with the key that the storefront's card form needs.
type Entity struct {
	Name           string
	PublishableKey string
}

// OrderFacts are what a payment needs to know about its order (and the order's customer), read
// by the store under a lock on the order.
type OrderFacts struct {
	OrderID          string
	CustomerID       string
	Channel          Channel
	Status           Status
	StripeEntity     string
	Currency         string
	GrossMinor       int64
	CreateBy         string
	ResidencyCountry string
	CustomerErased   bool
	// HasLivePayment is true when the order already has a payment that is not canceled.
	HasLivePayment bool
}

// PaymentClaim is what the store needs to record a new payment idempotently.
type PaymentClaim struct {
	// PaymentID is the id the payment gets if this claim creates one.
	PaymentID      string
	OrderID        string
	IdempotencyKey string
	CreateBy       string
}

// RefundClaim is what the store needs to record a new refund idempotently.
type RefundClaim struct {
	RefundID       string
	PaymentID      string
	IdempotencyKey string
	AmountMinor    int64
	CreateBy       string
	At             time.Time
}

// IntentInput is a PaymentIntent creation request.
type IntentInput struct {
	// IdempotencyKey is derived from our payment id (IntentKey): the same payment always asks
	// Stripe with the same key, across retries and restarts.
	IdempotencyKey string
	PaymentID      string
	OrderID        string
	AmountMinor    int64
	Currency       string
}

// Intent is Stripe's answer to IntentInput.
type Intent struct {
	ID           string
	ClientSecret string
}

// RefundInput is a refund creation request.
type RefundInput struct {
	// IdempotencyKey is derived from our refund id (RefundKey).
	IdempotencyKey  string
	RefundID        string
	PaymentID       string
	PaymentIntentID string
	AmountMinor     int64
	Currency        string
}

// ProcessorRefund is Stripe's answer to RefundInput.
type ProcessorRefund struct {
	ID     string
	Status RefundStatus
}

// Gateway is the card processor, one account per Stripe entity. Implementations return
// apperr.ErrUnavailable (wrapped) when the call may be retried, and an
// *apperr.PreconditionError when Stripe refused the request for good.
type Gateway interface {
	// PublishableKey returns the entity's publishable key; an unknown entity is an error.
	PublishableKey(entity string) (string, error)
	// CreateIntent creates a PaymentIntent with entity's own account.
	CreateIntent(ctx context.Context, entity string, in IntentInput) (Intent, error)
	// CreateRefund refunds part or all of a PaymentIntent with entity's own account.
	CreateRefund(ctx context.Context, entity string, in RefundInput) (ProcessorRefund, error)
}

// IntentKey is the Stripe idempotency key of the PaymentIntent of payment id.
func IntentKey(paymentID string) string { return "cc-payment-" + paymentID }

// RefundKey is the Stripe idempotency key of refund id.
func RefundKey(refundID string) string { return "cc-refund-" + refundID }

// PaymentStore persists payments, refunds and webhook events.
type PaymentStore interface {
	// ClaimPayment runs one transaction: it locks the order (apperr.ErrNotFound if none) and
	// reads its facts, calls see (whose error aborts, so that a caller who may not see the
	// order learns nothing), claims (order, idempotency key) and, on a replay, returns the
	// payment the first claim created with replay true (a different request under the key is
	// apperr.ErrAlreadyExists). Otherwise it calls build and inserts the payment it returns,
	// without an intent yet. Concurrent claims of one key yield one payment.
	ClaimPayment(ctx context.Context, c PaymentClaim, see func(OrderFacts) error,
		build func(OrderFacts) (Payment, error)) (p Payment, replay bool, err error)
	// AttachIntent runs one transaction holding the payment's row lock: if the payment has no
	// PaymentIntent yet it calls create and stores its answer (the client secret sealed);
	// otherwise it returns the payment as stored without calling create. Concurrent callers
	// for one payment therefore call create once; a crash in create leaves the payment without
	// an intent, for a retry to complete with the same derived key. Before create, the payment's
	// current flow list must name its Stripe entity (DOMAIN.md rule 1): otherwise create is not
	// called, the refusal is audited, the payment is left unchanged and an
	// *apperr.PreconditionError is returned.
	AttachIntent(ctx context.Context, paymentID string, at time.Time, create func(Payment) (Intent, error)) (Payment, error)
	// GetPayment returns the payment (client secret opened while confirmable) or
	// apperr.ErrNotFound.
	GetPayment(ctx context.Context, id string) (Payment, error)
	// ClaimRefund runs one transaction: it locks the payment (apperr.ErrNotFound if none),
	// claims (payment, idempotency key) and on a replay returns the first refund with replay
	// true. Otherwise it calls check with the payment and the sum of its refunds that are not
	// failed (check's error aborts) and inserts a pending refund.
	ClaimRefund(ctx context.Context, c RefundClaim, check func(p Payment, reservedMinor int64) error) (r Refund, replay bool, err error)
	// FinishRefund runs one transaction holding the refund's, the payment's and the order's
	// row locks: if the refund is pending without a Stripe id it calls create and records the
	// answer, then calls settle with the payment, its order's status and the sum of the
	// payment's refunds that Stripe accepted, and writes the change settle returns. Otherwise
	// it returns the refund as stored. An *apperr.PreconditionError from create (Stripe
	// refused) marks the refund failed, releasing its reservation, and is returned; any other
	// error from create changes nothing, for a retry to call again with the same derived key.
	// The payment's flow list is checked before create as in AttachIntent; a refused flow
	// leaves the refund pending (its amount reserved) and returns an *apperr.PreconditionError.
	FinishRefund(ctx context.Context, refundID string, at time.Time, create func(Refund, Payment) (ProcessorRefund, error),
		settle func(p Payment, order Status, acceptedMinor int64) PaymentChange) (Refund, error)
	// ApplyEvent runs one transaction: it records the event id (a duplicate returns
	// OutcomeDuplicate and changes nothing), finds and locks the payment the event is about
	// and its order, calls decide and writes its change.
	ApplyEvent(ctx context.Context, ev PaymentEvent, at time.Time, decide func(PaymentState) PaymentChange) (Outcome, error)
}
