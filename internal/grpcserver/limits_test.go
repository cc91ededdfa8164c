package grpcserver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/lumio/contactcentre/internal/auth"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
)

func TestRateLimitPerSubject(t *testing.T) {
	t.Parallel()
	b := setupWith(t, Config{RateLimit: RateLimitConfig{RPS: 1, Burst: 2}}, nil, &fakeTickets{get: okTicket}, nil)
	b.serve(t, time.Second)
	req := &supportv1.GetTicketRequest{Id: "t"}
	agent := b.as(t, auth.RoleAgent)

	var codesSeen []codes.Code
	var last error
	for range 3 {
		_, last = b.tickets.GetTicket(agent, req)
		codesSeen = append(codesSeen, status.Code(last))
	}
	if diff := cmp.Diff([]codes.Code{codes.OK, codes.OK, codes.ResourceExhausted}, codesSeen); diff != "" {
		t.Fatalf("codes for three quick calls by one subject (-want +got):\n%s", diff)
	}
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(last).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	if retry == nil {
		t.Fatalf("RESOURCE_EXHAUSTED without RetryInfo: %v", status.Convert(last).Details())
	}
	if d := retry.GetRetryDelay().AsDuration(); d <= 0 || d > time.Second+time.Millisecond {
		t.Errorf("RetryInfo delay = %v, want in (0, 1s]", d)
	}

	// Another subject has its own bucket, and health probes are never limited.
	if _, err := b.tickets.GetTicket(b.as(t, auth.RoleSupervisor), req); err != nil {
		t.Errorf("another subject was limited: %v", err)
	}
	for range 5 {
		if _, err := healthpb.NewHealthClient(b.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health check limited: %v", err)
		}
	}
	// The rejection shows in the RPC metrics like any other code.
	if n := counterValue(t, b.reg, "/contactcentre.support.v1.TicketService/GetTicket", "ResourceExhausted"); n != 1 {
		t.Errorf("grpc_server_handled_total{code=ResourceExhausted} = %v, want 1", n)
	}
}

func TestRateLimitOffByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeTickets{get: okTicket}, nil)
	b.serve(t, time.Second)
	ctx := b.as(t, auth.RoleAgent)
	for i := range 50 {
		if _, err := b.tickets.GetTicket(ctx, &supportv1.GetTicketRequest{Id: "t"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// fakeClock is a settable clock for the limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(RateLimitConfig{RPS: 10, Burst: 10, MaxSubjects: 100}, clock.now)

	for i := range 1000 {
		l.admit(fmt.Sprintf("subject-%d", i))
	}
	if n := l.size(); n > 100 {
		t.Errorf("limiter tracks %d subjects, want at most MaxSubjects=100", n)
	}

	// Once the buckets have refilled (1 s at 10/s with burst 10) they are swept.
	clock.add(2 * time.Second)
	l.admit("newcomer")
	if n := l.size(); n != 1 {
		t.Errorf("after idle subjects refilled, limiter tracks %d subjects, want 1", n)
	}

	// Other subjects coming and going below the cap must not reset a busy subject's bucket.
	for range 10 {
		if d := l.admit("busy"); d != 0 {
			t.Fatalf("burst call rejected after %v", d)
		}
	}
	for i := range 90 {
		l.admit(fmt.Sprintf("other-%d", i))
	}
	if d := l.admit("busy"); d <= 0 || d > 100*time.Millisecond {
		t.Errorf("busy subject after churn: wait %v, want about one token (100ms)", d)
	}
}

func TestLimiterOff(t *testing.T) {
	t.Parallel()
	if l := newLimiter(RateLimitConfig{RPS: 0, Burst: 5}, time.Now); l != nil {
		t.Errorf("newLimiter with RPS 0 = %v, want nil (off)", l)
	}
}

func TestDefaultDeadline(t *testing.T) {
	t.Parallel()
	type seen struct {
		has  bool
		left time.Duration
	}
	got := make(chan seen, 1)
	b := setupWith(t, Config{DefaultTimeout: 50 * time.Millisecond}, nil, &fakeTickets{get: func(ctx context.Context, _ *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
		dl, ok := ctx.Deadline()
		got <- seen{ok, time.Until(dl)}
		<-ctx.Done() // stands for a database call that honours ctx
		return nil, ctx.Err()
	}}, nil)
	b.serve(t, time.Second)

	start := time.Now()
	_, err := b.tickets.GetTicket(b.as(t, auth.RoleAgent), &supportv1.GetTicketRequest{Id: "t"})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call without a deadline: %v, want DeadlineExceeded from the default", err)
	}
	if s := <-got; !s.has || s.left > 50*time.Millisecond {
		t.Errorf("handler saw deadline %v (set %v), want at most 50ms", s.left, s.has)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("call took %v, want it cut off near 50ms", el)
	}

	// A caller's own deadline is kept, even a longer one.
	ctx, cancel := context.WithTimeout(b.as(t, auth.RoleAgent), 300*time.Millisecond)
	defer cancel()
	_, _ = b.tickets.GetTicket(ctx, &supportv1.GetTicketRequest{Id: "t"})
	if s := <-got; !s.has || s.left < 100*time.Millisecond {
		t.Errorf("handler saw %v left with a 300ms caller deadline, want the caller's deadline", s.left)
	}
}

func TestTracingRecordsNoPayload(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	b := setupWith(t, Config{}, []Option{WithTracerProvider(tp)}, &fakeTickets{get: func(context.Context, *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
		return &supportv1.Ticket{Id: "t1", Subject: secret}, nil
	}}, nil)
	b.serve(t, time.Second)

	if _, err := b.tickets.GetTicket(b.as(t, auth.RoleAgent), &supportv1.GetTicketRequest{Id: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(b.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	// The server span ends after the response is written, a moment after the client returns.
	var spans tracetest.SpanStubs
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if spans = exp.GetSpans(); len(spans) > 0 {
			break
		}
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
		var all []string
		for _, a := range s.Attributes {
			all = append(all, string(a.Key)+"="+a.Value.String())
		}
		for _, e := range s.Events {
			all = append(all, e.Name)
			for _, a := range e.Attributes {
				all = append(all, string(a.Key)+"="+a.Value.String())
			}
		}
		all = append(all, s.Status.Description)
		if joined := strings.Join(all, " "); strings.Contains(joined, secret) {
			t.Errorf("span %s carries request or response data: %s", s.Name, joined)
		}
		if len(s.Events) != 0 {
			t.Errorf("span %s has %d message events, want none", s.Name, len(s.Events))
		}
	}
	if diff := cmp.Diff([]string{"contactcentre.support.v1.TicketService/GetTicket"}, names); diff != "" {
		t.Errorf("traced spans (-want +got): health must not be traced\n%s", diff)
	}
}
