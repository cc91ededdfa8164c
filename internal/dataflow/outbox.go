package dataflow

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// Record is one entry of the flow ledger: a record of any kind, the facts its list was computed
// from and the list itself. Record ids are unique across kinds.
type Record struct {
	ID         string
	Kind       Kind
	CustomerID string
	Facts      Facts
	// Allowed is the policy's Decision.Allowed for Facts, as the domain stores it on its own row.
	Allowed []string
	// CustomerResidency is the residency of the record's customer as the ledger knows it (read
	// only; empty when unknown). Tickets do not carry residency in their facts, so ExplainFlow
	// takes it from the customer's own ledger entry.
	CustomerResidency string
	UpdateTime        time.Time
}

// Allows reports whether the record's stored list names processor id.
func (r Record) Allows(id string) bool { return slices.Contains(r.Allowed, id) }

// DeliveryKind says what a delivery carries.
type DeliveryKind string

// Delivery kinds.
const (
	// DeliveryRecord carries the record as its processor needs it.
	DeliveryRecord DeliveryKind = "record"
	// DeliveryDeletion asks a processor to delete its copy. It carries only the record's id and
	// kind, so it is always allowed.
	DeliveryDeletion DeliveryKind = "deletion"
)

// Status is where a delivery is.
type Status string

// Delivery statuses. Only StatusPending is not final.
const (
	StatusPending   Status = "pending"
	StatusDelivered Status = "delivered"
	// StatusRefused: the processor was not on the record's list, at enqueue or at send time.
	StatusRefused Status = "refused"
	// StatusCancelled: the list shrank (or the data was erased) before the delivery was sent.
	StatusCancelled Status = "cancelled"
	// StatusDead: the delivery failed permanently or too many times.
	StatusDead Status = "dead"
)

// Audit actions of the flow audit trail.
const (
	AuditRefused           = "refused"
	AuditCancelled         = "cancelled"
	AuditDeletionRequested = "deletion_requested"
	AuditDead              = "dead"
)

// Delivery is one outbound flow of a record to a processor. Its ID is stable across retries, so
// that a receiver can drop the duplicates that at-least-once delivery produces.
type Delivery struct {
	ID              string
	RecordID        string
	Subprocessor    string
	Kind            DeliveryKind
	Status          Status
	Attempts        int
	NextAttemptTime time.Time
	// LastError describes the last failure; it never holds personal data.
	LastError  string
	CreateTime time.Time
	UpdateTime time.Time
}

// Message is what a Sink sends for one delivery.
type Message struct {
	DeliveryID   string
	RecordID     string
	RecordKind   Kind
	Kind         DeliveryKind
	Subprocessor string
	// Attempt counts from 1.
	Attempt int
	// Payload is the JSON the record's domain enqueued for this processor; nil for deletions.
	Payload json.RawMessage
}

// Sink delivers messages to one processor. Deliver must be safe for concurrent use. An error
// wrapped with Permanent is not retried; any other error is.
type Sink interface {
	Deliver(ctx context.Context, m Message) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, m Message) error

// Deliver implements Sink.
func (f SinkFunc) Deliver(ctx context.Context, m Message) error { return f(ctx, m) }

// SinkFor returns the sink of a processor, or nil when none is configured.
type SinkFor func(subprocessorID string) Sink

// SinkMap returns a SinkFor backed by a map.
func SinkMap(m map[string]Sink) SinkFor {
	return func(id string) Sink { return m[id] }
}

// PermanentError marks a failure that retrying cannot fix (for example HTTP 400 or 403): the
// dispatcher parks the delivery as dead at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or an error it wraps, is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
