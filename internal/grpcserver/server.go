// Package grpcserver builds the gRPC server both processes share: limits, keepalive, the
// interceptor chain (panic recovery, metrics, logging, authentication, error mapping), health
// and reflection, and a Serve that stops gracefully.
package grpcserver

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/lumio/contactcentre/internal/auth"
)

const defaultMaxBytes = 4 << 20

// Config holds the server's message size limits; zero means the 4 MiB default.
type Config struct {
	MaxRecvBytes int `env:"GRPC_MAX_RECV_BYTES, default=4194304"`
	MaxSendBytes int `env:"GRPC_MAX_SEND_BYTES, default=4194304"`
}

// New returns a gRPC server with the shared interceptors, health (initially SERVING) and
// reflection registered, and the health server so that the caller can set per-service status.
// Every RPC but health and reflection needs a bearer token that verifier accepts and a role
// that auth.Authorize allows. Metrics are registered with reg, which may be nil.
func New(logger *slog.Logger, verifier auth.Verifier, reg prometheus.Registerer, cfg Config) (*grpc.Server, *health.Server) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ic := &interceptors{logger: logger, verifier: verifier, metrics: newMetrics(reg)}
	// The handler-side recover turns a panic into an Internal error that metrics and logs see
	// like any other; the outer one catches panics in the interceptors themselves.
	layers := []layer{ic.recover, ic.observe, ic.log, ic.authenticate, ic.mapErrors, ic.recover}
	unary := make([]grpc.UnaryServerInterceptor, len(layers))
	stream := make([]grpc.StreamServerInterceptor, len(layers))
	for i, l := range layers {
		unary[i], stream[i] = l.unary(), l.stream()
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(orDefault(cfg.MaxRecvBytes)),
		grpc.MaxSendMsgSize(orDefault(cfg.MaxSendBytes)),
		// Clients may ping to keep idle connections through NATs and load balancers, but not
		// so often that pings become a cheap way to load the server.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             15 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: 15 * time.Minute,
			Time:              time.Minute,
			Timeout:           20 * time.Second,
		}),
	)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	return srv, hs
}

func orDefault(n int) int {
	if n <= 0 {
		return defaultMaxBytes
	}
	return n
}

// metrics are the RPC counters and latencies, labelled by full method name. The method label
// is bounded: grpc-go rejects unknown methods before any interceptor runs.
type metrics struct {
	handled *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total",
			Help: "RPCs completed on the server, by method and status code.",
		}, []string{"grpc_method", "grpc_code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Time from the start of an RPC to its status, by method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"grpc_method"}),
	}
	if reg != nil {
		m.handled = register(reg, m.handled)
		m.seconds = register(reg, m.seconds)
	}
	return m
}

// register adds c to reg, or returns the collector already there, so that two servers in one
// process (as in tests) share the series instead of panicking.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(err) // two different collectors under one name is a programming error
	}
	return c
}
