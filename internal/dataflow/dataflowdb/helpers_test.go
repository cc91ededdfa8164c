package dataflowdb_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres"
)

var policy = dataflow.NewPolicy(dataflow.DefaultNorthAmerica)

// newKeyring is a keyring with a random master key; keyringFrom opens one whose key a test
// must hand on (a child process sharing the parent's keyring).
var newKeyring = keyringtest.New

func keyringFrom(t testing.TB, master string) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(keyring.Config{MasterKey: master, MasterKeyID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// fixture is a database with one customer's data key.
type fixture struct {
	pool     *pgxpool.Pool
	kr       *keyring.Keyring
	store    *dataflowdb.Store
	customer string
	dek      *keyring.DataKey
}

func newFixture(t testing.TB, pool *pgxpool.Pool, kr *keyring.Keyring) fixture {
	t.Helper()
	customer := uuid.NewString()
	dek, err := keyringdb.Ensure(context.Background(), pool, kr, customer, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{pool: pool, kr: kr, store: dataflowdb.New(pool, kr), customer: customer, dek: dek}
}

func ticketRecord(customer, channel string, optOut bool) dataflow.Record {
	f := dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: channel, RecordingOptOut: optOut}
	return dataflow.Record{ID: uuid.Must(uuid.NewV7()).String(), Kind: dataflow.KindTicket, CustomerID: customer, Facts: f, Allowed: policy.Decide(f).Allowed}
}

// create tracks rec and enqueues payload to processors in one transaction.
func (fx fixture) create(t testing.TB, rec dataflow.Record, processors []string, payload string) {
	t.Helper()
	ctx := context.Background()
	err := postgres.InTx(ctx, fx.pool, func(tx pgx.Tx) error {
		if err := dataflowdb.Track(ctx, tx, rec); err != nil {
			return err
		}
		return dataflowdb.Enqueue(ctx, tx, fx.dek, rec.ID, processors, []byte(payload))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// retrack records a fact change of rec.
func (fx fixture) retrack(t testing.TB, rec dataflow.Record) {
	t.Helper()
	ctx := context.Background()
	if err := postgres.InTx(ctx, fx.pool, func(tx pgx.Tx) error { return dataflowdb.Track(ctx, tx, rec) }); err != nil {
		t.Fatal(err)
	}
}

func (fx fixture) deliveries(t testing.TB, recordID string) map[string][]dataflow.Delivery {
	t.Helper()
	ds, err := fx.store.Deliveries(context.Background(), recordID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]dataflow.Delivery{}
	for _, d := range ds {
		out[d.Subprocessor] = append(out[d.Subprocessor], d)
	}
	return out
}

type auditEntry struct {
	Subprocessor, Action string
}

func (fx fixture) audit(t testing.TB, recordID string) []auditEntry {
	t.Helper()
	rows, err := fx.pool.Query(context.Background(), `SELECT subprocessor_id, action FROM flow_audit WHERE record_id = $1 ORDER BY subprocessor_id, action`, recordID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditEntry, error) {
		var a auditEntry
		err := r.Scan(&a.Subprocessor, &a.Action)
		return a, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// recorder is an in-process sink that remembers every message it was given.
type recorder struct {
	mu   sync.Mutex
	msgs []dataflow.Message
	fail func(dataflow.Message) error
}

func (r *recorder) Deliver(_ context.Context, m dataflow.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return err
		}
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) messages() []dataflow.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dataflow.Message(nil), r.msgs...)
}

func allSinks(s dataflow.Sink) dataflow.SinkFor { return func(string) dataflow.Sink { return s } }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// drain runs the dispatcher until a batch claims nothing.
func drain(t testing.TB, d *dataflow.Dispatcher) {
	t.Helper()
	for range 10_000 {
		n, err := d.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("dispatcher did not drain")
}
