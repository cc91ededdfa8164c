// Package privacydb carries out erasures in PostgreSQL. Erasure is cross-cutting by nature, so
// this one package reads and changes every domain's tables for one customer: tickets,
// comments, recordings (marked for supportsvc's sweeper), the customer, data keys
// (crypto-shredding through keyringdb), the outbox (through dataflowdb for deletion requests),
// orders and payments. Each step is one transaction that locks the erasure's row and advances
// its step counter in the same commit, so a crash between steps loses nothing and repeats
// nothing. The sqlc-generated queries live in internal/dbsqlc; the export is hand-written pgx
// because it streams rows (sqlc's :many collects them into memory).
package privacydb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/privacy"
	"github.com/lumio/contactcentre/internal/privacy/privacydb/internal/dbsqlc"
)

// idempotencyScope is RequestErasure's scope in idempotency_keys.
const idempotencyScope = "privacy.erasure"

// auditReason is what the flow audit and the deletion requests say: a rule, never a value.
const auditReason = "customer erased (DOMAIN.md rule 6)"

// erasableKinds are the ledger kinds whose copies processors must delete now. Orders and
// payments are kept under retention by us and by the processors that keep the books (ERP,
// Stripe), so their deletion requests go at the purge.
var (
	erasableKinds = []string{string(dataflow.KindTicket), string(dataflow.KindRecording), string(dataflow.KindCustomer)}
	heldKinds     = []string{string(dataflow.KindOrder), string(dataflow.KindPayment), string(dataflow.KindCustomer)}
)

// queries is stateless; one value serves every call.
var queries = dbsqlc.New()

// Store implements privacy.Store.
type Store struct {
	pool *pgxpool.Pool
	kr   *keyring.Keyring
}

var _ privacy.Store = (*Store)(nil)

// New returns a Store on pool; kr opens the customer's data for exports.
func New(pool *pgxpool.Pool, kr *keyring.Keyring) *Store {
	return &Store{pool: pool, kr: kr}
}

// Create implements privacy.Store.
func (s *Store) Create(ctx context.Context, e privacy.Erasure, requestID string, requestHash []byte, leaseUntil time.Time) (privacy.Erasure, bool, error) {
	id := e.ID
	existing := false
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := queries.LockCustomer(ctx, tx, e.CustomerID); err != nil {
			return postgres.Interpret(fmt.Errorf("lock customer: %w", err))
		}
		prev, err := queries.ErasureByCustomer(ctx, tx, e.CustomerID)
		switch {
		case err == nil:
			id, existing = prev.ID, true
		case !errors.Is(err, pgx.ErrNoRows):
			return postgres.Interpret(fmt.Errorf("read customer's erasure: %w", err))
		}
		if requestID != "" {
			first, replay, err := postgres.ClaimIdempotencyKey(ctx, tx, idempotencyScope, requestID, requestHash, id)
			if err != nil {
				return err
			}
			if replay {
				id, existing = first, true
			}
		}
		if existing {
			return nil
		}
		err = queries.InsertErasure(ctx, tx, dbsqlc.InsertErasureParams{
			ID: id, CustomerID: e.CustomerID, Reason: e.Reason, RequestedBy: e.RequestedBy,
			LeaseUntil: leaseUntil, Now: e.CreateTime,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("insert erasure: %w", err))
		}
		if err := queries.MarkCustomerErased(ctx, tx, dbsqlc.MarkCustomerErasedParams{Now: e.CreateTime, ID: e.CustomerID}); err != nil {
			return postgres.Interpret(fmt.Errorf("mark customer erased: %w", err))
		}
		return nil
	})
	if err != nil {
		return privacy.Erasure{}, false, err
	}
	out, err := s.Get(ctx, id)
	return out, existing, err
}

