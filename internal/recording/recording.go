// Package recording holds the rules of call recordings: the caller's opt-out is default-deny and
// provable, audio is copied off the carrier and deleted there, and every deletion is retried
// until no copy is left anywhere.
package recording

import (
	"context"
	"errors"
	"time"
)

// Status is where a recording is in its life. Only StatusStored and StatusDeleted are public;
// the others are steps the service retries until it reaches one of them.
type Status string

// Recording statuses, in lifecycle order.
const (
	// StatusRecording: Twilio is recording the call.
	StatusRecording Status = "recording"
	// StatusCompleted: Twilio holds the finished audio; we have not copied it yet.
	StatusCompleted Status = "completed"
	// StatusCopied: our store holds a verified copy; Twilio's copy is still to be deleted.
	StatusCopied Status = "copied"
	// StatusStored: only our store holds the audio.
	StatusStored Status = "stored"
	// StatusDeleting: the audio must go; copies may remain at Twilio or in our store.
	StatusDeleting Status = "deleting"
	// StatusDeleted: no copy is left anywhere.
	StatusDeleted Status = "deleted"
)

// Gone reports whether the recording is, for its users, deleted (the purge may still run).
func (s Status) Gone() bool { return s == StatusDeleting || s == StatusDeleted }

// Reasons a recording is deleted, as recorded in its audit trail.
const (
	ReasonOptOut    = "opt_out"
	ReasonRetention = "retention"
	ReasonRequest   = "request"
	ReasonAbsent    = "carrier_absent"
)

// Recording is one recorded call leg. Audio is never held here, only where copies live.
type Recording struct {
	ID           string
	CallSID      string
	RecordingSID string
	// TicketID and CustomerID come from the ticket that names the call; empty until one does.
	TicketID             string
	CustomerID           string
	Status               Status
	DurationSeconds      int32
	AllowedSubprocessors []string
	// CarrierHeld: Twilio may still hold the audio. StopPending: it may still be recording.
	CarrierHeld bool
	StopPending bool
	// ObjectKey names our store's copy; empty when there is none.
	ObjectKey    string
	SizeBytes    int64
	SHA256       []byte
	DeleteReason string
	Attempts     int32
	CreateTime   time.Time
	DeleteTime   *time.Time
}

// Call is a phone call Twilio told us about.
type Call struct {
	SID string
	// OptOut is true when the caller declined on this call or the call's ticket is opted out.
	OptOut bool
	// TicketID is the ticket that names the call, if an agent created one.
	TicketID string
}

// Callback is a recording status callback from Twilio.
type Callback struct {
	AccountSID      string
	CallSID         string
	RecordingSID    string
	Status          string
	DurationSeconds int32
}

// Callback statuses Twilio sends (RecordingStatus).
const (
	CallbackInProgress = "in-progress"
	CallbackCompleted  = "completed"
	CallbackAbsent     = "absent"
	CallbackFailed     = "failed"
)

// Download is a short-lived signed link to a recording's audio.
type Download struct {
	URL        string
	ExpireTime time.Time
}

// CarrierRecording is a recording the carrier still holds.
type CarrierRecording struct {
	RecordingSID string
	CallSID      string
	Status       string
	CreateTime   time.Time
}

// Object describes a verified copy in the object store.
type Object struct {
	Key       string
	SizeBytes int64
	SHA256    []byte
}

// Sealer encrypts audio with the customer's personal data key (*keyring.DataKey).
type Sealer interface {
	Seal(plaintext, aad string) []byte
	Open(ciphertext []byte, aad string) (string, error)
}

// CopyFunc copies a recording's audio into the object store under key, and returns what it
// verified. The store calls it while it holds the recording, so an opt-out waits for it.
type CopyFunc func(ctx context.Context, rec Recording, key Sealer) (Object, error)

// ErrAwaitingTicket means a finished recording cannot be copied yet: no ticket names its call,
// so there is no customer whose key could encrypt it. The work is retried later.
var ErrAwaitingTicket = errors.New("no ticket names the recording's call yet")

// ErrCarrierNotFound means the carrier does not have the recording (any more).
var ErrCarrierNotFound = errors.New("the carrier does not hold the recording")

// ErrObjectNotFound means the object store holds no such object.
var ErrObjectNotFound = errors.New("no such object in the recording store")

