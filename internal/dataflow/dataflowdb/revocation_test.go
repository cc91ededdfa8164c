package dataflowdb_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// soakRecordsEnv raises the record count of TestNoDeliveryOffTheList: the full run is
// DATAFLOW_SOAK_RECORDS=100000 go test -run TestNoDeliveryOffTheList ./internal/dataflow/dataflowdb
// (several minutes on two cores); make test uses the default, 10,000.
const soakRecordsEnv = "DATAFLOW_SOAK_RECORDS"

func randomFacts(r *rand.Rand, kind dataflow.Kind) dataflow.Facts {
	channels := []string{dataflow.ChannelPhone, dataflow.ChannelEmail, dataflow.ChannelChat, dataflow.ChannelFieldForm, dataflow.ChannelErrorReport}
	countries := []string{"US", "CA", "NL", "DE", "IE", "GB", "CH", "BR"}
	switch kind {
	case dataflow.KindTicket:
		return dataflow.Facts{Kind: kind, TicketChannel: channels[r.IntN(len(channels))], RecordingOptOut: r.IntN(2) == 0}
	default:
		return dataflow.Facts{Kind: kind, ResidencyCountry: countries[r.IntN(len(countries))], MarketingConsent: r.IntN(2) == 0, HasReseller: r.IntN(3) == 0}
	}
}

// TestNoDeliveryOffTheList generates records, enqueues each to every processor in the registry,
// and changes their facts (revocations included) while two dispatchers send. A sink that reads
// the record's committed list at the moment it receives a message counts every message to a
// processor not on that list: there must be none.
func TestNoDeliveryOffTheList(t *testing.T) {
	t.Parallel()
	n := 10_000
	if v := os.Getenv(soakRecordsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("%s=%q is not a positive count", soakRecordsEnv, v)
		}
	}
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	r := rand.New(rand.NewPCG(1, uint64(n)))

	var all []string
	for _, p := range dataflow.Registry() {
		all = append(all, p.ID)
	}
	recs := make([]dataflow.Record, n)
	for i := range recs {
		kind := dataflow.KindTicket
		if i%3 == 0 {
			kind = dataflow.KindCustomer
		}
		f := randomFacts(r, kind)
		recs[i] = dataflow.Record{ID: uuid.Must(uuid.NewV7()).String(), Kind: kind, CustomerID: fx.customer, Facts: f, Allowed: policy.Decide(f).Allowed}
	}
	const perTx = 100
	begin := time.Now()
	for i := 0; i < n; i += perTx {
		err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
			for _, rec := range recs[i:min(i+perTx, n)] {
				if err := dataflowdb.Track(ctx, tx, rec); err != nil {
					return err
				}
				if err := dataflowdb.Enqueue(ctx, tx, fx.dek, rec.ID, all, []byte(`{}`)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Logf("enqueued in %v", time.Since(begin))
	var sent, violations atomic.Int64
	check := dataflow.SinkFunc(func(ctx context.Context, m dataflow.Message) error {
		sent.Add(1)
		if m.Kind == dataflow.DeliveryDeletion {
			return nil
		}
		var allowed []string
		if err := pool.QueryRow(ctx, `SELECT allowed_subprocessors FROM flow_records WHERE record_id = $1`, m.RecordID).Scan(&allowed); err != nil {
			return err
		}
		if !slices.Contains(allowed, m.Subprocessor) {
			violations.Add(1)
		}
		return nil
	})
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 {
		d := dataflow.NewDispatcher(fx.store, allSinks(check), dataflow.DispatchConfig{BatchSize: 200, PollInterval: 10 * time.Millisecond}, nil, time.Now)
		wg.Go(func() { _ = d.Run(runCtx) })
	}

	// Fact changes race the dispatchers: each flips facts of random records, revoking or
	// granting processors, in small transactions.
	changes := n / 2
	const changesPerTx = 20
	for done := 0; done < changes; done += changesPerTx {
		err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
			for range changesPerTx {
				i := r.IntN(n)
				rec := recs[i]
				rec.Facts = randomFacts(r, rec.Kind)
				rec.Allowed = policy.Decide(rec.Facts).Allowed
				if err := dataflowdb.Track(ctx, tx, rec); err != nil {
					return err
				}
				recs[i] = rec
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("changed in %v", time.Since(begin))
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var pending int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox_deliveries WHERE status = 'pending'`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()

	if v := violations.Load(); v != 0 {
		t.Errorf("%d of %d messages went to a processor not on the record's list at send time", v, sent.Load())
	}
	var cancelled, refused, deletions int
	err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'cancelled'), count(*) FILTER (WHERE status = 'refused'),
		count(*) FILTER (WHERE kind = 'deletion') FROM outbox_deliveries`).Scan(&cancelled, &refused, &deletions)
	if err != nil {
		t.Fatal(err)
	}
	// The run must have exercised what it claims to: revocations before and after sending.
	if refused == 0 || cancelled+deletions == 0 {
		t.Errorf("refused %d, cancelled %d, deletion requests %d: the run did not exercise revocations", refused, cancelled, deletions)
	}
	t.Logf("%d records, %d changes: %d messages sent, %d refused, %d cancelled, %d deletion requests", n, changes, sent.Load(), refused, cancelled, deletions)
}