// RunStep implements privacy.Store.
func (s *Store) RunStep(ctx context.Context, id string, step privacy.Step, now, leaseUntil time.Time) (privacy.Erasure, error) {
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := queries.LockErasure(ctx, tx, id)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock erasure: %w", err))
		}
		done := privacy.Step(e.Step)
		if done >= step || e.Status != string(privacy.StatusRunning) {
			return nil
		}
		if done != step-1 {
			return fmt.Errorf("step %s cannot run before step %s", step, step-1)
		}
		r := run{tx: tx, e: e, now: now}
		switch step {
		case privacy.StepTickets:
			err = r.tickets(ctx)
		case privacy.StepRecordings:
			err = r.recordings(ctx)
		case privacy.StepCustomer:
			err = r.customer(ctx)
		case privacy.StepKeys:
			err = r.keys(ctx)
		case privacy.StepOutbox:
			err = r.outbox(ctx)
		case privacy.StepSettle:
			err = r.settle(ctx)
		default:
			err = fmt.Errorf("unknown step %d", step)
		}
		if err != nil {
			return err
		}
		err = queries.AdvanceStep(ctx, tx, dbsqlc.AdvanceStepParams{Step: int32(step), LeaseUntil: leaseUntil, Now: now, ID: id})
		return postgres.Interpret(err)
	})
	if err != nil {
		return privacy.Erasure{}, err
	}
	return s.Get(ctx, id)
}

// run is one step of one erasure inside its transaction.
type run struct {
	tx  pgx.Tx
	e   dbsqlc.ErasureRequest
	now time.Time
}

func (r run) erased(ctx context.Context, kind string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	kinds := make([]string, len(ids))
	for i := range kinds {
		kinds[i] = kind
	}
	err := queries.InsertErased(ctx, r.tx, dbsqlc.InsertErasedParams{ErasureID: r.e.ID, RecordIds: ids, Kinds: kinds, Now: r.now})
	return postgres.Interpret(err)
}

// tickets clears the personal columns, free text and search tokens of the customer's tickets
// and their comments' bodies, and forgets the idempotency keys that hashed their input.
func (r run) tickets(ctx context.Context) error {
	ids, err := queries.EraseTickets(ctx, r.tx, dbsqlc.EraseTicketsParams{Now: r.now, CustomerID: r.e.CustomerID})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("erase tickets: %w", err))
	}
	comments, err := queries.EraseComments(ctx, r.tx, r.e.CustomerID)
	if err != nil {
		return postgres.Interpret(fmt.Errorf("erase comments: %w", err))
	}
	if err := queries.DeleteIdempotencyKeys(ctx, r.tx, slices.Concat(ids, comments)); err != nil {
		return postgres.Interpret(fmt.Errorf("delete idempotency keys: %w", err))
	}
	if err := r.erased(ctx, privacy.KindTicket, ids); err != nil {
		return err
	}
	return r.erased(ctx, privacy.KindComment, comments)
}

// recordings hands the audio's deletion to supportsvc's sweeper: a deleting recording that is
// due is deleted at the carrier and in the object store, retried until both copies are gone.
func (r run) recordings(ctx context.Context) error {
	calls, err := queries.LockCustomerCalls(ctx, r.tx, r.e.CustomerID)
	if err != nil {
		return postgres.Interpret(fmt.Errorf("lock calls: %w", err))
	}
	if len(calls) == 0 {
		return nil
	}
	now := r.now
	marked, err := queries.MarkRecordingsDeleting(ctx, r.tx, dbsqlc.MarkRecordingsDeletingParams{Actor: r.e.RequestedBy, Now: &now, CallSids: calls})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("mark recordings deleting: %w", err))
	}
	if len(marked) > 0 {
		err := queries.InsertRecordingEvents(ctx, r.tx, dbsqlc.InsertRecordingEventsParams{RecordingIds: marked, Actor: r.e.RequestedBy, Now: r.now})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("insert recording events: %w", err))
		}
	}
	all, err := queries.CustomerRecordings(ctx, r.tx, calls)
	if err != nil {
		return postgres.Interpret(fmt.Errorf("list recordings: %w", err))
	}
	return r.erased(ctx, privacy.KindRecording, all)
}

