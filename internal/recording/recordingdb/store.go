// Package recordingdb keeps calls and recordings in PostgreSQL and records each recording's
// flows in the dataflow ledger in the same transaction as the change that causes them. Calls to
// the carrier that carry a call's data (starting its recording, fetching the audio) are first
// checked against the flow ledger, as outbox deliveries are. Locks are always taken in one
// order (call, then recording, then ledger entry), so an opt-out, a status callback and the
// sweeper never deadlock on one call.
package recordingdb

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingdb/internal/dbsqlc"
)

// Recording event types (recording_events.type) and the ticket event type of a deletion.
const (
	eventStarted         = "started"
	eventCompleted       = "completed"
	eventCopied          = "copied"
	eventStored          = "stored"
	eventDeleteRequested = "delete_requested"
	eventDeleted         = "deleted"
	ticketEventDeleted   = "recording_deleted"
	// reasonErased: the customer's personal key was destroyed, so audio cannot be kept.
	reasonErased = recording.ReasonErased
	// maxErrorLen bounds last_error; carrier messages are short and hold no personal data.
	maxErrorLen = 300
)

// Store implements recording.Store on PostgreSQL.
type Store struct {
	pool    *pgxpool.Pool
	kr      *keyring.Keyring
	policy  dataflow.Policy
	q       *dbsqlc.Queries
	metrics *recording.Metrics
}

var _ recording.Store = (*Store)(nil)

// New returns a Store on pool. kr opens customers' data keys; policy computes recordings'
// flow lists.
func New(pool *pgxpool.Pool, kr *keyring.Keyring, policy dataflow.Policy) *Store {
	return &Store{pool: pool, kr: kr, policy: policy, q: dbsqlc.New()}
}

// WithMetrics counts recordings stored and deleted in m (nil counts nothing) and returns s.
func (s *Store) WithMetrics(m *recording.Metrics) *Store {
	s.metrics = m
	return s
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func (s *Store) facts(optOut bool) dataflow.Facts {
	return dataflow.Facts{Kind: dataflow.KindRecording, RecordingOptOut: optOut}
}

func (s *Store) allowed(optOut bool) []string {
	a := s.policy.Decide(s.facts(optOut)).Allowed
	if a == nil {
		a = []string{}
	}
	return a
}

// EnsureCall implements recording.Store.
func (s *Store) EnsureCall(ctx context.Context, callSID string, now time.Time) (recording.Call, error) {
	if err := s.q.UpsertCall(ctx, s.pool, dbsqlc.UpsertCallParams{CallSid: callSID, Now: now}); err != nil {
		return recording.Call{}, postgres.Interpret(fmt.Errorf("upsert call: %w", err))
	}
	row, err := s.q.GetCall(ctx, s.pool, callSID)
	if err != nil {
		return recording.Call{}, postgres.Interpret(fmt.Errorf("get call: %w", err))
	}
	return recording.Call{SID: row.CallSid, OptOut: row.OptOut || row.TicketOptOut, TicketID: row.TicketID}, nil
}

// CallToRecord implements recording.Store. The call's lock orders the check after any opt-out
// that is committing. The carrier is asked after the commit, as for the opt-out: a list that
// shrank in between is not seen here, but an opt-out (the fact that changes mid-call) is caught
// by AddRecording, and the audio cannot be fetched without Copy's check.
func (s *Store) CallToRecord(ctx context.Context, callSID string, now time.Time) (recording.Call, error) {
	var (
		c       recording.Call
		refused error
	)
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if c, err = s.lockCall(ctx, tx, callSID, now); err != nil || c.OptOut || c.TicketID == "" {
			return err
		}
		refused, err = checkCarrier(ctx, tx, c.TicketID)
		return err
	})
	if err != nil {
		return recording.Call{}, err
	}
	return c, refused
}

// checkCarrier is the gateway's check of a call to the carrier about the call ticketID names:
// the ticket's current list in the flow ledger must allow the carrier. The ticket is the
// record checked because its entry exists from the moment it names the call, while a
// recording's own entry is written only once its audio is stored, after the fetch; the
// recording's one fact, the opt-out, is read from the locked call by every caller. It returns
// a refusal as its first result (audited in tx, so the caller must commit tx and return it
// after), any other failure as its second.
func checkCarrier(ctx context.Context, tx pgx.Tx, ticketID string) (refused, err error) {
	err = dataflowdb.Check(ctx, tx, ticketID, dataflow.Twilio)
	var pre *apperr.PreconditionError
	if errors.As(err, &pre) {
		return err, nil
	}
	return nil, err
}

