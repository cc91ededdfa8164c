package billing_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/billing"
)

func TestDecideEvent(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pay := func(s billing.PaymentStatus, refunded int64, at time.Time) billing.Payment {
		return billing.Payment{ID: "p", PaymentIntentID: "pi_1", AmountMinor: 2500, Currency: "USD", Status: s, RefundedMinor: refunded, StatusEventTime: at}
	}
	ev := func(typ string, at time.Time) billing.PaymentEvent {
		return billing.PaymentEvent{ID: "evt_1", Type: typ, Created: at, IntentID: "pi_1", AmountMinor: 2500, Currency: "USD"}
	}
	refundEv := func(cumulative int64, refunds ...billing.RefundFact) billing.PaymentEvent {
		e := ev("charge.refunded", t0)
		e.AmountRefunded, e.Refunds = cumulative, refunds
		return e
	}
	for _, tc := range []struct {
		name  string
		state billing.PaymentState
		want  billing.PaymentChange
	}{
		{
			name:  "succeeded pays the order",
			state: billing.PaymentState{Payment: pay(billing.PaymentRequiresPayment, 0, time.Time{}), OrderStatus: billing.StatusPendingPayment, Event: ev("payment_intent.succeeded", t0)},
			want:  billing.PaymentChange{Outcome: billing.OutcomeApplied, Status: billing.PaymentSucceeded, StatusEventTime: t0, OrderStatus: billing.StatusPaid},
		},
		{
			name:  "failure leaves the order awaiting payment",
			state: billing.PaymentState{Payment: pay(billing.PaymentRequiresPayment, 0, time.Time{}), OrderStatus: billing.StatusPendingPayment, Event: ev("payment_intent.payment_failed", t0)},
			want:  billing.PaymentChange{Outcome: billing.OutcomeApplied, Status: billing.PaymentFailed, StatusEventTime: t0, OrderStatus: billing.StatusPendingPayment},
		},
		{
			name:  "a late failure never undoes a success",
			state: billing.PaymentState{Payment: pay(billing.PaymentSucceeded, 0, t0), OrderStatus: billing.StatusPaid, Event: ev("payment_intent.payment_failed", t0.Add(time.Hour))},
			want:  billing.PaymentChange{Outcome: billing.OutcomeStale, Status: billing.PaymentSucceeded, StatusEventTime: t0, OrderStatus: billing.StatusPaid},
		},
		{
			name:  "a newer processing event follows a failure",
			state: billing.PaymentState{Payment: pay(billing.PaymentFailed, 0, t0), OrderStatus: billing.StatusPendingPayment, Event: ev("payment_intent.processing", t0.Add(time.Second))},
			want:  billing.PaymentChange{Outcome: billing.OutcomeApplied, Status: billing.PaymentProcessing, StatusEventTime: t0.Add(time.Second), OrderStatus: billing.StatusPendingPayment},
		},
		{
			name:  "an older processing event does not",
			state: billing.PaymentState{Payment: pay(billing.PaymentFailed, 0, t0), OrderStatus: billing.StatusPendingPayment, Event: ev("payment_intent.processing", t0.Add(-time.Second))},
			want:  billing.PaymentChange{Outcome: billing.OutcomeStale, Status: billing.PaymentFailed, StatusEventTime: t0, OrderStatus: billing.StatusPendingPayment},
		},
		{
			name: "an underpaid intent does not pay the order",
			state: billing.PaymentState{Payment: pay(billing.PaymentRequiresPayment, 0, time.Time{}), OrderStatus: billing.StatusPendingPayment,
				Event: billing.PaymentEvent{Type: "payment_intent.succeeded", Created: t0, AmountMinor: 100, Currency: "USD"}},
			want: billing.PaymentChange{Outcome: billing.OutcomeMismatch, Status: billing.PaymentRequiresPayment, OrderStatus: billing.StatusPendingPayment},
		},
		{
			name:  "a partial refund",
			state: billing.PaymentState{Payment: pay(billing.PaymentSucceeded, 0, t0), OrderStatus: billing.StatusFulfilled, Event: refundEv(500, billing.RefundFact{StripeRefundID: "re_1", AmountMinor: 500, Status: billing.RefundSucceeded})},
			want: billing.PaymentChange{Outcome: billing.OutcomeApplied, Status: billing.PaymentPartiallyRefunded, StatusEventTime: t0, RefundedMinor: 500,
				OrderStatus: billing.StatusFulfilled, Refunds: []billing.RefundFact{{StripeRefundID: "re_1", AmountMinor: 500, Status: billing.RefundSucceeded}}},
		},
		{
			name:  "a full refund before the success event refunds the order",
			state: billing.PaymentState{Payment: pay(billing.PaymentRequiresPayment, 0, time.Time{}), OrderStatus: billing.StatusPendingPayment, Event: refundEv(2500)},
			want:  billing.PaymentChange{Outcome: billing.OutcomeApplied, Status: billing.PaymentRefunded, StatusEventTime: t0, RefundedMinor: 2500, OrderStatus: billing.StatusRefunded},
		},
		{
			name:  "an older cumulative amount never lowers refunded_minor",
			state: billing.PaymentState{Payment: pay(billing.PaymentPartiallyRefunded, 1500, t0), OrderStatus: billing.StatusPaid, Event: refundEv(500)},
			want:  billing.PaymentChange{Outcome: billing.OutcomeStale, Status: billing.PaymentPartiallyRefunded, StatusEventTime: t0, RefundedMinor: 1500, OrderStatus: billing.StatusPaid},
		},
		{
			name:  "unknown event types are ignored",
			state: billing.PaymentState{Payment: pay(billing.PaymentRequiresPayment, 0, time.Time{}), OrderStatus: billing.StatusPendingPayment, Event: billing.PaymentEvent{Type: "invoice.paid"}},
			want:  billing.PaymentChange{Outcome: billing.OutcomeIgnored, Status: billing.PaymentRequiresPayment, OrderStatus: billing.StatusPendingPayment},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, billing.DecideEvent(tc.state)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettleRefund(t *testing.T) {
	t.Parallel()
	p := billing.Payment{AmountMinor: 1000, Status: billing.PaymentSucceeded}
	for _, tc := range []struct {
		order     billing.Status
		accepted  int64
		want      billing.PaymentStatus
		wantOrder billing.Status
	}{
		{billing.StatusPaid, 400, billing.PaymentPartiallyRefunded, billing.StatusPaid},
		{billing.StatusPaid, 1000, billing.PaymentRefunded, billing.StatusRefunded},
		{billing.StatusFulfilled, 1000, billing.PaymentRefunded, billing.StatusRefunded},
		// More than the amount can only be a misreport: clamp, never exceed.
		{billing.StatusPaid, 5000, billing.PaymentRefunded, billing.StatusRefunded},
	} {
		c := billing.SettleRefund(p, tc.order, tc.accepted)
		if c.Status != tc.want || c.OrderStatus != tc.wantOrder || c.RefundedMinor != min(tc.accepted, 1000) {
			t.Errorf("%s %d: got %s %s %d", tc.order, tc.accepted, c.Status, c.OrderStatus, c.RefundedMinor)
		}
	}
}

func TestStatusRank(t *testing.T) {
	t.Parallel()
	order := [][]billing.PaymentStatus{
		{billing.PaymentRequiresPayment},
		{billing.PaymentProcessing, billing.PaymentFailed},
		{billing.PaymentSucceeded, billing.PaymentCanceled},
		{billing.PaymentPartiallyRefunded},
		{billing.PaymentRefunded},
	}
	for rank, group := range order {
		for _, s := range group {
			if s.Rank() != rank {
				t.Errorf("%s rank %d, want %d", s, s.Rank(), rank)
			}
		}
	}
}

func FuzzValidateIdempotencyKey(f *testing.F) {
	for _, s := range []string{"", "k1", "order-42/attempt-1", "\x00", "a\nb", string(make([]byte, 200)), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := billing.ValidateIdempotencyKey(key)
		var inv *apperr.InvalidError
		if err != nil && (!errors.As(err, &inv) || inv.Field != "idempotency_key") {
			t.Fatalf("%q: %v is not an InvalidError naming idempotency_key", key, err)
		}
	})
}