// customer clears the contact and decides, once, what is held: the customer's orders still
// under retention, until the latest of their dates.
func (r run) customer(ctx context.Context) error {
	if err := queries.EraseCustomerContact(ctx, r.tx, dbsqlc.EraseCustomerContactParams{Now: r.now, ID: r.e.CustomerID}); err != nil {
		return postgres.Interpret(fmt.Errorf("erase contact: %w", err))
	}
	held, err := queries.HeldOrders(ctx, r.tx, dbsqlc.HeldOrdersParams{CustomerID: r.e.CustomerID, Now: r.now})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("list held orders: %w", err))
	}
	var until *time.Time
	for _, o := range held {
		if until == nil || o.RetainUntil.After(*until) {
			t := o.RetainUntil.UTC()
			until = &t
		}
	}
	if err := queries.DecideHold(ctx, r.tx, dbsqlc.DecideHoldParams{RetainUntil: until, Now: r.now, ID: r.e.ID}); err != nil {
		return postgres.Interpret(fmt.Errorf("decide hold: %w", err))
	}
	return r.erased(ctx, privacy.KindCustomer, []string{r.e.CustomerID})
}

// keys destroys the personal data key: every ciphertext under it (columns, outbox payloads,
// recording audio, and every backup of them) becomes unreadable. With nothing held, the
// retained key goes too.
func (r run) keys(ctx context.Context) error {
	if err := r.destroy(ctx, keyringdb.Personal); err != nil {
		return err
	}
	if r.e.RetainUntil == nil {
		return r.reduce(ctx)
	}
	return nil
}

func (r run) destroy(ctx context.Context, purpose keyringdb.Purpose) error {
	keys, err := queries.CustomerKeyIDs(ctx, r.tx, r.e.CustomerID)
	if err != nil {
		return postgres.Interpret(fmt.Errorf("list data keys: %w", err))
	}
	if _, err := keyringdb.Destroy(ctx, r.tx, r.e.CustomerID, purpose); err != nil {
		return fmt.Errorf("destroy %s key: %w", purpose, err)
	}
	for _, k := range keys {
		if k.Purpose == string(purpose) {
			return r.erased(ctx, privacy.KindDataKey, []string{k.ID})
		}
	}
	return nil
}

// reduce brings held data down to the legal minimum once no retention applies: the delivery
// addresses, the payments' client secrets, the customer's address and name go, the retained
// key is destroyed, and the processors that received the held records are asked to delete
// them. Orders, lines, payments and refunds stay, with their amounts, for reporting.
func (r run) reduce(ctx context.Context) error {
	cleared, err := queries.ClearShipTo(ctx, r.tx, dbsqlc.ClearShipToParams{Now: r.now, CustomerID: r.e.CustomerID, Cutoff: r.now})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("clear delivery addresses: %w", err))
	}
	if err := r.erased(ctx, privacy.KindOrder, cleared); err != nil {
		return err
	}
	if err := queries.ClearClientSecrets(ctx, r.tx, dbsqlc.ClearClientSecretsParams{Now: r.now, CustomerID: r.e.CustomerID, Cutoff: r.now}); err != nil {
		return postgres.Interpret(fmt.Errorf("clear client secrets: %w", err))
	}
	if err := queries.ReduceCustomer(ctx, r.tx, dbsqlc.ReduceCustomerParams{Now: r.now, ID: r.e.CustomerID}); err != nil {
		return postgres.Interpret(fmt.Errorf("reduce customer: %w", err))
	}
	if err := r.destroy(ctx, keyringdb.Retained); err != nil {
		return err
	}
	return r.notify(ctx, heldKinds)
}

