package bootstrap

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestWithTimeouts(t *testing.T) {
	t.Parallel()
	tm := DatabaseTimeouts{Statement: 1500 * time.Millisecond, Connect: 2500 * time.Millisecond}
	tests := map[string]struct{ in, want string }{
		"url": {"postgres://u:p@db:5432/cc?sslmode=require",
			"postgres://u:p@db:5432/cc?connect_timeout=3&sslmode=require&statement_timeout=1500"},
		"url keeps explicit settings": {"postgresql://db/cc?statement_timeout=0&connect_timeout=9",
			"postgresql://db/cc?connect_timeout=9&statement_timeout=0"},
		"keyword form":  {"host=db dbname=cc", "host=db dbname=cc statement_timeout=1500 connect_timeout=3"},
		"keyword keeps": {"host=db statement_timeout=10", "host=db statement_timeout=10 connect_timeout=3"},
		"malformed url": {"postgres://[::1", "postgres://[::1"},
	}
	for name, tt := range tests {
		if got := withTimeouts(tt.in, tm); got != tt.want {
			t.Errorf("%s: withTimeouts(%q) = %q, want %q", name, tt.in, got, tt.want)
		}
	}
	if got := withTimeouts("postgres://db/cc", DatabaseTimeouts{}); got != "postgres://db/cc" {
		t.Errorf("zero timeouts changed the URL to %q", got)
	}
}

func TestTracingEnabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  TracingConfig
		want bool
	}{
		{TracingConfig{}, false},
		{TracingConfig{Endpoint: "http://collector:4318"}, true},
		{TracingConfig{TracesEndpoint: "http://collector:4318/v1/traces"}, true},
		{TracingConfig{Exporter: "otlp"}, true},
		{TracingConfig{Exporter: "none", Endpoint: "http://collector:4318"}, false},
		{TracingConfig{Disabled: true, Exporter: "otlp"}, false},
	}
	for _, tt := range tests {
		if got := tt.cfg.Enabled(); got != tt.want {
			t.Errorf("%+v.Enabled() = %v, want %v", tt.cfg, got, tt.want)
		}
	}
	ctx := context.Background()
	if tp, err := newTracerProvider(ctx, TracingConfig{}, "svc"); tp != nil || err != nil {
		t.Errorf("tracing with no configuration = %v, %v; want off", tp, err)
	}
	for _, bad := range []TracingConfig{
		{Exporter: "zipkin"},
		{Endpoint: "collector:4318"},
		{Exporter: "otlp", Protocol: "http/json"},
	} {
		if _, err := newTracerProvider(ctx, bad, "svc"); err == nil || !strings.HasPrefix(err.Error(), "configuration: OTEL_") {
			t.Errorf("newTracerProvider(%+v) = %v, want a configuration error naming the variable", bad, err)
		}
	}
	for _, proto := range []string{"grpc", "http/protobuf"} {
		tp, err := newTracerProvider(ctx, TracingConfig{Endpoint: "http://127.0.0.1:1", Protocol: proto}, "svc")
		if err != nil || tp == nil {
			t.Fatalf("OTLP %s: %v, %v; want a provider", proto, tp, err)
		}
		shutdownTracer(tp)
	}
}

func TestRedactingExporterKeepsOnlyAllowedAttributes(t *testing.T) {
	t.Parallel()
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(redactingExporter{next: mem}))
	_, span := tp.Tracer("t").Start(context.Background(), "POST /twilio/voice", trace.WithAttributes(
		attribute.String("http.request.method", "POST"),
		attribute.String("http.route", "/twilio/voice"),
		attribute.String("url.path", "/twilio/voice/CA123"),
		attribute.String("url.query", "From=+15551234567"),
		attribute.String("client.address", "203.0.113.7"),
		attribute.String("user_agent.original", "TwilioProxy/1.1"),
	))
	span.AddEvent("exception", trace.WithAttributes(
		attribute.String("exception.type", "*pgconn.PgError"),
		attribute.String("exception.message", "duplicate key (email)=(jane@example.com)"),
	))
	span.End() // the syncer exports here; shutting down would clear the in-memory exporter

	spans := mem.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("exported %d spans, want 1", len(spans))
	}
	var got []string
	for _, a := range spans[0].Attributes {
		got = append(got, string(a.Key))
	}
	for _, a := range spans[0].Events[0].Attributes {
		got = append(got, "event:"+string(a.Key))
	}
	want := []string{"http.request.method", "http.route", "event:exception.type"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exported attributes (-want +got):\n%s", diff)
	}
}

func TestCertReloaderPicksUpRenewal(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := pki.serverPair(t, "first")
	writePair(t, certFile, keyFile, first)

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: discardLogger(), now: func() time.Time { return now }}
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		c, err := r.getCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.Subject.CommonName
	}
	if got := serial(); got != "first" {
		t.Fatalf("serving %q, want first", got)
	}

	// A half-written renewal keeps the old pair.
	future := time.Now().Add(time.Hour)
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERT"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(certFile, future, future)
	now = now.Add(2 * reloadCheckEvery)
	if got := serial(); got != "first" {
		t.Errorf("after a broken renewal serving %q, want the previous pair", got)
	}

	second := pki.serverPair(t, "second")
	writePair(t, certFile, keyFile, second)
	later := future.Add(time.Hour)
	_ = os.Chtimes(certFile, later, later)
	_ = os.Chtimes(keyFile, later, later)
	if got := serial(); got != "first" {
		t.Errorf("reloaded before the check interval: serving %q", got)
	}
	now = now.Add(2 * reloadCheckEvery)
	if got := serial(); got != "second" {
		t.Errorf("after renewal serving %q, want second", got)
	}
}

func TestServerTLSConfiguration(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	writePair(t, certFile, keyFile, pki.serverPair(t, "server"))
	if err := os.WriteFile(caFile, pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	log := discardLogger()

	g, h, err := serverTLS(TLSConfig{}, log)
	if g != nil || h != nil || err != nil {
		t.Errorf("no TLS settings: %v %v %v, want plaintext", g, h, err)
	}
	g, h, err = serverTLS(TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}, log)
	if err != nil {
		t.Fatal(err)
	}
	if g.ClientAuth != tls.RequireAndVerifyClientCert || h.ClientAuth != tls.NoClientCert {
		t.Errorf("client auth gRPC=%v HTTP=%v, want required on gRPC only", g.ClientAuth, h.ClientAuth)
	}
	for name, bad := range map[string]TLSConfig{
		"cert only":   {CertFile: certFile},
		"ca only":     {ClientCAFile: caFile},
		"missing":     {CertFile: filepath.Join(dir, "nope"), KeyFile: keyFile},
		"ca not pem":  {CertFile: certFile, KeyFile: keyFile, ClientCAFile: keyFile + "x"},
		"key as cert": {CertFile: keyFile, KeyFile: keyFile},
	} {
		if _, _, err := serverTLS(bad, log); err == nil || !strings.HasPrefix(err.Error(), "configuration: ") {
			t.Errorf("%s: err = %v, want a configuration error", name, err)
		}
	}
}
