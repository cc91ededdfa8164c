// Package bootstrap builds and serves what both services share: configuration loading, the
// logger, the database pool, the keyring, token verification, metrics, the gRPC server with its
// interceptors, health and reflection, and the HTTP listener. Each cmd adds its own services.
package bootstrap

import (
	"context"
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
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
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
	Name     string
	Logger   *slog.Logger
	Pool     *pgxpool.Pool
	Keyring  *keyring.Keyring
	Policy   dataflow.Policy
	Registry *prometheus.Registry
	GRPC     *grpc.Server
	Health   *health.Server
	// Mux serves /healthz and /metrics; services add their webhooks to it.
	Mux   *http.ServeMux
	grace time.Duration
	jobs  []func(context.Context) error
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
	pool, err := postgres.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, hs := grpcserver.New(logger, verifier, reg, cfg.GRPC)
	mux := httpserver.NewMux(reg, func(ctx context.Context) error { return pool.Ping(ctx) })
	return &Process{
		Name: name, Logger: logger, Pool: pool, Keyring: kr,
		Policy:   dataflow.NewPolicy(cfg.StorefrontCountries),
		Registry: reg, GRPC: srv, Health: hs, Mux: mux, grace: cfg.ShutdownGrace,
	}, nil
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

// Addrs are the bound listener addresses, reported once the process serves.
type Addrs struct {
	GRPC net.Addr
	HTTP net.Addr
}

// Serve listens on both addresses and serves until ctx is done, then stops gracefully:
// health turns NOT_SERVING, in-flight RPCs and requests finish within the grace period.
// ready, if not nil, is called with the bound addresses (tests listen on :0).
func (p *Process) Serve(ctx context.Context, grpcAddr, httpAddr string, ready func(Addrs)) error {
	var lc net.ListenConfig
	grpcLis, err := lc.Listen(ctx, "tcp", grpcAddr)
	if err != nil {
		return fmt.Errorf("listen gRPC: %w", err)
	}
	httpLis, err := lc.Listen(ctx, "tcp", httpAddr)
	if err != nil {
		_ = grpcLis.Close()
		return fmt.Errorf("listen HTTP: %w", err)
	}
	for name := range p.GRPC.GetServiceInfo() {
		p.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	p.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return grpcserver.Serve(ctx, p.GRPC, grpcLis, p.Health, p.grace) })
	g.Go(func() error { return httpserver.Serve(ctx, httpserver.NewServer(p.Mux), httpLis, p.grace) })
	for _, job := range p.jobs {
		g.Go(func() error { return job(ctx) })
	}
	p.Logger.Info("serving", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String())
	if ready != nil {
		ready(Addrs{GRPC: grpcLis.Addr(), HTTP: httpLis.Addr()})
	}
	err = g.Wait()
	p.Logger.Info("stopped")
	return err
}

// Close releases the database pool.
func (p *Process) Close() { p.Pool.Close() }

// CheckURL rejects a setting that is not an absolute http(s) URL, naming the variable.
func CheckURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("configuration: %s must be an absolute http(s) URL", name)
	}
	return nil
}