// lockCall records the call if new and locks it: the first lock of every change.
func (s *Store) lockCall(ctx context.Context, tx pgx.Tx, callSID string, now time.Time) (recording.Call, error) {
	if err := s.q.UpsertCall(ctx, tx, dbsqlc.UpsertCallParams{CallSid: callSID, Now: now}); err != nil {
		return recording.Call{}, postgres.Interpret(fmt.Errorf("upsert call: %w", err))
	}
	row, err := s.q.LockCall(ctx, tx, callSID)
	if err != nil {
		return recording.Call{}, postgres.Interpret(fmt.Errorf("lock call: %w", err))
	}
	return recording.Call{SID: row.CallSid, OptOut: row.OptOut || row.TicketOptOut, TicketID: row.TicketID}, nil
}

// ticketOf returns the ticket and customer of a call, empty when no ticket names it.
func (s *Store) ticketOf(ctx context.Context, db postgres.DBTX, callSID string) (ticketID, customerID string, err error) {
	t, err := s.q.TicketForCall(ctx, db, callSID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", postgres.Interpret(fmt.Errorf("find ticket of call: %w", err))
	}
	return t.ID, t.CustomerID, nil
}

// OptOutCall implements recording.Store.
func (s *Store) OptOutCall(ctx context.Context, callSID, actor string, now time.Time) (recording.Call, []recording.Recording, error) {
	var c recording.Call
	var out []recording.Recording
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if c, err = s.lockCall(ctx, tx, callSID, now); err != nil {
			return err
		}
		c.OptOut = true
		_, customerID, err := s.ticketOf(ctx, tx, callSID)
		if err != nil {
			return err
		}
		out, err = s.optOut(ctx, tx, callSID, customerID, actor, now)
		return err
	})
	return c, out, err
}

// OptOutTicket implements recording.Store.
func (s *Store) OptOutTicket(ctx context.Context, ticketID, actor string, now time.Time) (string, []recording.Recording, error) {
	var callSID string
	var out []recording.Recording
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		t, err := s.q.TicketRef(ctx, tx, ticketID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("get ticket: %w", err))
		}
		if !recording.ValidCallSID(t.CallSid) {
			// No call (or not one Twilio made): nothing was or can be recorded.
			return nil
		}
		callSID = t.CallSid
		if _, err := s.lockCall(ctx, tx, callSID, now); err != nil {
			return err
		}
		out, err = s.optOut(ctx, tx, callSID, t.CustomerID, actor, now)
		return err
	})
	return callSID, out, err
}

// optOut marks the locked call opted out and each of its live recordings deleting.
func (s *Store) optOut(ctx context.Context, tx pgx.Tx, callSID, customerID, actor string, now time.Time) ([]recording.Recording, error) {
	if err := s.q.OptOutCall(ctx, tx, dbsqlc.OptOutCallParams{Actor: actor, Now: now, CallSid: callSID}); err != nil {
		return nil, postgres.Interpret(fmt.Errorf("opt out call: %w", err))
	}
	rows, err := s.q.LockCallRecordings(ctx, tx, callSID)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("lock recordings of call: %w", err))
	}
	out := make([]recording.Recording, 0, len(rows))
	for _, r := range rows {
		r, err := s.markDeleting(ctx, tx, r, customerID, recording.ReasonOptOut, actor, true, now)
		if err != nil {
			return nil, err
		}
		out = append(out, toDomain(r, "", customerID))
	}
	return out, nil
}

