package billingdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingdb/internal/dbsqlc"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/validate"
)

// Idempotency-key scopes of payments and refunds. Keys are scoped to their order or payment:
// the same key on two orders starts two payments.
const (
	paymentScope = "payments.create"
	refundScope  = "payments.refund"
)

var _ billing.PaymentStore = (*Store)(nil)

// ClaimPayment implements billing.PaymentStore. Lock order everywhere in this file is order
// before new payment rows, and payment before order for existing payments; the only
// transaction that takes an order lock first inserts, so the two never wait on each other.
func (s *Store) ClaimPayment(ctx context.Context, c billing.PaymentClaim, see func(billing.OrderFacts) error,
	build func(billing.OrderFacts) (billing.Payment, error),
) (billing.Payment, bool, error) {
	var (
		out    billing.Payment
		replay bool
	)
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.LockOrderForPayment(ctx, tx, c.OrderID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock order: %w", err))
		}
		f := billing.OrderFacts{
			OrderID:          row.ID,
			CustomerID:       row.CustomerID,
			Channel:          billing.Channel(row.Channel),
			Status:           billing.Status(row.Status),
			StripeEntity:     row.StripeEntity,
			Currency:         row.Currency,
			GrossMinor:       row.GrossMinor,
			CreateBy:         row.CreateBy,
			ResidencyCountry: row.ResidencyCountry,
			CustomerErased:   row.Erased,
			HasLivePayment:   row.HasLivePayment,
		}
		if err := see(f); err != nil {
			return err
		}
		hash := postgres.RequestHash(struct {
			CreateBy string `json:"create_by"`
			OrderID  string `json:"order_id"`
		}{c.CreateBy, c.OrderID})
		first, rep, err := postgres.ClaimIdempotencyKey(ctx, tx, paymentScope, c.OrderID+" "+c.IdempotencyKey, hash, c.PaymentID)
		if err != nil {
			return err
		}
		if rep {
			replay = true
			out, err = s.getPayment(ctx, tx, first)
			return err
		}
		p, err := build(f)
		if err != nil {
			return err
		}
		// The client secret will be sealed under the retained key: it belongs with the
		// financial record, not with the erasable contact data.
		rk, err := keyringdb.Ensure(ctx, tx, s.kr, p.CustomerID, keyringdb.Retained)
		if err != nil {
			return fmt.Errorf("retained data key: %w", err)
		}
		err = s.q.InsertPayment(ctx, tx, dbsqlc.InsertPaymentParams{
			ID:                   p.ID,
			OrderID:              p.OrderID,
			CustomerID:           p.CustomerID,
			StripeEntity:         p.StripeEntity,
			DekID:                rk.ID,
			AmountMinor:          p.AmountMinor,
			Currency:             p.Currency,
			Status:               string(p.Status),
			AllowedSubprocessors: nonNil(p.AllowedSubprocessors),
			Version:              p.Version,
			CreateBy:             p.CreateBy,
			CreateTime:           p.CreateTime,
			UpdateTime:           p.UpdateTime,
		})
		if postgres.IsUniqueViolation(err, "payments_one_live") {
			// The order lock makes this unreachable; the index is the last line of defence.
			return apperr.Precondition("the order already has a payment")
		}
		if err != nil {
			return postgres.Interpret(fmt.Errorf("insert payment: %w", err))
		}
		// Nothing is queued for a payment: its data leaves only as the Stripe API call, which
		// checks this entry first (checkStripe).
		err = dataflowdb.Track(ctx, tx, dataflow.Record{
			ID: p.ID, Kind: dataflow.KindPayment, CustomerID: p.CustomerID,
			Facts: billing.PaymentFacts(p, f.ResidencyCountry), Allowed: nonNil(p.AllowedSubprocessors),
		})
		if err != nil {
			return fmt.Errorf("track payment: %w", err)
		}
		out = p
		return nil
	})
	return out, replay, err
}

