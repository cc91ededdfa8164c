package reportinggrpc_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/auth"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	"github.com/lumio/contactcentre/internal/grpcserver"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/reporting"
	"github.com/lumio/contactcentre/internal/reporting/reportingdb"
	"github.com/lumio/contactcentre/internal/reporting/reportinggrpc"
)

const (
	issuer   = "test-issuer"
	audience = "test-audience"
)

var (
	march = time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
	april = march.AddDate(0, 1, 0)
)

// exportWatch wraps the real store to see, from the server side, how many lines an export
// delivered and how it ended.
type exportWatch struct {
	reporting.Store
	delivered chan int
	ended     chan error
}

func (w *exportWatch) Export(ctx context.Context, r reporting.Range, fn func(reporting.ExportLine) error) error {
	n := 0
	err := w.Store.Export(ctx, r, func(l reporting.ExportLine) error {
		n++
		return fn(l)
	})
	w.delivered <- n
	w.ended <- err
	return err
}

type bundle struct {
	client ordersv1.ReportingServiceClient
	pool   *pgxpool.Pool
	watch  *exportWatch
	as     func(roles ...auth.Role) context.Context
}

// setup serves ReportingService over bufconn behind the real interceptor chain (token
// verification, the role table, error mapping) on a fresh database holding nlines lines of
// one March reseller order and a few other orders.
func setup(t *testing.T, nlines int) bundle {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	seed(t, pool, nlines)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	watch := &exportWatch{Store: reportingdb.New(pool).WithBatchSize(100), delivered: make(chan int, 1), ended: make(chan error, 1)}
	srv, _ := grpcserver.New(nil, auth.NewDevVerifier(pub, issuer, audience), nil, grpcserver.Config{})
	ordersv1.RegisterReportingServiceServer(srv, reportinggrpc.NewServer(reporting.NewService(watch, time.Now)))
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return bundle{
		client: ordersv1.NewReportingServiceClient(conn),
		pool:   pool,
		watch:  watch,
		as: func(roles ...auth.Role) context.Context {
			tok, err := auth.SignToken(priv, issuer, audience, "tester", roles, time.Hour, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
		},
	}
}

func seed(t *testing.T, pool *pgxpool.Pool, nlines int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `
WITH c AS (
	INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id, address_country, residency_country,
		allowed_subprocessors, create_by, create_time, update_time)
	VALUES ('00000000-0000-7000-8000-000000000001', 'Test School', gen_random_uuid(), gen_random_uuid(), 'NL', 'NL', '{}', 't', now(), now())
	RETURNING id
), o AS (
	INSERT INTO orders (id, customer_id, channel, reseller_id, currency, status, net_minor, vat_minor, gross_minor,
		stripe_entity, country, dek_id, allowed_subprocessors, create_by, create_time, update_time, retain_until)
	SELECT v.id::uuid, c.id, v.channel, v.reseller, v.currency, v.status, v.net, v.vat, v.net + v.vat, v.entity, v.country,
		gen_random_uuid(), '{}', 't', v.at::timestamptz, v.at::timestamptz, v.at::timestamptz + interval '10 years'
	FROM c, (VALUES
		('00000000-0000-7000-8000-00000000000a', 'reseller', 'edu-partners-nl', 'EUR', 'paid', 1000::bigint * $1, 210::bigint * $1, '', 'NL', '2026-03-10T12:00:00Z'),
		('00000000-0000-7000-8000-00000000000b', 'storefront', '', 'USD', 'paid', 5000, 0, 'stripe_us', 'US', '2026-03-20T12:00:00Z'),
		('00000000-0000-7000-8000-00000000000c', 'storefront', '', 'USD', 'cancelled', 700, 0, 'stripe_us', 'US', '2026-03-21T12:00:00Z'),
		('00000000-0000-7000-8000-00000000000d', 'reseller', 'edu-partners-nl', 'EUR', 'paid', 99, 0, '', 'NL', '2026-04-01T00:00:00Z')
	) AS v(id, channel, reseller, currency, status, net, vat, entity, country, at)
	RETURNING id, net_minor
)
INSERT INTO order_lines (order_id, line_number, sku, description, quantity, unit_price_minor, vat_rate_bp, net_minor, vat_minor)
SELECT '00000000-0000-7000-8000-00000000000a'::uuid, n, 'LUM-TEACHER-1Y', 'Teacher licence', 1, 1000, 2100, 1000, 210 FROM generate_series(1, $1::int) n
UNION ALL SELECT '00000000-0000-7000-8000-00000000000b'::uuid, 1, 'LUM-SCHOOL-1Y', 'School licence', 1, 5000, 0, 5000, 0
UNION ALL SELECT '00000000-0000-7000-8000-00000000000c'::uuid, 1, 'LUM-SCHOOL-1Y', 'School licence', 1, 700, 0, 700, 0
UNION ALL SELECT '00000000-0000-7000-8000-00000000000d'::uuid, 1, 'LUM-A', '', 1, 99, 0, 99, 0`, nlines)
	if err != nil {
		t.Fatal(err)
	}
}

