package dataflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/dataflow"
)

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	b := dataflow.Backoff{Base: time.Second, Max: 30 * time.Second}
	for attempt := 1; attempt <= 12; attempt++ {
		want := min(time.Second<<(attempt-1), 30*time.Second)
		lo, hi := b.Delay(attempt, func() float64 { return 0 }), b.Delay(attempt, func() float64 { return 0.999999 })
		if lo != want/2 || hi > want || hi < want-want/1000 {
			t.Errorf("attempt %d: delay in [%v, %v], want [%v, %v]", attempt, lo, hi, want/2, want)
		}
		for range 100 {
			if d := b.Delay(attempt, nil); d < want/2 || d > want {
				t.Fatalf("attempt %d: jittered delay %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

// fakeStore is a DispatchStore of func fields over fixed claims and checks.
type fakeStore struct {
	claims   []dataflow.Claim
	checks   []dataflow.Check
	mu       sync.Mutex
	outcomes []dataflow.Outcome
}

func (f *fakeStore) Claim(context.Context, int, time.Time, time.Time) ([]dataflow.Claim, error) {
	c := f.claims
	f.claims = nil
	return c, nil
}

func (f *fakeStore) Settle(ctx context.Context, claims []dataflow.Claim, _ time.Time, decide func(context.Context, []dataflow.Check) []dataflow.Outcome) error {
	out := decide(ctx, f.checks)
	f.mu.Lock()
	f.outcomes = out
	f.mu.Unlock()
	return nil
}

func claim(id, processor string, kind dataflow.DeliveryKind, attempts int) dataflow.Claim {
	return dataflow.Claim{Delivery: dataflow.Delivery{ID: id, RecordID: "r-" + id, Subprocessor: processor, Kind: kind, Attempts: attempts},
		RecordKind: dataflow.KindTicket, Payload: []byte(`{}`)}
}

func TestDispatcherDecides(t *testing.T) {
	t.Parallel()
	listed := []string{dataflow.BlueOcean, dataflow.Microsoft}
	erased := claim("erased", dataflow.BlueOcean, dataflow.DeliveryRecord, 1)
	erased.Erased, erased.Payload = true, nil
	store := &fakeStore{
		claims: []dataflow.Claim{
			claim("ok", dataflow.BlueOcean, dataflow.DeliveryRecord, 1),
			claim("unlisted", dataflow.CallMiner, dataflow.DeliveryRecord, 1),
			claim("deletion", dataflow.CallMiner, dataflow.DeliveryDeletion, 1),
			claim("settled", dataflow.BlueOcean, dataflow.DeliveryRecord, 1),
			claim("busy", dataflow.BlueOcean, dataflow.DeliveryRecord, 1),
			claim("retry", dataflow.Microsoft, dataflow.DeliveryRecord, 1),
			claim("last", dataflow.Microsoft, dataflow.DeliveryRecord, 3),
			erased,
			claim("nosink", dataflow.Salesforce, dataflow.DeliveryRecord, 1),
		},
		checks: []dataflow.Check{
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: false, Known: true, Allowed: listed},
			{Pending: true, Busy: true, Known: true},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: listed},
			{Pending: true, Known: true, Allowed: []string{dataflow.Salesforce}},
		},
	}
	var mu sync.Mutex
	var sent []string
	ok := dataflow.SinkFunc(func(_ context.Context, m dataflow.Message) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, m.DeliveryID)
		if m.Kind == dataflow.DeliveryRecord && string(m.Payload) != `{}` {
			t.Errorf("payload of %s = %s", m.DeliveryID, m.Payload)
		}
		return nil
	})
	failing := dataflow.SinkFunc(func(context.Context, dataflow.Message) error { return errors.New("HTTP 503") })
	sinks := dataflow.SinkMap(map[string]dataflow.Sink{dataflow.BlueOcean: ok, dataflow.CallMiner: ok, dataflow.Microsoft: failing})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	d := dataflow.NewDispatcher(store, sinks, dataflow.DispatchConfig{MaxAttempts: 3, BackoffBase: time.Second}, nil, func() time.Time { return now })
	if n, err := d.RunOnce(context.Background()); err != nil || n != 9 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	got := map[string]string{}
	for _, o := range store.outcomes {
		if o.Status == "" { // settled elsewhere: left alone
			continue
		}
		s := string(o.Status)
		if o.Release {
			s = "released"
		}
		if o.Audit != "" {
			s += " (audited)"
		}
		got[o.ID] = s
	}
	want := map[string]string{
		"ok": "delivered", "unlisted": "refused (audited)", "deletion": "delivered",
		"busy": "released", "retry": "pending", "last": "dead (audited)",
		"erased": "cancelled (audited)", "nosink": "pending",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	for _, o := range store.outcomes {
		if o.ID == "retry" && (o.NextAttemptTime.Before(now.Add(500*time.Millisecond)) || o.NextAttemptTime.After(now.Add(time.Second))) {
			t.Errorf("retry due at %v, want within [+0.5s, +1s]", o.NextAttemptTime.Sub(now))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2 {
		t.Errorf("sent %v, want ok and deletion", sent)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	d := dataflow.NewDispatcher(&fakeStore{}, dataflow.SinkMap(nil), dataflow.DispatchConfig{PollInterval: time.Millisecond}, nil, time.Now)
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil on cancellation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// FuzzPseudonymise: whatever comes in, only allow-listed keys come out, identifiers are hashed,
// and nothing panics.
func FuzzPseudonymise(f *testing.F) {
	f.Add(`{"id":"x","email":"a@b.c","status":"open","country":"US","net_minor":5}`)
	f.Add(`[1,2]`)
	f.Add(`{"channel":{"nested":"Edna"},"create_time":"2025-01-01T00:00:00Z"}`)
	allowed := map[string]bool{"id": true, "record_id": true, "customer_id": true, "ticket_id": true, "order_id": true, "payment_id": true,
		"reseller_id": true, "kind": true, "channel": true, "status": true, "priority": true, "order_channel": true, "stripe_entity": true,
		"residency_country": true, "country": true, "currency": true, "marketing_consent": true, "has_reseller": true,
		"recording_opt_out": true, "may_contact": true, "line_count": true, "net_minor": true, "vat_minor": true,
		"gross_minor": true, "create_time": true, "update_time": true}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := dataflow.Pseudonymise([]byte(in), func(string) string { return "HASH" })
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("output is not an object: %s", out)
		}
		for k, v := range m {
			if !allowed[k] {
				t.Fatalf("key %q passed", k)
			}
			switch v.(type) {
			case map[string]any, []any:
				t.Fatalf("nested value under %q passed", k)
			}
		}
	})
}
