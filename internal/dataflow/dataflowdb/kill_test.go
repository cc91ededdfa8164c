package dataflowdb_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowsink"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// Environment of the dispatcher subprocess (the test binary re-executing itself).
const (
	childDBEnv     = "DATAFLOWDB_CHILD_DATABASE_URL"
	childKeyEnv    = "DATAFLOWDB_CHILD_MASTER_KEY"
	childSinkEnv   = "DATAFLOWDB_CHILD_SINK_URL"
	childSecretEnv = "DATAFLOWDB_CHILD_SINK_SECRET"
)

// TestMain runs the dispatcher process of TestKilledDispatcher when the test binary is
// re-executed as that subprocess, and the tests otherwise.
func TestMain(m *testing.M) {
	if dbURL := os.Getenv(childDBEnv); dbURL != "" {
		if err := runDispatcherChild(dbURL); err != nil {
			fmt.Fprintln(os.Stderr, "dispatcher subprocess:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runDispatcherChild dispatches until the parent kills the process.
func runDispatcherChild(dbURL string) error {
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 4})
	if err != nil {
		return err
	}
	defer pool.Close()
	kr, err := keyring.New(keyring.Config{MasterKey: os.Getenv(childKeyEnv), MasterKeyID: "test"})
	if err != nil {
		return err
	}
	sink := dataflowsink.NewWebhook(os.Getenv(childSinkEnv), []byte(os.Getenv(childSecretEnv)), nil)
	cfg := dataflow.DispatchConfig{BatchSize: 50, Lease: 2 * time.Second, PollInterval: 20 * time.Millisecond, Concurrency: 8, BackoffBase: 50 * time.Millisecond}
	d := dataflow.NewDispatcher(dataflowdb.New(pool, kr), allSinks(sink), cfg, nil, time.Now)
	return d.Run(ctx)
}

// idempotentReceiver is a webhook receiver that verifies signatures and applies each delivery
// id once, however often it arrives.
type idempotentReceiver struct {
	secret []byte
	mu     sync.Mutex
	seen   map[string]int // delivery id -> times received
	// blockAt, when reached, makes that request hang (closing blocked) until release closes.
	blockAt int
	total   int
	blocked chan struct{}
	release chan struct{}
	bad     int
}

func (r *idempotentReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if dataflowsink.Verify(r.secret, req.Header.Get(dataflowsink.HeaderTimestamp), body, req.Header.Get(dataflowsink.HeaderSignature), time.Now(), time.Minute) != nil {
		r.mu.Lock()
		r.bad++
		r.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var env dataflowsink.Envelope
	_ = json.Unmarshal(body, &env)
	r.mu.Lock()
	r.seen[env.DeliveryID]++
	r.total++
	block := r.total == r.blockAt
	r.mu.Unlock()
	if block {
		close(r.blocked)
		<-r.release
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *idempotentReceiver) snapshot() (map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = v
	}
	return out, r.bad
}

// TestKilledDispatcher kills the dispatcher process with SIGKILL in the middle of a batch (a
// receiver holds one request of the batch open, so sends happened that were not yet recorded),
// restarts it, and checks that every committed delivery arrives, that nothing of rolled-back
// transactions does, and that the receiver applies each delivery id once.
func TestKilledDispatcher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, dbURL := pgtest.NewDB(t)
	raw := make([]byte, keyring.KeySize)
	_, _ = rand.Read(raw)
	masterKey := base64.StdEncoding.EncodeToString(raw)
	kr := keyringFrom(t, masterKey)
	fx := newFixture(t, pool, kr)

	recv := &idempotentReceiver{secret: []byte("test-secret-0123456789"), seen: map[string]int{}, blockAt: 120,
		blocked: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-recv.release:
		default:
			close(recv.release)
		}
	})

	const records, perTx = 400, 20
	rolledBack := map[string]bool{}
	for i := 0; i < records; i += perTx {
		for _, commit := range []bool{true, false} {
			var ids []string
			err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
				for range perTx {
					rec := ticketRecord(fx.customer, dataflow.ChannelEmail, false)
					ids = append(ids, rec.ID)
					if err := dataflowdb.Track(ctx, tx, rec); err != nil {
						return err
					}
					if err := dataflowdb.Enqueue(ctx, tx, fx.dek, rec.ID, []string{dataflow.BlueOcean}, []byte(`{}`)); err != nil {
						return err
					}
				}
				if !commit {
					return errRollback
				}
				return nil
			})
			if commit && err != nil {
				t.Fatal(err)
			}
			if !commit {
				for _, id := range ids {
					rolledBack[id] = true
				}
			}
		}
	}
	committed := map[string]bool{}
	rows, err := pool.Query(ctx, `SELECT id FROM outbox_deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) != records {
		t.Fatalf("committed deliveries = %d (%v), want %d", len(ids), err, records)
	}
	for _, id := range ids {
		committed[id] = true
	}

	start := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), childDBEnv+"="+dbURL, childKeyEnv+"="+masterKey,
			childSinkEnv+"="+srv.URL, childSecretEnv+"="+string(recv.secret))
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := start()
	select {
	case <-recv.blocked:
	case <-time.After(60 * time.Second):
		_ = first.Process.Kill()
		t.Fatal("the dispatcher never reached the blocking request")
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	_ = first.Wait()
	close(recv.release)

	second := start()
	defer func() { _ = second.Process.Kill(); _ = second.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var pending int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox_deliveries WHERE status <> 'delivered'`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still not delivered after the restart", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}

	seen, bad := recv.snapshot()
	if bad != 0 {
		t.Errorf("%d requests had a bad signature", bad)
	}
	lost, redelivered := 0, 0
	for id := range committed {
		switch n := seen[id]; {
		case n == 0:
			lost++
		case n > 1:
			redelivered++
		}
	}
	for id := range seen {
		if !committed[id] {
			t.Errorf("delivery %s was received but never committed", id)
		}
	}
	if lost != 0 {
		t.Errorf("%d committed deliveries were lost", lost)
	}
	if len(seen) != len(committed) {
		t.Errorf("receiver applied %d distinct deliveries, want %d (each once)", len(seen), len(committed))
	}
	var fromRolledBack int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM flow_records WHERE record_id = ANY($1::uuid[])`, keys(rolledBack)).Scan(&fromRolledBack); err != nil || fromRolledBack != 0 {
		t.Errorf("rolled-back records in the ledger = %d (%v)", fromRolledBack, err)
	}
	// At least the batch that was cut off is sent again; the receiver drops the duplicates.
	if redelivered == 0 {
		t.Error("no delivery was sent twice: the kill did not land mid-batch")
	}
	t.Logf("%d deliveries, %d received more than once and applied once", len(committed), redelivered)
}

var errRollback = errors.New("rolled back on purpose")

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