func TestRevenueReport(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	req := &ordersv1.RevenueReportRequest{
		StartTime: timestamppb.New(march), EndTime: timestamppb.New(april),
		GroupBy: []ordersv1.Dimension{ordersv1.Dimension_DIMENSION_CHANNEL, ordersv1.Dimension_DIMENSION_STRIPE_ENTITY, ordersv1.Dimension_DIMENSION_MONTH},
	}
	want := &ordersv1.RevenueReportResponse{Rows: []*ordersv1.RevenueRow{
		{Month: "2026-03", Channel: "ORDER_CHANNEL_RESELLER", Currency: "EUR", OrderCount: 1, LineCount: 3, NetMinor: 3000, VatMinor: 630, GrossMinor: 3630},
		{StripeEntity: "STRIPE_ENTITY_US", Month: "2026-03", Channel: "ORDER_CHANNEL_STOREFRONT", Currency: "USD", OrderCount: 1, LineCount: 1, NetMinor: 5000, GrossMinor: 5000},
	}}
	for _, role := range []auth.Role{auth.RoleFinance, auth.RoleAdmin} {
		got, err := b.client.RevenueReport(b.as(role), req)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("%s: report (-want +got):\n%s", role, diff)
		}
	}
	for _, role := range []auth.Role{auth.RoleAgent, auth.RoleSales, auth.RoleStorefront, auth.RoleSupervisor, auth.RolePrivacyOfficer} {
		_, err := b.client.RevenueReport(b.as(role), req)
		if got := status.Code(err); got != codes.PermissionDenied {
			t.Errorf("%s: code %v, want PermissionDenied", role, got)
		}
		stream, err := b.client.ExportOrders(b.as(role), &ordersv1.ExportOrdersRequest{StartTime: req.StartTime, EndTime: req.EndTime})
		if err == nil {
			_, err = stream.Recv()
		}
		if got := status.Code(err); got != codes.PermissionDenied {
			t.Errorf("%s: export code %v, want PermissionDenied", role, got)
		}
	}
}

func TestRevenueReportBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ts := timestamppb.New
	d := func(ds ...ordersv1.Dimension) []ordersv1.Dimension { return ds }
	tests := []struct {
		name  string
		req   *ordersv1.RevenueReportRequest
		code  codes.Code
		field string
		says  string
	}{
		{"NoStart", &ordersv1.RevenueReportRequest{EndTime: ts(april)}, codes.InvalidArgument, "start_time", ""},
		{"NoEnd", &ordersv1.RevenueReportRequest{StartTime: ts(march)}, codes.InvalidArgument, "end_time", ""},
		{"Inverted", &ordersv1.RevenueReportRequest{StartTime: ts(april), EndTime: ts(march)}, codes.InvalidArgument, "end_time", ""},
		{"Empty", &ordersv1.RevenueReportRequest{StartTime: ts(march), EndTime: ts(march)}, codes.InvalidArgument, "end_time", ""},
		{"BadTimestamp", &ordersv1.RevenueReportRequest{StartTime: &timestamppb.Timestamp{Nanos: -1}, EndTime: ts(april)}, codes.InvalidArgument, "start_time", ""},
		{"Unspecified", &ordersv1.RevenueReportRequest{StartTime: ts(march), EndTime: ts(april),
			GroupBy: d(ordersv1.Dimension_DIMENSION_SKU, ordersv1.Dimension_DIMENSION_UNSPECIFIED)}, codes.InvalidArgument, "group_by[1]", ""},
		{"Unknown", &ordersv1.RevenueReportRequest{StartTime: ts(march), EndTime: ts(april),
			GroupBy: d(ordersv1.Dimension(99))}, codes.InvalidArgument, "group_by[0]", ""},
		{"Duplicate", &ordersv1.RevenueReportRequest{StartTime: ts(march), EndTime: ts(april),
			GroupBy: d(ordersv1.Dimension_DIMENSION_SKU, ordersv1.Dimension_DIMENSION_COUNTRY, ordersv1.Dimension_DIMENSION_SKU)}, codes.InvalidArgument, "group_by[2]", ""},
		{"TooLong", &ordersv1.RevenueReportRequest{StartTime: ts(march), EndTime: ts(march.AddDate(1, 0, 2))}, codes.FailedPrecondition, "", "ExportOrders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.client.RevenueReport(b.as(auth.RoleFinance), tt.req)
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code %v (%s), want %v", st.Code(), st.Message(), tt.code)
			}
			if tt.field != "" && fieldOf(st) != tt.field {
				t.Errorf("field %q (%s), want %q", fieldOf(st), st.Message(), tt.field)
			}
			if !strings.Contains(st.Message(), tt.says) {
				t.Errorf("message %q does not mention %q", st.Message(), tt.says)
			}
		})
	}
}