// Store keeps calls and recordings (recordingdb). Every method that changes a recording's
// flows records them in the dataflow ledger in the same transaction.
type Store interface {
	// EnsureCall returns the call, recording it on first sight.
	EnsureCall(ctx context.Context, callSID string, now time.Time) (Call, error)
	// CallToRecord is EnsureCall before the carrier is asked to record the call. When a ticket
	// names the call, the ticket's current list in the flow ledger must allow the carrier
	// (DOMAIN.md rule 1); otherwise the refusal is audited and returned as an
	// *apperr.PreconditionError. Of a call no ticket names yet the only fact is its opt-out,
	// which the caller checks on the returned Call.
	CallToRecord(ctx context.Context, callSID string, now time.Time) (Call, error)
	// OptOutCall marks the call opted out by actor and every recording of it deleting, and
	// returns the call and those recordings.
	OptOutCall(ctx context.Context, callSID, actor string, now time.Time) (Call, []Recording, error)
	// OptOutTicket does OptOutCall for the ticket's call and returns that call's sid (empty
	// when the ticket names none). apperr.ErrNotFound: no such ticket.
	OptOutTicket(ctx context.Context, ticketID, actor string, now time.Time) (callSID string, recs []Recording, err error)
	// AddRecording records a recording Twilio started. If the call was opted out meanwhile,
	// the recording is stored as deleting (StopPending) and must be purged at once.
	AddRecording(ctx context.Context, rec Recording, now time.Time) (Recording, error)
	// ApplyCallback applies a status callback once per (RecordingSid, status): applied is
	// false for a replay. An unknown recording is added under newID.
	ApplyCallback(ctx context.Context, cb Callback, newID string, now time.Time) (rec Recording, applied bool, err error)
	// Copy runs fn for a completed recording that is not opted out and marks it copied; a
	// recording of an opted-out call becomes deleting instead. Other statuses are returned
	// unchanged. ErrAwaitingTicket: no ticket names the call yet. fn fetches the audio from the
	// carrier, so the ticket's current flow list must allow the carrier first: otherwise fn is
	// not called, the refusal is audited, the recording is left as it was and an
	// *apperr.PreconditionError is returned.
	Copy(ctx context.Context, id string, now time.Time, fn CopyFunc) (Recording, error)
	// CarrierReleased records that Twilio no longer holds the audio: a copied recording
	// becomes stored (and its flow to CallMiner is queued), a deleting one may become deleted.
	CarrierReleased(ctx context.Context, id string, now time.Time) (Recording, error)
	// ObjectDeleted records that our store no longer holds the audio of a deleting recording.
	ObjectDeleted(ctx context.Context, id string, now time.Time) (Recording, error)
	// WorkFailed counts a failed attempt and schedules the next at next.
	WorkFailed(ctx context.Context, id, reason string, next time.Time) error
	// DueWork returns up to limit recordings whose copy or purge is due.
	DueWork(ctx context.Context, now time.Time, limit int) ([]Recording, error)
	// Expire marks up to limit recordings created before cutoff deleting (retention).
	Expire(ctx context.Context, cutoff, now time.Time, limit int) ([]Recording, error)
	// Delete marks one recording deleting at actor's request and leaves an event on its
	// ticket. apperr.ErrNotFound.
	Delete(ctx context.Context, id, actor, reason string, now time.Time) (Recording, error)
	// Recording returns one recording. apperr.ErrNotFound.
	Recording(ctx context.Context, id string) (Recording, error)
	// ByRecordingSID returns the recording Twilio calls sid. apperr.ErrNotFound.
	ByRecordingSID(ctx context.Context, sid string) (Recording, error)
	// ListByTicket returns the recordings of the ticket's call, oldest first.
	// apperr.ErrNotFound: no such ticket.
	ListByTicket(ctx context.Context, ticketID string) ([]Recording, error)
	// Audio returns a stored recording and the key that opens its audio. apperr.ErrNotFound.
	Audio(ctx context.Context, id string) (Recording, Sealer, error)
	// UnsyncedOptOuts returns calls whose caller declined before a ticket named them, with
	// that ticket, up to limit.
	UnsyncedOptOuts(ctx context.Context, limit int) ([]Call, error)
	// MarkSynced records that the call's opt-out reached its ticket.
	MarkSynced(ctx context.Context, callSID string) error
	// CallOptedOut reports whether callSID is opted out; known is false for a call we never saw.
	CallOptedOut(ctx context.Context, callSID string) (optOut, known bool, err error)
}

// Carrier is the telephony carrier's REST API (recordingtwilio).
type Carrier interface {
	// StartRecording starts recording the call and returns the recording's sid.
	StartRecording(ctx context.Context, callSID string) (string, error)
	// StopRecording stops an active recording. ErrCarrierNotFound: no such active recording.
	StopRecording(ctx context.Context, callSID, recordingSID string) error
	// DeleteRecording deletes a recording. ErrCarrierNotFound: it is already gone.
	DeleteRecording(ctx context.Context, recordingSID string) error
	// FetchMedia downloads a recording's audio from the configured API, by sid only.
	FetchMedia(ctx context.Context, recordingSID string) ([]byte, error)
	// ListRecordings lists every recording the carrier holds for our account.
	ListRecordings(ctx context.Context) ([]CarrierRecording, error)
}

// Objects is the encrypted audio store (recordingstore).
type Objects interface {
	Put(ctx context.Context, key string, data []byte) error
	// Get returns ErrObjectNotFound when the object does not exist.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete succeeds when the object does not exist.
	Delete(ctx context.Context, key string) error
}

// TicketOptOut sets a ticket's recording opt-out (tickets.Service, adapted in cmd).
type TicketOptOut interface {
	SetRecordingOptOut(ctx context.Context, actor, ticketID string, optOut bool) error
}

// TicketOptOutFunc adapts a function to TicketOptOut.
type TicketOptOutFunc func(ctx context.Context, actor, ticketID string, optOut bool) error

// SetRecordingOptOut implements TicketOptOut.
func (f TicketOptOutFunc) SetRecordingOptOut(ctx context.Context, actor, ticketID string, optOut bool) error {
	return f(ctx, actor, ticketID, optOut)
}