// markDeleting moves a locked recording to deleting and tells the ledger: an opt-out shrinks
// its flow list (cancelling queued deliveries and asking holders to delete); any other reason
// keeps the list but still asks every processor that received it to delete its copy.
func (s *Store) markDeleting(ctx context.Context, tx pgx.Tx, r dbsqlc.Recording, customerID, reason, actor string, optOut bool, now time.Time) (dbsqlc.Recording, error) {
	p := updateParams(r)
	p.Status = string(recording.StatusDeleting)
	p.StopPending = r.StopPending || r.Status == string(recording.StatusRecording)
	if optOut {
		p.AllowedSubprocessors = s.allowed(true)
	}
	if r.Status != string(recording.StatusDeleting) && r.Status != string(recording.StatusDeleted) {
		p.DeleteReason, p.DeleteBy, p.DeleteTime = reason, actor, &now
	}
	p.NextAttemptTime, p.Attempts, p.LastError, p.UpdateTime = &now, 0, "", now
	out, err := s.q.UpdateRecording(ctx, tx, p)
	if err != nil {
		return dbsqlc.Recording{}, postgres.Interpret(fmt.Errorf("mark recording deleting: %w", err))
	}
	if err := s.event(ctx, tx, r.ID, actor, eventDeleteRequested, reason, now); err != nil {
		return dbsqlc.Recording{}, err
	}
	if customerID == "" {
		// Never linked to a customer, so it never flowed anywhere.
		return out, nil
	}
	if optOut {
		err = dataflowdb.Track(ctx, tx, dataflow.Record{
			ID: r.ID, Kind: dataflow.KindRecording, CustomerID: customerID,
			Facts: s.facts(true), Allowed: out.AllowedSubprocessors,
		})
		if err != nil {
			return dbsqlc.Recording{}, fmt.Errorf("track opted-out recording: %w", err)
		}
		return out, nil
	}
	holders, err := dataflowdb.Holders(ctx, tx, r.ID)
	if err != nil {
		return dbsqlc.Recording{}, fmt.Errorf("find holders of recording: %w", err)
	}
	if err := dataflowdb.RequestDeletions(ctx, tx, r.ID, holders, "recording deleted ("+reason+")"); err != nil {
		return dbsqlc.Recording{}, fmt.Errorf("request deletions of recording: %w", err)
	}
	return out, nil
}

func (s *Store) event(ctx context.Context, tx pgx.Tx, recordingID, actor, typ, reason string, now time.Time) error {
	err := s.q.InsertRecordingEvent(ctx, tx, dbsqlc.InsertRecordingEventParams{
		ID: newID(), RecordingID: recordingID, Actor: actor, Type: typ, Reason: reason, CreateTime: now,
	})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("insert recording event: %w", err))
	}
	return nil
}

// AddRecording implements recording.Store.
func (s *Store) AddRecording(ctx context.Context, rec recording.Recording, now time.Time) (recording.Recording, error) {
	var out recording.Recording
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.lockCall(ctx, tx, rec.CallSID, now)
		if err != nil {
			return err
		}
		r, err := s.insert(ctx, tx, rec.ID, rec.CallSID, rec.RecordingSID, 0, now)
		if err != nil {
			return err
		}
		_, customerID, err := s.ticketOf(ctx, tx, rec.CallSID)
		if err != nil {
			return err
		}
		if c.OptOut {
			if r, err = s.markDeleting(ctx, tx, r, customerID, recording.ReasonOptOut, recording.ActorCaller, true, now); err != nil {
				return err
			}
		}
		out = toDomain(r, c.TicketID, customerID)
		return nil
	})
	return out, err
}

func (s *Store) insert(ctx context.Context, tx pgx.Tx, id, callSID, recordingSID string, duration int32, now time.Time) (dbsqlc.Recording, error) {
	r, err := s.q.InsertRecording(ctx, tx, dbsqlc.InsertRecordingParams{
		ID: id, CallSid: callSID, RecordingSid: recordingSID, Status: string(recording.StatusRecording),
		DurationSeconds: duration, AllowedSubprocessors: s.allowed(false), CarrierHeld: true,
		StopPending: true, CreateTime: now, UpdateTime: now,
	})
	if err != nil {
		return dbsqlc.Recording{}, postgres.Interpret(fmt.Errorf("insert recording: %w", err))
	}
	if err := s.event(ctx, tx, id, recording.ActorCarrier, eventStarted, "", now); err != nil {
		return dbsqlc.Recording{}, err
	}
	return r, nil
}

