package recordingdb_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingdb"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb"
)

// TestMetricsCountCommittedTransitions: a recording is counted once when it becomes stored and
// once when it becomes deleted, with its reason; repeating a step counts nothing.
func TestMetricsCountCommittedTransitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	customer := uuid.NewString()
	pk, err := keyringdb.Ensure(ctx, pool, kr, customer, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id,
		address_country, residency_country, allowed_subprocessors, create_by, create_time, update_time)
		VALUES ($1, 'Lakeside College', $2, $2, 'CA', 'CA', '{}', 'sales-1', now(), now())`, customer, pk.ID); err != nil {
		t.Fatal(err)
	}
	policy := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	reg := prometheus.NewPedanticRegistry()
	st := recordingdb.New(pool, kr, policy).WithMetrics(recording.NewMetrics(reg))
	now := time.Now().UTC().Truncate(time.Microsecond)
	check := func(step string, stored float64, deleted map[string]float64) {
		t.Helper()
		got := recordingSeries(t, reg)
		if got["stored"] != stored {
			t.Errorf("%s: recordings_stored_total = %v, want %v", step, got["stored"], stored)
		}
		for _, r := range recording.MetricReasons {
			if got[r] != deleted[r] {
				t.Errorf("%s: recordings_deleted_total{%s} = %v, want %v", step, r, got[r], deleted[r])
			}
		}
	}

	// Stored: a phone ticket names the call, so the copy has a customer key.
	callSID := metricsSID("CA")
	ts := tickets.NewService(ticketsdb.New(pool, kr), policy, tickets.DefaultSLA(), time.Now)
	if _, err := ts.CreateTicket(ctx, "agent-ann", tickets.NewTicket{
		CustomerID: customer, Channel: tickets.ChannelPhone, Subject: "Projector keeps rebooting",
		Contact: tickets.Contact{Title: "Head of IT"}, CallSID: callSID,
	}, ""); err != nil {
		t.Fatal(err)
	}
	rec := addRecording(t, st, callSID, now)
	if _, applied, err := st.ApplyCallback(ctx, recording.Callback{CallSID: callSID, RecordingSID: rec.RecordingSID,
		Status: recording.CallbackCompleted, DurationSeconds: 5}, uuid.NewString(), now); err != nil || !applied {
		t.Fatalf("ApplyCallback = %v, %v", applied, err)
	}
	copied, err := st.Copy(ctx, rec.ID, now, func(_ context.Context, r recording.Recording, _ recording.Sealer) (recording.Object, error) {
		sum := sha256.Sum256([]byte("audio"))
		return recording.Object{Key: r.ID, SizeBytes: 5, SHA256: sum[:]}, nil
	})
	if err != nil || copied.Status != recording.StatusCopied {
		t.Fatalf("Copy = %v, %v", copied.Status, err)
	}
	check("copied", 0, nil)
	for range 2 {
		if r, err := st.CarrierReleased(ctx, rec.ID, now); err != nil || r.Status != recording.StatusStored {
			t.Fatalf("CarrierReleased = %v, %v", r.Status, err)
		}
	}
	check("stored", 1, nil)

	// Deleted at a supervisor's request: counted when the store's copy is gone, once.
	if r, err := st.Delete(ctx, rec.ID, "sue", "the caller pat@example.test asked", now); err != nil || r.Status != recording.StatusDeleting {
		t.Fatalf("Delete = %v, %v", r.Status, err)
	}
	check("deleting", 1, nil)
	for range 2 {
		if r, err := st.ObjectDeleted(ctx, rec.ID, now); err != nil || r.Status != recording.StatusDeleted {
			t.Fatalf("ObjectDeleted = %v, %v", r.Status, err)
		}
	}
	check("deleted on request", 1, map[string]float64{recording.ReasonRequest: 1})

	// Opted out while recording: counted when the carrier's copy is gone.
	other := metricsSID("CA")
	rec2 := addRecording(t, st, other, now)
	if _, recs, err := st.OptOutCall(ctx, other, recording.ActorCaller, now); err != nil || len(recs) != 1 {
		t.Fatalf("OptOutCall = %v, %v", recs, err)
	}
	for range 2 {
		if r, err := st.CarrierReleased(ctx, rec2.ID, now); err != nil || r.Status != recording.StatusDeleted {
			t.Fatalf("CarrierReleased after opt-out = %v, %v", r.Status, err)
		}
	}
	check("deleted on opt-out", 1, map[string]float64{recording.ReasonRequest: 1, recording.ReasonOptOut: 1})
}

func addRecording(t *testing.T, st *recordingdb.Store, callSID string, now time.Time) recording.Recording {
	t.Helper()
	ctx := context.Background()
	if _, err := st.EnsureCall(ctx, callSID, now); err != nil {
		t.Fatal(err)
	}
	rec, err := st.AddRecording(ctx, recording.Recording{ID: uuid.Must(uuid.NewV7()).String(), CallSID: callSID, RecordingSID: metricsSID("RE")}, now)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func metricsSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// recordingSeries reads the recording counters ("stored", and each delete reason), checking
// that every label value is in its fixed set.
func recordingSeries(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "recordings_stored_total":
				out["stored"] = m.GetCounter().GetValue()
			case "recordings_deleted_total":
				i := slices.IndexFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == "reason" })
				if i < 0 || len(m.GetLabel()) != 1 || !slices.Contains(recording.MetricReasons, m.GetLabel()[i].GetValue()) {
					t.Fatalf("recordings_deleted_total has labels %v", m.GetLabel())
				}
				out[m.GetLabel()[i].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}