// outbox cancels the queued deliveries of the erased records, drops every sealed payload of
// the customer, and asks each processor that received an erased record to delete it.
func (r run) outbox(ctx context.Context) error {
	if _, err := queries.LockCustomerFlowRecords(ctx, r.tx, r.e.CustomerID); err != nil {
		return postgres.Interpret(fmt.Errorf("lock flow records: %w", err))
	}
	cancelled, err := queries.CancelQueued(ctx, r.tx, dbsqlc.CancelQueuedParams{CustomerID: r.e.CustomerID, Kinds: erasableKinds})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("cancel queued deliveries: %w", err))
	}
	if len(cancelled) > 0 {
		var p dbsqlc.InsertAuditParams
		ids := make([]string, 0, len(cancelled))
		for _, c := range cancelled {
			p.RecordIds = append(p.RecordIds, c.RecordID)
			p.Subprocessors = append(p.Subprocessors, c.SubprocessorID)
			p.DeliveryIds = append(p.DeliveryIds, c.ID)
			ids = append(ids, c.ID)
		}
		p.Action, p.Reason = dataflow.AuditCancelled, auditReason
		if err := queries.InsertAudit(ctx, r.tx, p); err != nil {
			return postgres.Interpret(fmt.Errorf("audit cancelled deliveries: %w", err))
		}
		if err := r.erased(ctx, privacy.KindOutboxDelivery, ids); err != nil {
			return err
		}
	}
	if err := queries.PurgePayloads(ctx, r.tx, r.e.CustomerID); err != nil {
		return postgres.Interpret(fmt.Errorf("purge payloads: %w", err))
	}
	return r.notify(ctx, erasableKinds)
}

// notify sends a deletion request to every processor that received a record of kinds and has
// not been asked already, and names them all in the receipt.
func (r run) notify(ctx context.Context, kinds []string) error {
	if _, err := queries.LockCustomerFlowRecords(ctx, r.tx, r.e.CustomerID); err != nil {
		return postgres.Interpret(fmt.Errorf("lock flow records: %w", err))
	}
	copies, err := queries.DeliveredCopies(ctx, r.tx, dbsqlc.DeliveredCopiesParams{CustomerID: r.e.CustomerID, Kinds: kinds})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("find holders: %w", err))
	}
	if len(copies) == 0 {
		return nil
	}
	p := dbsqlc.InsertNoticesParams{ErasureID: r.e.ID, Now: r.now}
	ask := map[string][]string{}
	var order []string
	for _, c := range copies {
		p.RecordIds = append(p.RecordIds, c.RecordID)
		p.Subprocessors = append(p.Subprocessors, c.SubprocessorID)
		if c.Asked {
			continue
		}
		if _, ok := ask[c.RecordID]; !ok {
			order = append(order, c.RecordID)
		}
		ask[c.RecordID] = append(ask[c.RecordID], c.SubprocessorID)
	}
	for _, rec := range order {
		if err := dataflowdb.RequestDeletions(ctx, r.tx, rec, ask[rec], auditReason); err != nil {
			return fmt.Errorf("request deletions: %w", err)
		}
	}
	return postgres.Interpret(queries.InsertNotices(ctx, r.tx, p))
}

