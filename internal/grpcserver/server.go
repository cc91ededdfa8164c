// Package grpcserver builds the gRPC server both processes share: limits, keepalive, the
// interceptor chain (panic recovery, metrics, logging, authentication, per-caller rate limits,
// default deadlines, error mapping), optional TLS and tracing, health and reflection, and a
// Serve that stops gracefully.
package grpcserver

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"

	"github.com/lumio/contactcentre/internal/auth"
)

const defaultMaxBytes = 4 << 20

// Config holds the server's limits. Zero values mean the defaults, so Config{} is usable in
// tests; rate limiting is off unless RateLimit.RPS is positive.
type Config struct {
	MaxRecvBytes int `env:"GRPC_MAX_RECV_BYTES, default=4194304"`
	MaxSendBytes int `env:"GRPC_MAX_SEND_BYTES, default=4194304"`
	// DefaultTimeout is the deadline given to a unary RPC that arrives without one, so that
	// every database call it makes is bounded even when the caller forgot a deadline.
	DefaultTimeout time.Duration `env:"RPC_DEFAULT_TIMEOUT, default=10s"`
	// StreamTimeout does the same for streaming RPCs (exports), which legitimately run longer.
	StreamTimeout time.Duration `env:"RPC_STREAM_TIMEOUT, default=10m"`
	RateLimit     RateLimitConfig
}

// RateLimitConfig is the per-caller token bucket: RPS tokens a second, bursts of Burst.
type RateLimitConfig struct {
	// RPS is the sustained rate per token subject; 0 turns rate limiting off.
	RPS float64 `env:"RATE_LIMIT_RPS, default=0"`
	// Burst is the bucket size; 0 means max(1, RPS).
	Burst int `env:"RATE_LIMIT_BURST, default=0"`
	// MaxSubjects bounds the limiter's memory; 0 means 10000.
	MaxSubjects int `env:"RATE_LIMIT_MAX_SUBJECTS, default=10000"`
}

const (
	defaultUnaryTimeout  = 10 * time.Second
	defaultStreamTimeout = 10 * time.Minute
)

// Option adjusts New beyond Config: what the environment cannot express (credentials, a
// tracer provider) comes in this way.
type Option func(*options)

type options struct {
	creds  credentials.TransportCredentials
	tracer trace.TracerProvider
	now    func() time.Time
}

// WithCredentials serves TLS (or mutual TLS) with c instead of plaintext.
func WithCredentials(c credentials.TransportCredentials) Option {
	return func(o *options) { o.creds = c }
}

// WithTracerProvider traces every RPC but health and reflection with tp. Spans carry the
// method and status code only: message payloads and events are never recorded.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// New returns a gRPC server with the shared interceptors, health (initially SERVING) and
// reflection registered, and the health server so that the caller can set per-service status.
// Every RPC but health and reflection needs a bearer token that verifier accepts and a role
// that auth.Authorize allows. Metrics are registered with reg, which may be nil.
func New(logger *slog.Logger, verifier auth.Verifier, reg prometheus.Registerer, cfg Config, opts ...Option) (*grpc.Server, *health.Server) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	ic := &interceptors{logger: logger, verifier: verifier, metrics: newMetrics(reg), limiter: newLimiter(cfg.RateLimit, o.now)}
	// The handler-side recover turns a panic into an Internal error that metrics and logs see
	// like any other; the outer one catches panics in the interceptors themselves. The rate
	// limit runs after authentication because the bucket belongs to the token's subject.
	chain := func(timeout time.Duration) []layer {
		return []layer{ic.recover, ic.observe, ic.log, ic.authenticate, ic.limit, deadline(timeout), ic.mapErrors, ic.recover}
	}
	unaryLayers := chain(orDuration(cfg.DefaultTimeout, defaultUnaryTimeout))
	streamLayers := chain(orDuration(cfg.StreamTimeout, defaultStreamTimeout))
	unary := make([]grpc.UnaryServerInterceptor, len(unaryLayers))
	stream := make([]grpc.StreamServerInterceptor, len(streamLayers))
	for i := range unaryLayers {
		unary[i], stream[i] = unaryLayers[i].unary(), streamLayers[i].stream()
	}
	serverOpts := []grpc.ServerOption{
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
	}
	if o.creds != nil {
		serverOpts = append(serverOpts, grpc.Creds(o.creds))
	}
	if o.tracer != nil {
		serverOpts = append(serverOpts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(o.tracer),
			// Our RPC metrics are Prometheus (above); a no-op meter keeps otelgrpc from
			// registering a second, global set.
			otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
			// W3C trace context only: baggage is caller-controlled text that could carry
			// personal data into every downstream span.
			otelgrpc.WithPropagators(propagation.TraceContext{}),
			// No WithMessageEvents: payloads and per-message events are never recorded.
			otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool { return !isPublic(info.FullMethodName) }),
		)))
	}
	srv := grpc.NewServer(serverOpts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	return srv, hs
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
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

// NewHealthOnly returns a plaintext server with nothing but hs on it. Kubernetes' native gRPC
// probes cannot speak TLS, so when the main port requires (mutual) TLS the probes use this
// server on a separate port; it exposes no data, only the serving status.
func NewHealthOnly(hs *health.Server) *grpc.Server {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	return srv
}
