package billingstripe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v76/webhook"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingdb"
	"github.com/lumio/contactcentre/internal/billing/billinggrpc"
	"github.com/lumio/contactcentre/internal/billing/billingstripe"
	"github.com/lumio/contactcentre/internal/billing/billingstripe/stripemocktest"
	"github.com/lumio/contactcentre/internal/dataflow"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	"github.com/lumio/contactcentre/internal/grpcserver/grpctest"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { stripemocktest.Main(m) }

// Test credentials: stripe-mock accepts sk_test_ followed by letters and digits only.
var accounts = billingstripe.Config{
	US: billingstripe.Account{SecretKey: "sk_test_usEntity1", PublishableKey: "pk_test_usEntity1", WebhookSecret: "whsec_usEntitySecret"},
	IE: billingstripe.Account{SecretKey: "sk_test_ieEntity1", PublishableKey: "pk_test_ieEntity1", WebhookSecret: "whsec_ieEntitySecret"},
}

// call is one request that reached stripe-mock.
type call struct {
	Path, Key, IdempotencyKey string
}

// recorder is a RoundTripper in front of stripe-mock that records which account (secret key)
// made which call. fail, when set, answers instead of stripe-mock (a network failure).
type recorder struct {
	mu    sync.Mutex
	calls []call
	fail  func(*http.Request) error
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(req); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.calls = append(r.calls, call{
		Path:           req.URL.Path,
		Key:            strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "),
		IdempotencyKey: req.Header.Get("Idempotency-Key"),
	})
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// count returns how many recorded calls went to path.
func (r *recorder) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c.Path == path {
			n++
		}
	}
	return n
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

type bundle struct {
	pool     *pgxpool.Pool
	kr       *keyring.Keyring
	rec      *recorder
	orders   *billing.Service
	payments *billing.Payments
	client   ordersv1.PaymentServiceClient
	hooks    *httptest.Server
	as       func(sub string, roles ...auth.Role) context.Context
}

var clock = func() time.Time { return time.Now().UTC() }

// setup wires the real stack: PostgreSQL, the store, the Gateway talking to stripe-mock through
// a recorder, PaymentService over bufconn behind the real interceptors, and both webhook
// endpoints on an HTTP test server.
func setup(t testing.TB) bundle {
	t.Helper()
	base := stripemocktest.URL(t)
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	rec := &recorder{}
	cfg := accounts
	cfg.APIBaseURL = base
	cfg.HTTPClient = &http.Client{Transport: rec, Timeout: 10 * time.Second}
	noRetries := int64(0)
	cfg.MaxNetworkRetries = &noRetries
	gw, err := billingstripe.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	policy := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	store := billingdb.New(pool, kr)
	orders := billing.NewService(store, policy, billing.DefaultRetention(), clock)
	payments := billing.NewPayments(store, gw, policy, clock)

	srv := grpctest.New(t, func(s *grpc.Server) { ordersv1.RegisterPaymentServiceServer(s, billinggrpc.NewPaymentServer(payments)) })

	mux := http.NewServeMux()
	if err := billingstripe.RegisterWebhooks(mux, cfg, payments, nil); err != nil {
		t.Fatal(err)
	}
	hooks := httptest.NewServer(mux)
	t.Cleanup(hooks.Close)

	return bundle{
		pool: pool, kr: kr, rec: rec, orders: orders, payments: payments, hooks: hooks,
		client: ordersv1.NewPaymentServiceClient(srv.Conn),
		as:     func(sub string, roles ...auth.Role) context.Context { return srv.As(t, sub, roles...) },
	}
}