// checkStripe is the gateway's check of a Stripe API call for payment p, in the transaction
// that holds p's row lock: the payment's current list in the flow ledger must name its entity.
// It returns (nil, nil) when the call may go; a refusal as its first result (audited in tx, so
// the caller must commit tx and return the refusal after it); any other failure as its second.
func checkStripe(ctx context.Context, tx pgx.Tx, p billing.Payment) (refused, err error) {
	err = dataflowdb.Check(ctx, tx, p.ID, p.StripeEntity)
	var pre *apperr.PreconditionError
	if errors.As(err, &pre) {
		return err, nil
	}
	return nil, err
}

// AttachIntent implements billing.PaymentStore. The row lock is held across the Stripe call on
// purpose: concurrent retries of one payment wait here and then find the intent, rather than
// each asking Stripe. A crash drops the connection and with it the lock, so a later retry
// proceeds. The cost is one pooled connection per in-flight create.
func (s *Store) AttachIntent(ctx context.Context, paymentID string, at time.Time,
	create func(billing.Payment) (billing.Intent, error),
) (billing.Payment, error) {
	var (
		out     billing.Payment
		refused error
	)
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.LockPayment(ctx, tx, paymentID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock payment: %w", err))
		}
		p, dk, err := s.paymentToDomain(keyedPayment(row))
		if err != nil {
			return err
		}
		if p.PaymentIntentID != "" || p.Status != billing.PaymentRequiresPayment {
			out = p
			return nil
		}
		// A refused flow changes nothing but the audit trail: the payment waits, without an
		// intent, for a retry with the same key once its list allows the entity again.
		out = p
		if refused, err = checkStripe(ctx, tx, p); refused != nil || err != nil {
			return err
		}
		in, err := create(p)
		var pre *apperr.PreconditionError
		if errors.As(err, &pre) {
			// Stripe refused for good: cancel the payment so that it no longer blocks the order,
			// and commit that before returning the refusal.
			refused = err
			p.Status, p.UpdateTime, p.Version = billing.PaymentCanceled, at, p.Version+1
			out = p
			return s.q.SetPaymentState(ctx, tx, dbsqlc.SetPaymentStateParams{
				Status: string(p.Status), RefundedMinor: p.RefundedMinor, UpdateTime: at, ID: p.ID,
			})
		}
		if err != nil {
			return err
		}
		if dk == nil {
			return fmt.Errorf("payment %s: %w", p.ID, keyring.ErrKeyDestroyed)
		}
		err = s.q.SetPaymentIntent(ctx, tx, dbsqlc.SetPaymentIntentParams{
			PaymentIntentID: in.ID,
			ClientSecretCt:  dk.Seal(in.ClientSecret, secretAAD(p.ID)),
			UpdateTime:      at,
			ID:              p.ID,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("store payment intent: %w", err))
		}
		p.PaymentIntentID, p.ClientSecret, p.UpdateTime, p.Version = in.ID, in.ClientSecret, at, p.Version+1
		out = p
		return nil
	})
	if err != nil {
		return billing.Payment{}, err
	}
	return out, refused
}

// GetPayment implements billing.PaymentStore.
func (s *Store) GetPayment(ctx context.Context, id string) (billing.Payment, error) {
	return s.getPayment(ctx, s.pool, id)
}

func (s *Store) getPayment(ctx context.Context, db postgres.DBTX, id string) (billing.Payment, error) {
	row, err := s.q.GetPayment(ctx, db, id)
	if err != nil {
		return billing.Payment{}, postgres.Interpret(fmt.Errorf("read payment: %w", err))
	}
	p, _, err := s.paymentToDomain(keyedPayment(row))
	return p, err
}