// settle records what is held, each record with its own date and basis, and ends the run:
// HOLDING until the latest date, or COMPLETE when nothing is (any more) held.
func (r run) settle(ctx context.Context) error {
	cust, err := queries.LockCustomer(ctx, r.tx, r.e.CustomerID)
	if err != nil {
		return postgres.Interpret(fmt.Errorf("lock customer: %w", err))
	}
	p := dbsqlc.UpsertHeldParams{ErasureID: r.e.ID, Now: r.now}
	until, err := r.held(ctx, &p)
	if err != nil {
		return err
	}
	if until == nil {
		// Nothing is held (any more): reduce now, if the keys step has not already.
		if r.e.RetainUntil != nil {
			if err := r.reduce(ctx); err != nil {
				return err
			}
		}
		now := r.now
		return postgres.Interpret(queries.SetStatus(ctx, r.tx, dbsqlc.SetStatusParams{
			Status: string(privacy.StatusComplete), RetainUntil: r.e.RetainUntil, CompleteTime: &now, Now: r.now, ID: r.e.ID,
		}))
	}
	// Orders whose own retention already ended lose their delivery address now.
	cleared, err := queries.ClearShipTo(ctx, r.tx, dbsqlc.ClearShipToParams{Now: r.now, CustomerID: r.e.CustomerID, Cutoff: r.now})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("clear delivery addresses: %w", err))
	}
	if err := r.erased(ctx, privacy.KindOrder, cleared); err != nil {
		return err
	}
	p.RecordIds = append(p.RecordIds, r.e.CustomerID)
	p.Kinds = append(p.Kinds, privacy.KindCustomer)
	p.RetainUntils = append(p.RetainUntils, *until)
	p.Bases = append(p.Bases, privacy.Basis(privacy.KindCustomer, cust.AddressCountry))
	if err := queries.UpsertHeld(ctx, r.tx, p); err != nil {
		return postgres.Interpret(fmt.Errorf("record held items: %w", err))
	}
	return postgres.Interpret(queries.SetStatus(ctx, r.tx, dbsqlc.SetStatusParams{
		Status: string(privacy.StatusHolding), RetainUntil: until, Now: r.now, ID: r.e.ID,
	}))
}

// held fills p with the orders, payments and refunds still under retention and returns the
// latest date (nil: none).
func (r run) held(ctx context.Context, p *dbsqlc.UpsertHeldParams) (*time.Time, error) {
	var until *time.Time
	add := func(id, kind, country string, t time.Time) {
		t = t.UTC()
		p.RecordIds = append(p.RecordIds, id)
		p.Kinds = append(p.Kinds, kind)
		p.RetainUntils = append(p.RetainUntils, t)
		p.Bases = append(p.Bases, privacy.Basis(kind, country))
		if until == nil || t.After(*until) {
			until = &t
		}
	}
	orders, err := queries.HeldOrders(ctx, r.tx, dbsqlc.HeldOrdersParams{CustomerID: r.e.CustomerID, Now: r.now})
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list held orders: %w", err))
	}
	for _, o := range orders {
		add(o.ID, privacy.KindOrder, o.Country, o.RetainUntil)
	}
	payments, err := queries.HeldPayments(ctx, r.tx, dbsqlc.HeldPaymentsParams{CustomerID: r.e.CustomerID, Now: r.now})
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list held payments: %w", err))
	}
	for _, x := range payments {
		add(x.ID, privacy.KindPayment, x.Country, x.RetainUntil)
	}
	refunds, err := queries.HeldRefunds(ctx, r.tx, dbsqlc.HeldRefundsParams{CustomerID: r.e.CustomerID, Now: r.now})
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list held refunds: %w", err))
	}
	for _, x := range refunds {
		add(x.ID, privacy.KindRefund, x.Country, x.RetainUntil)
	}
	return until, nil
}

// ClaimStale implements privacy.Store.
func (s *Store) ClaimStale(ctx context.Context, now, leaseUntil time.Time, limit int) ([]string, error) {
	ids, err := queries.ClaimStale(ctx, s.pool, dbsqlc.ClaimStaleParams{LeaseUntil: leaseUntil, Now: now, MaxRows: int32(min(limit, 1<<20))})
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("claim stale erasures: %w", err))
	}
	return ids, nil
}

