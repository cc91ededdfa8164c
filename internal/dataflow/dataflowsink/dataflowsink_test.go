package dataflowsink_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowsink"
)

var secret = []byte("0123456789abcdef-secret")

func message() dataflow.Message {
	return dataflow.Message{DeliveryID: "0190f5d2-0000-7000-8000-000000000001", RecordID: "0190f5d2-0000-7000-8000-0000000000aa",
		RecordKind: dataflow.KindTicket, Kind: dataflow.DeliveryRecord, Subprocessor: dataflow.BlueOcean, Attempt: 1,
		Payload: json.RawMessage(`{"subject":"cart"}`)}
}

func TestWebhookSignsAndCarriesDeliveryID(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got struct {
		headers http.Header
		body    []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.headers, got.body = r.Header.Clone(), body
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	if err := dataflowsink.NewWebhook(srv.URL, secret, nil).Deliver(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	h := got.headers
	if h.Get(dataflowsink.HeaderDeliveryID) != message().DeliveryID {
		t.Errorf("delivery id header = %q", h.Get(dataflowsink.HeaderDeliveryID))
	}
	if err := dataflowsink.Verify(secret, h.Get(dataflowsink.HeaderTimestamp), got.body, h.Get(dataflowsink.HeaderSignature), time.Now(), time.Minute); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if err := dataflowsink.Verify([]byte("another-secret-0000"), h.Get(dataflowsink.HeaderTimestamp), got.body, h.Get(dataflowsink.HeaderSignature), time.Now(), time.Minute); err == nil {
		t.Error("signature verifies under the wrong secret")
	}
	tampered := []byte(strings.Replace(string(got.body), "cart", "cast", 1))
	if err := dataflowsink.Verify(secret, h.Get(dataflowsink.HeaderTimestamp), tampered, h.Get(dataflowsink.HeaderSignature), time.Now(), time.Minute); err == nil {
		t.Error("signature verifies a tampered body")
	}
	if err := dataflowsink.Verify(secret, h.Get(dataflowsink.HeaderTimestamp), got.body, h.Get(dataflowsink.HeaderSignature), time.Now().Add(time.Hour), time.Minute); err == nil {
		t.Error("a stale signature verifies")
	}
	var env dataflowsink.Envelope
	if err := json.Unmarshal(got.body, &env); err != nil {
		t.Fatal(err)
	}
	want := dataflowsink.Envelope{DeliveryID: message().DeliveryID, RecordID: message().RecordID, RecordKind: "ticket", Kind: "record",
		Subprocessor: dataflow.BlueOcean, Attempt: 1, Payload: json.RawMessage(`{"subject":"cart"}`)}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
}

func TestWebhookErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		wantErr   bool
		permanent bool
	}{
		{http.StatusOK, false, false},
		{http.StatusNoContent, false, false},
		{http.StatusBadRequest, true, true},
		{http.StatusForbidden, true, true},
		{http.StatusNotFound, true, true},
		{http.StatusRequestTimeout, true, false},
		{http.StatusTooManyRequests, true, false},
		{http.StatusInternalServerError, true, false},
		{http.StatusServiceUnavailable, true, false},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte("canary@example.org said no")) // never echoed into errors
		}))
		err := dataflowsink.NewWebhook(srv.URL, secret, nil).Deliver(context.Background(), message())
		srv.Close()
		if (err != nil) != tt.wantErr || dataflow.IsPermanent(err) != tt.permanent {
			t.Errorf("HTTP %d: err = %v (permanent %v), want error %v permanent %v", tt.status, err, dataflow.IsPermanent(err), tt.wantErr, tt.permanent)
		}
		if err != nil && strings.Contains(err.Error(), "canary") {
			t.Errorf("HTTP %d: error echoes the response body: %v", tt.status, err)
		}
	}
}

func TestWebhookTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	err := dataflowsink.NewWebhook(srv.URL+"/hook?token=canary", secret, &http.Client{Timeout: 50 * time.Millisecond}).Deliver(context.Background(), message())
	if err == nil || dataflow.IsPermanent(err) {
		t.Fatalf("timeout: err = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "canary") {
		t.Errorf("error names the URL: %v", err)
	}
}

// TestPseudonymisedHoldsNoPII sends a payload full of canary personal data through the mixpanel
// wrapper: only hashed ids and allow-listed facts may come out.
func TestPseudonymisedHoldsNoPII(t *testing.T) {
	t.Parallel()
	canaries := []string{"Edna Krabappel", "canary@example.org", "+1 555 0100", "19 Evergreen Terrace", "Springfield",
		"Head of IT", "whiteboard flickers", "0190f5d2-0000-7000-8000-0000000000aa", "0190f5d2-0000-7000-8000-0000000000cc"}
	payload := `{
		"id": "0190f5d2-0000-7000-8000-0000000000aa", "customer_id": "0190f5d2-0000-7000-8000-0000000000cc",
		"org_name": "Springfield", "name": "Edna Krabappel", "contact": {"name": "Edna Krabappel", "email": "canary@example.org"},
		"email": "canary@example.org", "phone": "+1 555 0100", "address": {"lines": ["19 Evergreen Terrace"]},
		"title": "Head of IT", "subject": "whiteboard flickers", "description": "whiteboard flickers",
		"channel": "Edna Krabappel", "status": "canary@example.org", "priority": "high",
		"residency_country": "Springfield", "country": "US", "kind": "customer", "marketing_consent": true,
		"create_time": "2025-01-02T03:04:05Z", "net_minor": 1200, "tags": ["Edna Krabappel"]
	}`
	var got dataflow.Message
	inner := dataflow.SinkFunc(func(_ context.Context, m dataflow.Message) error { got = m; return nil })
	hash := func(v string) string { return "h(" + v[len(v)-2:] + ")" }
	m := message()
	m.Subprocessor, m.Payload = dataflow.Mixpanel, json.RawMessage(payload)
	if err := dataflowsink.Pseudonymised(inner, hash).Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(got.Payload, &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "h(aa)", "customer_id": "h(cc)", "priority": "high", "country": "US", "kind": "customer",
		"marketing_consent": true, "create_time": "2025-01-02T03:04:05Z", "net_minor": float64(1200),
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("projection (-want +got):\n%s", diff)
	}
	sent := string(got.Payload) + got.RecordID
	for _, c := range canaries {
		if strings.Contains(sent, c) {
			t.Errorf("projection leaks %q: %s", c, sent)
		}
	}
	if got.RecordID != "h(aa)" || got.DeliveryID != m.DeliveryID {
		t.Errorf("ids: record %q delivery %q", got.RecordID, got.DeliveryID)
	}
}

func TestLogSinkLogsNoPayload(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	var mu sync.Mutex
	h := slogHandler(&buf, &mu)
	m := message()
	m.Payload = json.RawMessage(`{"email":"canary@example.org"}`)
	if err := dataflowsink.NewLog(h).Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), m.DeliveryID) || strings.Contains(buf.String(), "canary") {
		t.Errorf("log line = %s", buf.String())
	}
}
