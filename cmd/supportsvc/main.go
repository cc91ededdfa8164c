// Command supportsvc serves the contact centre's ticket desk and call recordings over gRPC
// (TicketService, RecordingService, DataFlowService) and Twilio's webhooks over HTTP.
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
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"

	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowgrpc"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb"
	"github.com/lumio/contactcentre/internal/tickets/ticketsgrpc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.LookupEnv, os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "supportsvc:", err)
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
	proc, err := bootstrap.New(ctx, "supportsvc", cfg.Config, stdout)
	if err != nil {
		return err
	}
	defer proc.Close()

	ticketStore := ticketsdb.New(proc.Pool, proc.Keyring)
	ticketSvc := tickets.NewService(ticketStore, proc.Policy, cfg.SLA, func() time.Time { return time.Now().UTC() })

	supportv1.RegisterTicketServiceServer(proc.GRPC, ticketsgrpc.NewServer(ticketSvc))
	// Recordings arrive with the Twilio work; until then the service answers UNIMPLEMENTED
	// but is listed by reflection so that clients can be built against it.
	supportv1.RegisterRecordingServiceServer(proc.GRPC, supportv1.UnimplementedRecordingServiceServer{})
	dataflowv1.RegisterDataFlowServiceServer(proc.GRPC, dataflowgrpc.NewServer())

	return proc.Serve(ctx, cfg.GRPCAddr, cfg.HTTPAddr, ready)
}
