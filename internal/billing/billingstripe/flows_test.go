package billingstripe_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing/billingstripe"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
)

// setAllowed overwrites a record's list in the flow ledger only, as a fact change would that
// the record's own row has not caught up with: the call-time check must read the ledger.
func (b bundle) setAllowed(t *testing.T, recordID string, allowed []string) {
	t.Helper()
	tag, err := b.pool.Exec(t.Context(), `UPDATE flow_records SET allowed_subprocessors = $2 WHERE record_id = $1`, recordID, allowed)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("set ledger list of %s: %v (%d rows)", recordID, err, tag.RowsAffected())
	}
}

// ledger returns a record's kind and list in the flow ledger.
func (b bundle) ledger(t *testing.T, recordID string) (string, []string) {
	t.Helper()
	var kind string
	var allowed []string
	err := b.pool.QueryRow(t.Context(), `SELECT kind, allowed_subprocessors FROM flow_records WHERE record_id = $1`, recordID).Scan(&kind, &allowed)
	if err != nil {
		t.Fatalf("ledger entry of %s: %v", recordID, err)
	}
	return kind, allowed
}

// refusals returns the processors of a record's 'refused' audit entries that name no delivery
// (direct calls).
func (b bundle) refusals(t *testing.T, recordID string) []string {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT subprocessor_id FROM flow_audit
		WHERE record_id = $1 AND action = 'refused' AND delivery_id IS NULL ORDER BY create_time`, recordID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPaymentIsTracked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct{ residency, entity string }{{"US", "stripe_us"}, {"DE", "stripe_ie"}} {
		p := b.newPayment(t, tc.residency)
		kind, allowed := b.ledger(t, p.GetId())
		want := []string{"aws_us", "bigcommerce", "microsoft", tc.entity}
		if kind != "payment" || !cmp.Equal(want, allowed) || !cmp.Equal(want, p.GetAllowedSubprocessors()) {
			t.Errorf("residency %s: ledger %s %v, payment %v; want payment %v", tc.residency, kind, allowed, p.GetAllowedSubprocessors(), want)
		}
	}
}

func TestPaymentIntentRefusedOffTheList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cust := b.customer(t, "US", "US", "shop")
	order := b.storefrontOrder(t, cust, "shop")
	ctx := b.as("shop", auth.RoleStorefront)
	// The first attempt stops after our row is written, as a lost connection to Stripe would.
	b.rec.mu.Lock()
	b.rec.fail = func(*http.Request) error { return errors.New("connection reset") }
	b.rec.mu.Unlock()
	_, err := b.client.CreatePayment(ctx, &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	wantCode(t, err, codes.Unavailable, "")
	b.rec.mu.Lock()
	b.rec.fail = nil
	b.rec.mu.Unlock()
	var id string
	if err := b.pool.QueryRow(t.Context(), `SELECT id FROM payments WHERE order_id = $1`, order.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}

	b.setAllowed(t, id, []string{"aws_us", "bigcommerce", "microsoft"})
	_, err = b.client.CreatePayment(ctx, &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	wantCode(t, err, codes.FailedPrecondition, "")
	if n := b.rec.count("/v1/payment_intents"); n != 0 {
		t.Errorf("stripe saw %d PaymentIntent creates, want 0", n)
	}
	if diff := cmp.Diff([]string{"stripe_us"}, b.refusals(t, id)); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
	if p := b.payment(t, id); p.GetStatus() != ordersv1.PaymentStatus_PAYMENT_STATUS_REQUIRES_PAYMENT || p.GetPaymentIntentId() != "" {
		t.Errorf("refused payment is %v with intent %q, want unchanged", p.GetStatus(), p.GetPaymentIntentId())
	}

	// The refusal changed nothing else: once the list names the entity again, the same key
	// completes the payment.
	b.setAllowed(t, id, []string{"aws_us", "bigcommerce", "microsoft", "stripe_us"})
	p, err := b.client.CreatePayment(ctx, &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetId() != id || p.GetPaymentIntentId() == "" || b.rec.count("/v1/payment_intents") != 1 {
		t.Errorf("retry: payment %s intent %q after %d creates", p.GetId(), p.GetPaymentIntentId(), b.rec.count("/v1/payment_intents"))
	}
}

func TestRefundRefusedOffTheList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.newPayment(t, "US")
	if code := b.post(t, billingstripe.PathUS, event("evt_flow1", "payment_intent.succeeded", time.Now(), intentObject(p, "succeeded")),
		accounts.US.WebhookSecret, time.Now()); code != http.StatusOK {
		t.Fatalf("succeeded: HTTP %d", code)
	}
	// Stripe Payments Europe is another entity: it is not this payment's.
	b.setAllowed(t, p.GetId(), []string{"aws_us", "bigcommerce", "microsoft", "stripe_ie"})
	fin := b.as("fin", auth.RoleFinance)
	_, err := b.client.RefundPayment(fin, &ordersv1.RefundPaymentRequest{PaymentId: p.GetId(), AmountMinor: 500, IdempotencyKey: "r1"})
	wantCode(t, err, codes.FailedPrecondition, "")
	if n := b.rec.count("/v1/refunds"); n != 0 {
		t.Errorf("stripe saw %d refund creates, want 0", n)
	}
	if diff := cmp.Diff([]string{"stripe_us"}, b.refusals(t, p.GetId())); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
	var status, stripeID string
	err = b.pool.QueryRow(t.Context(), `SELECT status, stripe_refund_id FROM payment_refunds WHERE payment_id = $1`, p.GetId()).Scan(&status, &stripeID)
	if err != nil || status != "pending" || stripeID != "" {
		t.Errorf("refund row %q %q (%v), want pending without a Stripe id", status, stripeID, err)
	}
	if got := b.payment(t, p.GetId()); got.GetStatus() != ordersv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED || got.GetRefundedMinor() != 0 {
		t.Errorf("payment after a refused refund: %v refunded %d", got.GetStatus(), got.GetRefundedMinor())
	}
}