// customer writes a customers row (billing does not import the customers domain).
func (b bundle) customer(t testing.TB, addressCountry, residency, createBy string) string {
	t.Helper()
	ctx := t.Context()
	id := uuid.Must(uuid.NewV7()).String()
	pk, err := keyringdb.Ensure(ctx, b.pool, b.kr, id, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := keyringdb.Ensure(ctx, b.pool, b.kr, id, keyringdb.Retained)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.pool.Exec(ctx, `INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id,
		address_country, residency_country, allowed_subprocessors, create_by, create_time, update_time)
		VALUES ($1, 'Test School', $2, $3, $4, $5, '{}', $6, now(), now())`, id, pk.ID, rk.ID, addressCountry, residency, createBy)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// storefrontOrder creates a storefront order of 2 × 1250 USD cents + 0 % VAT = 2500.
func (b bundle) storefrontOrder(t testing.TB, customerID, shop string) billing.Order {
	t.Helper()
	who := auth.Identity{Subject: shop, Roles: []auth.Role{auth.RoleStorefront}}
	o, err := b.orders.Create(t.Context(), who, billing.NewOrder{
		CustomerID: customerID, Channel: billing.ChannelStorefront, Currency: "USD",
		Lines: []billing.NewLine{{SKU: "LUM-TEACHER-1Y", Quantity: 2, UnitPriceMinor: 1250}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (b bundle) orderStatus(t *testing.T, id string) billing.Status {
	t.Helper()
	o, err := b.orders.Get(t.Context(), auth.Identity{Subject: "root", Roles: []auth.Role{auth.RoleAdmin}}, id)
	if err != nil {
		t.Fatal(err)
	}
	return o.Status
}

func wantCode(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code %v (%v), want %v", st.Code(), err, code)
	}
	if field == "" {
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
	if diff := cmp.Diff([]string{field}, fields); diff != "" {
		t.Errorf("field violations (-want +got):\n%s", diff)
	}
}

func TestResolveStripeEntity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := b.as("shop", auth.RoleStorefront)
	for _, tc := range []struct {
		country string
		want    *ordersv1.ResolveStripeEntityResponse
	}{
		{"US", &ordersv1.ResolveStripeEntityResponse{StripeEntity: ordersv1.StripeEntity_STRIPE_ENTITY_US, PublishableKey: "pk_test_usEntity1"}},
		{"CA", &ordersv1.ResolveStripeEntityResponse{StripeEntity: ordersv1.StripeEntity_STRIPE_ENTITY_US, PublishableKey: "pk_test_usEntity1"}},
		{"IE", &ordersv1.ResolveStripeEntityResponse{StripeEntity: ordersv1.StripeEntity_STRIPE_ENTITY_IE, PublishableKey: "pk_test_ieEntity1"}},
		{"NO", &ordersv1.ResolveStripeEntityResponse{StripeEntity: ordersv1.StripeEntity_STRIPE_ENTITY_IE, PublishableKey: "pk_test_ieEntity1"}},
		{"GB", &ordersv1.ResolveStripeEntityResponse{StripeEntity: ordersv1.StripeEntity_STRIPE_ENTITY_IE, PublishableKey: "pk_test_ieEntity1"}},
		{"GL", &ordersv1.ResolveStripeEntityResponse{StripeEntity: ordersv1.StripeEntity_STRIPE_ENTITY_US, PublishableKey: "pk_test_usEntity1"}},
	} {
		got, err := b.client.ResolveStripeEntity(ctx, &ordersv1.ResolveStripeEntityRequest{ResidencyCountry: tc.country})
		if err != nil {
			t.Fatalf("%s: %v", tc.country, err)
		}
		if got.GetStripeEntity() != tc.want.GetStripeEntity() || got.GetPublishableKey() != tc.want.GetPublishableKey() {
			t.Errorf("%s: got %v %q, want %v %q", tc.country, got.GetStripeEntity(), got.GetPublishableKey(),
				tc.want.GetStripeEntity(), tc.want.GetPublishableKey())
		}
	}
	for _, bad := range []string{"", "XX", "us", "USA", "EU", "UK"} {
		_, err := b.client.ResolveStripeEntity(ctx, &ordersv1.ResolveStripeEntityRequest{ResidencyCountry: bad})
		wantCode(t, err, codes.InvalidArgument, "residency_country")
	}
	_, err := b.client.ResolveStripeEntity(b.as("agent", auth.RoleAgent), &ordersv1.ResolveStripeEntityRequest{ResidencyCountry: "US"})
	wantCode(t, err, codes.PermissionDenied, "")
}

// TestCreatePaymentEntity checks that the order's entity's own account creates the
// PaymentIntent and that its publishable key is returned, for a US and an Irish resident.
func TestCreatePaymentEntity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		residency, key, publishable, entity string
		protoEntity                         ordersv1.StripeEntity
	}{
		{"US", accounts.US.SecretKey, accounts.US.PublishableKey, "stripe_us", ordersv1.StripeEntity_STRIPE_ENTITY_US},
		// A buyer with a US address (the storefront sells to North America) resident in Ireland.
		{"IE", accounts.IE.SecretKey, accounts.IE.PublishableKey, "stripe_ie", ordersv1.StripeEntity_STRIPE_ENTITY_IE},
	} {
		cust := b.customer(t, "US", tc.residency, "shop")
		order := b.storefrontOrder(t, cust, "shop")
		before := len(b.rec.snapshot())
		p, err := b.client.CreatePayment(b.as("shop", auth.RoleStorefront), &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
		if err != nil {
			t.Fatal(err)
		}
		calls := b.rec.snapshot()[before:]
		want := []call{{Path: "/v1/payment_intents", Key: tc.key, IdempotencyKey: billing.IntentKey(p.GetId())}}
		if diff := cmp.Diff(want, calls); diff != "" {
			t.Errorf("%s: stripe calls (-want +got):\n%s", tc.residency, diff)
		}
		if p.GetStripeEntity() != tc.protoEntity || p.GetPublishableKey() != tc.publishable {
			t.Errorf("%s: entity %v key %q", tc.residency, p.GetStripeEntity(), p.GetPublishableKey())
		}
		if !strings.HasPrefix(p.GetPaymentIntentId(), "pi_") || !strings.Contains(p.GetClientSecret(), "_secret_") {
			t.Errorf("%s: intent %q secret %q", tc.residency, p.GetPaymentIntentId(), p.GetClientSecret())
		}
		if p.GetAmountMinor() != 2500 || p.GetCurrency() != "USD" || p.GetStatus() != ordersv1.PaymentStatus_PAYMENT_STATUS_REQUIRES_PAYMENT {
			t.Errorf("%s: amount %d %s status %v", tc.residency, p.GetAmountMinor(), p.GetCurrency(), p.GetStatus())
		}
		wantFlows := []string{"aws_us", "bigcommerce", "microsoft", tc.entity}
		if diff := cmp.Diff(wantFlows, p.GetAllowedSubprocessors()); diff != "" {
			t.Errorf("%s: flows (-want +got):\n%s", tc.residency, diff)
		}
		// The sealed client secret is read back for its storefront, not for finance.
		got, err := b.client.GetPayment(b.as("shop", auth.RoleStorefront), &ordersv1.GetPaymentRequest{Id: p.GetId()})
		if err != nil || got.GetClientSecret() != p.GetClientSecret() {
			t.Errorf("%s: storefront reads secret %q, %v", tc.residency, got.GetClientSecret(), err)
		}
		fin, err := b.client.GetPayment(b.as("fin", auth.RoleFinance), &ordersv1.GetPaymentRequest{Id: p.GetId()})
		if err != nil || fin.GetClientSecret() != "" || fin.GetPaymentIntentId() != p.GetPaymentIntentId() {
			t.Errorf("%s: finance reads secret %q intent %q, %v", tc.residency, fin.GetClientSecret(), fin.GetPaymentIntentId(), err)
		}
		var ct []byte
		if err := b.pool.QueryRow(t.Context(), `SELECT client_secret_ct FROM payments WHERE id = $1`, p.GetId()).Scan(&ct); err != nil {
			t.Fatal(err)
		}
		if len(ct) == 0 || bytes.Contains(ct, []byte("_secret_")) {
			t.Errorf("%s: client secret not sealed at rest", tc.residency)
		}
	}
}

func TestCreatePaymentRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	shopCtx := b.as("shop", auth.RoleStorefront)
	cust := b.customer(t, "US", "US", "shop")
	order := b.storefrontOrder(t, cust, "shop")

	first, err := b.client.CreatePayment(shopCtx, &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	calls := b.rec.count("/v1/payment_intents")
	retry, err := b.client.CreatePayment(shopCtx, &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	if err != nil || retry.GetId() != first.GetId() || retry.GetPaymentIntentId() != first.GetPaymentIntentId() {
		t.Fatalf("retry: %v %v; want payment %s", retry, err, first.GetId())
	}
	if n := b.rec.count("/v1/payment_intents"); n != calls {
		t.Errorf("a replay called Stripe: %d calls, want %d", n, calls)
	}

	// A second key on an order that has a live payment could charge twice.
	_, err = b.client.CreatePayment(shopCtx, &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k2"})
	wantCode(t, err, codes.FailedPrecondition, "")
	// Another storefront cannot see the order, nor the payment.
	_, err = b.client.CreatePayment(b.as("shop-2", auth.RoleStorefront), &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	wantCode(t, err, codes.NotFound, "")
	_, err = b.client.GetPayment(b.as("shop-2", auth.RoleStorefront), &ordersv1.GetPaymentRequest{Id: first.GetId()})
	wantCode(t, err, codes.NotFound, "")
	// Agents never see payments; sales may not create them.
	_, err = b.client.GetPayment(b.as("agent", auth.RoleAgent), &ordersv1.GetPaymentRequest{Id: first.GetId()})
	wantCode(t, err, codes.PermissionDenied, "")
	_, err = b.client.CreatePayment(b.as("sam", auth.RoleSales), &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	wantCode(t, err, codes.PermissionDenied, "")
	// Bad input names its field.
	_, err = b.client.CreatePayment(shopCtx, &ordersv1.CreatePaymentRequest{OrderId: "nope", IdempotencyKey: "k1"})
	wantCode(t, err, codes.InvalidArgument, "order_id")
	_, err = b.client.CreatePayment(shopCtx, &ordersv1.CreatePaymentRequest{OrderId: order.ID})
	wantCode(t, err, codes.InvalidArgument, "idempotency_key")
	_, err = b.client.GetPayment(shopCtx, &ordersv1.GetPaymentRequest{Id: uuid.NewString()})
	wantCode(t, err, codes.NotFound, "")

	// A reseller order is invoiced by its reseller, not paid by card.
	sales := auth.Identity{Subject: "sam", Roles: []auth.Role{auth.RoleSales}}
	ro, err := b.orders.Create(t.Context(), sales, billing.NewOrder{
		CustomerID: cust, Channel: billing.ChannelReseller, ResellerID: "edu-partners", Currency: "USD",
		Lines: []billing.NewLine{{SKU: "LUM-SCHOOL-1Y", Quantity: 1, UnitPriceMinor: 100000}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.client.CreatePayment(b.as("root", auth.RoleAdmin), &ordersv1.CreatePaymentRequest{OrderId: ro.ID, IdempotencyKey: "k1"})
	wantCode(t, err, codes.FailedPrecondition, "")
}

// TestCreatePaymentConcurrent runs 50 concurrent CreatePayment calls over 10 (order, key)
// pairs: exactly 10 payments and 10 PaymentIntent creations, each once per derived key.
func TestCreatePaymentConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cust := b.customer(t, "US", "US", "shop")
	orders := make([]string, 10)
	for i := range orders {
		orders[i] = b.storefrontOrder(t, cust, "shop").ID
	}
	ctx := b.as("shop", auth.RoleStorefront)
	ids := make([]string, 50)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for g := range 50 {
		wg.Go(func() {
			p, err := b.client.CreatePayment(ctx, &ordersv1.CreatePaymentRequest{
				OrderId: orders[g%10], IdempotencyKey: fmt.Sprintf("key-%d", g%10),
			})
			if err != nil {
				errs <- err
				return
			}
			ids[g] = p.GetId()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for g := range 50 {
		if ids[g] != ids[g%10] {
			t.Errorf("goroutine %d got payment %s, goroutine %d got %s for the same key", g, ids[g], g%10, ids[g%10])
		}
	}
	var payments int
	if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM payments WHERE payment_intent_id <> ''`).Scan(&payments); err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	for _, c := range b.rec.snapshot() {
		if c.Path == "/v1/payment_intents" {
			keys[c.IdempotencyKey]++
		}
	}
	if payments != 10 || len(keys) != 10 || b.rec.count("/v1/payment_intents") != 10 {
		t.Errorf("%d payments, %d PaymentIntent calls under %d keys; want 10, 10, 10", payments, b.rec.count("/v1/payment_intents"), len(keys))
	}
}

// TestCreatePaymentCrashRetry fails the Stripe call after our row was committed (as a crash
// or a lost answer would) and retries: the retry calls Stripe with the same derived key and
// completes the same payment.
func TestCreatePaymentCrashRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cust := b.customer(t, "US", "US", "shop")
	order := b.storefrontOrder(t, cust, "shop")
	ctx := b.as("shop", auth.RoleStorefront)
	var seen []string
	b.rec.mu.Lock()
	b.rec.fail = func(r *http.Request) error {
		seen = append(seen, r.Header.Get("Idempotency-Key"))
		return errors.New("connection reset")
	}
	b.rec.mu.Unlock()
	_, err := b.client.CreatePayment(ctx, &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	wantCode(t, err, codes.Unavailable, "")
	var id, intent string
	if err := b.pool.QueryRow(t.Context(), `SELECT id, payment_intent_id FROM payments WHERE order_id = $1`, order.ID).Scan(&id, &intent); err != nil {
		t.Fatalf("our row was not written first: %v", err)
	}
	if intent != "" {
		t.Fatalf("intent %q stored without an answer", intent)
	}
	b.rec.mu.Lock()
	b.rec.fail = nil
	b.rec.mu.Unlock()
	p, err := b.client.CreatePayment(ctx, &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetId() != id || p.GetPaymentIntentId() == "" {
		t.Errorf("retry completed payment %s intent %q, want %s", p.GetId(), p.GetPaymentIntentId(), id)
	}
	want := []string{billing.IntentKey(id)}
	got := []string{b.rec.snapshot()[0].IdempotencyKey}
	if diff := cmp.Diff(append(want, want...), append(seen, got...)); diff != "" {
		t.Errorf("stripe idempotency keys (-want +got):\n%s", diff)
	}
}

// event builds a Stripe event body.
func event(id, typ string, created time.Time, object map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": "2023-10-16", "created": created.Unix(),
		"livemode": false, "type": typ, "data": map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return b
}

func intentObject(p *ordersv1.Payment, status string) map[string]any {
	return map[string]any{
		"id": p.GetPaymentIntentId(), "object": "payment_intent", "amount": p.GetAmountMinor(),
		"currency": strings.ToLower(p.GetCurrency()), "status": status,
		"metadata": map[string]string{"payment_id": p.GetId(), "order_id": p.GetOrderId()},
	}
}

// post signs body with secret at time ts and posts it to path; it returns the status code.
func (b bundle) post(t *testing.T, path string, body []byte, secret string, ts time.Time) int {
	t.Helper()
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: ts})
	return b.postRaw(t, path, body, signed.Header)
}

func (b bundle) postRaw(t *testing.T, path string, body []byte, header string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.hooks.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Stripe-Signature", header)
	resp, err := b.hooks.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (b bundle) payment(t *testing.T, id string) *ordersv1.Payment {
	t.Helper()
	p, err := b.client.GetPayment(b.as("fin", auth.RoleFinance), &ordersv1.GetPaymentRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (b bundle) newPayment(t *testing.T, residency string) *ordersv1.Payment {
	t.Helper()
	cust := b.customer(t, "US", residency, "shop")
	order := b.storefrontOrder(t, cust, "shop")
	p, err := b.client.CreatePayment(b.as("shop", auth.RoleStorefront), &ordersv1.CreatePaymentRequest{OrderId: order.ID, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWebhookSignatures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.newPayment(t, "US")
	now := time.Now()
	body := event("evt_sig1", "payment_intent.succeeded", now, intentObject(p, "succeeded"))
	unchanged := func(name string) {
		t.Helper()
		if got := b.payment(t, p.GetId()).GetStatus(); got != ordersv1.PaymentStatus_PAYMENT_STATUS_REQUIRES_PAYMENT {
			t.Errorf("%s changed the payment to %v", name, got)
		}
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   []byte
		secret string
		ts     time.Time
	}{
		{"wrong secret", billingstripe.PathUS, body, "whsec_notOurs", now},
		{"other entity's endpoint", billingstripe.PathIE, body, accounts.US.WebhookSecret, now},
		{"signed for the other entity", billingstripe.PathUS, body, accounts.IE.WebhookSecret, now},
		{"older than the tolerance", billingstripe.PathUS, body, accounts.US.WebhookSecret, now.Add(-billingstripe.DefaultTolerance - time.Minute)},
	} {
		if code := b.post(t, tc.path, tc.body, tc.secret, tc.ts); code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", tc.name, code)
		}
		unchanged(tc.name)
	}
	// Tampered: signed, then one byte of the amount changed.
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: accounts.US.WebhookSecret, Timestamp: now})
	tampered := bytes.Replace(body, []byte(`"amount":2500`), []byte(`"amount":2501`), 1)
	if bytes.Equal(tampered, body) {
		t.Fatal("tampering did not change the body")
	}
	if code := b.postRaw(t, billingstripe.PathUS, tampered, signed.Header); code != http.StatusBadRequest {
		t.Errorf("tampered: HTTP %d, want 400", code)
	}
	if code := b.postRaw(t, billingstripe.PathUS, body, ""); code != http.StatusBadRequest {
		t.Errorf("unsigned: HTTP %d, want 400", code)
	}
	unchanged("tampered or unsigned")
	var events int
	if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM stripe_events`).Scan(&events); err != nil || events != 0 {
		t.Errorf("refused deliveries recorded %d events (%v)", events, err)
	}

	// Valid, and from an endpoint on a newer API version: accepted on purpose.
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	doc["api_version"] = "2025-01-27.acacia"
	newer, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if code := b.post(t, billingstripe.PathUS, newer, accounts.US.WebhookSecret, now); code != http.StatusOK {
		t.Fatalf("valid: HTTP %d, want 200", code)
	}
	if got := b.payment(t, p.GetId()).GetStatus(); got != ordersv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED {
		t.Errorf("valid event left the payment %v", got)
	}
	if got := b.orderStatus(t, p.GetOrderId()); got != billing.StatusPaid {
		t.Errorf("order %s, want paid", got)
	}
	// The client secret is dropped once the buyer can no longer pay with it.
	if got, _ := b.client.GetPayment(b.as("shop", auth.RoleStorefront), &ordersv1.GetPaymentRequest{Id: p.GetId()}); got.GetClientSecret() != "" {
		t.Error("client secret still served after success")
	}
	var ct []byte
	if err := b.pool.QueryRow(t.Context(), `SELECT client_secret_ct FROM payments WHERE id = $1`, p.GetId()).Scan(&ct); err != nil || ct != nil {
		t.Errorf("client secret still stored after success (%v)", err)
	}
	// Oversized bodies are refused before anything is parsed.
	big := bytes.Repeat([]byte("x"), billingstripe.DefaultMaxBody+1)
	if code := b.post(t, billingstripe.PathUS, big, accounts.US.WebhookSecret, now); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: HTTP %d, want 413", code)
	}
}

func TestWebhookOrdering(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ie := b.newPayment(t, "IE")
	t0 := time.Now().Add(-time.Minute)
	post := func(body []byte) {
		t.Helper()
		if code := b.post(t, billingstripe.PathIE, body, accounts.IE.WebhookSecret, time.Now()); code != http.StatusOK {
			t.Fatalf("HTTP %d, want 200", code)
		}
	}
	failed := event("evt_ord1", "payment_intent.payment_failed", t0, intentObject(ie, "requires_payment_method"))
	succeeded := event("evt_ord2", "payment_intent.succeeded", t0.Add(10*time.Second), intentObject(ie, "succeeded"))
	post(failed)
	if got := b.payment(t, ie.GetId()).GetStatus(); got != ordersv1.PaymentStatus_PAYMENT_STATUS_FAILED {
		t.Errorf("after payment_failed: %v", got)
	}
	if got := b.orderStatus(t, ie.GetOrderId()); got != billing.StatusPendingPayment {
		t.Errorf("a failed attempt moved the order to %s", got)
	}
	post(succeeded)
	post(succeeded) // duplicate delivery
	// A late, out-of-order failure (an earlier attempt) must not undo the success.
	post(event("evt_ord0", "payment_intent.payment_failed", t0.Add(-time.Minute), intentObject(ie, "requires_payment_method")))
	post(failed) // a redelivery of an already applied event
	post(event("evt_ord3", "customer.created", t0, map[string]any{"id": "cus_1", "object": "customer"}))
	if got := b.payment(t, ie.GetId()).GetStatus(); got != ordersv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED {
		t.Errorf("after reordered deliveries: %v", got)
	}
	if got := b.orderStatus(t, ie.GetOrderId()); got != billing.StatusPaid {
		t.Errorf("order %s, want paid", got)
	}
	rows, err := b.pool.Query(t.Context(), `SELECT event_id, outcome FROM stripe_events ORDER BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var id, outcome string
		if err := rows.Scan(&id, &outcome); err != nil {
			t.Fatal(err)
		}
		got[id] = outcome
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"evt_ord0": "stale", "evt_ord1": "applied", "evt_ord2": "applied", "evt_ord3": "ignored"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recorded events (-want +got):\n%s", diff)
	}
	// The same event at the US endpoint is refused: its signature is the IE secret's.
	if code := b.post(t, billingstripe.PathUS, succeeded, accounts.IE.WebhookSecret, time.Now()); code != http.StatusBadRequest {
		t.Errorf("IE event at the US endpoint: HTTP %d, want 400", code)
	}
	// Signed by the US account but about an IE payment: acknowledged, not applied.
	other := event("evt_ord4", "payment_intent.canceled", time.Now(), intentObject(ie, "canceled"))
	if code := b.post(t, billingstripe.PathUS, other, accounts.US.WebhookSecret, time.Now()); code != http.StatusOK {
		t.Errorf("US event about an IE payment: HTTP %d, want 200", code)
	}
	if got := b.payment(t, ie.GetId()).GetStatus(); got != ordersv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED {
		t.Errorf("another entity's event changed the payment to %v", got)
	}
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.newPayment(t, "US")
	fin := b.as("fin", auth.RoleFinance)
	refund := func(amount int64, key string) (*ordersv1.Refund, error) {
		return b.client.RefundPayment(fin, &ordersv1.RefundPaymentRequest{PaymentId: p.GetId(), AmountMinor: amount, IdempotencyKey: key})
	}
	// Nothing was captured yet.
	_, err := refund(100, "r0")
	wantCode(t, err, codes.FailedPrecondition, "")
	if code := b.post(t, billingstripe.PathUS, event("evt_ref0", "payment_intent.succeeded", time.Now(), intentObject(p, "succeeded")),
		accounts.US.WebhookSecret, time.Now()); code != http.StatusOK {
		t.Fatalf("succeeded: HTTP %d", code)
	}

	r1, err := refund(1000, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r1.GetStatus() != ordersv1.RefundStatus_REFUND_STATUS_SUCCEEDED || !strings.HasPrefix(r1.GetRefundId(), "re_") || r1.GetAmountMinor() != 1000 {
		t.Errorf("partial refund: %v", r1)
	}
	calls := b.rec.snapshot()
	last := calls[len(calls)-1]
	if diff := cmp.Diff(call{Path: "/v1/refunds", Key: accounts.US.SecretKey, IdempotencyKey: billing.RefundKey(r1.GetId())}, last); diff != "" {
		t.Errorf("refund call (-want +got):\n%s", diff)
	}
	again, err := refund(1000, "r1")
	if err != nil || again.GetId() != r1.GetId() || b.rec.count("/v1/refunds") != 1 {
		t.Errorf("replay: %v %v, %d refund calls", again, err, b.rec.count("/v1/refunds"))
	}
	_, err = refund(999, "r1")
	wantCode(t, err, codes.AlreadyExists, "")
	got := b.payment(t, p.GetId())
	if got.GetStatus() != ordersv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED || got.GetRefundedMinor() != 1000 {
		t.Errorf("after partial: %v refunded %d", got.GetStatus(), got.GetRefundedMinor())
	}
	if s := b.orderStatus(t, p.GetOrderId()); s != billing.StatusPaid {
		t.Errorf("order %s after a partial refund, want paid", s)
	}

	_, err = refund(1501, "r2")
	wantCode(t, err, codes.FailedPrecondition, "")
	_, err = b.client.RefundPayment(b.as("shop", auth.RoleStorefront), &ordersv1.RefundPaymentRequest{PaymentId: p.GetId(), AmountMinor: 1, IdempotencyKey: "r3"})
	wantCode(t, err, codes.PermissionDenied, "")
	_, err = refund(0, "r3")
	wantCode(t, err, codes.InvalidArgument, "amount_minor")

	if _, err := refund(1500, "r4"); err != nil {
		t.Fatal(err)
	}
	got = b.payment(t, p.GetId())
	if got.GetStatus() != ordersv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || got.GetRefundedMinor() != 2500 {
		t.Errorf("after full: %v refunded %d", got.GetStatus(), got.GetRefundedMinor())
	}
	if s := b.orderStatus(t, p.GetOrderId()); s != billing.StatusRefunded {
		t.Errorf("order %s after a full refund, want refunded", s)
	}
	_, err = refund(1, "r5")
	wantCode(t, err, codes.FailedPrecondition, "")
}

// TestChargeRefundedWebhook records refunds made outside the service (the Stripe dashboard),
// once per refund id, and refunds the order when the charge is fully refunded.
func TestChargeRefundedWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.newPayment(t, "US")
	secret := accounts.US.WebhookSecret
	now := time.Now()
	charge := func(refunded int64, refunds ...map[string]any) map[string]any {
		return map[string]any{
			"id": "ch_1", "object": "charge", "amount": 2500, "amount_refunded": refunded, "currency": "usd",
			"payment_intent": p.GetPaymentIntentId(), "refunds": map[string]any{"object": "list", "data": refunds},
		}
	}
	r1 := map[string]any{"id": "re_dash1", "object": "refund", "amount": 500, "status": "succeeded"}
	r2 := map[string]any{"id": "re_dash2", "object": "refund", "amount": 2000, "status": "succeeded"}
	for _, body := range [][]byte{
		// Reordered: a refund arrives before the success it implies.
		event("evt_ch1", "charge.refunded", now, charge(500, r1)),
		event("evt_ch1", "charge.refunded", now, charge(500, r1)),
		event("evt_pi1", "payment_intent.succeeded", now.Add(-time.Minute), intentObject(p, "succeeded")),
	} {
		if code := b.post(t, billingstripe.PathUS, body, secret, now); code != http.StatusOK {
			t.Fatalf("HTTP %d", code)
		}
	}
	got := b.payment(t, p.GetId())
	if got.GetStatus() != ordersv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED || got.GetRefundedMinor() != 500 {
		t.Errorf("after a partial refund: %v %d", got.GetStatus(), got.GetRefundedMinor())
	}
	if s := b.orderStatus(t, p.GetOrderId()); s != billing.StatusPaid {
		t.Errorf("order %s, want paid", s)
	}
	if code := b.post(t, billingstripe.PathUS, event("evt_ch2", "charge.refunded", now, charge(2500, r1, r2)), secret, now); code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	got = b.payment(t, p.GetId())
	if got.GetStatus() != ordersv1.PaymentStatus_PAYMENT_STATUS_REFUNDED || got.GetRefundedMinor() != 2500 {
		t.Errorf("after the full refund: %v %d", got.GetStatus(), got.GetRefundedMinor())
	}
	if s := b.orderStatus(t, p.GetOrderId()); s != billing.StatusRefunded {
		t.Errorf("order %s, want refunded", s)
	}
	var n int
	if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM payment_refunds WHERE payment_id = $1`, p.GetId()).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d refunds recorded (%v), want 2", n, err)
	}
}