// ClaimRefund implements billing.PaymentStore. The payment's row lock serialises refunds of
// one payment, so the reserved sum that check sees cannot grow before the insert commits.
func (s *Store) ClaimRefund(ctx context.Context, c billing.RefundClaim, check func(billing.Payment, int64) error) (billing.Refund, bool, error) {
	var (
		out    billing.Refund
		replay bool
	)
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.LockPayment(ctx, tx, c.PaymentID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock payment: %w", err))
		}
		hash := postgres.RequestHash(struct {
			CreateBy    string `json:"create_by"`
			AmountMinor int64  `json:"amount_minor"`
		}{c.CreateBy, c.AmountMinor})
		first, rep, err := postgres.ClaimIdempotencyKey(ctx, tx, refundScope, c.PaymentID+" "+c.IdempotencyKey, hash, c.RefundID)
		if err != nil {
			return err
		}
		if rep {
			replay = true
			r, err := s.q.GetRefund(ctx, tx, first)
			if err != nil {
				return postgres.Interpret(fmt.Errorf("read refund: %w", err))
			}
			out = refundToDomain(r)
			return nil
		}
		sums, err := s.q.SumRefunds(ctx, tx, c.PaymentID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("sum refunds: %w", err))
		}
		p := paymentRowToDomain(row.Payment)
		if err := check(p, sums.Reserved); err != nil {
			return err
		}
		r := billing.Refund{
			ID:          c.RefundID,
			PaymentID:   c.PaymentID,
			AmountMinor: c.AmountMinor,
			Currency:    p.Currency,
			Status:      billing.RefundPending,
			CreateBy:    c.CreateBy,
			CreateTime:  c.At,
			UpdateTime:  c.At,
		}
		err = s.q.InsertRefund(ctx, tx, dbsqlc.InsertRefundParams{
			ID: r.ID, PaymentID: r.PaymentID, AmountMinor: r.AmountMinor, Currency: r.Currency,
			Status: string(r.Status), CreateBy: r.CreateBy, CreateTime: r.CreateTime, UpdateTime: r.UpdateTime,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("insert refund: %w", err))
		}
		out = r
		return nil
	})
	return out, replay, err
}

// FinishRefund implements billing.PaymentStore. Locks: refund, then payment, then order.
func (s *Store) FinishRefund(ctx context.Context, refundID string, at time.Time,
	create func(billing.Refund, billing.Payment) (billing.ProcessorRefund, error),
	settle func(billing.Payment, billing.Status, int64) billing.PaymentChange,
) (billing.Refund, error) {
	var (
		out     billing.Refund
		refused error
	)
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rrow, err := s.q.LockRefund(ctx, tx, refundID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock refund: %w", err))
		}
		r := refundToDomain(rrow)
		out = r
		if r.StripeRefundID != "" || r.Status != billing.RefundPending {
			return nil
		}
		prow, err := s.q.LockPayment(ctx, tx, r.PaymentID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock payment: %w", err))
		}
		p := paymentRowToDomain(prow.Payment)
		order, err := s.q.LockOrderStatus(ctx, tx, p.OrderID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock order: %w", err))
		}
		// As for intents, a refused flow leaves the refund pending (and its amount reserved)
		// for a retry with the same key; only Stripe's own refusal fails it.
		if refused, err = checkStripe(ctx, tx, p); refused != nil || err != nil {
			return err
		}
		pr, err := create(r, p)
		var pre *apperr.PreconditionError
		if errors.As(err, &pre) {
			refused = err
			r.Status, r.UpdateTime = billing.RefundFailed, at
			out = r
			return s.q.SetRefundResult(ctx, tx, dbsqlc.SetRefundResultParams{Status: string(r.Status), UpdateTime: at, ID: r.ID})
		}
		if err != nil {
			return err
		}
		r.StripeRefundID, r.Status, r.UpdateTime = pr.ID, pr.Status, at
		err = s.q.SetRefundResult(ctx, tx, dbsqlc.SetRefundResultParams{
			StripeRefundID: r.StripeRefundID, Status: string(r.Status), UpdateTime: at, ID: r.ID,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("store refund result: %w", err))
		}
		out = r
		sums, err := s.q.SumRefunds(ctx, tx, p.ID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("sum refunds: %w", err))
		}
		return s.writeChange(ctx, tx, p, billing.Status(order), settle(p, billing.Status(order), sums.Accepted), at)
	})
	if err != nil {
		return billing.Refund{}, err
	}
	return out, refused
}

