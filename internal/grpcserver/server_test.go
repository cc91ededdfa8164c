package grpcserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
)

const (
	testIssuer   = "iss"
	testAudience = "aud"
	// secret stands for personal data in a request; it must never reach a log or a caller.
	secret = "jane.doe@example.com"
)

type fakeTickets struct {
	supportv1.UnimplementedTicketServiceServer
	get func(context.Context, *supportv1.GetTicketRequest) (*supportv1.Ticket, error)
}

func (f *fakeTickets) GetTicket(ctx context.Context, req *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
	return f.get(ctx, req)
}

type fakeReports struct {
	ordersv1.UnimplementedReportingServiceServer
	export func(*ordersv1.ExportOrdersRequest, grpc.ServerStreamingServer[ordersv1.ExportOrdersResponse]) error
}

func (f *fakeReports) ExportOrders(req *ordersv1.ExportOrdersRequest, s grpc.ServerStreamingServer[ordersv1.ExportOrdersResponse]) error {
	return f.export(req, s)
}

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type bundle struct {
	tickets supportv1.TicketServiceClient
	reports ordersv1.ReportingServiceClient
	conn    *grpc.ClientConn
	logs    *syncBuffer
	reg     *prometheus.Registry
	key     ed25519.PrivateKey
	hs      *health.Server
	srv     *grpc.Server
	lis     *bufconn.Listener
}

// setup builds the real server around the fakes. It does not start serving; serve does.
func setup(t *testing.T, tickets *fakeTickets, reports *fakeReports) *bundle {
	t.Helper()
	return setupWith(t, Config{}, nil, tickets, reports)
}

// setupWith is setup with a configuration and options.
func setupWith(t *testing.T, cfg Config, opts []Option, tickets *fakeTickets, reports *fakeReports) *bundle {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{logs: &syncBuffer{}, reg: prometheus.NewRegistry(), key: key, lis: bufconn.Listen(1 << 20)}
	logger := slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	verifier := auth.NewDevVerifier(key.Public().(ed25519.PublicKey), testIssuer, testAudience)
	b.srv, b.hs = New(logger, verifier, b.reg, cfg, opts...)
	if tickets != nil {
		supportv1.RegisterTicketServiceServer(b.srv, tickets)
	}
	if reports != nil {
		ordersv1.RegisterReportingServiceServer(b.srv, reports)
	}
	b.conn, err = grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return b.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.conn.Close() })
	b.tickets = supportv1.NewTicketServiceClient(b.conn)
	b.reports = ordersv1.NewReportingServiceClient(b.conn)
	return b
}

// serve runs Serve until the returned cancel is called; wait returns Serve's result.
func (b *bundle) serve(t *testing.T, grace time.Duration) (cancel func(), wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, b.srv, b.lis, b.hs, grace) }()
	var once sync.Once
	var err error
	wait = func() error {
		once.Do(func() { err = <-done })
		return err
	}
	t.Cleanup(func() { cancel(); _ = wait() })
	return cancel, wait
}

