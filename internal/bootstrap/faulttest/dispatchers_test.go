package faulttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// idempotentSink stands for a processor that drops duplicates by delivery id. It counts every
// successful send per id, so a double send shows up even though the sink would absorb it; and
// it fails some first attempts so that retries run through the dispatchers too.
type idempotentSink struct {
	mu       sync.Mutex
	sent     map[string]int
	attempts map[string]int
}

func (s *idempotentSink) Deliver(_ context.Context, m dataflow.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[m.DeliveryID]++
	// Every fifth delivery fails its first attempt with a retryable error.
	if s.attempts[m.DeliveryID] == 1 && len(s.attempts)%5 == 0 {
		return errors.New("processor briefly unavailable")
	}
	s.sent[m.DeliveryID]++
	return nil
}

func (s *idempotentSink) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.sent))
	for k, v := range s.sent {
		out[k] = v
	}
	return out
}

// TestThreeDispatchersOneOutbox runs three dispatchers, each with its own pool as separate
// replicas would have, on one outbox: every delivery reaches the sink exactly once.
func TestThreeDispatchersOneOutbox(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	ctx := context.Background()
	kr := keyringtest.New(t)
	openPool := func() *pgxpool.Pool {
		pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	writer := openPool()

	// Enqueue the records' deliveries the way the domains do: tracked and enqueued in one
	// transaction, to every processor on the record's list.
	policy := dataflow.NewPolicy([]string{"US", "CA"})
	want := map[string]bool{}
	var recordIDs []string
	const records = 60
	for i := range records {
		customer := uuid.NewString()
		dek, err := keyringdb.Ensure(ctx, writer, kr, customer, keyringdb.Personal)
		if err != nil {
			t.Fatal(err)
		}
		channel := []string{"phone", "email", "chat"}[i%3]
		f := dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: channel}
		rec := dataflow.Record{ID: uuid.Must(uuid.NewV7()).String(), Kind: dataflow.KindTicket, CustomerID: customer, Facts: f, Allowed: policy.Decide(f).Allowed}
		if len(rec.Allowed) == 0 {
			t.Fatalf("policy allows no processor for a %s ticket", channel)
		}
		err = postgres.InTx(ctx, writer, func(tx pgx.Tx) error {
			if err := dataflowdb.Track(ctx, tx, rec); err != nil {
				return err
			}
			return dataflowdb.Enqueue(ctx, tx, dek, rec.ID, rec.Allowed, fmt.Appendf(nil, `{"n":%d}`, i))
		})
		if err != nil {
			t.Fatal(err)
		}
		recordIDs = append(recordIDs, rec.ID)
		ds, err := dataflowdb.New(writer, kr).Deliveries(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			want[d.ID] = true
		}
	}

	sink := &idempotentSink{sent: map[string]int{}, attempts: map[string]int{}}
	cfg := dataflow.DispatchConfig{
		// Small batches and short pauses make the three claim against each other constantly.
		BatchSize: 7, Concurrency: 4, PollInterval: 20 * time.Millisecond, Lease: 10 * time.Second,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var perDispatcher [3]atomic.Int64
	for i := range 3 {
		counted := dataflow.SinkFunc(func(ctx context.Context, m dataflow.Message) error {
			perDispatcher[i].Add(1)
			return sink.Deliver(ctx, m)
		})
		d := dataflow.NewDispatcher(dataflowdb.New(openPool(), kr), func(string) dataflow.Sink { return counted }, cfg, nil, time.Now)
		wg.Go(func() {
			if err := d.Run(runCtx); err != nil {
				t.Errorf("dispatcher: %v", err)
			}
		})
	}

	deadline := time.Now().Add(20 * time.Second)
	for len(sink.snapshot()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// A little longer, so that a late duplicate would have time to show.
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()

	sent := sink.snapshot()
	for id := range want {
		switch n := sent[id]; n {
		case 1:
		case 0:
			t.Errorf("delivery %s was lost", id)
		default:
			t.Errorf("delivery %s was sent %d times", id, n)
		}
	}
	for id := range sent {
		if !want[id] {
			t.Errorf("sink received unknown delivery %s", id)
		}
	}
	// The outbox agrees: every delivery is settled as delivered, none left pending or dead.
	store := dataflowdb.New(writer, kr)
	for _, id := range recordIDs {
		ds, err := store.Deliveries(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Status != dataflow.StatusDelivered {
				t.Errorf("delivery %s is %s after the run, want delivered", d.ID, d.Status)
			}
		}
	}
	// The test means something only if the three really competed for the same rows.
	for i := range perDispatcher {
		if perDispatcher[i].Load() == 0 {
			t.Errorf("dispatcher %d sent nothing: the dispatchers did not share the work", i)
		}
	}
	t.Logf("attempts per dispatcher: %d %d %d", perDispatcher[0].Load(), perDispatcher[1].Load(), perDispatcher[2].Load())
	t.Logf("%d deliveries of %d records through 3 dispatchers", len(want), records)
}
