package dataflowdb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

func TestCheckDirectCall(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	phone := ticketRecord(fx.customer, dataflow.ChannelPhone, false)
	fx.create(t, phone, nil, "")
	unknown := uuid.Must(uuid.NewV7()).String()

	tests := []struct {
		name      string
		record    string
		processor string
		wantAudit []auditEntry
	}{
		{"on the list", phone.ID, dataflow.Twilio, nil},
		{"off the list", phone.ID, dataflow.Google, []auditEntry{{dataflow.Google, "refused"}}},
		{"not in the ledger", unknown, dataflow.Twilio, []auditEntry{{dataflow.Twilio, "refused"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var checked error
			// The refusal is returned after the transaction, so that its audit entry commits.
			err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
				checked = dataflowdb.Check(ctx, tx, tt.record, tt.processor)
				var pre *apperr.PreconditionError
				if errors.As(checked, &pre) {
					return nil
				}
				return checked
			})
			if err != nil {
				t.Fatal(err)
			}
			var pre *apperr.PreconditionError
			if refused := errors.As(checked, &pre); refused != (tt.wantAudit != nil) {
				t.Errorf("Check = %v, want refused %v", checked, tt.wantAudit != nil)
			}
			var got []auditEntry
			for _, a := range fx.audit(t, tt.record) {
				if a.Subprocessor == tt.processor {
					got = append(got, a)
				}
			}
			if diff := cmp.Diff(tt.wantAudit, got); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckHoldsTheListUntilTheCallEnds(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	fx := newFixture(t, pool, newKeyring(t))
	rec := ticketRecord(fx.customer, dataflow.ChannelPhone, false)
	fx.create(t, rec, nil, "")
	ctx := context.Background()

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := dataflowdb.Check(ctx, tx, rec.ID, dataflow.Twilio); err != nil {
		t.Fatal(err)
	}
	// A fact change that drops the processor must wait for the checked call's transaction.
	changed := make(chan error, 1)
	go func() {
		email := rec
		email.Facts.TicketChannel = dataflow.ChannelEmail
		email.Allowed = policy.Decide(email.Facts).Allowed
		changed <- postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return dataflowdb.Track(ctx, tx, email) })
	}()
	// pg_stat_activity shows the Track blocked on the entry's lock, while the call's
	// transaction is open.
	waiting := func() bool {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'
			  AND query LIKE '%FROM flow_records WHERE record_id%FOR UPDATE%'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	deadline := time.Now().Add(10 * time.Second)
	for !waiting() {
		select {
		case err := <-changed:
			t.Fatalf("Track committed while a checked call was in flight (err %v)", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("Track is not waiting on the checked record")
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
}