// ApplyEvent implements billing.PaymentStore. The event row is inserted first: a concurrent
// duplicate delivery waits on its primary key and then finds it, so it is applied once.
func (s *Store) ApplyEvent(ctx context.Context, ev billing.PaymentEvent, at time.Time,
	decide func(billing.PaymentState) billing.PaymentChange,
) (billing.Outcome, error) {
	var out billing.Outcome
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := s.q.InsertStripeEvent(ctx, tx, dbsqlc.InsertStripeEventParams{
			EventID: ev.ID, StripeEntity: ev.Entity, Type: ev.Type, EventTime: ev.Created.UTC(), ReceiveTime: at,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("record stripe event: %w", err))
		}
		if n == 0 {
			out = billing.OutcomeDuplicate
			return nil
		}
		record := func(o billing.Outcome, paymentID *string) error {
			out = o
			err := s.q.SetStripeEventOutcome(ctx, tx, dbsqlc.SetStripeEventOutcomeParams{Outcome: string(o), PaymentID: paymentID, EventID: ev.ID})
			return postgres.Interpret(err)
		}
		if billing.KindOf(ev.Type) == billing.EventIgnored {
			return record(billing.OutcomeIgnored, nil)
		}
		id, err := s.findPayment(ctx, tx, ev)
		if errors.Is(err, apperr.ErrNotFound) {
			return record(billing.OutcomeUnknownPayment, nil)
		}
		if err != nil {
			return err
		}
		row, err := s.q.LockPayment(ctx, tx, id)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock payment: %w", err))
		}
		p := paymentRowToDomain(row.Payment)
		order, err := s.q.LockOrderStatus(ctx, tx, p.OrderID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock order: %w", err))
		}
		change := decide(billing.PaymentState{Payment: p, OrderStatus: billing.Status(order), Event: ev})
		if err := s.writeChange(ctx, tx, p, billing.Status(order), change, at); err != nil {
			return err
		}
		return record(change.Outcome, &id)
	})
	return out, err
}

// findPayment finds the payment an event is about, within the entity that signed the event:
// by PaymentIntent id, or by our id from the intent's metadata when the event overtook the
// storing of the intent id.
func (s *Store) findPayment(ctx context.Context, tx pgx.Tx, ev billing.PaymentEvent) (string, error) {
	if ev.IntentID != "" {
		id, err := s.q.FindPaymentByIntent(ctx, tx, dbsqlc.FindPaymentByIntentParams{StripeEntity: ev.Entity, PaymentIntentID: ev.IntentID})
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return id, postgres.Interpret(err)
		}
	}
	// The id comes from the intent's metadata: a malformed one must not reach the uuid cast.
	if _, err := validate.ID("payment_id", ev.PaymentID); err != nil {
		return "", apperr.ErrNotFound
	}
	id, err := s.q.FindPaymentByID(ctx, tx, dbsqlc.FindPaymentByIDParams{ID: ev.PaymentID, StripeEntity: ev.Entity, PaymentIntentID: ev.IntentID})
	return id, postgres.Interpret(err)
}

// writeChange writes a decided change: the payment if its state moved, the order if its status
// moved (checked once more against the status machine), and reported refunds by Stripe id. No
// status is a flow fact (the lists depend on channel, entity and the customer's facts), so the
// ledger entries are not tracked again here.
func (s *Store) writeChange(ctx context.Context, tx pgx.Tx, p billing.Payment, order billing.Status, c billing.PaymentChange, at time.Time) error {
	attach := c.IntentID != "" && p.PaymentIntentID == ""
	if c.Status != p.Status || c.RefundedMinor != p.RefundedMinor || attach {
		var evTime *time.Time
		if !c.StatusEventTime.IsZero() {
			t := c.StatusEventTime.UTC()
			evTime = &t
		}
		err := s.q.SetPaymentState(ctx, tx, dbsqlc.SetPaymentStateParams{
			Status:          string(c.Status),
			StatusEventTime: evTime,
			RefundedMinor:   c.RefundedMinor,
			PaymentIntentID: c.IntentID,
			KeepSecret:      c.Status.Confirmable(),
			UpdateTime:      at,
			ID:              p.ID,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("update payment: %w", err))
		}
	}
	if c.OrderStatus != order {
		if err := orderPath(order, c.OrderStatus); err != nil {
			return err
		}
		err := s.q.SetOrderStatus(ctx, tx, dbsqlc.SetOrderStatusParams{Status: string(c.OrderStatus), UpdateTime: at, ID: p.OrderID})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("update order status: %w", err))
		}
	}
	for _, r := range c.Refunds {
		if r.StripeRefundID == "" || r.AmountMinor <= 0 {
			continue
		}
		err := s.q.UpsertStripeRefund(ctx, tx, dbsqlc.UpsertStripeRefundParams{
			ID: uuid.Must(uuid.NewV7()).String(), PaymentID: p.ID, StripeRefundID: r.StripeRefundID,
			AmountMinor: r.AmountMinor, Currency: p.Currency, Status: string(r.Status), CreateTime: at,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("record stripe refund: %w", err))
		}
	}
	return nil
}