// ApplyCallback implements recording.Store.
func (s *Store) ApplyCallback(ctx context.Context, cb recording.Callback, newRecordingID string, now time.Time) (recording.Recording, bool, error) {
	var out recording.Recording
	var applied bool
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := s.q.ClaimCallback(ctx, tx, dbsqlc.ClaimCallbackParams{RecordingSid: cb.RecordingSID, Status: cb.Status, Now: now})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("claim callback: %w", err))
		}
		if n == 0 {
			return nil
		}
		applied = true
		c, err := s.lockCall(ctx, tx, cb.CallSID, now)
		if err != nil {
			return err
		}
		_, customerID, err := s.ticketOf(ctx, tx, cb.CallSID)
		if err != nil {
			return err
		}
		r, err := s.q.LockRecordingBySID(ctx, tx, cb.RecordingSID)
		if errors.Is(err, pgx.ErrNoRows) {
			// A recording we did not start (or whose start we did not record): it is ours to
			// keep or delete all the same.
			r, err = s.insert(ctx, tx, newRecordingID, cb.CallSID, cb.RecordingSID, cb.DurationSeconds, now)
		}
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock recording: %w", err))
		}
		if r, err = s.applyStatus(ctx, tx, r, c, customerID, cb, now); err != nil {
			return err
		}
		out = toDomain(r, c.TicketID, customerID)
		return nil
	})
	return out, applied, err
}

func (s *Store) applyStatus(ctx context.Context, tx pgx.Tx, r dbsqlc.Recording, c recording.Call, customerID string, cb recording.Callback, now time.Time) (dbsqlc.Recording, error) {
	gone := recording.Status(r.Status).Gone()
	switch cb.Status {
	case recording.CallbackInProgress:
		if c.OptOut && !gone {
			return s.markDeleting(ctx, tx, r, customerID, recording.ReasonOptOut, recording.ActorCarrier, true, now)
		}
		return r, nil
	case recording.CallbackAbsent, recording.CallbackFailed:
		r.CarrierHeld, r.StopPending = true, false
		if !gone {
			// Not recording any more: nothing to stop, only something to delete.
			r.Status = string(recording.StatusCompleted)
		}
		return s.markDeleting(ctx, tx, r, customerID, recording.ReasonAbsent, recording.ActorCarrier, c.OptOut, now)
	}
	// completed: the carrier holds finished audio, whatever we thought before.
	r.DurationSeconds, r.CarrierHeld, r.StopPending = cb.DurationSeconds, true, false
	if gone || c.OptOut {
		reason := r.DeleteReason
		if reason == "" {
			reason = recording.ReasonOptOut
		}
		if gone {
			// Re-open the purge: the carrier's copy exists after all.
			r.Status = string(recording.StatusDeleting)
		} else {
			r.Status = string(recording.StatusCompleted)
		}
		return s.markDeleting(ctx, tx, r, customerID, reason, recording.ActorCarrier, c.OptOut, now)
	}
	if r.Status != string(recording.StatusRecording) {
		return r, nil
	}
	p := updateParams(r)
	p.Status, p.NextAttemptTime, p.UpdateTime = string(recording.StatusCompleted), &now, now
	out, err := s.q.UpdateRecording(ctx, tx, p)
	if err != nil {
		return dbsqlc.Recording{}, postgres.Interpret(fmt.Errorf("mark recording completed: %w", err))
	}
	return out, s.event(ctx, tx, r.ID, recording.ActorCarrier, eventCompleted, "", now)
}

// lockForWork locks a recording's call and then the recording, in the one lock order.
func (s *Store) lockForWork(ctx context.Context, tx pgx.Tx, id string, now time.Time) (dbsqlc.Recording, recording.Call, error) {
	r, err := s.q.GetRecording(ctx, tx, id)
	if err != nil {
		return dbsqlc.Recording{}, recording.Call{}, postgres.Interpret(fmt.Errorf("get recording: %w", err))
	}
	c, err := s.lockCall(ctx, tx, r.CallSid, now)
	if err != nil {
		return dbsqlc.Recording{}, recording.Call{}, err
	}
	if r, err = s.q.LockRecording(ctx, tx, id); err != nil {
		return dbsqlc.Recording{}, recording.Call{}, postgres.Interpret(fmt.Errorf("lock recording: %w", err))
	}
	return r, c, nil
}

