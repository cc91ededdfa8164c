package httpserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	tests := map[string]struct {
		ready    func(context.Context) error
		wantCode int
		wantBody string
	}{
		"ready":    {func(context.Context) error { return nil }, http.StatusOK, "ok"},
		"no check": {nil, http.StatusOK, "ok"},
		"down": {func(context.Context) error { return errors.New("dial 10.0.0.5:5432: refused") },
			http.StatusServiceUnavailable, "not ready\n"},
		"hung": {func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			http.StatusServiceUnavailable, "not ready\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, body := get(t, NewMux(reg, tt.ready), "/healthz")
			if code != tt.wantCode || body != tt.wantBody {
				t.Errorf("GET /healthz = %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestHealthzGivesTheCheckADeadline(t *testing.T) {
	t.Parallel()
	var deadline time.Time
	var ok bool
	mux := NewMux(prometheus.NewRegistry(), func(ctx context.Context) error {
		deadline, ok = ctx.Deadline()
		return nil
	})
	get(t, mux, "/healthz")
	if !ok || time.Until(deadline) > readyTimeout {
		t.Errorf("ready ctx deadline = %v (set %v), want within %v", deadline, ok, readyTimeout)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "webhooks_received_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	code, body := get(t, NewMux(reg, nil), "/metrics")
	if code != http.StatusOK || !strings.Contains(body, "webhooks_received_total 3") {
		t.Errorf("GET /metrics = %d, body lacks the counter:\n%s", code, body)
	}
	if code, _ := get(t, NewMux(reg, nil), "/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", code)
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	mux := NewMux(prometheus.NewRegistry(), nil)
	mux.HandleFunc("POST /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, NewServer(mux), lis, 5*time.Second) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+lis.Addr().String()+"/slow", "text/plain", nil)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-entered
	cancel()
	// Release the handler only once shutdown has closed the listener.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			break
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "done" {
		t.Errorf("in-flight request = %q, %v; want done", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestNewServerSetsLimits(t *testing.T) {
	t.Parallel()
	s := NewServer(http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("server limits unset: %+v", s)
	}
}
