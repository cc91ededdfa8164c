// Package dataflowdb keeps the flow ledger and the outbox in PostgreSQL. Domain stores call
// Track and Enqueue inside their own transactions, so that a record, its allowed list and its
// deliveries commit or roll back together; Store serves the dispatcher (claims with FOR UPDATE
// SKIP LOCKED, settles under a share lock on the records' lists) and DataFlowService's reads.
// The sqlc-generated queries live in internal/dbsqlc.
package dataflowdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb/internal/dbsqlc"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres"
)

// queries is stateless; one value serves every call.
var queries = dbsqlc.New()

// PayloadAAD binds a sealed payload to its delivery, so a ciphertext cannot be replayed under
// another delivery id.
func PayloadAAD(deliveryID string) string { return keyring.AAD("outbox", "payload", deliveryID) }

// Track writes rec's ledger entry in the caller's transaction and keeps the outbox in line with
// it. When the list shrinks it (a) cancels the queued deliveries to processors no longer
// allowed and (b) sends a deletion request to each of those processors that already received
// the record. The entry stays locked until tx ends, so no dispatcher can send on the old list
// meanwhile. rec.Allowed must be the policy's decision for rec.Facts.
func Track(ctx context.Context, tx pgx.Tx, rec dataflow.Record) error {
	if rec.ID == "" || rec.CustomerID == "" || rec.Kind == "" {
		return fmt.Errorf("track flow record: id, customer id and kind are required")
	}
	prev, err := queries.LockFlowRecord(ctx, tx, rec.ID)
	isNew := errors.Is(err, pgx.ErrNoRows)
	if err != nil && !isNew {
		return postgres.Interpret(fmt.Errorf("lock flow record: %w", err))
	}
	facts, err := json.Marshal(rec.Facts)
	if err != nil {
		return fmt.Errorf("encode facts: %w", err)
	}
	allowed := slices.Clone(rec.Allowed)
	slices.Sort(allowed)
	if allowed == nil {
		allowed = []string{}
	}
	err = queries.UpsertFlowRecord(ctx, tx, dbsqlc.UpsertFlowRecordParams{
		RecordID: rec.ID, Kind: string(rec.Kind), CustomerID: rec.CustomerID,
		Facts: facts, AllowedSubprocessors: allowed,
	})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("upsert flow record: %w", err))
	}
	if isNew {
		return nil
	}
	var removed []string
	for _, p := range prev {
		if !slices.Contains(allowed, p) {
			removed = append(removed, p)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	cancelled, err := queries.CancelPending(ctx, tx, dbsqlc.CancelPendingParams{RecordID: rec.ID, Subprocessors: removed})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("cancel deliveries: %w", err))
	}
	var audit auditRows
	for _, c := range cancelled {
		audit.add(rec.ID, c.SubprocessorID, c.ID, dataflow.AuditCancelled, "no longer on the record's allowed list")
	}
	if err := audit.insert(ctx, tx); err != nil {
		return err
	}
	holders, err := queries.DeliveredTo(ctx, tx, dbsqlc.DeliveredToParams{RecordID: rec.ID, Subprocessors: removed})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("find holders: %w", err))
	}
	return RequestDeletions(ctx, tx, rec.ID, holders, "no longer on the record's allowed list")
}

// RequestDeletions queues a deletion request of record recordID to each processor, in the
// caller's transaction, and audits it with reason (a rule, never a value). A deletion request
// carries only the record's id and kind, so it is always allowed.
func RequestDeletions(ctx context.Context, tx pgx.Tx, recordID string, processors []string, reason string) error {
	if len(processors) == 0 {
		return nil
	}
	ids := make([]string, len(processors))
	statuses := make([]string, len(processors))
	payloads := make([][]byte, len(processors))
	var audit auditRows
	for i, p := range processors {
		ids[i] = newID()
		statuses[i] = string(dataflow.StatusPending)
		audit.add(recordID, p, ids[i], dataflow.AuditDeletionRequested, reason)
	}
	err := queries.InsertDeliveries(ctx, tx, dbsqlc.InsertDeliveriesParams{
		Ids: ids, RecordID: recordID, Subprocessors: processors, Kind: string(dataflow.DeliveryDeletion),
		Statuses: statuses, Payloads: payloads,
	})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("insert deletion requests: %w", err))
	}
	return audit.insert(ctx, tx)
}

// Holders returns the processors that have received record recordID (a delivered record
// delivery), sorted: the ones an erasure must ask to delete their copies.
func Holders(ctx context.Context, db postgres.DBTX, recordID string) ([]string, error) {
	all := make([]string, 0, len(dataflow.Registry()))
	for _, p := range dataflow.Registry() {
		all = append(all, p.ID)
	}
	hs, err := queries.DeliveredTo(ctx, db, dbsqlc.DeliveredToParams{RecordID: recordID, Subprocessors: all})
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("find holders: %w", err))
	}
	return hs, nil
}