func fieldOf(st *status.Status) string {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

func TestExportOrders(t *testing.T) {
	t.Parallel()
	b := setup(t, 250)
	stream, err := b.client.ExportOrders(b.as(auth.RoleFinance), &ordersv1.ExportOrdersRequest{
		StartTime: timestamppb.New(march), EndTime: timestamppb.New(april),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []*ordersv1.ExportOrdersResponse
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	// 250 lines of order a, then b and the cancelled c (an export holds every status); d is at
	// end_time, outside the range.
	if len(got) != 252 {
		t.Fatalf("exported %d lines, want 252", len(got))
	}
	want := &ordersv1.ExportOrdersResponse{
		OrderId: "00000000-0000-7000-8000-00000000000c", CustomerId: "00000000-0000-7000-8000-000000000001",
		Channel: "ORDER_CHANNEL_STOREFRONT", StripeEntity: "STRIPE_ENTITY_US", Country: "US", Currency: "USD",
		Status: "ORDER_STATUS_CANCELLED", CreateTime: timestamppb.New(time.Date(2026, time.March, 21, 12, 0, 0, 0, time.UTC)),
		LineNumber: 1, Sku: "LUM-SCHOOL-1Y", Description: "School licence", Quantity: 1, UnitPriceMinor: 700, NetMinor: 700,
	}
	if diff := cmp.Diff(want, got[251], protocmp.Transform()); diff != "" {
		t.Errorf("last line (-want +got):\n%s", diff)
	}
	for i := range 250 {
		if got[i].GetLineNumber() != int32(i+1) {
			t.Fatalf("line %d has number %d: lines out of order", i, got[i].GetLineNumber())
		}
	}
	if n := <-b.watch.delivered; n != 252 {
		t.Errorf("server delivered %d lines, want 252", n)
	}
	if err := <-b.watch.ended; err != nil {
		t.Errorf("server export ended with %v", err)
	}

	_, err = b.client.ExportOrders(b.as(auth.RoleFinance), &ordersv1.ExportOrdersRequest{StartTime: timestamppb.New(march)})
	if err == nil {
		var s grpc.ServerStreamingClient[ordersv1.ExportOrdersResponse]
		s, _ = b.client.ExportOrders(b.as(auth.RoleFinance), &ordersv1.ExportOrdersRequest{StartTime: timestamppb.New(march)})
		_, err = s.Recv()
	}
	if got := status.Code(err); got != codes.InvalidArgument {
		t.Errorf("unbounded export: code %v, want InvalidArgument", got)
	}
}

// TestExportOrdersStopsOnCancel reads one line of a large export and goes away: the server
// must stop reading the database (flow control holds it at a window's worth of lines) and end.
func TestExportOrdersStopsOnCancel(t *testing.T) {
	t.Parallel()
	const total = 40*500 + 2
	b := setup(t, 1)
	// 40 more March orders of 500 lines each (the most an order may have).
	_, err := b.pool.Exec(context.Background(), `
WITH o AS (
	INSERT INTO orders (id, customer_id, channel, reseller_id, currency, status, net_minor, vat_minor, gross_minor,
		country, dek_id, allowed_subprocessors, create_by, create_time, update_time, retain_until)
	SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'reseller', 'edu-partners-nl', 'EUR', 'paid',
		500000, 0, 500000, 'NL', gen_random_uuid(), '{}', 't', t, t, t + interval '10 years'
	FROM generate_series(timestamptz '2026-03-02', timestamptz '2026-03-02' + interval '39 hours', interval '1 hour') t
	RETURNING id
)
INSERT INTO order_lines (order_id, line_number, sku, description, quantity, unit_price_minor, vat_rate_bp, net_minor, vat_minor)
SELECT o.id, n, 'LUM-A', 'a fairly long product description to make the messages realistic', 1, 1000, 0, 1000, 0
FROM o, generate_series(1, 500) n`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.as(auth.RoleFinance))
	stream, err := b.client.ExportOrders(ctx, &ordersv1.ExportOrdersRequest{
		StartTime: timestamppb.New(march), EndTime: timestamppb.New(april),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case n := <-b.watch.delivered:
		t.Logf("server delivered %d of %d lines before stopping", n, total)
		if n >= total {
			t.Errorf("server delivered all %d lines to a client that left after one", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server export still running 10 s after the client cancelled")
	}
	if err := <-b.watch.ended; err == nil {
		t.Error("server export ended without an error after the client cancelled")
	}
}