// Copy implements recording.Store.
func (s *Store) Copy(ctx context.Context, id string, now time.Time, fn recording.CopyFunc) (recording.Recording, error) {
	var (
		out     recording.Recording
		refused error
	)
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, c, err := s.lockForWork(ctx, tx, id, now)
		if err != nil {
			return err
		}
		ticketID, customerID, err := s.ticketOf(ctx, tx, r.CallSid)
		if err != nil {
			return err
		}
		out = toDomain(r, ticketID, customerID)
		if r.Status != string(recording.StatusCompleted) {
			return nil
		}
		if c.OptOut {
			r, err = s.markDeleting(ctx, tx, r, customerID, recording.ReasonOptOut, recording.ActorCaller, true, now)
			out = toDomain(r, ticketID, customerID)
			return err
		}
		if customerID == "" {
			return recording.ErrAwaitingTicket
		}
		dk, err := keyringdb.Ensure(ctx, tx, s.kr, customerID, keyringdb.Personal)
		if errors.Is(err, keyring.ErrKeyDestroyed) {
			r, err = s.markDeleting(ctx, tx, r, customerID, reasonErased, recording.ActorCarrier, false, now)
			out = toDomain(r, ticketID, customerID)
			return err
		}
		if err != nil {
			return err
		}
		if refused, err = checkCarrier(ctx, tx, ticketID); refused != nil || err != nil {
			return err
		}
		obj, err := fn(ctx, out, dk)
		if err != nil {
			return err
		}
		p := updateParams(r)
		p.Status, p.ObjectKey, p.DekID = string(recording.StatusCopied), obj.Key, &dk.ID
		p.SizeBytes, p.Sha256 = obj.SizeBytes, obj.SHA256
		// Due again at once: if deleting the carrier's copy does not follow, the sweeper does it.
		p.Attempts, p.LastError, p.NextAttemptTime, p.UpdateTime = 0, "", &now, now
		if r, err = s.q.UpdateRecording(ctx, tx, p); err != nil {
			return postgres.Interpret(fmt.Errorf("mark recording copied: %w", err))
		}
		out = toDomain(r, ticketID, customerID)
		return s.event(ctx, tx, id, recording.ActorCarrier, eventCopied, "", now)
	})
	if err != nil {
		return out, err
	}
	return out, refused
}

// callMinerPayload is what CallMiner receives about a stored recording: metadata and where the
// audio is, never the audio itself.
type callMinerPayload struct {
	RecordingID     string    `json:"recording_id"`
	TicketID        string    `json:"ticket_id"`
	CallSID         string    `json:"call_sid"`
	RecordingSID    string    `json:"recording_sid"`
	DurationSeconds int32     `json:"duration_seconds"`
	CreateTime      time.Time `json:"create_time"`
	Audio           struct {
		Key       string `json:"key"`
		SizeBytes int64  `json:"size_bytes"`
		SHA256    string `json:"sha256"`
	} `json:"audio"`
}

// CarrierReleased implements recording.Store.
func (s *Store) CarrierReleased(ctx context.Context, id string, now time.Time) (recording.Recording, error) {
	var (
		out           recording.Recording
		stored        bool
		deletedReason *string
	)
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, _, err := s.lockForWork(ctx, tx, id, now)
		if err != nil {
			return err
		}
		ticketID, customerID, err := s.ticketOf(ctx, tx, r.CallSid)
		if err != nil {
			return err
		}
		p := updateParams(r)
		p.CarrierHeld, p.StopPending, p.UpdateTime = false, false, now
		switch recording.Status(r.Status) {
		case recording.StatusCopied:
			p.Status, p.StoreTime, p.NextAttemptTime, p.Attempts, p.LastError = string(recording.StatusStored), &now, nil, 0, ""
			if r, err = s.q.UpdateRecording(ctx, tx, p); err != nil {
				return postgres.Interpret(fmt.Errorf("mark recording stored: %w", err))
			}
			if err := s.event(ctx, tx, id, recording.ActorCarrier, eventStored, "", now); err != nil {
				return err
			}
			out, stored = toDomain(r, ticketID, customerID), true
			return s.queueFlows(ctx, tx, r, ticketID, customerID)
		case recording.StatusDeleting:
			if r, err = s.finishIfClean(ctx, tx, p, now); err != nil {
				return err
			}
			deletedReason = deletedNow(r)
		}
		out = toDomain(r, ticketID, customerID)
		return nil
	})
	if err == nil {
		s.counted(stored, deletedReason)
	}
	return out, err
}