// orderPath checks a status change that may take two steps of the machine (a refund that
// arrives before the payment's success moves PENDING_PAYMENT through PAID to REFUNDED).
func orderPath(from, to billing.Status) error {
	if billing.Transition(from, to) == nil {
		return nil
	}
	if billing.Transition(from, billing.StatusPaid) == nil && billing.Transition(billing.StatusPaid, to) == nil {
		return nil
	}
	return billing.Transition(from, to)
}

// keyedPayment is the common shape of the payment reads: the row plus its wrapped data key.
type keyedPayment struct {
	Payment     dbsqlc.Payment
	MasterKeyID string
	WrappedKey  []byte
}

// paymentToDomain converts a row and opens its client secret. It also returns the data key
// (nil when it was destroyed: the secret is then gone, and so is the ability to store one).
func (s *Store) paymentToDomain(r keyedPayment) (billing.Payment, *keyring.DataKey, error) {
	p := paymentRowToDomain(r.Payment)
	dk, err := s.kr.Unwrap(r.Payment.DekID, r.MasterKeyID, r.WrappedKey)
	if errors.Is(err, keyring.ErrKeyDestroyed) {
		return p, nil, nil
	}
	if err != nil {
		return billing.Payment{}, nil, err
	}
	secret, err := dk.Open(r.Payment.ClientSecretCt, secretAAD(p.ID))
	if err != nil {
		return billing.Payment{}, nil, fmt.Errorf("payment %s client_secret: %w", p.ID, err)
	}
	p.ClientSecret = secret
	return p, dk, nil
}

// paymentRowToDomain converts a row without its client secret, for the paths that never
// return it (webhooks, refunds).
func paymentRowToDomain(row dbsqlc.Payment) billing.Payment {
	p := billing.Payment{
		ID:                   row.ID,
		OrderID:              row.OrderID,
		CustomerID:           row.CustomerID,
		StripeEntity:         row.StripeEntity,
		PaymentIntentID:      row.PaymentIntentID,
		AmountMinor:          row.AmountMinor,
		Currency:             row.Currency,
		Status:               billing.PaymentStatus(row.Status),
		RefundedMinor:        row.RefundedMinor,
		AllowedSubprocessors: row.AllowedSubprocessors,
		Version:              row.Version,
		CreateBy:             row.CreateBy,
		CreateTime:           row.CreateTime.UTC(),
		UpdateTime:           row.UpdateTime.UTC(),
	}
	if row.StatusEventTime != nil {
		p.StatusEventTime = row.StatusEventTime.UTC()
	}
	return p
}

func refundToDomain(r dbsqlc.PaymentRefund) billing.Refund {
	return billing.Refund{
		ID:             r.ID,
		PaymentID:      r.PaymentID,
		StripeRefundID: r.StripeRefundID,
		AmountMinor:    r.AmountMinor,
		Currency:       r.Currency,
		Status:         billing.RefundStatus(r.Status),
		CreateBy:       r.CreateBy,
		CreateTime:     r.CreateTime.UTC(),
		UpdateTime:     r.UpdateTime.UTC(),
	}
}

func secretAAD(paymentID string) string { return keyring.AAD("payments", "client_secret", paymentID) }
