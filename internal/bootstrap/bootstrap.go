// Package bootstrap builds and serves what both services share: configuration loading, the
// logger, the database pool (with statement and connect timeouts, and pool metrics), the
// keyring, token verification, metrics, optional TLS and tracing, the gRPC server with its
// interceptors, health and reflection, and the HTTP listener. Each cmd adds its own services.
package bootstrap

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sethvargo/go-envconfig"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/grpcserver"
	"github.com/lumio/contactcentre/internal/httpserver"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/migrations"
)

// Config is the part of the configuration both services share.
type Config struct {
	Database postgres.Config
	Keyring  keyring.Config
	Auth     auth.Config
	GRPC     grpcserver.Config
	Outbox   dataflow.DispatchConfig
	// DatabaseTimeouts bound every statement and connection attempt (see withTimeouts).
	DatabaseTimeouts DatabaseTimeouts
	TLS              TLSConfig
	Tracing          TracingConfig
	// GRPCHealthAddr, when set, serves grpc.health.v1 alone in plaintext there: Kubernetes'
	// gRPC probes cannot speak TLS, so with TLS on they probe this port instead.
	GRPCHealthAddr string `env:"GRPC_HEALTH_ADDR"`
	// StorefrontCountries is DOMAIN.md's North-America set: the storefront and Gainsight.
	StorefrontCountries []string      `env:"STOREFRONT_COUNTRIES, default=US,CA"`
	ShutdownGrace       time.Duration `env:"SHUTDOWN_GRACE, default=20s"`
	LogLevel            string        `env:"LOG_LEVEL, default=info"`
}

// Load fills target (a pointer to a config struct with env tags) from lookup. The error is one
// line naming the variable, for the operator.
func Load(ctx context.Context, lookup func(string) (string, bool), target any) error {
	err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: target, Lookuper: lookuper(lookup)})
	if err != nil {
		return fmt.Errorf("configuration: %s", nameVariable(err.Error(), reflect.TypeOf(target).Elem(), ""))
	}
	return nil
}

// nameVariable rewrites go-envconfig's "Config: Field: cause" parse errors to name the
// environment variable instead of the Go field, which is what an operator can act on.
func nameVariable(msg string, t reflect.Type, prefix string) string {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		opts := f.Tag.Get("env")
		if f.Type.Kind() == reflect.Struct && tag == "" {
			p := prefix
			if _, after, ok := strings.Cut(opts, "prefix="); ok {
				p += strings.TrimSpace(after)
			}
			msg = nameVariable(msg, f.Type, p)
			continue
		}
		if tag != "" && strings.Contains(msg, ": "+f.Name+": ") {
			_, cause, _ := strings.Cut(msg, ": "+f.Name+": ")
			return prefix + tag + ": " + cause
		}
	}
	return msg
}

type lookuper func(string) (string, bool)

func (l lookuper) Lookup(key string) (string, bool) { return l(key) }

// Process is a running service's shared machinery.
type Process struct {
	Name    string
	Logger  *slog.Logger
	Pool    *pgxpool.Pool
	Keyring *keyring.Keyring
	Policy  dataflow.Policy
	// Registry is what /metrics serves. Owners of background work add their collectors with
	// Registry.MustRegister (outbox lag and outcomes, webhook outcomes, recordings): names
	// start with the area (outbox_, webhook_, recording_), labels take bounded values only
	// (sink names, outcomes, codes) and never ids or personal data.
	Registry *prometheus.Registry
	// Tracer is the tracer provider (a no-op one when tracing is off). Outbound HTTP clients
	// may wrap their transport with otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(p.Tracer)).
	Tracer trace.TracerProvider
	GRPC   *grpc.Server
	Health *health.Server
	// Mux serves /healthz and /metrics; services add their webhooks to it.
	Mux   *http.ServeMux
	grace time.Duration
	jobs  []func(context.Context) error

	tp         *sdktrace.TracerProvider // nil when tracing is off
	httpTLS    *tls.Config              // nil for plaintext
	healthAddr string
}

// Background adds a job (an outbox dispatcher, a sweeper) that runs while the process serves.
// A job returns nil when its context ends; any error stops the whole process.
func (p *Process) Background(job func(ctx context.Context) error) {
	p.jobs = append(p.jobs, job)
}

