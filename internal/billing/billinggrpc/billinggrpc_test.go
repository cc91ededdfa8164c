package billinggrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingdb"
	"github.com/lumio/contactcentre/internal/billing/billinggrpc"
	"github.com/lumio/contactcentre/internal/dataflow"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	"github.com/lumio/contactcentre/internal/grpcserver/grpctest"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

var now = time.Date(2026, time.May, 4, 10, 30, 0, 0, time.UTC)

type bundle struct {
	client ordersv1.OrderServiceClient
	as     func(sub string, roles ...auth.Role) context.Context
	// customer adds a customer row (address country, creator) and returns its id.
	customer func(country, createBy string) string
}

// setup serves OrderService over bufconn behind the real interceptor chain (token
// verification, role table, error mapping).
func setup(t *testing.T) bundle {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	svc := billing.NewService(billingdb.New(pool, kr), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), billing.DefaultRetention(),
		func() time.Time { return now })
	srv := grpctest.New(t, func(s *grpc.Server) { ordersv1.RegisterOrderServiceServer(s, billinggrpc.NewOrderServer(svc)) })

	return bundle{
		client:   ordersv1.NewOrderServiceClient(srv.Conn),
		as:       func(sub string, roles ...auth.Role) context.Context { return srv.As(t, sub, roles...) },
		customer: func(country, createBy string) string { return addCustomer(t, pool, kr, country, createBy) },
	}
}

