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

	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"

	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb"
	"github.com/lumio/contactcentre/internal/customers/customersgrpc"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowgrpc"
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

	customerStore := customersdb.New(proc.Pool, proc.Keyring)
	customerSvc := customers.NewService(customerStore, proc.Policy, func() time.Time { return time.Now().UTC() })

	ordersv1.RegisterCustomerServiceServer(proc.GRPC, customersgrpc.NewServer(customerSvc))
	// Orders, payments, reporting and privacy requests arrive with their own work; until then
	// they answer UNIMPLEMENTED but are listed by reflection for client builders.
	ordersv1.RegisterOrderServiceServer(proc.GRPC, ordersv1.UnimplementedOrderServiceServer{})
	ordersv1.RegisterPaymentServiceServer(proc.GRPC, ordersv1.UnimplementedPaymentServiceServer{})
	ordersv1.RegisterReportingServiceServer(proc.GRPC, ordersv1.UnimplementedReportingServiceServer{})
	dataflowv1.RegisterPrivacyServiceServer(proc.GRPC, dataflowv1.UnimplementedPrivacyServiceServer{})
	dataflowv1.RegisterDataFlowServiceServer(proc.GRPC, dataflowgrpc.NewServer())

	return proc.Serve(ctx, cfg.GRPCAddr, cfg.HTTPAddr, ready)
}