// deletedNow returns the delete reason of a recording finishIfClean just wrote, if it became
// deleted.
func deletedNow(r dbsqlc.Recording) *string {
	if r.Status != string(recording.StatusDeleted) {
		return nil
	}
	return &r.DeleteReason
}

// counted counts committed transitions: only the transaction that made one knows of it, so a
// replay or a racing replica never counts it twice.
func (s *Store) counted(stored bool, deletedReason *string) {
	if stored {
		s.metrics.Stored()
	}
	if deletedReason != nil {
		s.metrics.Deleted(*deletedReason)
	}
}

// queueFlows records a stored recording's flow list and queues its metadata to CallMiner.
func (s *Store) queueFlows(ctx context.Context, tx pgx.Tx, r dbsqlc.Recording, ticketID, customerID string) error {
	err := dataflowdb.Track(ctx, tx, dataflow.Record{
		ID: r.ID, Kind: dataflow.KindRecording, CustomerID: customerID,
		Facts: s.facts(false), Allowed: r.AllowedSubprocessors,
	})
	if err != nil {
		return fmt.Errorf("track recording: %w", err)
	}
	if !s.policy.Decide(s.facts(false)).Allows(dataflow.CallMiner) {
		return nil
	}
	dk, err := keyringdb.ByID(ctx, tx, s.kr, *r.DekID)
	if err != nil {
		return fmt.Errorf("open data key of recording: %w", err)
	}
	var p callMinerPayload
	p.RecordingID, p.TicketID, p.CallSID, p.RecordingSID = r.ID, ticketID, r.CallSid, r.RecordingSid
	p.DurationSeconds, p.CreateTime = r.DurationSeconds, r.CreateTime.UTC()
	p.Audio.Key, p.Audio.SizeBytes, p.Audio.SHA256 = r.ObjectKey, r.SizeBytes, hex.EncodeToString(r.Sha256)
	payload, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode callminer payload: %w", err)
	}
	if err := dataflowdb.Enqueue(ctx, tx, dk, r.ID, []string{dataflow.CallMiner}, payload); err != nil {
		return fmt.Errorf("queue recording to callminer: %w", err)
	}
	return nil
}

// finishIfClean writes p and marks the recording deleted when no copy is left.
func (s *Store) finishIfClean(ctx context.Context, tx pgx.Tx, p dbsqlc.UpdateRecordingParams, now time.Time) (dbsqlc.Recording, error) {
	done := !p.CarrierHeld && p.ObjectKey == ""
	if done {
		p.Status, p.NextAttemptTime, p.Attempts, p.LastError = string(recording.StatusDeleted), nil, 0, ""
		p.DekID, p.SizeBytes, p.Sha256 = nil, 0, nil
	}
	r, err := s.q.UpdateRecording(ctx, tx, p)
	if err != nil {
		return dbsqlc.Recording{}, postgres.Interpret(fmt.Errorf("update deleting recording: %w", err))
	}
	if done {
		if err := s.event(ctx, tx, r.ID, r.DeleteBy, eventDeleted, r.DeleteReason, now); err != nil {
			return dbsqlc.Recording{}, err
		}
	}
	return r, nil
}

// ObjectDeleted implements recording.Store.
func (s *Store) ObjectDeleted(ctx context.Context, id string, now time.Time) (recording.Recording, error) {
	var (
		out           recording.Recording
		deletedReason *string
	)
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, _, err := s.lockForWork(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if r.Status == string(recording.StatusDeleting) {
			p := updateParams(r)
			p.ObjectKey, p.UpdateTime = "", now
			if r, err = s.finishIfClean(ctx, tx, p, now); err != nil {
				return err
			}
			deletedReason = deletedNow(r)
		}
		ticketID, customerID, err := s.ticketOf(ctx, tx, r.CallSid)
		out = toDomain(r, ticketID, customerID)
		return err
	})
	if err == nil {
		s.counted(false, deletedReason)
	}
	return out, err
}

