package billing

import (
	"strings"
	"time"
)

// EventKind is what a verified Stripe webhook event means for a payment.
type EventKind string

// Event kinds. Every other Stripe event type is EventIgnored: acknowledged and recorded, with
// no effect.
const (
	EventSucceeded  EventKind = "payment_intent.succeeded"
	EventFailed     EventKind = "payment_intent.payment_failed"
	EventProcessing EventKind = "payment_intent.processing"
	EventCanceled   EventKind = "payment_intent.canceled"
	EventRefunded   EventKind = "charge.refunded"
	EventIgnored    EventKind = ""
)

// KindOf maps a Stripe event type to its kind.
func KindOf(eventType string) EventKind {
	switch k := EventKind(eventType); k {
	case EventSucceeded, EventFailed, EventProcessing, EventCanceled, EventRefunded:
		return k
	}
	return EventIgnored
}

// PaymentEvent is a verified Stripe event reduced to the facts payments act on. The webhook
// adapter builds it; nothing in it is personal data or card data.
type PaymentEvent struct {
	ID   string
	Type string
	// Created is when Stripe created the event: the order between events of equal rank.
	Created time.Time
	// Entity is the Stripe entity whose signing secret verified the event.
	Entity string
	// IntentID is the PaymentIntent the event is about (for charge events, the charge's).
	IntentID string
	// PaymentID is our payment id from the PaymentIntent's metadata, when present: it finds
	// the payment even if the event overtook the storing of the PaymentIntent id.
	PaymentID string
	// AmountMinor and Currency are the PaymentIntent's (or charge's) amount, in our minor
	// units and upper case.
	AmountMinor int64
	Currency    string
	// AmountRefunded is the charge's cumulative refunded amount (charge.refunded).
	AmountRefunded int64
	// Refunds are the charge's refunds, when the event carries them.
	Refunds []RefundFact
}

// RefundFact is one Stripe refund as an event reports it.
type RefundFact struct {
	StripeRefundID string
	AmountMinor    int64
	Status         RefundStatus
}

// Outcome says what an event did; it is recorded with the event id.
type Outcome string

// Event outcomes.
const (
	OutcomeApplied        Outcome = "applied"
	OutcomeStale          Outcome = "stale"
	OutcomeDuplicate      Outcome = "duplicate"
	OutcomeIgnored        Outcome = "ignored"
	OutcomeUnknownPayment Outcome = "unknown_payment"
	OutcomeMismatch       Outcome = "amount_mismatch"
)

// PaymentState is what ApplyEvent's decision reads: the payment the event is about and its
// order's status, both locked.
type PaymentState struct {
	Payment     Payment
	OrderStatus Status
	Event       PaymentEvent
}

// PaymentChange is the decided new state of a payment and its order. Fields equal to the
// current state mean "unchanged".
type PaymentChange struct {
	Outcome Outcome
	Status  PaymentStatus
	// StatusEventTime is the event time to record with a status change.
	StatusEventTime time.Time
	RefundedMinor   int64
	// IntentID is stored when the payment has no PaymentIntent id yet.
	IntentID    string
	OrderStatus Status
	// Refunds are upserted by Stripe refund id.
	Refunds []RefundFact
}

// unchanged is the change that changes nothing.
func unchanged(s PaymentState, o Outcome) PaymentChange {
	return PaymentChange{
		Outcome:         o,
		Status:          s.Payment.Status,
		StatusEventTime: s.Payment.StatusEventTime,
		RefundedMinor:   s.Payment.RefundedMinor,
		OrderStatus:     s.OrderStatus,
	}
}