func addCustomer(t *testing.T, pool *pgxpool.Pool, kr *keyring.Keyring, country, createBy string) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7()).String()
	pk, err := keyringdb.Ensure(ctx, pool, kr, id, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := keyringdb.Ensure(ctx, pool, kr, id, keyringdb.Retained)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id,
		address_country, residency_country, allowed_subprocessors, create_by, create_time, update_time)
		VALUES ($1, 'Test School', $2, $3, $4, $4, '{}', $5, now(), now())`, id, pk.ID, rk.ID, country, createBy)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func resellerOrder(customerID string) *ordersv1.Order {
	return &ordersv1.Order{
		CustomerId: customerID,
		Channel:    ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER,
		ResellerId: "edu-partners-de",
		Currency:   "EUR",
		Lines: []*ordersv1.OrderLine{
			{Sku: "LUM-SCHOOL-1Y", Description: "Schullizenz, 12 Monate", Quantity: 1, UnitPriceMinor: 389000, VatRateBp: 1900},
			{Sku: "LUM-TEACHER-1Y", Description: "Lehrkräftelizenz", Quantity: 3, UnitPriceMinor: 8950, VatRateBp: 1900},
		},
		ShipTo: &ordersv1.Address{Lines: []string{"Rheinuferstraße 8"}, City: "Köln", PostalCode: "50667", Country: "DE"},
	}
}

func storefrontOrder(customerID string) *ordersv1.Order {
	return &ordersv1.Order{
		CustomerId: customerID,
		Channel:    ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT,
		Currency:   "USD",
		Lines:      []*ordersv1.OrderLine{{Sku: "LUM-TEACHER-1Y", Quantity: 25, UnitPriceMinor: 9900}},
	}
}

func TestCreateAndGetOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cust := b.customer("DE", "sam")
	salesCtx := b.as("sam", auth.RoleSales)

	// Everything the server owns is sent wrong on purpose: it must be ignored.
	in := resellerOrder(cust)
	in.Id = "f00"
	in.Status = ordersv1.OrderStatus_ORDER_STATUS_REFUNDED
	in.NetMinor, in.VatMinor, in.GrossMinor = 1, 2, 3
	in.Lines[0].NetMinor, in.Lines[0].VatMinor = 7, 7
	in.AllowedSubprocessors = []string{"sentry"}
	in.Etag = "99"
	in.CreateTime = timestamppb.New(time.Unix(0, 0))
	in.RetainUntil = timestamppb.New(time.Unix(0, 0))

	created, err := b.client.CreateOrder(salesCtx, &ordersv1.CreateOrderRequest{Order: in, RequestId: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	want := resellerOrder(cust)
	want.Id = created.GetId()
	want.Status = ordersv1.OrderStatus_ORDER_STATUS_PAID
	want.Lines[0].NetMinor, want.Lines[0].VatMinor = 389000, 73910
	want.Lines[1].NetMinor, want.Lines[1].VatMinor = 26850, 5102 // 5101.5 rounds half-up
	want.NetMinor, want.VatMinor, want.GrossMinor = 415850, 79012, 494862
	want.AllowedSubprocessors = []string{"aws_us", "microsoft", "mixpanel", "reseller", "salesforce"}
	want.Etag = "1"
	want.CreateTime = timestamppb.New(now)
	want.UpdateTime = timestamppb.New(now)
	want.RetainUntil = timestamppb.New(time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC))
	if diff := cmp.Diff(want, created, protocmp.Transform()); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if _, err := uuid.Parse(created.GetId()); err != nil {
		t.Errorf("id %q is not a uuid", created.GetId())
	}

	got, err := b.client.GetOrder(b.as("fin", auth.RoleFinance), &ordersv1.GetOrderRequest{Id: created.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got, protocmp.Transform()); diff != "" {
		t.Errorf("finance reads (-want +got):\n%s", diff)
	}
	retry, err := b.client.CreateOrder(salesCtx, &ordersv1.CreateOrderRequest{Order: resellerOrder(cust), RequestId: "r1"})
	if err != nil || retry.GetId() != created.GetId() {
		t.Errorf("retry: id %q, %v; want %q", retry.GetId(), err, created.GetId())
	}
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	us := b.customer("US", "shop")
	de := b.customer("DE", "shop")
	shopCtx := b.as("shop", auth.RoleStorefront)
	sf, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{Order: storefrontOrder(us)})
	if err != nil {
		t.Fatal(err)
	}
	if sf.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PENDING_PAYMENT || sf.GetGrossMinor() != 247500 {
		t.Errorf("storefront order: status %v gross %d", sf.GetStatus(), sf.GetGrossMinor())
	}
	if _, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{Order: storefrontOrder(us), RequestId: "x"}); err != nil {
		t.Fatal(err)
	}

	badLine := storefrontOrder(us)
	badLine.Lines = append(badLine.Lines, &ordersv1.OrderLine{Sku: "B", Quantity: 1, VatRateBp: 10001})
	badChannel := storefrontOrder(us)
	badChannel.Channel = ordersv1.OrderChannel(99)
	otherPayload := storefrontOrder(us)
	otherPayload.Lines[0].Quantity = 26

	for _, tc := range []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
	}{
		{"no token", func() error {
			_, err := b.client.GetOrder(context.Background(), &ordersv1.GetOrderRequest{Id: sf.GetId()})
			return err
		}, codes.Unauthenticated, ""},
		{"agent may not create", func() error {
			_, err := b.client.CreateOrder(b.as("ann", auth.RoleAgent), &ordersv1.CreateOrderRequest{Order: resellerOrder(de)})
			return err
		}, codes.PermissionDenied, ""},
		{"sales may not create storefront orders", func() error {
			_, err := b.client.CreateOrder(b.as("sam", auth.RoleSales), &ordersv1.CreateOrderRequest{Order: storefrontOrder(us)})
			return err
		}, codes.PermissionDenied, ""},
		{"storefront may not create reseller orders", func() error {
			_, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{Order: resellerOrder(de)})
			return err
		}, codes.PermissionDenied, ""},
		{"storefront outside North America", func() error {
			_, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{Order: storefrontOrder(de)})
			return err
		}, codes.FailedPrecondition, ""},
		{"another storefront's customer", func() error {
			_, err := b.client.CreateOrder(b.as("shop-2", auth.RoleStorefront), &ordersv1.CreateOrderRequest{Order: storefrontOrder(us)})
			return err
		}, codes.InvalidArgument, "order.customer_id"},
		{"bad line", func() error {
			_, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{Order: badLine})
			return err
		}, codes.InvalidArgument, "order.lines[1].vat_rate_bp"},
		{"unknown channel value", func() error {
			_, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{Order: badChannel})
			return err
		}, codes.InvalidArgument, "order.channel"},
		{"no order at all", func() error {
			_, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{})
			return err
		}, codes.InvalidArgument, "order.customer_id"},
		{"request id reused for another order", func() error {
			_, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{Order: otherPayload, RequestId: "x"})
			return err
		}, codes.AlreadyExists, ""},
		{"another storefront's order", func() error {
			_, err := b.client.GetOrder(b.as("shop-2", auth.RoleStorefront), &ordersv1.GetOrderRequest{Id: sf.GetId()})
			return err
		}, codes.NotFound, ""},
		{"sales reads a storefront order", func() error {
			_, err := b.client.GetOrder(b.as("sam", auth.RoleSales), &ordersv1.GetOrderRequest{Id: sf.GetId()})
			return err
		}, codes.NotFound, ""},
		{"malformed id", func() error {
			_, err := b.client.GetOrder(shopCtx, &ordersv1.GetOrderRequest{Id: "order-1"})
			return err
		}, codes.InvalidArgument, "id"},
		{"inverted time range", func() error {
			_, err := b.client.ListOrders(shopCtx, &ordersv1.ListOrdersRequest{
				StartTime: timestamppb.New(now), EndTime: timestamppb.New(now.Add(-time.Hour)),
			})
			return err
		}, codes.InvalidArgument, "end_time"},
		{"invalid timestamp", func() error {
			_, err := b.client.ListOrders(shopCtx, &ordersv1.ListOrdersRequest{StartTime: &timestamppb.Timestamp{Nanos: -1}})
			return err
		}, codes.InvalidArgument, "start_time"},
		{"foreign page token", func() error {
			_, err := b.client.ListOrders(shopCtx, &ordersv1.ListOrdersRequest{PageToken: "nope"})
			return err
		}, codes.InvalidArgument, "page_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.call()
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Fatalf("code %v (%v), want %v", st.Code(), err, tc.code)
			}
			if tc.field == "" {
				return
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if diff := cmp.Diff([]string{tc.field}, fields); diff != "" {
				t.Errorf("field violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListOrdersPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	us := b.customer("US", "shop")
	shopCtx := b.as("shop", auth.RoleStorefront)
	var want []string
	for range 5 {
		o, err := b.client.CreateOrder(shopCtx, &ordersv1.CreateOrderRequest{Order: storefrontOrder(us)})
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{o.GetId()}, want...)
	}
	var got []string
	req := &ordersv1.ListOrdersRequest{Channel: ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT, PageSize: 2}
	for {
		resp, err := b.client.ListOrders(shopCtx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range resp.GetOrders() {
			got = append(got, o.GetId())
			if len(o.GetLines()) != 1 || o.GetChannel() != ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT {
				t.Errorf("listed order %s: %d lines, channel %v", o.GetId(), len(o.GetLines()), o.GetChannel())
			}
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	// Same create time for all (fixed clock): newest first falls back to the id (UUIDv7 order).
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed ids (-want +got):\n%s", diff)
	}
	other, err := b.client.ListOrders(b.as("shop-2", auth.RoleStorefront), &ordersv1.ListOrdersRequest{})
	if err != nil || len(other.GetOrders()) != 0 {
		t.Errorf("another storefront lists %d orders, %v", len(other.GetOrders()), err)
	}
}