// WorkFailed implements recording.Store.
func (s *Store) WorkFailed(ctx context.Context, id, reason string, next time.Time) error {
	if len(reason) > maxErrorLen {
		reason = reason[:maxErrorLen]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	err := s.q.WorkFailed(ctx, s.pool, dbsqlc.WorkFailedParams{ID: id, LastError: reason, NextAttemptTime: &next})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("record failed attempt: %w", err))
	}
	return nil
}

// DueWork implements recording.Store.
func (s *Store) DueWork(ctx context.Context, now time.Time, limit int) ([]recording.Recording, error) {
	rows, err := s.q.DueWork(ctx, s.pool, dbsqlc.DueWorkParams{Now: &now, MaxRows: int32(limit)})
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list due work: %w", err))
	}
	out := make([]recording.Recording, len(rows))
	for i, r := range rows {
		out[i] = toDomain(r, "", "")
	}
	return out, nil
}

// Expire implements recording.Store.
func (s *Store) Expire(ctx context.Context, cutoff, now time.Time, limit int) ([]recording.Recording, error) {
	ids, err := s.q.ExpiredIDs(ctx, s.pool, dbsqlc.ExpiredIDsParams{Cutoff: cutoff, MaxRows: int32(limit)})
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list expired recordings: %w", err))
	}
	out := make([]recording.Recording, 0, len(ids))
	for _, id := range ids {
		// One transaction per recording: a slow one never holds the others' locks.
		err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			r, c, err := s.lockForWork(ctx, tx, id, now)
			if err != nil || recording.Status(r.Status).Gone() || !r.CreateTime.Before(cutoff) {
				return err
			}
			ticketID, customerID, err := s.ticketOf(ctx, tx, r.CallSid)
			if err != nil {
				return err
			}
			if r, err = s.markDeleting(ctx, tx, r, customerID, recording.ReasonRetention, recording.ActorRetention, c.OptOut, now); err != nil {
				return err
			}
			out = append(out, toDomain(r, ticketID, customerID))
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Delete implements recording.Store.
func (s *Store) Delete(ctx context.Context, id, actor, _ string, now time.Time) (recording.Recording, error) {
	var out recording.Recording
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, c, err := s.lockForWork(ctx, tx, id, now)
		if err != nil {
			return err
		}
		ticketID, customerID, err := s.ticketOf(ctx, tx, r.CallSid)
		if err != nil {
			return err
		}
		if recording.Status(r.Status).Gone() {
			out = toDomain(r, ticketID, customerID)
			return nil
		}
		// The free-text reason is not stored: it may name people, and it has no key to be
		// sealed with here. The audit keeps who, when and that it was a request.
		if r, err = s.markDeleting(ctx, tx, r, customerID, recording.ReasonRequest, actor, c.OptOut, now); err != nil {
			return err
		}
		if ticketID != "" {
			err := s.q.InsertTicketEvent(ctx, tx, dbsqlc.InsertTicketEventParams{
				ID: newID(), TicketID: ticketID, Actor: actor, Type: ticketEventDeleted,
				ChangedFields: []string{"recordings"}, CreateTime: now,
			})
			if err != nil {
				return postgres.Interpret(fmt.Errorf("insert ticket event: %w", err))
			}
		}
		out = toDomain(r, ticketID, customerID)
		return nil
	})
	return out, err
}

// Recording implements recording.Store.
func (s *Store) Recording(ctx context.Context, id string) (recording.Recording, error) {
	r, err := s.q.GetRecording(ctx, s.pool, id)
	if err != nil {
		return recording.Recording{}, postgres.Interpret(fmt.Errorf("get recording: %w", err))
	}
	ticketID, customerID, err := s.ticketOf(ctx, s.pool, r.CallSid)
	return toDomain(r, ticketID, customerID), err
}

// ByRecordingSID implements recording.Store.
func (s *Store) ByRecordingSID(ctx context.Context, sid string) (recording.Recording, error) {
	r, err := s.q.GetRecordingBySID(ctx, s.pool, sid)
	if err != nil {
		return recording.Recording{}, postgres.Interpret(fmt.Errorf("get recording by sid: %w", err))
	}
	ticketID, customerID, err := s.ticketOf(ctx, s.pool, r.CallSid)
	return toDomain(r, ticketID, customerID), err
}