// Purge implements privacy.Store. Each erasure is purged in its own transaction, claimed with
// SKIP LOCKED so that replicas share the work.
func (s *Store) Purge(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var done []string
	for range limit {
		var id string
		completed := false
		err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			e, err := queries.ClaimDuePurge(ctx, tx, &now)
			if err != nil {
				return err
			}
			id = e.ID
			r := run{tx: tx, e: e, now: now}
			orders, err := queries.HeldOrders(ctx, tx, dbsqlc.HeldOrdersParams{CustomerID: e.CustomerID, Now: now})
			if err != nil {
				return postgres.Interpret(fmt.Errorf("list held orders: %w", err))
			}
			if len(orders) > 0 {
				// An order's retention was extended (the triggers allow later, never earlier):
				// the erasure holds on until the new date and is not claimed again before it.
				return r.extend(ctx, orders)
			}
			if err := r.reduce(ctx); err != nil {
				return err
			}
			completed = true
			return postgres.Interpret(queries.SetStatus(ctx, tx, dbsqlc.SetStatusParams{
				Status: string(privacy.StatusComplete), RetainUntil: e.RetainUntil, CompleteTime: &now, Now: now, ID: e.ID,
			}))
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return done, nil
		}
		if err != nil {
			return done, postgres.Interpret(fmt.Errorf("purge erasure %s: %w", id, err))
		}
		if completed {
			done = append(done, id)
		}
	}
	return done, nil
}

func (r run) extend(ctx context.Context, orders []dbsqlc.HeldOrdersRow) error {
	until := orders[0].RetainUntil
	for _, o := range orders[1:] {
		if o.RetainUntil.After(until) {
			until = o.RetainUntil
		}
	}
	until = until.UTC()
	if err := queries.ExtendHeld(ctx, r.tx, r.e.ID); err != nil {
		return postgres.Interpret(fmt.Errorf("extend held items: %w", err))
	}
	if err := queries.ExtendHeldCustomer(ctx, r.tx, dbsqlc.ExtendHeldCustomerParams{RetainUntil: &until, ErasureID: r.e.ID}); err != nil {
		return postgres.Interpret(fmt.Errorf("extend held customer: %w", err))
	}
	return postgres.Interpret(queries.SetStatus(ctx, r.tx, dbsqlc.SetStatusParams{
		Status: string(privacy.StatusHolding), RetainUntil: &until, Now: r.now, ID: r.e.ID,
	}))
}

// Get implements privacy.Store.
func (s *Store) Get(ctx context.Context, id string) (privacy.Erasure, error) {
	row, err := queries.GetErasure(ctx, s.pool, id)
	if err != nil {
		return privacy.Erasure{}, postgres.Interpret(fmt.Errorf("read erasure: %w", err))
	}
	e := privacy.Erasure{
		ID: row.ID, CustomerID: row.CustomerID, Reason: row.Reason, RequestedBy: row.RequestedBy,
		Status: privacy.Status(row.Status), Step: privacy.Step(row.Step), CreateTime: row.CreateTime.UTC(),
		RetainUntil: utc(row.RetainUntil), CompleteTime: utc(row.CompleteTime),
	}
	items, err := queries.ListItems(ctx, s.pool, id)
	if err != nil {
		return privacy.Erasure{}, postgres.Interpret(fmt.Errorf("read erasure items: %w", err))
	}
	for _, it := range items {
		if it.Disposition == "held" && it.RetainUntil != nil {
			e.Held = append(e.Held, privacy.HeldItem{RecordID: it.RecordID, Kind: it.Kind, RetainUntil: it.RetainUntil.UTC(), Basis: it.Basis})
			continue
		}
		e.Erased = append(e.Erased, privacy.Item{RecordID: it.RecordID, Kind: it.Kind})
	}
	notices, err := queries.NoticeStatuses(ctx, s.pool, id)
	if err != nil {
		return privacy.Erasure{}, postgres.Interpret(fmt.Errorf("read erasure notices: %w", err))
	}
	ds := make([]privacy.NoticeDelivery, len(notices))
	for i, n := range notices {
		ds[i] = privacy.NoticeDelivery{RecordID: n.RecordID, Subprocessor: n.SubprocessorID, Status: n.Status}
	}
	e.Notified = privacy.Summarise(ds)
	return e, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
