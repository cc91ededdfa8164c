package httpserver

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTracedNamesSpansByPatternAndSkipsProbes(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	mux := NewMux(prometheus.NewRegistry(), nil)
	mux.HandleFunc("POST /twilio/voice/{call}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := Traced(mux, tp)

	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/twilio/voice/CA0123?From=%2B15551234567", nil),
		httptest.NewRequest(http.MethodGet, "/healthz", nil),
		httptest.NewRequest(http.MethodGet, "/metrics", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	// The path's call id stays out of the span name; probes and scrapes are not traced.
	if diff := cmp.Diff([]string{"POST /twilio/voice/{call}"}, names); diff != "" {
		t.Errorf("span names (-want +got):\n%s", diff)
	}
}