// ListByTicket implements recording.Store.
func (s *Store) ListByTicket(ctx context.Context, ticketID string) ([]recording.Recording, error) {
	t, err := s.q.TicketRef(ctx, s.pool, ticketID)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("get ticket: %w", err))
	}
	rows, err := s.q.ListByTicket(ctx, s.pool, ticketID)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list recordings: %w", err))
	}
	out := make([]recording.Recording, len(rows))
	for i, r := range rows {
		out[i] = toDomain(r, t.ID, t.CustomerID)
	}
	return out, nil
}

// Audio implements recording.Store.
func (s *Store) Audio(ctx context.Context, id string) (recording.Recording, recording.Sealer, error) {
	row, err := s.q.StoredAudio(ctx, s.pool, id)
	if err != nil {
		return recording.Recording{}, nil, postgres.Interpret(fmt.Errorf("get stored audio: %w", err))
	}
	dk, err := s.kr.Unwrap(row.DekID, row.MasterKeyID, row.WrappedKey)
	if err != nil {
		return recording.Recording{}, nil, err
	}
	return recording.Recording{ID: row.ID, ObjectKey: row.ObjectKey, Status: recording.StatusStored}, dk, nil
}

// UnsyncedOptOuts implements recording.Store.
func (s *Store) UnsyncedOptOuts(ctx context.Context, limit int) ([]recording.Call, error) {
	rows, err := s.q.UnsyncedOptOuts(ctx, s.pool, int32(limit))
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list unsynced opt-outs: %w", err))
	}
	out := make([]recording.Call, len(rows))
	for i, r := range rows {
		out[i] = recording.Call{SID: r.CallSid, OptOut: true, TicketID: r.TicketID}
	}
	return out, nil
}

// MarkSynced implements recording.Store.
func (s *Store) MarkSynced(ctx context.Context, callSID string) error {
	if err := s.q.MarkSynced(ctx, s.pool, callSID); err != nil {
		return postgres.Interpret(fmt.Errorf("mark call synced: %w", err))
	}
	return nil
}

// CallOptedOut implements recording.Store.
func (s *Store) CallOptedOut(ctx context.Context, callSID string) (optOut, known bool, err error) {
	row, err := s.q.GetCall(ctx, s.pool, callSID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, postgres.Interpret(fmt.Errorf("get call: %w", err))
	}
	return row.OptOut || row.TicketOptOut, true, nil
}

func updateParams(r dbsqlc.Recording) dbsqlc.UpdateRecordingParams {
	return dbsqlc.UpdateRecordingParams{
		ID: r.ID, Status: r.Status, DurationSeconds: r.DurationSeconds,
		AllowedSubprocessors: r.AllowedSubprocessors, CarrierHeld: r.CarrierHeld,
		StopPending: r.StopPending, ObjectKey: r.ObjectKey, DekID: r.DekID, SizeBytes: r.SizeBytes,
		Sha256: r.Sha256, DeleteReason: r.DeleteReason, DeleteBy: r.DeleteBy, Attempts: r.Attempts,
		NextAttemptTime: r.NextAttemptTime, LastError: r.LastError, UpdateTime: r.UpdateTime,
		StoreTime: r.StoreTime, DeleteTime: r.DeleteTime,
	}
}

func toDomain(r dbsqlc.Recording, ticketID, customerID string) recording.Recording {
	out := recording.Recording{
		ID: r.ID, CallSID: r.CallSid, RecordingSID: r.RecordingSid, TicketID: ticketID,
		CustomerID: customerID, Status: recording.Status(r.Status), DurationSeconds: r.DurationSeconds,
		AllowedSubprocessors: r.AllowedSubprocessors, CarrierHeld: r.CarrierHeld,
		StopPending: r.StopPending, ObjectKey: r.ObjectKey, SizeBytes: r.SizeBytes, SHA256: r.Sha256,
		DeleteReason: r.DeleteReason, Attempts: r.Attempts, CreateTime: r.CreateTime.UTC(),
	}
	if r.DeleteTime != nil {
		t := r.DeleteTime.UTC()
		out.DeleteTime = &t
	}
	return out
}
