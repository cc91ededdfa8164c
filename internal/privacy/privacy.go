// Package privacy holds the rules of erasure and portability (DOMAIN.md rule 6): what an erasure
// destroys at once, what it holds under legal retention (until when, and why), the order of its
// resumable steps, the receipt it leaves, and the export of everything held for a customer.
// It imports neither gRPC, pgx nor sibling domains: privacydb does the cross-cutting SQL.
package privacy

import (
	"context"
	"encoding/json"
	"time"
)

// Status is where an erasure is.
type Status string

// Erasure statuses.
const (
	// StatusRunning: steps remain; a resumer finishes them if the process that began dies.
	StatusRunning Status = "running"
	// StatusHolding: everything that may go is gone; records under legal retention wait for
	// RetainUntil.
	StatusHolding Status = "holding"
	// StatusComplete: nothing personal is left but what no law requires (none).
	StatusComplete Status = "complete"
)

// Step is one idempotent, separately committed part of an erasure. The order matters: the
// customer is marked erased at request time (no new records), the free text and recordings go
// first, the personal key is destroyed before the outbox step so that nothing new can be sealed
// for a processor after the outbox was swept, and only then are processors told.
type Step int

// Erasure steps in the order they run.
const (
	StepNone Step = iota
	// StepTickets clears the tickets' personal fields, free text, search tokens and comments.
	StepTickets
	// StepRecordings marks the customer's recordings deleting: supportsvc's sweeper deletes the
	// audio at Twilio and in the object store.
	StepRecordings
	// StepCustomer clears the contact and decides what is held (orders under retention).
	StepCustomer
	// StepKeys destroys the personal data key (and the retained one when nothing is held).
	StepKeys
	// StepOutbox cancels queued deliveries, purges sealed payloads and asks every processor
	// that received an erased record to delete its copy.
	StepOutbox
	// StepSettle writes what is held, with dates and bases, and ends RUNNING.
	StepSettle
)

// Steps lists every step in order.
var Steps = []Step{StepTickets, StepRecordings, StepCustomer, StepKeys, StepOutbox, StepSettle}

// String names the step for logs.
func (s Step) String() string {
	switch s {
	case StepTickets:
		return "tickets"
	case StepRecordings:
		return "recordings"
	case StepCustomer:
		return "customer"
	case StepKeys:
		return "keys"
	case StepOutbox:
		return "outbox"
	case StepSettle:
		return "settle"
	}
	return "none"
}

// Record kinds named in receipts.
const (
	KindCustomer       = "customer"
	KindTicket         = "ticket"
	KindComment        = "ticket_comment"
	KindRecording      = "recording"
	KindDataKey        = "data_key"
	KindOutboxDelivery = "outbox_delivery"
	KindOrder          = "order"
	KindPayment        = "payment"
	KindRefund         = "refund"
)

// Erasure is an erasure request and its receipt. It holds ids, kinds, dates, legal bases and
// processors only: never a value that was erased.
type Erasure struct {
	ID          string
	CustomerID  string
	Reason      string
	RequestedBy string
	Status      Status
	// Step is the last step committed.
	Step Step
	// RetainUntil is when the held records may go (nil when nothing is held).
	RetainUntil  *time.Time
	Erased       []Item
	Held         []HeldItem
	Notified     []Notice
	CreateTime   time.Time
	CompleteTime *time.Time
}

// Item is a record whose personal data is gone.
type Item struct {
	RecordID string
	Kind     string
}

// HeldItem is a record kept under legal retention until RetainUntil, for Basis.
type HeldItem struct {
	RecordID    string
	Kind        string
	RetainUntil time.Time
	Basis       string
}

// Notice is a processor that was asked to delete its copies, with the state of those requests.
type Notice struct {
	Subprocessor string
	// Status summarises the deletion requests sent to the processor: see Summarise.
	Status string
}

// NoticeDelivery is one deletion request as the outbox reports it.
type NoticeDelivery struct {
	RecordID     string
	Subprocessor string
	// Status is the outbox delivery's status: pending, delivered, refused, cancelled or dead.
	Status string
}

// NewErasure is the input of RequestErasure.
type NewErasure struct {
	CustomerID string `json:"customer_id"`
	Reason     string `json:"reason"`
}

// Document is one exported record as JSON (portability).
type Document struct {
	Kind     string
	RecordID string
	JSON     json.RawMessage
}

// Store persists erasures and carries out their steps. Every method is safe to call again after
// a crash or from another replica.
type Store interface {
	// Create records erasure e (RUNNING, step 0, leased until leaseUntil) and marks the
	// customer erased so that no new tickets, orders or payments are recorded for it, all in
	// one transaction. A customer has one erasure: if it already has one, that one is
	// returned with existing true. A requestID makes the call idempotent (empty: none); the
	// same requestID with a different request is apperr.ErrAlreadyExists. apperr.ErrNotFound:
	// no such customer.
	Create(ctx context.Context, e Erasure, requestID string, requestHash []byte, leaseUntil time.Time) (out Erasure, existing bool, err error)
	// RunStep carries out step of erasure id if its previous step is committed and it is not,
	// and commits it with the erasure's new step and lease. It reports the erasure afterwards.
	RunStep(ctx context.Context, id string, step Step, now, leaseUntil time.Time) (Erasure, error)
	// Get returns the erasure with its receipt. apperr.ErrNotFound.
	Get(ctx context.Context, id string) (Erasure, error)
	// ClaimStale leases up to limit RUNNING erasures whose lease ran out (FOR UPDATE SKIP
	// LOCKED, so replicas share the work) and returns their ids.
	ClaimStale(ctx context.Context, now, leaseUntil time.Time, limit int) ([]string, error)
	// Purge reduces up to limit HOLDING erasures whose retain_until has passed to the legal
	// minimum and completes them; an erasure whose orders' retention was extended meanwhile
	// is kept holding until the new date. It returns the ids it completed.
	Purge(ctx context.Context, now time.Time, limit int) ([]string, error)
	// Export calls emit for every record held for the customer, one at a time, decrypting
	// with the customer's keys (erased values come out empty). apperr.ErrNotFound.
	Export(ctx context.Context, customerID string, emit func(Document) error) error
}
