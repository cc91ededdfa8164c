package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing/billingstripe"
	"github.com/lumio/contactcentre/internal/billing/billingstripe/stripemocktest"
	"github.com/lumio/contactcentre/internal/bootstrap/bootstraptest"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// TestRunEndToEnd starts the real ordersvc on :0 against a fresh database and talks to it as
// its clients do.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	env := bootstraptest.Env(t, dbURL)
	env["STRIPE_API_BASE_URL"] = stripemocktest.URL(t)
	svc := bootstraptest.Start(t, run, env)

	health, err := healthpb.NewHealthClient(svc.Conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without a token = %v, %v", health, err)
	}

	customers := ordersv1.NewCustomerServiceClient(svc.Conn)
	_, err = customers.ListCustomers(context.Background(), &ordersv1.ListCustomersRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: got %v, want Unauthenticated", err)
	}
	sales := bootstraptest.As(t, env, auth.RoleSales, "sam")
	created, err := customers.CreateCustomer(sales, &ordersv1.CreateCustomerRequest{
		RequestId: "e2e-1",
		Customer: &ordersv1.Customer{
			OrgName: "Springfield School District",
			Contact: &ordersv1.Contact{Title: "IT coordinator", Email: "it-desk@springfield.example"},
			Address: &ordersv1.Address{Lines: []string{"1 Main St"}, City: "Springfield", Country: "US"},
		},
	})
	if err != nil {
		t.Fatalf("CreateCustomer: %v", err)
	}
	if created.GetResidencyCountry() != "US" || len(created.GetAllowedSubprocessors()) == 0 {
		t.Fatalf("created customer lacks residency or flow list: %v", created)
	}
	finance := bootstraptest.As(t, env, auth.RoleFinance, "fran")
	got, err := customers.GetCustomer(finance, &ordersv1.GetCustomerRequest{Id: created.GetId()})
	if err != nil || got.GetContact().GetEmail() != "it-desk@springfield.example" {
		t.Fatalf("GetCustomer as finance = %v, %v", got, err)
	}
	if _, err := customers.CreateCustomer(finance, &ordersv1.CreateCustomerRequest{Customer: created}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("finance creating a customer: got %v, want PermissionDenied", err)
	}

	order, err := ordersv1.NewOrderServiceClient(svc.Conn).CreateOrder(sales, &ordersv1.CreateOrderRequest{
		RequestId: "e2e-order-1",
		Order: &ordersv1.Order{
			CustomerId: created.GetId(), Channel: ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER, ResellerId: "edu-partners-us",
			Currency: "USD", Lines: []*ordersv1.OrderLine{{Sku: "LUMIO-SITE-1Y", Quantity: 3, UnitPriceMinor: 99_99, VatRateBp: 725}},
			GrossMinor: 1, // server-computed: a client's total is ignored
		},
	})
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	// 3 × 99.99 = 299.97; VAT 7.25 % = 21.747825 → 21.75 (half-up per line).
	if order.GetNetMinor() != 29997 || order.GetVatMinor() != 2175 || order.GetGrossMinor() != 32172 ||
		order.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PAID {
		t.Fatalf("reseller order totals/status = %d/%d/%d %v", order.GetNetMinor(), order.GetVatMinor(), order.GetGrossMinor(), order.GetStatus())
	}

	// A storefront buys for a US school: the order waits for payment, the payment goes to
	// Stripe, Inc. (stripe-mock), and the signed webhook marks both paid.
	storefront := bootstraptest.As(t, env, auth.RoleStorefront, "shop")
	buyer, err := customers.CreateCustomer(storefront, &ordersv1.CreateCustomerRequest{Customer: &ordersv1.Customer{
		OrgName: "Lincoln Elementary", Address: &ordersv1.Address{City: "Omaha", Country: "US"},
	}})
	if err != nil {
		t.Fatalf("CreateCustomer as storefront: %v", err)
	}
	webOrder, err := ordersv1.NewOrderServiceClient(svc.Conn).CreateOrder(storefront, &ordersv1.CreateOrderRequest{Order: &ordersv1.Order{
		CustomerId: buyer.GetId(), Channel: ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT, Currency: "USD",
		Lines: []*ordersv1.OrderLine{{Sku: "LUMIO-CLASS-1Y", Quantity: 1, UnitPriceMinor: 4900}},
	}})
	if err != nil || webOrder.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PENDING_PAYMENT {
		t.Fatalf("storefront order = %v, %v", webOrder, err)
	}
	payments := ordersv1.NewPaymentServiceClient(svc.Conn)
	pay, err := payments.CreatePayment(storefront, &ordersv1.CreatePaymentRequest{OrderId: webOrder.GetId(), IdempotencyKey: "checkout-1"})
	if err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	if pay.GetStripeEntity() != ordersv1.StripeEntity_STRIPE_ENTITY_US || pay.GetPublishableKey() != env["STRIPE_US_PUBLISHABLE_KEY"] ||
		pay.GetClientSecret() == "" || pay.GetAmountMinor() != 4900 {
		t.Fatalf("payment = %v", pay)
	}
	agent := bootstraptest.As(t, env, auth.RoleAgent, "alice")
	if _, err := payments.GetPayment(agent, &ordersv1.GetPaymentRequest{Id: pay.GetId()}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent reading a payment: got %v, want PermissionDenied", err)
	}
	event, err := json.Marshal(map[string]any{
		"id": "evt_e2e_1", "object": "event", "api_version": "2023-10-16", "created": time.Now().Unix(),
		"type": "payment_intent.succeeded", "data": map[string]any{"object": map[string]any{
			"id": pay.GetPaymentIntentId(), "object": "payment_intent", "amount": 4900, "currency": "usd", "status": "succeeded",
			"metadata": map[string]string{"payment_id": pay.GetId(), "order_id": webOrder.GetId()},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, hook := range []struct {
		path, secret string
		want         int
	}{
		{"/stripe/webhook/ie", env["STRIPE_US_WEBHOOK_SECRET"], http.StatusBadRequest}, // the other entity's endpoint
		{"/stripe/webhook/us", env["STRIPE_US_WEBHOOK_SECRET"], http.StatusOK},
		{"/stripe/webhook/us", env["STRIPE_US_WEBHOOK_SECRET"], http.StatusOK}, // a redelivery changes nothing
	} {
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: event, Secret: hook.secret, Timestamp: time.Now()})
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+svc.Addrs.HTTP.String()+hook.path, bytes.NewReader(event))
		req.Header.Set("Stripe-Signature", signed.Header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != hook.want {
			t.Fatalf("POST %s = %v, %v; want %d", hook.path, resp, err, hook.want)
		}
		_ = resp.Body.Close()
	}
	paid, err := ordersv1.NewOrderServiceClient(svc.Conn).GetOrder(storefront, &ordersv1.GetOrderRequest{Id: webOrder.GetId()})
	if err != nil || paid.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PAID {
		t.Fatalf("order after payment_intent.succeeded = %v, %v", paid, err)
	}

	subs, err := dataflowv1.NewDataFlowServiceClient(svc.Conn).ListSubprocessors(finance, &dataflowv1.ListSubprocessorsRequest{})
	if err != nil || len(subs.GetSubprocessors()) != 15 {
		t.Fatalf("ListSubprocessors = %d entries, %v", len(subs.GetSubprocessors()), err)
	}

	resp, err := http.Get("http://" + svc.Addrs.HTTP.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), `grpc_server_handled_total{grpc_code="OK",grpc_method="/contactcentre.orders.v1.CustomerService/CreateCustomer"}`) {
		t.Errorf("metrics do not count CreateCustomer:\n%.2000s", body)
	}
	if strings.Contains(string(body), "springfield") {
		t.Error("metrics contain personal data")
	}
	resp, err = http.Get("http://" + svc.Addrs.HTTP.String() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz = %v, %v", resp, err)
	}
	_ = resp.Body.Close()

	if err := svc.Stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

// TestRunRejectsBadConfig checks that a missing or malformed setting stops start-up with a
// one-line reason naming the setting, before anything is served.
func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	base := bootstraptest.Env(t, "postgres://127.0.0.1:1/none")
	tests := []struct {
		name, key, value, want string
	}{
		{"no database", "DATABASE_URL", "", "DATABASE_URL"},
		{"no master key", "DATA_MASTER_KEY", "", "DATA_MASTER_KEY"},
		{"short master key", "DATA_MASTER_KEY", "c2hvcnQ=", "DATA_MASTER_KEY"},
		{"bad stripe key", "STRIPE_IE_SECRET_KEY", "sk_test_under_score", "STRIPE_IE_SECRET_KEY"},
		{"no webhook secret", "STRIPE_US_WEBHOOK_SECRET", "", "STRIPE_US_WEBHOOK_SECRET"},
		{"bad stripe url", "STRIPE_API_BASE_URL", "localhost:12111", "STRIPE_API_BASE_URL"},
		{"bad country set", "STOREFRONT_COUNTRIES", "US,usa", "STOREFRONT_COUNTRIES"},
		{"bad duration", "SHUTDOWN_GRACE", "soon", "SHUTDOWN_GRACE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			if tt.value == "" {
				delete(env, tt.key)
			} else {
				env[tt.key] = tt.value
			}
			err := run(context.Background(), bootstraptest.Lookup(env), io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("run = %v, want a one-line error naming %s", err, tt.want)
			}
		})
	}
}

