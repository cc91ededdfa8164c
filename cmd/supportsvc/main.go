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

	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"

	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingdb"
	"github.com/lumio/contactcentre/internal/recording/recordinggrpc"
	"github.com/lumio/contactcentre/internal/recording/recordingstore"
	"github.com/lumio/contactcentre/internal/recording/recordingtwilio"
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

	now := func() time.Time { return time.Now().UTC() }
	ticketStore := ticketsdb.New(proc.Pool, proc.Keyring)
	ticketSvc := tickets.NewService(ticketStore, proc.Policy, cfg.SLA, now)

	carrier, err := recordingtwilio.NewCarrier(cfg.Twilio.carrier(cfg.PublicURL))
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	objects, err := newObjectStore(ctx, cfg.Recording)
	if err != nil {
		return err
	}
	// The download-link key is derived from the master key, so every replica agrees on it
	// without another secret to distribute.
	signer, err := recording.NewURLSigner(cfg.PublicURL, proc.Keyring.Index("recording-download-url", "v1"))
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	optOut := recording.TicketOptOutFunc(func(ctx context.Context, actor, ticketID string, optOut bool) error {
		_, err := ticketSvc.SetRecordingOptOut(ctx, actor, ticketID, optOut)
		return err
	})
	recStore := recordingdb.New(proc.Pool, proc.Keyring, proc.Policy).WithMetrics(recording.NewMetrics(proc.Registry))
	recSvc := recording.NewService(recStore, carrier, objects, optOut, signer, cfg.Recording.Config(), proc.Logger, now)

	supportv1.RegisterTicketServiceServer(proc.GRPC, ticketsgrpc.NewServer(ticketSvc))
	supportv1.RegisterRecordingServiceServer(proc.GRPC, recordinggrpc.NewServer(recSvc))
	recordingtwilio.NewHandler(recSvc, cfg.Twilio.carrier(cfg.PublicURL), proc.Logger).
		WithMetrics(recordingtwilio.NewWebhookMetrics(proc.Registry)).Register(proc.Mux)
	proc.Background(recSvc.RunSweeper)
	proc.Background(recSvc.RunReconciler)
	if err := proc.ServeDataFlow(lookup, cfg.Outbox); err != nil {
		return err
	}

	return proc.Serve(ctx, cfg.GRPCAddr, cfg.HTTPAddr, ready)
}

// newObjectStore opens the recordings' audio store that the configuration names.
func newObjectStore(ctx context.Context, cfg RecordingConfig) (recording.Objects, error) {
	if cfg.Store == "s3" {
		return recordingstore.NewS3(ctx, recordingstore.S3Config{
			Bucket: cfg.S3Bucket, Region: cfg.S3Region, Endpoint: cfg.S3Endpoint, Prefix: cfg.S3Prefix,
		})
	}
	return recordingstore.NewFS(cfg.Dir)
}
