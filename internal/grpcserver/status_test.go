package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lumio/contactcentre/internal/apperr"
)

func TestToStatusCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("get ticket: %w", apperr.ErrNotFound), codes.NotFound},
		{apperr.ErrAlreadyExists, codes.AlreadyExists},
		{fmt.Errorf("update: %w", apperr.ErrStaleEtag), codes.Aborted},
		{apperr.ErrPermission, codes.PermissionDenied},
		{apperr.ErrUnauthenticated, codes.Unauthenticated},
		{fmt.Errorf("db: dial 10.0.0.5: %w", apperr.ErrUnavailable), codes.Unavailable},
		{apperr.Invalid("ticket.subject", "is required"), codes.InvalidArgument},
		{fmt.Errorf("wrapped: %w", apperr.Precondition("ticket is closed")), codes.FailedPrecondition},
		{fmt.Errorf("query: %w", context.Canceled), codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{status.Error(codes.ResourceExhausted, "slow down"), codes.ResourceExhausted},
		{errors.New("pq: relation tickets does not exist"), codes.Internal},
		{status.Error(codes.Unknown, "driver said: x"), codes.Internal},
		// A database connection lost mid-query is an outage to the caller, not a bug.
		{fmt.Errorf("list tickets: %w", io.ErrUnexpectedEOF), codes.Unavailable},
		{fmt.Errorf("query: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), codes.Unavailable},
		{fmt.Errorf("write: %w", syscall.EPIPE), codes.Unavailable},
	}
	for _, tt := range tests {
		if got := status.Code(ToStatus(tt.err)); got != tt.code {
			t.Errorf("ToStatus(%v) code = %v, want %v", tt.err, got, tt.code)
		}
	}
	if ToStatus(nil) != nil {
		t.Error("ToStatus(nil) != nil")
	}
}

func TestToStatusHidesInternals(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		errors.New("pq: duplicate key value violates users_email_key"),
		status.Error(codes.Internal, "stack: secret"),
		fmt.Errorf("db: dial 10.0.0.5:5432: %w", apperr.ErrUnavailable),
	} {
		msg := status.Convert(ToStatus(err)).Message()
		if msg == err.Error() || msg == "" {
			t.Errorf("ToStatus(%q) message = %q, want a generic message", err, msg)
		}
	}
}

func TestToStatusDetails(t *testing.T) {
	t.Parallel()
	st := status.Convert(ToStatus(apperr.Invalid("ticket.contact.email", "is required for email tickets")))
	if want := "ticket.contact.email: is required for email tickets"; st.Message() != want {
		t.Errorf("InvalidArgument message = %q, want %q", st.Message(), want)
	}
	var br *errdetails.BadRequest
	for _, d := range st.Details() {
		if v, ok := d.(*errdetails.BadRequest); ok {
			br = v
		}
	}
	if br == nil || len(br.GetFieldViolations()) != 1 || br.GetFieldViolations()[0].GetField() != "ticket.contact.email" {
		t.Errorf("BadRequest detail = %v, want one violation of ticket.contact.email", br)
	}

	st = status.Convert(ToStatus(apperr.Precondition("recordings are deleted after opt-out")))
	if st.Message() != "recordings are deleted after opt-out" {
		t.Errorf("FailedPrecondition message = %q", st.Message())
	}
	var pf *errdetails.PreconditionFailure
	for _, d := range st.Details() {
		if v, ok := d.(*errdetails.PreconditionFailure); ok {
			pf = v
		}
	}
	if pf == nil || len(pf.GetViolations()) != 1 || pf.GetViolations()[0].GetDescription() != st.Message() {
		t.Errorf("PreconditionFailure detail = %v", pf)
	}
}

func TestToStatusKeepsStatuses(t *testing.T) {
	t.Parallel()
	in := status.Error(codes.NotFound, "no such page token")
	got := status.Convert(ToStatus(in))
	if got.Code() != codes.NotFound || got.Message() != "no such page token" {
		t.Errorf("ToStatus changed a status: %v", got)
	}
}