// New validates the shared configuration and connects everything, in reading order. The
// caller must Close the process.
func New(ctx context.Context, name string, cfg Config, stdout io.Writer) (*Process, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, errors.New("configuration: LOG_LEVEL must be debug, info, warn or error")
	}
	for _, c := range cfg.StorefrontCountries {
		if len(c) != 2 || strings.ToUpper(c) != c {
			return nil, fmt.Errorf("configuration: STOREFRONT_COUNTRIES must list ISO alpha-2 codes, got %q", c)
		}
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level})).With("service", name)
	// Secrets carry json:"-" tags, so the effective configuration can be logged whole.
	if b, err := json.Marshal(cfg); err == nil {
		logger.Info("configuration", "config", json.RawMessage(b))
	}

	kr, err := keyring.New(cfg.Keyring)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	verifier, err := auth.NewVerifier(cfg.Auth)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	grpcTLS, httpTLS, err := serverTLS(cfg.TLS, logger)
	if err != nil {
		return nil, err
	}
	tp, err := newTracerProvider(ctx, cfg.Tracing, name)
	if err != nil {
		return nil, err
	}
	dbCfg := cfg.Database
	dbCfg.URL = withTimeouts(dbCfg.URL, cfg.DatabaseTimeouts)
	pool, err := postgres.Open(ctx, dbCfg)
	if err != nil {
		shutdownTracer(tp)
		return nil, err
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		shutdownTracer(tp)
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPoolCollector(pool))
	var opts []grpcserver.Option
	if grpcTLS != nil {
		opts = append(opts, grpcserver.WithCredentials(credentials.NewTLS(grpcTLS)))
	}
	if tp != nil {
		opts = append(opts, grpcserver.WithTracerProvider(tp))
	}
	srv, hs := grpcserver.New(logger, verifier, reg, cfg.GRPC, opts...)
	mux := httpserver.NewMux(reg, func(ctx context.Context) error { return pool.Ping(ctx) })
	return &Process{
		Name: name, Logger: logger, Pool: pool, Keyring: kr,
		Policy:   dataflow.NewPolicy(cfg.StorefrontCountries),
		Registry: reg, Tracer: tracerOrNoop(tp), GRPC: srv, Health: hs, Mux: mux, grace: cfg.ShutdownGrace,
		tp: tp, httpTLS: httpTLS, healthAddr: cfg.GRPCHealthAddr,
	}, nil
}

// shutdownTracer flushes buffered spans, bounded so that an unreachable collector cannot hold
// up a shutdown.
func shutdownTracer(tp *sdktrace.TracerProvider) {
	if tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tp.Shutdown(ctx)
}

// checkSchema refuses to serve on a database whose migrations lag behind this build: migrations
// run before rollout (ccctl migrate up), never from every replica at start-up.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	migs, err := postgres.LoadMigrations(migrations.FS)
	if err != nil {
		return err
	}
	want := migs[len(migs)-1].Version
	got, err := postgres.SchemaVersion(ctx, pool)
	if err != nil || got < want {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `ccctl migrate up`", got, want)
	}
	return nil
}

// Addrs are the bound listener addresses, reported once the process serves. Health is nil
// unless GRPC_HEALTH_ADDR is set.
type Addrs struct {
	GRPC   net.Addr
	HTTP   net.Addr
	Health net.Addr
}

// Serve listens on both addresses (and GRPC_HEALTH_ADDR if set) and serves until ctx is done,
// then stops gracefully: health turns NOT_SERVING, in-flight RPCs and requests finish within
// the grace period. ready, if not nil, is called with the bound addresses (tests listen on :0).
func (p *Process) Serve(ctx context.Context, grpcAddr, httpAddr string, ready func(Addrs)) error {
	var lc net.ListenConfig
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}
	listen := func(what, addr string) (net.Listener, error) {
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen %s: %w", what, err)
		}
		listeners = append(listeners, l)
		return l, nil
	}
	grpcLis, err := listen("gRPC", grpcAddr)
	if err != nil {
		return err
	}
	httpLis, err := listen("HTTP", httpAddr)
	if err != nil {
		return err
	}
	var healthLis net.Listener
	if p.healthAddr != "" {
		if healthLis, err = listen("gRPC health", p.healthAddr); err != nil {
			return err
		}
	}
	for name := range p.GRPC.GetServiceInfo() {
		p.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	p.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)

	var handler http.Handler = p.Mux
	if p.tp != nil {
		handler = httpserver.Traced(handler, p.tp)
	}
	addrs := Addrs{GRPC: grpcLis.Addr(), HTTP: httpLis.Addr()}
	if p.httpTLS != nil {
		httpLis = httpserver.TLSListener(httpLis, p.httpTLS)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return grpcserver.Serve(ctx, p.GRPC, grpcLis, p.Health, p.grace) })
	g.Go(func() error { return httpserver.Serve(ctx, httpserver.NewServer(handler), httpLis, p.grace) })
	for _, job := range p.jobs {
		g.Go(func() error { return job(ctx) })
	}
	if healthLis != nil {
		addrs.Health = healthLis.Addr()
		// Health is shut down (NOT_SERVING) by the main server's Serve; this one only drains.
		g.Go(func() error {
			return grpcserver.Serve(ctx, grpcserver.NewHealthOnly(p.Health), healthLis, nil, p.grace)
		})
	}
	p.Logger.Info("serving", "grpc", addrs.GRPC.String(), "http", addrs.HTTP.String(),
		"tls", p.httpTLS != nil, "tracing", p.tp != nil)
	if ready != nil {
		ready(addrs)
	}
	err = g.Wait()
	p.Logger.Info("stopped")
	return err
}

// Close releases the database pool and flushes buffered spans.
func (p *Process) Close() {
	p.Pool.Close()
	shutdownTracer(p.tp)
}

// CheckURL rejects a setting that is not an absolute http(s) URL, naming the variable.
func CheckURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("configuration: %s must be an absolute http(s) URL", name)
	}
	return nil
}
