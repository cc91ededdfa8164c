package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// TracingConfig reads the standard OpenTelemetry variables that decide whether and where spans
// go. Tracing is off unless OTEL_TRACES_EXPORTER=otlp or an OTLP endpoint is set. The
// exporter reads the rest (OTEL_EXPORTER_OTLP_HEADERS, _CERTIFICATE, _TIMEOUT, _INSECURE)
// and the SDK reads OTEL_TRACES_SAMPLER/_ARG and OTEL_RESOURCE_ATTRIBUTES from the process
// environment itself.
type TracingConfig struct {
	Exporter       string `env:"OTEL_TRACES_EXPORTER"`
	Endpoint       string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	TracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	Protocol       string `env:"OTEL_EXPORTER_OTLP_PROTOCOL"`
	TracesProtocol string `env:"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"`
	ServiceName    string `env:"OTEL_SERVICE_NAME"`
	Disabled       bool   `env:"OTEL_SDK_DISABLED"`
}

// Enabled reports whether spans are exported, following the OpenTelemetry SDK rules.
func (c TracingConfig) Enabled() bool {
	if c.Disabled || c.Exporter == "none" {
		return false
	}
	return c.Exporter == "otlp" || c.Endpoint != "" || c.TracesEndpoint != ""
}

// newTracerProvider returns the SDK provider exporting over OTLP, or nil when tracing is off.
func newTracerProvider(ctx context.Context, cfg TracingConfig, service string) (*sdktrace.TracerProvider, error) {
	switch cfg.Exporter {
	case "", "otlp", "none":
	default:
		return nil, fmt.Errorf("configuration: OTEL_TRACES_EXPORTER must be otlp or none, got %q", cfg.Exporter)
	}
	if !cfg.Enabled() {
		return nil, nil
	}
	protocol := cfg.TracesProtocol
	if protocol == "" {
		protocol = cfg.Protocol
	}
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "http/protobuf":
		var opts []otlptracehttp.Option
		if ep, err := tracesURL(cfg, true); err != nil {
			return nil, err
		} else if ep != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(ep))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	case "grpc":
		var opts []otlptracegrpc.Option
		if ep, err := tracesURL(cfg, false); err != nil {
			return nil, err
		} else if ep != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(ep))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("configuration: OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf, got %q", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("configuration: OTLP trace exporter: %w", err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = service
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithAttributes(attribute.String("service.name", name)))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("configuration: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(redactingExporter{next: exp}),
		sdktrace.WithResource(res),
	), nil
}

// tracesURL is the endpoint to pass explicitly (the configuration may come from a lookup
// function rather than the process environment). The generic endpoint gets the per-signal
// path appended for HTTP, as the OTLP specification says; the traces endpoint is used as is.
func tracesURL(cfg TracingConfig, http bool) (string, error) {
	if cfg.TracesEndpoint != "" {
		return cfg.TracesEndpoint, checkEndpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", cfg.TracesEndpoint)
	}
	if cfg.Endpoint == "" {
		return "", nil
	}
	if err := checkEndpoint("OTEL_EXPORTER_OTLP_ENDPOINT", cfg.Endpoint); err != nil {
		return "", err
	}
	if !http {
		return cfg.Endpoint, nil
	}
	return strings.TrimSuffix(cfg.Endpoint, "/") + "/v1/traces", nil
}

func checkEndpoint(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("configuration: %s must be an absolute http(s) URL", name)
	}
	return nil
}

// tracerOrNoop is what services get from Process.Tracer: never nil.
func tracerOrNoop(tp *sdktrace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return tracenoop.NewTracerProvider()
	}
	return tp
}

// allowedAttributes is the allow-list of span and event attributes that leave the process.
// Instrumentation libraries add attributes over time (client addresses, user agents, URL paths
// and queries: all potentially personal data); an allow-list means a new one stays in until
// someone has looked at it, instead of leaking until someone notices.
var allowedAttributes = map[attribute.Key]bool{
	"rpc.system": true, "rpc.system.name": true, "rpc.service": true, "rpc.method": true,
	"rpc.grpc.status_code": true, "rpc.response.status_code": true,
	"server.address": true, "server.port": true,
	"http.request.method": true, "http.response.status_code": true, "http.route": true,
	"url.scheme": true, "network.protocol.name": true, "network.protocol.version": true,
	"error.type": true, "exception.type": true,
	"db.system": true, "db.system.name": true, "db.operation.name": true,
	"messaging.system": true, "messaging.operation.name": true,
}

// redactingExporter strips every attribute not on the allow-list before export. Span names
// and status descriptions pass: they are method names, mux patterns and gRPC status texts,
// which are free of personal data by apperr's contract.
type redactingExporter struct{ next sdktrace.SpanExporter }

func (e redactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	stubs := tracetest.SpanStubsFromReadOnlySpans(spans)
	for i := range stubs {
		stubs[i].Attributes = allowed(stubs[i].Attributes)
		for j := range stubs[i].Events {
			stubs[i].Events[j].Attributes = allowed(stubs[i].Events[j].Attributes)
		}
		for j := range stubs[i].Links {
			stubs[i].Links[j].Attributes = allowed(stubs[i].Links[j].Attributes)
		}
	}
	return e.next.ExportSpans(ctx, stubs.Snapshots())
}

func (e redactingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

func allowed(attrs []attribute.KeyValue) []attribute.KeyValue {
	out := attrs[:0:0]
	for _, a := range attrs {
		if allowedAttributes[a.Key] {
			out = append(out, a)
		}
	}
	return out
}