// Enqueue writes one delivery of record recordID per processor, in the caller's transaction
// (after Track). payload is the JSON of the record as these processors need it; it is sealed
// with dek, the customer's personal data key, so that erasure makes queued copies unreadable.
// A processor not on the record's current list is written as refused, with an audit entry, and
// never sent; its copy is not kept.
func Enqueue(ctx context.Context, tx pgx.Tx, dek *keyring.DataKey, recordID string, processors []string, payload []byte) error {
	if len(processors) == 0 {
		return nil
	}
	allowed, err := queries.AllowedForEnqueue(ctx, tx, recordID)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("enqueue record %s: not in the flow ledger (call Track first)", recordID)
		}
		return postgres.Interpret(fmt.Errorf("read allowed list: %w", err))
	}
	processors = slices.Compact(slices.Sorted(slices.Values(processors)))
	ids := make([]string, len(processors))
	statuses := make([]string, len(processors))
	payloads := make([][]byte, len(processors))
	var audit auditRows
	for i, p := range processors {
		ids[i] = newID()
		if !slices.Contains(allowed, p) {
			statuses[i] = string(dataflow.StatusRefused)
			audit.add(recordID, p, ids[i], dataflow.AuditRefused, "not on the record's allowed list at enqueue")
			continue
		}
		statuses[i] = string(dataflow.StatusPending)
		if len(payload) > 0 {
			if dek == nil {
				return fmt.Errorf("enqueue record %s: a payload needs the customer's data key", recordID)
			}
			payloads[i] = dek.Seal(string(payload), PayloadAAD(ids[i]))
		}
	}
	var dekID *string
	if dek != nil {
		dekID = &dek.ID
	}
	err = queries.InsertDeliveries(ctx, tx, dbsqlc.InsertDeliveriesParams{
		Ids: ids, RecordID: recordID, Subprocessors: processors, Kind: string(dataflow.DeliveryRecord),
		Statuses: statuses, DekID: dekID, Payloads: payloads,
	})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("insert deliveries: %w", err))
	}
	return audit.insert(ctx, tx)
}

// Check is the gateway for a direct call to a processor (an API call that carries the record's
// data but is not an outbox delivery, such as a payment sent to Stripe or a recording started at
// the carrier). In the caller's transaction it reads record recordID's current list from the
// ledger, share-locked until tx ends: a fact change cannot shrink the list under a call made
// before tx commits. A processor not on the list, or a record not in the ledger, is refused: Check
// writes a 'refused' flow_audit entry in tx and returns a *apperr.PreconditionError (it returns
// that type for refusals only). The audit entry persists only if tx commits, so the caller ends
// its transaction normally and returns the refusal after it.
func Check(ctx context.Context, tx pgx.Tx, recordID, processor string) error {
	allowed, err := queries.AllowedForEnqueue(ctx, tx, recordID)
	reason := "not on the record's allowed list at call time"
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Fail closed: a record the ledger does not know has no list that allows anything.
		reason = "record not in the flow ledger at call time"
	case err != nil:
		return postgres.Interpret(fmt.Errorf("read allowed list: %w", err))
	case slices.Contains(allowed, processor):
		return nil
	}
	err = queries.InsertCallRefusal(ctx, tx, dbsqlc.InsertCallRefusalParams{
		RecordID: recordID, SubprocessorID: processor, Reason: reason,
	})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("insert flow audit: %w", err))
	}
	return apperr.Precondition("the record may not flow to %s (it is not on its allowed subprocessors): the call was refused", processor)
}

// auditRows collects flow_audit rows for one multi-row insert.
type auditRows struct {
	records, processors, deliveries, actions, reasons []string
}

func (a *auditRows) add(recordID, processor, deliveryID, action, reason string) {
	a.records = append(a.records, recordID)
	a.processors = append(a.processors, processor)
	a.deliveries = append(a.deliveries, deliveryID)
	a.actions = append(a.actions, action)
	a.reasons = append(a.reasons, reason)
}

func (a *auditRows) insert(ctx context.Context, db postgres.DBTX) error {
	if len(a.records) == 0 {
		return nil
	}
	err := queries.InsertAudit(ctx, db, dbsqlc.InsertAuditParams{
		RecordIds: a.records, Subprocessors: a.processors, DeliveryIds: a.deliveries,
		Actions: a.actions, Reasons: a.reasons,
	})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("insert flow audit: %w", err))
	}
	return nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
