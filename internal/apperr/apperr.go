// Package apperr defines the errors that domain packages return and the transport maps to
// status codes in one place (grpcserver.ToStatus). Messages must never carry personal data.
package apperr

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound means the record does not exist or the caller may not see it.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a request id was reused for a different request.
	ErrAlreadyExists = errors.New("request id already used for a different request")
	// ErrStaleEtag means the record changed since the caller read it.
	ErrStaleEtag = errors.New("etag does not match the current record")
	// ErrPermission means the caller's role may not do this to this record.
	ErrPermission = errors.New("permission denied")
	// ErrUnauthenticated means the caller did not prove who it is.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrUnavailable means a dependency (database, processor) cannot be reached right now.
	ErrUnavailable = errors.New("unavailable")
)

// InvalidError is bad input: Field names the request field (proto path, e.g. "ticket.contact.email").
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Invalid returns an *InvalidError for field.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// PreconditionError is a business rule that forbids the action; Rule says which, for the caller.
type PreconditionError struct {
	Rule string
}

func (e *PreconditionError) Error() string { return e.Rule }

// Precondition returns a *PreconditionError.
func Precondition(format string, args ...any) error {
	return &PreconditionError{Rule: fmt.Sprintf(format, args...)}
}

// Field returns the field named by err if it is an *InvalidError.
func Field(err error) (string, bool) {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Field, true
	}
	return "", false
}
