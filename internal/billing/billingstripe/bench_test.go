package billingstripe_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingstripe/stripemocktest"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
)

// The benchmarks measure what our payment path adds to Stripe's own latency, in one run:
// BenchmarkStripeMockDirect sends stripe-mock the same PaymentIntent request that
// BenchmarkCreatePayment makes through gRPC, the domain, PostgreSQL (two transactions, a row
// lock and a sealed secret) and the Gateway. Each reports its p99 beside Go's ns/op:
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/billing/billingstripe/

// latencies records per-operation durations and reports their p99.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[(len(l)*99)/100].Microseconds())/1000, "p99-ms")
}

func BenchmarkCreateOrder(b *testing.B) {
	bb := setup(b)
	cust := bb.customer(b, "US", "US", "shop")
	who := auth.Identity{Subject: "shop", Roles: []auth.Role{auth.RoleStorefront}}
	lat := make(latencies, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		_, err := bb.orders.Create(b.Context(), who, billing.NewOrder{
			CustomerID: cust, Channel: billing.ChannelStorefront, Currency: "USD",
			Lines: []billing.NewLine{{SKU: "LUM-TEACHER-1Y", Quantity: 2, UnitPriceMinor: 1250}},
		}, fmt.Sprintf("bench-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	lat.report(b)
}

func BenchmarkCreatePayment(b *testing.B) {
	bb := setup(b)
	cust := bb.customer(b, "US", "US", "shop")
	// One live payment per order: every iteration pays a fresh order, made before the timer.
	orders := make([]string, b.N)
	for i := range orders {
		orders[i] = bb.storefrontOrder(b, cust, "shop").ID
	}
	ctx := bb.as("shop", auth.RoleStorefront)
	lat := make(latencies, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := bb.client.CreatePayment(ctx, &ordersv1.CreatePaymentRequest{OrderId: orders[i], IdempotencyKey: "k"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	lat.report(b)
}

func BenchmarkStripeMockDirect(b *testing.B) {
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:           stripe.String(stripemocktest.URL(b)),
		HTTPClient:    &http.Client{Timeout: 10 * time.Second},
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	sc := client.New(accounts.US.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
	lat := make(latencies, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		params := &stripe.PaymentIntentParams{
			Amount: stripe.Int64(2500), Currency: stripe.String("usd"), PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		}
		params.SetIdempotencyKey(fmt.Sprintf("cc-payment-bench-%d", i))
		params.AddMetadata("payment_id", "bench")
		params.AddMetadata("order_id", "bench")
		start := time.Now()
		if _, err := sc.PaymentIntents.New(params); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	lat.report(b)
}
