// Command ordersvc serves customers, orders, Stripe payments, finance reporting and privacy
// requests over gRPC, and Stripe's webhooks over HTTP.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"

	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingdb"
	"github.com/lumio/contactcentre/internal/billing/billinggrpc"
	"github.com/lumio/contactcentre/internal/billing/billingstripe"
	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb"
	"github.com/lumio/contactcentre/internal/customers/customersgrpc"
	"github.com/lumio/contactcentre/internal/privacy"
	"github.com/lumio/contactcentre/internal/privacy/privacydb"
	"github.com/lumio/contactcentre/internal/privacy/privacygrpc"
	"github.com/lumio/contactcentre/internal/reporting"
	"github.com/lumio/contactcentre/internal/reporting/reportingdb"
	"github.com/lumio/contactcentre/internal/reporting/reportinggrpc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.LookupEnv, os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordersvc:", err)
		os.Exit(1)
	}
}

// run wires the service in reading order and serves until ctx is done. ready, if not nil,
// receives the bound addresses.
func run(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, ready func(bootstrap.Addrs)) error {
	cfg, err := loadConfig(ctx, lookup)
	if err != nil {
		return err
	}
	proc, err := bootstrap.New(ctx, "ordersvc", cfg.Config, stdout)
	if err != nil {
		return err
	}
	defer proc.Close()

	now := func() time.Time { return time.Now().UTC() }
	orderStore := billingdb.New(proc.Pool, proc.Keyring)
	orderSvc := billing.NewService(orderStore, proc.Policy, cfg.Retention, now)
	// A change of a customer's facts (residency, consent, reseller) recomputes the flow lists
	// of its orders in the same transaction.
	customerStore := customersdb.New(proc.Pool, proc.Keyring).OnFactsChange(
		func(ctx context.Context, tx pgx.Tx, _, after customers.Customer) error {
			_, err := orderStore.RecomputeFlows(ctx, tx, after.ID, after.UpdateTime, orderSvc.Flows)
			return err
		})
	customerSvc := customers.NewService(customerStore, proc.Policy, now)

	ordersv1.RegisterCustomerServiceServer(proc.GRPC, customersgrpc.NewServer(customerSvc))
	// Each Stripe entity has its own account, keys and webhook secret; a payment goes to the one
	// its order's customer's residency decided.
	stripeCfg := billingstripe.Config{
		US:         billingstripe.Account(cfg.StripeUS),
		IE:         billingstripe.Account(cfg.StripeIE),
		APIBaseURL: cfg.StripeAPIBaseURL,
	}
	gateway, err := billingstripe.New(stripeCfg)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	paymentSvc := billing.NewPayments(orderStore, gateway, proc.Policy, now)

	ordersv1.RegisterOrderServiceServer(proc.GRPC, billinggrpc.NewOrderServer(orderSvc))
	ordersv1.RegisterPaymentServiceServer(proc.GRPC, billinggrpc.NewPaymentServer(paymentSvc))
	webhookMetrics := billingstripe.WithMetrics(billingstripe.NewWebhookMetrics(proc.Registry))
	if err := billingstripe.RegisterWebhooks(proc.Mux, stripeCfg, paymentSvc, proc.Logger, webhookMetrics); err != nil {
		return err
	}
	// Erasure runs as resumable steps: a request that dies half-way is finished by the resumer
	// on any replica; the purge job reduces held data when its retention ends.
	privacySvc := privacy.NewService(privacydb.New(proc.Pool, proc.Keyring), cfg.Privacy.config(), proc.Logger, now)
	dataflowv1.RegisterPrivacyServiceServer(proc.GRPC, privacygrpc.NewServer(privacySvc))
	proc.Background(privacySvc.ResumeJob().Run)
	proc.Background(privacySvc.PurgeJob().Run)
	ordersv1.RegisterReportingServiceServer(proc.GRPC, reportinggrpc.NewServer(reporting.NewService(reportingdb.New(proc.Pool), now)))
	if err := proc.ServeDataFlow(lookup, cfg.Outbox); err != nil {
		return err
	}

	return proc.Serve(ctx, cfg.GRPCAddr, cfg.HTTPAddr, ready)
}