func TestMain(m *testing.M) { stripemocktest.Main(m) }

// TestMetricsAfterWebhook scrapes /metrics after Stripe webhooks and finds them counted by
// endpoint and outcome, beside the outbox series, with no label value outside its fixed set.
func TestMetricsAfterWebhook(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	env := bootstraptest.Env(t, dbURL)
	svc := bootstraptest.Start(t, run, env)
	base := "http://" + svc.Addrs.HTTP.String()

	event := []byte(fmt.Sprintf(`{"id":"evt_metrics_1","object":"event","api_version":"2023-10-16","created":%d,"type":"customer.created","data":{"object":{"id":"cus_1","object":"customer","email":"someone@example.test"}}}`, time.Now().Unix()))
	post := func(path, secret string, want int) {
		t.Helper()
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: event, Secret: secret, Timestamp: time.Now()})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+path, bytes.NewReader(event))
		req.Header.Set("Stripe-Signature", signed.Header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("POST %s = %v, %v; want %d", path, resp, err, want)
		}
		_ = resp.Body.Close()
	}
	post(billingstripe.PathIE, env["STRIPE_US_WEBHOOK_SECRET"], http.StatusBadRequest)
	post(billingstripe.PathUS, env["STRIPE_US_WEBHOOK_SECRET"], http.StatusOK)
	post(billingstripe.PathUS, env["STRIPE_US_WEBHOOK_SECRET"], http.StatusOK)

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{
		`webhook_requests_total{endpoint="/stripe/webhook/ie",outcome="bad_signature"} 1`,
		`webhook_requests_total{endpoint="/stripe/webhook/us",outcome="ignored"} 1`,
		`webhook_requests_total{endpoint="/stripe/webhook/us",outcome="duplicate"} 1`,
		`outbox_deliveries_total{outcome="delivered",processor="stripe_us"} 0`,
		`outbox_pending{processor="salesforce"} `,
		"outbox_oldest_pending_seconds ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%.3000s", want, body)
		}
	}

	allowed := map[string][]string{
		"endpoint":  {billingstripe.PathUS, billingstripe.PathIE},
		"outcome":   append(slices.Clone(billingstripe.MetricOutcomes), dataflow.MetricOutcomes...),
		"processor": dataflow.ProcessorLabels(),
	}
	series := 0
	for line := range strings.Lines(string(body)) {
		if !strings.HasPrefix(line, "webhook_") && !strings.HasPrefix(line, "outbox_") {
			continue
		}
		series++
		for _, m := range labelRE.FindAllStringSubmatch(line, -1) {
			if !slices.Contains(allowed[m[1]], m[2]) {
				t.Errorf("label %s=%q is outside its fixed set: %s", m[1], m[2], line)
			}
		}
		if strings.Contains(line, "evt_") || strings.Contains(line, "@") {
			t.Errorf("series carries an id or an email: %s", line)
		}
	}
	if series == 0 {
		t.Fatal("no webhook_ or outbox_ series")
	}
}

var labelRE = regexp.MustCompile(`(\w+)="([^"]*)"`)