func (b *bundle) as(t *testing.T, roles ...auth.Role) context.Context {
	t.Helper()
	tok, err := auth.SignToken(b.key, testIssuer, testAudience, "dev-"+string(roles[0]), roles, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

func okTicket(ctx context.Context, _ *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
	id, _ := auth.FromContext(ctx)
	return &supportv1.Ticket{Id: id.Subject}, nil
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeTickets{get: okTicket}, nil)
	b.serve(t, time.Second)
	req := &supportv1.GetTicketRequest{Id: "t1"}

	withAuth := func(v string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", v)
	}
	expired, err := auth.SignToken(b.key, testIssuer, testAudience, "x", []auth.Role{auth.RoleAgent}, time.Minute, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for name, ctx := range map[string]context.Context{
		"no token":     context.Background(),
		"not bearer":   withAuth("Basic dXNlcjpwYXNz"),
		"garbage":      withAuth("Bearer not-a-jwt"),
		"expired":      withAuth("Bearer " + expired),
		"empty bearer": withAuth("Bearer "),
	} {
		_, err := b.tickets.GetTicket(ctx, req)
		if got := status.Code(err); got != codes.Unauthenticated {
			t.Errorf("%s: code = %v, want Unauthenticated", name, got)
		}
	}

	if _, err := b.tickets.GetTicket(b.as(t, auth.RoleFinance), req); status.Code(err) != codes.PermissionDenied {
		t.Errorf("finance calling GetTicket: %v, want PermissionDenied", err)
	}

	got, err := b.tickets.GetTicket(b.as(t, auth.RoleAgent), req)
	if err != nil {
		t.Fatalf("agent calling GetTicket: %v", err)
	}
	if got.GetId() != "dev-agent" {
		t.Errorf("handler saw subject %q, want dev-agent", got.GetId())
	}
}

func TestStreamingRPCs(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, &fakeReports{export: func(_ *ordersv1.ExportOrdersRequest, s grpc.ServerStreamingServer[ordersv1.ExportOrdersResponse]) error {
		id, ok := auth.FromContext(s.Context())
		if !ok {
			return errors.New("no identity in stream context")
		}
		if id.Subject == "dev-admin" {
			panic(secret)
		}
		if err := s.Send(&ordersv1.ExportOrdersResponse{OrderId: id.Subject}); err != nil {
			return err
		}
		return apperr.Precondition("export window too large")
	}})
	b.serve(t, time.Second)

	recvAll := func(ctx context.Context) ([]string, error) {
		st, err := b.reports.ExportOrders(ctx, &ordersv1.ExportOrdersRequest{})
		if err != nil {
			return nil, err
		}
		var ids []string
		for {
			m, err := st.Recv()
			if err != nil {
				return ids, err
			}
			ids = append(ids, m.GetOrderId())
		}
	}
	if _, err := recvAll(context.Background()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("stream without token: %v, want Unauthenticated", err)
	}
	if _, err := recvAll(b.as(t, auth.RoleAgent)); status.Code(err) != codes.PermissionDenied {
		t.Errorf("agent streaming export: %v, want PermissionDenied", err)
	}
	ids, err := recvAll(b.as(t, auth.RoleFinance))
	if len(ids) != 1 || ids[0] != "dev-finance" {
		t.Errorf("finance stream messages = %v, want [dev-finance]", ids)
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("stream domain error: %v, want FailedPrecondition", err)
	}
	_, err = recvAll(b.as(t, auth.RoleAdmin))
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), secret) {
		t.Errorf("panicking stream: %v, want Internal without the panic value", err)
	}
}

func TestPanicBecomesInternal(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeTickets{get: func(_ context.Context, req *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
		panic(fmt.Errorf("boom for %s", req.GetId()))
	}}, nil)
	b.serve(t, time.Second)

	_, err := b.tickets.GetTicket(b.as(t, auth.RoleAgent), &supportv1.GetTicketRequest{Id: secret})
	st := status.Convert(err)
	if st.Code() != codes.Internal || st.Message() != internalMessage {
		t.Fatalf("panic: %v, want Internal %q", err, internalMessage)
	}
	logs := b.logs.String()
	if strings.Contains(logs, secret) {
		t.Errorf("logs contain request data:\n%s", logs)
	}
	if !strings.Contains(logs, `"panic_type":"*errors.errorString"`) || !strings.Contains(logs, `"code":"Internal"`) {
		t.Errorf("logs lack the panic type or the Internal rpc line:\n%s", logs)
	}
	if n := counterValue(t, b.reg, "/contactcentre.support.v1.TicketService/GetTicket", "Internal"); n != 1 {
		t.Errorf("grpc_server_handled_total{code=Internal} = %v, want 1", n)
	}
}

