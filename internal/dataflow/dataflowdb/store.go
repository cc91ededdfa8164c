package dataflowdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb/internal/dbsqlc"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres"
)

// settleTimeout bounds a batch's settle transaction, sends included (sinks time out sooner). It
// does not follow the caller's cancellation: outcomes of sends that happened must be written
// even when the dispatcher is shutting down.
const settleTimeout = 3 * time.Minute

// Store is the outbox and the flow ledger: dataflow.DispatchStore for the dispatcher and
// dataflow.Ledger for DataFlowService.
type Store struct {
	pool *pgxpool.Pool
	kr   *keyring.Keyring
}

var (
	_ dataflow.DispatchStore = (*Store)(nil)
	_ dataflow.Ledger        = (*Store)(nil)
)

// New returns a Store on pool that opens payloads with data keys unwrapped by kr.
func New(pool *pgxpool.Pool, kr *keyring.Keyring) *Store {
	return &Store{pool: pool, kr: kr}
}

// Claim implements dataflow.DispatchStore. The data keys come in the same query, so opening a
// batch costs one round trip and one unwrap per customer.
func (s *Store) Claim(ctx context.Context, limit int, now, leaseUntil time.Time) ([]dataflow.Claim, error) {
	rows, err := queries.ClaimDeliveries(ctx, s.pool, dbsqlc.ClaimDeliveriesParams{
		Now: now, MaxRows: int32(min(limit, 1<<20)), LeaseUntil: leaseUntil,
	})
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("claim deliveries: %w", err))
	}
	keys := map[string]*keyring.DataKey{}
	out := make([]dataflow.Claim, 0, len(rows))
	for _, r := range rows {
		c := dataflow.Claim{
			Delivery: dataflow.Delivery{
				ID: r.ID, RecordID: r.RecordID, Subprocessor: r.SubprocessorID,
				Kind: dataflow.DeliveryKind(r.Kind), Status: dataflow.StatusPending,
				Attempts: int(r.Attempts), CreateTime: r.CreateTime.UTC(),
			},
			RecordKind: dataflow.Kind(r.RecordKind),
		}
		if r.DekID != nil && r.PayloadCt != nil {
			s.open(&c, keys, *r.DekID, r.DekMasterKeyID, r.DekWrappedKey, r.PayloadCt)
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *Store) open(c *dataflow.Claim, keys map[string]*keyring.DataKey, dekID, masterKeyID string, wrapped, ct []byte) {
	dk, seen := keys[dekID]
	if !seen {
		var err error
		dk, err = s.kr.Unwrap(dekID, masterKeyID, wrapped)
		switch {
		case errors.Is(err, keyring.ErrKeyDestroyed):
			dk = nil
		case err != nil:
			c.OpenError = "data key cannot be unwrapped"
			return
		}
		keys[dekID] = dk
	}
	if dk == nil {
		c.Erased = true
		return
	}
	pt, err := dk.Open(ct, PayloadAAD(c.Delivery.ID))
	if err != nil {
		c.OpenError = "payload cannot be opened"
		return
	}
	c.Payload = []byte(pt)
}

// Settle implements dataflow.DispatchStore. In one transaction it share-locks the records'
// ledger entries (skipping those a business transaction is changing), locks the deliveries that
// are still pending, lets decide send, and records the outcomes; a fact change of a checked
// record waits until the outcomes are committed, and then sees a delivered copy and asks for
// its deletion. Released deliveries are given back after the commit, outside the locks.
func (s *Store) Settle(ctx context.Context, claims []dataflow.Claim, now time.Time, decide func(context.Context, []dataflow.Check) []dataflow.Outcome) error {
	dbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	var release []string
	err := postgres.InTx(dbCtx, s.pool, func(tx pgx.Tx) error {
		recordIDs := make([]string, 0, len(claims))
		seen := map[string]bool{}
		for _, c := range claims {
			if !seen[c.Delivery.RecordID] {
				seen[c.Delivery.RecordID] = true
				recordIDs = append(recordIDs, c.Delivery.RecordID)
			}
		}
		locked, err := queries.LockRecordsForSend(dbCtx, tx, recordIDs)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock records: %w", err))
		}
		lists := make(map[string][]string, len(locked))
		for _, r := range locked {
			lists[r.RecordID] = r.AllowedSubprocessors
		}
		var candidates []string
		for _, c := range claims {
			if _, ok := lists[c.Delivery.RecordID]; ok {
				candidates = append(candidates, c.Delivery.ID)
			}
		}
		pendingIDs, err := queries.LockPendingDeliveries(dbCtx, tx, candidates)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock deliveries: %w", err))
		}
		pending := make(map[string]bool, len(pendingIDs))
		for _, id := range pendingIDs {
			pending[id] = true
		}
		checks := make([]dataflow.Check, len(claims))
		for i, c := range claims {
			list, ok := lists[c.Delivery.RecordID]
			if !ok {
				// Outbox rows reference the ledger, so an unlocked record is a busy one.
				checks[i] = dataflow.Check{Pending: true, Busy: true, Known: true}
				continue
			}
			checks[i] = dataflow.Check{Pending: pending[c.Delivery.ID], Known: true, Allowed: list}
		}
		outcomes := decide(ctx, checks)

		var p dbsqlc.SettleDeliveriesParams
		var audit auditRows
		byID := make(map[string]dataflow.Claim, len(claims))
		for _, c := range claims {
			byID[c.Delivery.ID] = c
		}
		for _, o := range outcomes {
			switch {
			case o.Status == "":
				continue
			case o.Release:
				release = append(release, o.ID)
				continue
			}
			next := o.NextAttemptTime
			if next.IsZero() {
				next = now
			}
			p.Ids = append(p.Ids, o.ID)
			p.Statuses = append(p.Statuses, string(o.Status))
			p.NextAttemptTimes = append(p.NextAttemptTimes, next)
			p.LastErrors = append(p.LastErrors, truncate(o.Error, 500))
			if o.Audit != "" {
				c := byID[o.ID]
				audit.add(c.Delivery.RecordID, c.Delivery.Subprocessor, o.ID, string(o.Status), truncate(o.Audit, 500))
			}
		}
		if len(p.Ids) > 0 {
			p.Now = now
			if err := queries.SettleDeliveries(dbCtx, tx, p); err != nil {
				return postgres.Interpret(fmt.Errorf("settle deliveries: %w", err))
			}
		}
		return audit.insert(dbCtx, tx)
	})
	if err != nil {
		return err
	}
	if len(release) > 0 {
		if err := queries.ReleaseDeliveries(dbCtx, s.pool, dbsqlc.ReleaseDeliveriesParams{Now: now, Ids: release}); err != nil {
			// The lease brings them back anyway; only the retry comes later.
			return postgres.Interpret(fmt.Errorf("release deliveries: %w", err))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Record implements dataflow.Ledger.
func (s *Store) Record(ctx context.Context, id string) (dataflow.Record, error) {
	r, err := queries.GetFlowRecord(ctx, s.pool, id)
	if err != nil {
		return dataflow.Record{}, postgres.Interpret(fmt.Errorf("read flow record: %w", err))
	}
	rec := dataflow.Record{
		ID: r.RecordID, Kind: dataflow.Kind(r.Kind), CustomerID: r.CustomerID,
		Allowed: r.AllowedSubprocessors, CustomerResidency: r.CustomerResidency,
		UpdateTime: r.UpdateTime.UTC(),
	}
	if err := json.Unmarshal(r.Facts, &rec.Facts); err != nil {
		return dataflow.Record{}, fmt.Errorf("decode facts of %s: %w", id, err)
	}
	return rec, nil
}

// Deliveries implements dataflow.Ledger.
func (s *Store) Deliveries(ctx context.Context, recordID string) ([]dataflow.Delivery, error) {
	rows, err := queries.ListDeliveries(ctx, s.pool, recordID)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list deliveries: %w", err))
	}
	if len(rows) == 0 {
		ok, err := queries.FlowRecordExists(ctx, s.pool, recordID)
		if err != nil {
			return nil, postgres.Interpret(fmt.Errorf("flow record exists: %w", err))
		}
		if !ok {
			return nil, apperr.ErrNotFound
		}
	}
	out := make([]dataflow.Delivery, 0, len(rows))
	for _, r := range rows {
		out = append(out, dataflow.Delivery{
			ID: r.ID, RecordID: r.RecordID, Subprocessor: r.SubprocessorID,
			Kind: dataflow.DeliveryKind(r.Kind), Status: dataflow.Status(r.Status),
			Attempts: int(r.Attempts), NextAttemptTime: r.NextAttemptTime.UTC(),
			LastError: r.LastError, CreateTime: r.CreateTime.UTC(), UpdateTime: r.UpdateTime.UTC(),
		})
	}
	return out, nil
}
