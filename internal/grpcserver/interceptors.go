package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lumio/contactcentre/internal/auth"
)

// layer is one interceptor, written once for both unary and streaming RPCs: it may replace
// ctx and must call next at most once.
type layer func(ctx context.Context, method string, next func(context.Context) error) error

func (l layer) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var resp any
		err := l(ctx, info.FullMethod, func(ctx context.Context) error {
			var err error
			resp, err = handler(ctx, req)
			return err
		})
		return resp, err
	}
}

func (l layer) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return l(ss.Context(), info.FullMethod, func(ctx context.Context) error {
			if ctx == ss.Context() {
				return handler(srv, ss)
			}
			return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
		})
	}
}

// contextStream carries a derived context (the caller's identity) into a stream handler.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

type interceptors struct {
	logger   *slog.Logger
	verifier auth.Verifier
	metrics  *metrics
	limiter  *limiter // nil when rate limiting is off
}

// recover turns a panic into Internal. It logs the panic value's type and the stack, never
// the value itself, which may hold request data.
func (ic *interceptors) recover(ctx context.Context, method string, next func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ic.logger.LogAttrs(ctx, slog.LevelError, "panic in RPC",
				slog.String("method", method),
				slog.String("panic_type", fmt.Sprintf("%T", r)),
				slog.String("stack", string(debug.Stack())))
			err = status.Error(codes.Internal, internalMessage)
		}
	}()
	return next(ctx)
}

func (ic *interceptors) observe(ctx context.Context, method string, next func(context.Context) error) error {
	start := time.Now()
	err := next(ctx)
	ic.metrics.handled.WithLabelValues(method, status.Code(err).String()).Inc()
	ic.metrics.seconds.WithLabelValues(method).Observe(time.Since(start).Seconds())
	return err
}

// callInfo lets the authentication layer, which runs inside the log layer, report the subject
// back out to it.
type callInfo struct{ subject string }

type callInfoKey struct{}

// log writes one line per RPC: method, code, duration and subject. Payloads and error texts
// are never logged here: they may carry personal data.
func (ic *interceptors) log(ctx context.Context, method string, next func(context.Context) error) error {
	info := &callInfo{}
	start := time.Now()
	err := next(context.WithValue(ctx, callInfoKey{}, info))
	level := slog.LevelInfo
	if isPublic(method) {
		level = slog.LevelDebug // probes every few seconds would drown everything else
	}
	ic.logger.LogAttrs(ctx, level, "rpc",
		slog.String("method", method),
		slog.String("code", status.Code(err).String()),
		slog.Duration("duration", time.Since(start)),
		slog.String("subject", info.subject))
	return err
}

// authenticate checks the bearer token and the caller's role and puts the identity into ctx.
// It runs outside mapErrors, so it returns status errors itself.
func (ic *interceptors) authenticate(ctx context.Context, method string, next func(context.Context) error) error {
	if isPublic(method) {
		return next(ctx)
	}
	token, ok := bearerToken(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "missing bearer token in the authorization metadata")
	}
	id, err := ic.verifier.Verify(ctx, token)
	if err != nil {
		// Whatever went wrong (including the issuer being unreachable), the caller has not
		// proved who it is; ErrUnauthenticated's text is free of token contents.
		if st := ToStatus(err); status.Code(st) == codes.Unauthenticated {
			return st
		}
		return status.Error(codes.Unauthenticated, "invalid token")
	}
	if info, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		info.subject = id.Subject
	}
	if err := auth.Authorize(method, id); err != nil {
		return status.Error(codes.PermissionDenied, "permission denied: your role may not call this method")
	}
	return next(auth.WithIdentity(ctx, id))
}

// mapErrors converts the handler's domain errors with ToStatus. The real error behind an
// Internal is logged here, once, without request data; the caller sees a generic message.
func (ic *interceptors) mapErrors(ctx context.Context, method string, next func(context.Context) error) error {
	err := next(ctx)
	if err == nil {
		return nil
	}
	mapped := ToStatus(err)
	if status.Code(mapped) == codes.Internal && !isMaskedInternal(err) {
		ic.logger.LogAttrs(ctx, slog.LevelError, "internal error",
			slog.String("method", method), slog.String("error", err.Error()))
	}
	return mapped
}

// isMaskedInternal reports whether err is already the generic Internal (from recover), which
// has been logged where it happened.
func isMaskedInternal(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Internal && st.Message() == internalMessage
}

// isPublic reports whether method needs no token: health for probes and load balancers,
// reflection so that grpcurl works without proto files.
func isPublic(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") || strings.HasPrefix(method, "/grpc.reflection.")
}

func bearerToken(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
