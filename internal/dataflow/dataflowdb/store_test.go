package dataflowdb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

func statuses(m map[string][]dataflow.Delivery) map[string][]string {
	out := map[string][]string{}
	for p, ds := range m {
		for _, d := range ds {
			out[p] = append(out[p], string(d.Kind)+":"+string(d.Status))
		}
	}
	return out
}

func TestEnqueueDeliversAllowedAndRefusesTheRest(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	rec := ticketRecord(fx.customer, dataflow.ChannelPhone, false)
	fx.create(t, rec, []string{dataflow.CallMiner, dataflow.BlueOcean, dataflow.Google}, `{"subject":"cart"}`)

	sink := &recorder{}
	drain(t, dataflow.NewDispatcher(fx.store, allSinks(sink), dataflow.DispatchConfig{}, nil, time.Now))

	want := map[string][]string{
		dataflow.BlueOcean: {"record:delivered"},
		dataflow.CallMiner: {"record:delivered"},
		dataflow.Google:    {"record:refused"},
	}
	if diff := cmp.Diff(want, statuses(fx.deliveries(t, rec.ID))); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]auditEntry{{dataflow.Google, "refused"}}, fx.audit(t, rec.ID)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	var got []string
	for _, m := range sink.messages() {
		got = append(got, m.Subprocessor)
		if string(m.Payload) != `{"subject":"cart"}` || m.RecordKind != dataflow.KindTicket || m.Attempt != 1 {
			t.Errorf("message %+v: payload %s", m, m.Payload)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{dataflow.BlueOcean, dataflow.CallMiner}, got); diff != "" {
		t.Errorf("sent to (-want +got):\n%s", diff)
	}
	// A settled delivery keeps no copy of the payload.
	var copies int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_deliveries WHERE payload_ct IS NOT NULL`).Scan(&copies); err != nil || copies != 0 {
		t.Errorf("payload copies after delivery = %d (%v), want 0", copies, err)
	}
}

func TestPayloadIsSealed(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	rec := ticketRecord(fx.customer, dataflow.ChannelEmail, false)
	fx.create(t, rec, []string{dataflow.CallMiner}, `{"email":"canary@example.org"}`)
	var ct []byte
	if err := pool.QueryRow(context.Background(), `SELECT payload_ct FROM outbox_deliveries WHERE record_id = $1`, rec.ID).Scan(&ct); err != nil {
		t.Fatal(err)
	}
	if len(ct) == 0 || bytes.Contains(ct, []byte("canary")) {
		t.Fatalf("payload is not sealed: %q", ct)
	}
}

func TestRevocationCancelsQueuedAndRequestsDeletion(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	rec := ticketRecord(fx.customer, dataflow.ChannelPhone, false)
	fx.create(t, rec, []string{dataflow.CallMiner, dataflow.BlueOcean}, `{"n":1}`)
	sink := &recorder{}
	d := dataflow.NewDispatcher(fx.store, allSinks(sink), dataflow.DispatchConfig{}, nil, time.Now)
	drain(t, d)

	// A second copy is queued, then the caller opts out of recording.
	ctx := context.Background()
	err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
		return dataflowdb.Enqueue(ctx, tx, fx.dek, rec.ID, []string{dataflow.CallMiner}, []byte(`{"n":2}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	optOut := rec
	optOut.Facts.RecordingOptOut = true
	optOut.Allowed = policy.Decide(optOut.Facts).Allowed
	fx.retrack(t, optOut)

	want := map[string][]string{
		dataflow.BlueOcean: {"record:delivered"},
		dataflow.CallMiner: {"record:delivered", "record:cancelled", "deletion:pending"},
	}
	if diff := cmp.Diff(want, statuses(fx.deliveries(t, rec.ID))); diff != "" {
		t.Errorf("deliveries after opt-out (-want +got):\n%s", diff)
	}
	drain(t, d)
	want[dataflow.CallMiner][2] = "deletion:delivered"
	if diff := cmp.Diff(want, statuses(fx.deliveries(t, rec.ID))); diff != "" {
		t.Errorf("deliveries after dispatch (-want +got):\n%s", diff)
	}
	msgs := sink.messages()
	last := msgs[len(msgs)-1]
	if last.Subprocessor != dataflow.CallMiner || last.Kind != dataflow.DeliveryDeletion || last.Payload != nil || last.RecordID != rec.ID {
		t.Errorf("last message = %+v, want a payload-free deletion request to callminer", last)
	}
	if diff := cmp.Diff([]auditEntry{{dataflow.CallMiner, "cancelled"}, {dataflow.CallMiner, "deletion_requested"}}, fx.audit(t, rec.ID)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestSendTimeCheckRefuses(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	rec := ticketRecord(fx.customer, dataflow.ChannelEmail, false)
	fx.create(t, rec, []string{dataflow.CallMiner}, `{}`)
	// The list shrinks behind Track's back (say, a hand-made fix in the database): the queued
	// delivery was not cancelled, so only the send-time check stands between it and callminer.
	if _, err := pool.Exec(context.Background(), `UPDATE flow_records SET allowed_subprocessors = '{aws_us}' WHERE record_id = $1`, rec.ID); err != nil {
		t.Fatal(err)
	}
	sink := &recorder{}
	drain(t, dataflow.NewDispatcher(fx.store, allSinks(sink), dataflow.DispatchConfig{}, nil, time.Now))
	if n := len(sink.messages()); n != 0 {
		t.Fatalf("sent %d messages, want none", n)
	}
	if diff := cmp.Diff(map[string][]string{dataflow.CallMiner: {"record:refused"}}, statuses(fx.deliveries(t, rec.ID))); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]auditEntry{{dataflow.CallMiner, "refused"}}, fx.audit(t, rec.ID)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestRetriesWithBackoffThenDead(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	retryable := ticketRecord(fx.customer, dataflow.ChannelChat, false)
	fx.create(t, retryable, []string{dataflow.BlueOcean}, `{}`)
	permanent := ticketRecord(fx.customer, dataflow.ChannelChat, false)
	fx.create(t, permanent, []string{dataflow.Microsoft}, `{}`)

	clk := newClock()
	sink := &recorder{fail: func(m dataflow.Message) error {
		if m.Subprocessor == dataflow.Microsoft {
			return dataflow.Permanent(errors.New("HTTP 400"))
		}
		return errors.New("HTTP 503")
	}}
	cfg := dataflow.DispatchConfig{MaxAttempts: 3, BackoffBase: time.Second, BackoffMax: time.Minute}
	d := dataflow.NewDispatcher(fx.store, allSinks(sink), cfg, nil, clk.now)

	drain(t, d)
	if diff := cmp.Diff(map[string][]string{dataflow.Microsoft: {"record:dead"}}, statuses(fx.deliveries(t, permanent.ID))); diff != "" {
		t.Errorf("permanent failure (-want +got):\n%s", diff)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		ds := fx.deliveries(t, retryable.ID)[dataflow.BlueOcean]
		if len(ds) != 1 || ds[0].Attempts != attempt || ds[0].LastError != "HTTP 503" {
			t.Fatalf("after attempt %d: %+v", attempt, ds)
		}
		if attempt == 3 {
			if ds[0].Status != dataflow.StatusDead {
				t.Fatalf("after %d attempts status = %s, want dead", attempt, ds[0].Status)
			}
			break
		}
		// The retry is due between half and all of base·2^(n-1) after the failure.
		wait := ds[0].NextAttemptTime.Sub(clk.now())
		maxWait := time.Second << (attempt - 1)
		if ds[0].Status != dataflow.StatusPending || wait < maxWait/2-time.Millisecond || wait > maxWait+time.Millisecond {
			t.Fatalf("after attempt %d: status %s, retry in %v, want pending within [%v, %v]", attempt, ds[0].Status, wait, maxWait/2, maxWait)
		}
		drain(t, d) // not due yet: nothing happens
		if got := fx.deliveries(t, retryable.ID)[dataflow.BlueOcean][0].Attempts; got != attempt {
			t.Fatalf("a delivery was retried before it was due (attempts %d)", got)
		}
		clk.advance(maxWait + time.Millisecond)
		drain(t, d)
	}
	want := []auditEntry{{dataflow.BlueOcean, "dead"}}
	if diff := cmp.Diff(want, fx.audit(t, retryable.ID)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestErasedPayloadIsCancelled(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	rec := ticketRecord(fx.customer, dataflow.ChannelChat, false)
	fx.create(t, rec, []string{dataflow.BlueOcean}, `{"subject":"x"}`)
	if _, err := keyringdb.Destroy(context.Background(), pool, fx.customer, keyringdb.Personal); err != nil {
		t.Fatal(err)
	}
	sink := &recorder{}
	drain(t, dataflow.NewDispatcher(fx.store, allSinks(sink), dataflow.DispatchConfig{}, nil, time.Now))
	if len(sink.messages()) != 0 {
		t.Fatal("an erased payload was sent")
	}
	if diff := cmp.Diff(map[string][]string{dataflow.BlueOcean: {"record:cancelled"}}, statuses(fx.deliveries(t, rec.ID))); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

func TestBusyRecordIsReleasedNotSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	rec := ticketRecord(fx.customer, dataflow.ChannelPhone, false)
	fx.create(t, rec, []string{dataflow.CallMiner}, `{}`)

	// A fact change is in progress (uncommitted) while the dispatcher runs.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // committed below; the rollback is a no-op then
	optOut := rec
	optOut.Facts.RecordingOptOut = true
	optOut.Allowed = policy.Decide(optOut.Facts).Allowed
	if err := dataflowdb.Track(ctx, tx, optOut); err != nil {
		t.Fatal(err)
	}
	sink := &recorder{}
	d := dataflow.NewDispatcher(fx.store, allSinks(sink), dataflow.DispatchConfig{}, nil, time.Now)
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	ds := fx.deliveries(t, rec.ID)[dataflow.CallMiner]
	if len(sink.messages()) != 0 || ds[0].Status != dataflow.StatusPending || ds[0].Attempts != 0 {
		t.Fatalf("busy record: sent %d, delivery %+v; want nothing sent and the delivery released uncounted", len(sink.messages()), ds[0])
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	drain(t, d)
	if len(sink.messages()) != 0 {
		t.Fatal("sent to callminer after the opt-out committed")
	}
	if diff := cmp.Diff(map[string][]string{dataflow.CallMiner: {"record:cancelled"}}, statuses(fx.deliveries(t, rec.ID))); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

// TestLateCommitIsNotSkipped: a transaction that began before others and commits after the
// dispatcher has sent theirs still has its deliveries sent (the claim is a scan of pending
// rows, not a high-water mark that a late commit could fall behind).
func TestLateCommitIsNotSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	late := ticketRecord(fx.customer, dataflow.ChannelChat, false)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // committed below
	if err := dataflowdb.Track(ctx, tx, late); err != nil {
		t.Fatal(err)
	}
	if err := dataflowdb.Enqueue(ctx, tx, fx.dek, late.ID, []string{dataflow.BlueOcean}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	sink := &recorder{}
	d := dataflow.NewDispatcher(fx.store, allSinks(sink), dataflow.DispatchConfig{}, nil, time.Now)
	for range 3 {
		fx.create(t, ticketRecord(fx.customer, dataflow.ChannelChat, false), []string{dataflow.BlueOcean}, `{}`)
		drain(t, d)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	drain(t, d)
	if diff := cmp.Diff(map[string][]string{dataflow.BlueOcean: {"record:delivered"}}, statuses(fx.deliveries(t, late.ID))); diff != "" {
		t.Errorf("late deliveries (-want +got):\n%s", diff)
	}
	if n := len(sink.messages()); n != 4 {
		t.Errorf("sent %d messages, want 4", n)
	}
}

func TestLedgerReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	cf := dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "CA", MarketingConsent: true}
	customer := dataflow.Record{ID: fx.customer, Kind: dataflow.KindCustomer, CustomerID: fx.customer, Facts: cf, Allowed: policy.Decide(cf).Allowed}
	fx.retrack(t, customer)
	rec := ticketRecord(fx.customer, dataflow.ChannelEmail, false)
	fx.retrack(t, rec)

	got, err := fx.store.Record(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec.Facts, got.Facts); diff != "" || got.CustomerResidency != "CA" || !slices.Equal(got.Allowed, rec.Allowed) {
		t.Errorf("record = %+v (facts -want +got:\n%s)", got, diff)
	}
	if ds, err := fx.store.Deliveries(ctx, rec.ID); err != nil || len(ds) != 0 {
		t.Errorf("deliveries of a record with none = %v, %v", ds, err)
	}
	missing := uuid.NewString()
	if _, err := fx.store.Record(ctx, missing); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("Record(missing) = %v, want ErrNotFound", err)
	}
	if _, err := fx.store.Deliveries(ctx, missing); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("Deliveries(missing) = %v, want ErrNotFound", err)
	}
	// Facts are stored as JSON with the ledger's names.
	var raw []byte
	if err := pool.QueryRow(ctx, `SELECT facts FROM flow_records WHERE record_id = $1`, fx.customer).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m["residency_country"] != "CA" || m["kind"] != "customer" {
		t.Errorf("stored facts = %s", raw)
	}
}

func TestEnqueueNeedsTrack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
		return dataflowdb.Enqueue(ctx, tx, fx.dek, uuid.NewString(), []string{dataflow.BlueOcean}, []byte(`{}`))
	})
	if err == nil {
		t.Fatal("enqueue of an untracked record succeeded")
	}
}
