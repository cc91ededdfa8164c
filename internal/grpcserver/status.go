package grpcserver

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/lumio/contactcentre/internal/apperr"
)

// internalMessage is all a caller learns about a failure we did not anticipate.
const internalMessage = "internal error"

// sentinels maps the domain's sentinel errors to codes, checked in order.
var sentinels = []struct {
	err  error
	code codes.Code
}{
	{apperr.ErrNotFound, codes.NotFound},
	{apperr.ErrAlreadyExists, codes.AlreadyExists},
	{apperr.ErrStaleEtag, codes.Aborted},
	{apperr.ErrPermission, codes.PermissionDenied},
	{apperr.ErrUnauthenticated, codes.Unauthenticated},
	{apperr.ErrUnavailable, codes.Unavailable},
}

// ToStatus is the one mapping from domain errors to gRPC status errors. Domain messages are
// free of personal data by apperr's contract, so they reach the caller; anything unknown
// becomes Internal with a generic message, and so does a handler's own Internal or Unknown
// status, whose text may describe our internals.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		if st.Code() == codes.Internal || st.Code() == codes.Unknown {
			return status.Error(codes.Internal, internalMessage)
		}
		return st.Err()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	var invalid *apperr.InvalidError
	if errors.As(err, &invalid) {
		return withDetails(status.New(codes.InvalidArgument, invalid.Field+": "+invalid.Reason),
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: invalid.Field, Description: invalid.Reason},
			}})
	}
	var pre *apperr.PreconditionError
	if errors.As(err, &pre) {
		return withDetails(status.New(codes.FailedPrecondition, pre.Rule),
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
				{Type: "BUSINESS_RULE", Description: pre.Rule},
			}})
	}
	if connectionLost(err) {
		return status.Error(codes.Unavailable, "temporarily unavailable, retry later")
	}
	for _, s := range sentinels {
		if !errors.Is(err, s.err) {
			continue
		}
		if s.code == codes.Unavailable {
			// The wrapped text names hosts and drivers; the caller only needs to retry.
			return status.Error(codes.Unavailable, "temporarily unavailable, retry later")
		}
		return status.Error(s.code, err.Error())
	}
	return status.Error(codes.Internal, internalMessage)
}

// connectionLost reports a connection to a dependency (PostgreSQL above all) that broke in the
// middle of a call: a reset, a refused connection, or a stream cut short. The caller cannot
// tell such a failure from an outage, and our writes are idempotent by request id, so it is
// UNAVAILABLE (retry) rather than INTERNAL (a bug). Stores should still mark these with
// apperr.ErrUnavailable; this is the net under them.
func connectionLost(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &opErr)
}

func withDetails(st *status.Status, detail protoadapt.MessageV1) error {
	if detailed, err := st.WithDetails(detail); err == nil {
		return detailed.Err()
	}
	return st.Err()
}