func TestDomainErrorsMapToCodes(t *testing.T) {
	t.Parallel()
	errs := map[string]error{
		"notfound":  fmt.Errorf("get ticket: %w", apperr.ErrNotFound),
		"exists":    apperr.ErrAlreadyExists,
		"stale":     apperr.ErrStaleEtag,
		"perm":      apperr.ErrPermission,
		"unauth":    apperr.ErrUnauthenticated,
		"down":      apperr.ErrUnavailable,
		"invalid":   apperr.Invalid("ticket.contact.email", "is required for email tickets"),
		"rule":      apperr.Precondition("ticket is closed"),
		"canceled":  context.Canceled,
		"deadline":  fmt.Errorf("query: %w", context.DeadlineExceeded),
		"unknown":   fmt.Errorf("insert %s: constraint violated", secret),
		"statusErr": status.Error(codes.ResourceExhausted, "quota"),
	}
	b := setup(t, &fakeTickets{get: func(_ context.Context, req *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
		return nil, errs[req.GetId()]
	}}, nil)
	b.serve(t, time.Second)

	want := map[string]codes.Code{
		"notfound": codes.NotFound, "exists": codes.AlreadyExists, "stale": codes.Aborted,
		"perm": codes.PermissionDenied, "unauth": codes.Unauthenticated, "down": codes.Unavailable,
		"invalid": codes.InvalidArgument, "rule": codes.FailedPrecondition, "canceled": codes.Canceled,
		"deadline": codes.DeadlineExceeded, "unknown": codes.Internal, "statusErr": codes.ResourceExhausted,
	}
	ctx := b.as(t, auth.RoleSupervisor)
	for name, code := range want {
		_, err := b.tickets.GetTicket(ctx, &supportv1.GetTicketRequest{Id: name})
		if got := status.Code(err); got != code {
			t.Errorf("%s: code = %v, want %v", name, got, code)
		}
		if name == "invalid" && !strings.Contains(status.Convert(err).Message(), "ticket.contact.email") {
			t.Errorf("InvalidArgument message %q does not name the field", status.Convert(err).Message())
		}
		if name == "unknown" && strings.Contains(err.Error(), "constraint") {
			t.Errorf("Internal leaks the error text: %v", err)
		}
	}
	// The real error behind Internal is logged for operators, at Error level.
	if !strings.Contains(b.logs.String(), `"level":"ERROR","msg":"internal error"`) {
		t.Errorf("the unknown error was not logged:\n%s", b.logs.String())
	}
}

func TestHealthAndReflectionNeedNoToken(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeTickets{get: okTicket}, nil)
	b.serve(t, time.Second)

	resp, err := healthpb.NewHealthClient(b.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check = %v, %v; want SERVING", resp, err)
	}

	stream, err := reflectionpb.NewServerReflectionClient(b.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection without a token: %v", err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "contactcentre.support.v1.TicketService") {
		t.Errorf("reflection lists %v, want TicketService among them", names)
	}
}

func TestGracefulStopFinishesInFlightRPC(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	b := setup(t, &fakeTickets{get: func(ctx context.Context, req *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
		close(entered)
		<-release
		return okTicket(ctx, req)
	}}, nil)
	cancel, wait := b.serve(t, 10*time.Second)

	result := make(chan error, 1)
	go func() {
		_, err := b.tickets.GetTicket(b.as(t, auth.RoleAgent), &supportv1.GetTicketRequest{Id: "t"})
		result <- err
	}()
	<-entered
	cancel()

	// Serve must mark itself NOT_SERVING while the RPC is still running.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := b.hs.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("health still SERVING after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if err := <-result; err != nil {
		t.Errorf("in-flight RPC failed during graceful stop: %v", err)
	}
	if err := wait(); err != nil {
		t.Errorf("Serve = %v, want nil after a graceful stop", err)
	}
}

func TestStopAfterGrace(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	b := setup(t, &fakeTickets{get: func(ctx context.Context, _ *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
		close(entered)
		<-ctx.Done() // a handler that only stops when forced
		return nil, ctx.Err()
	}}, nil)
	cancel, wait := b.serve(t, 50*time.Millisecond)
	result := make(chan error, 1)
	go func() {
		_, err := b.tickets.GetTicket(b.as(t, auth.RoleAgent), &supportv1.GetTicketRequest{Id: "t"})
		result <- err
	}()
	<-entered
	cancel()
	if err := wait(); err == nil {
		t.Error("Serve = nil, want an error when the grace period ran out")
	}
	if err := <-result; err == nil {
		t.Error("stuck RPC succeeded, want it cut off")
	}
}

func TestServeReportsListenerFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	_ = b.lis.Close()
	err := Serve(context.Background(), b.srv, b.lis, b.hs, time.Second)
	if err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

func counterValue(t *testing.T, g prometheus.Gatherer, method, code string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "grpc_server_handled_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["grpc_method"] == method && labels["grpc_code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
