// Package httpserver serves the HTTP side of both processes: /healthz, /metrics and the
// webhooks each service adds, with timeouts that a slow or hostile client cannot hold open,
// optional TLS, and optional tracing.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// readyTimeout bounds a readiness probe so that a hung dependency reads as not ready instead of
// piling up probe requests.
const readyTimeout = 2 * time.Second

// NewMux returns a mux serving GET /healthz (200 "ok" when ready returns nil within two
// seconds, 503 otherwise) and GET /metrics from gatherer. ready may be nil for always ready.
// Callers add their own routes to it.
func NewMux(gatherer prometheus.Gatherer, ready func(context.Context) error) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if ready != nil {
			// The reason stays out of the response: /healthz is reachable by anyone who
			// can reach the webhooks.
			if err := ready(ctx); err != nil {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}

// NewServer returns an http.Server for handler with timeouts and a header size limit set.
// WriteTimeout also bounds how long a webhook handler may take.
func NewServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// Serve serves srv on lis until ctx is done, then shuts down: requests in flight get up to
// grace to finish before the remaining connections are closed. It returns nil after a clean
// shutdown, and an error if serving failed or the grace period ran out.
func Serve(ctx context.Context, srv *http.Server, lis net.Listener, grace time.Duration) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	select {
	case err := <-served:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}

	// ctx is already done; the shutdown deadline must not inherit it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	var drainErr error
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		drainErr = fmt.Errorf("http shutdown: requests still running after %s; connections closed", grace)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", err)
	}
	return drainErr
}

// Traced wraps h so that every request but the probes and metrics scrapes gets a server span
// from tp. The span is named after the mux pattern ("POST /twilio/voice"), never the raw path,
// so ids in paths stay out of span names.
func Traced(h http.Handler, tp trace.TracerProvider) http.Handler {
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithFilter(func(r *http.Request) bool {
			return r.URL.Path != "/healthz" && r.URL.Path != "/metrics"
		}),
	)
}

// TLSListener wraps lis so that srv serves HTTPS with cfg (HTTP/2 and HTTP/1.1 offered).
func TLSListener(lis net.Listener, cfg *tls.Config) net.Listener {
	cfg = cfg.Clone()
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	return tls.NewListener(lis, cfg)
}