// DecideEvent is the webhook state machine. It is pure: the store calls it under the
// payment's and the order's locks and writes what it returns.
//   - A status only moves up in rank (PaymentStatus.Rank); within a rank only a newer event
//     moves it. Anything else is OutcomeStale and changes nothing.
//   - payment_intent.succeeded pays the order (PENDING_PAYMENT → PAID).
//   - payment_intent.payment_failed leaves the order PENDING_PAYMENT: the buyer may retry.
//   - charge.refunded records the refunds by id and raises refunded_minor to the charge's
//     cumulative amount (never lowers it); a full refund refunds the order.
//   - An event whose amount or currency differs from the payment's is not applied
//     (OutcomeMismatch): an underpaid intent must not pay the order.
func DecideEvent(s PaymentState) PaymentChange {
	p, ev := s.Payment, s.Event
	if ev.Currency != "" && (!strings.EqualFold(ev.Currency, p.Currency) || ev.AmountMinor != p.AmountMinor) {
		return unchanged(s, OutcomeMismatch)
	}
	c := unchanged(s, OutcomeApplied)
	if p.PaymentIntentID == "" {
		c.IntentID = ev.IntentID
	}
	switch KindOf(ev.Type) {
	case EventSucceeded:
		if !c.raise(p, PaymentSucceeded, ev.Created) {
			c.Outcome = OutcomeStale
			return c
		}
		c.OrderStatus = afterPayment(s.OrderStatus)
	case EventFailed:
		if !c.raise(p, PaymentFailed, ev.Created) {
			c.Outcome = OutcomeStale
		}
	case EventProcessing:
		if !c.raise(p, PaymentProcessing, ev.Created) {
			c.Outcome = OutcomeStale
		}
	case EventCanceled:
		if !c.raise(p, PaymentCanceled, ev.Created) {
			c.Outcome = OutcomeStale
		}
	case EventRefunded:
		var sum int64
		for _, r := range ev.Refunds {
			if r.Status != RefundFailed {
				sum += r.AmountMinor
			}
		}
		c.Refunds = ev.Refunds
		refunded := min(max(p.RefundedMinor, ev.AmountRefunded, sum), p.AmountMinor)
		if refunded == p.RefundedMinor && len(ev.Refunds) == 0 {
			c.Outcome = OutcomeStale
			return c
		}
		c.applyRefunded(p, s.OrderStatus, refunded, ev.Created)
	default:
		c.Outcome = OutcomeIgnored
	}
	return c
}

// SettleRefund is the change after a refund Stripe accepted: refunded_minor rises to the sum
// of accepted refunds (never falls) and a full refund refunds the order.
func SettleRefund(p Payment, order Status, acceptedMinor int64) PaymentChange {
	c := PaymentChange{
		Outcome:         OutcomeApplied,
		Status:          p.Status,
		StatusEventTime: p.StatusEventTime,
		RefundedMinor:   p.RefundedMinor,
		OrderStatus:     order,
	}
	c.applyRefunded(p, order, min(max(p.RefundedMinor, acceptedMinor), p.AmountMinor), p.StatusEventTime)
	return c
}

// raise moves the change's status to next if the rank rule allows it and reports whether it
// did.
func (c *PaymentChange) raise(p Payment, next PaymentStatus, at time.Time) bool {
	cur := p.Status
	up := next.Rank() > cur.Rank() ||
		(next.Rank() == 1 && cur.Rank() == 1 && next != cur && at.After(p.StatusEventTime))
	if !up {
		return false
	}
	c.Status, c.StatusEventTime = next, at
	return true
}

// applyRefunded sets the refunded amount and the statuses that follow from it.
func (c *PaymentChange) applyRefunded(p Payment, order Status, refunded int64, at time.Time) {
	c.RefundedMinor = refunded
	if refunded <= 0 {
		return
	}
	next := PaymentPartiallyRefunded
	if refunded >= p.AmountMinor {
		next = PaymentRefunded
	}
	c.raise(p, next, at)
	// Money was refunded, so it was paid, even if the succeeded event has not arrived yet.
	c.OrderStatus = afterPayment(order)
	if refunded >= p.AmountMinor {
		if Transition(c.OrderStatus, StatusRefunded) == nil {
			c.OrderStatus = StatusRefunded
		}
	}
}

// afterPayment is the order's status once its payment succeeded: PENDING_PAYMENT becomes PAID;
// any other status stays (a payment for a cancelled order is left for finance to refund).
func afterPayment(order Status) Status {
	if Transition(order, StatusPaid) == nil {
		return StatusPaid
	}
	return order
}
