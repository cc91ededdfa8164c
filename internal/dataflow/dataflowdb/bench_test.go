package dataflowdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// BenchmarkDispatch measures the outbox: "outbox" is the dispatcher's throughput (claim, open,
// send to an in-process no-op sink, settle) over b.N queued deliveries; "insert_delete" is the
// floor any PostgreSQL queue pays, a raw INSERT and DELETE of the same rows, in the same run.
// Both report deliveries/s. `make bench` runs: go test -run '^$' -bench BenchmarkDispatch
// -benchtime 20000x ./internal/dataflow/dataflowdb
func BenchmarkDispatch(b *testing.B) {
	pool, _ := pgtest.NewDB(b)
	fx := newFixture(b, pool, newKeyring(b))
	ctx := context.Background()
	const perRecord = 4 // a ticket's typical fan-out
	processors := []string{dataflow.AWSUS, dataflow.BlueOcean, dataflow.CallMiner, dataflow.Microsoft}
	payload := []byte(`{"id":"0190f5d2-7a4e-7bb1-9c1e-3f1b2a4c5d6e","channel":"email","subject":"Tablet cart will not charge","priority":"normal"}`)

	b.Run("outbox", func(b *testing.B) {
		b.StopTimer()
		for i := 0; i < b.N; i += perRecord * 100 {
			err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
				for j := i; j < min(i+perRecord*100, b.N); j += perRecord {
					rec := ticketRecord(fx.customer, dataflow.ChannelEmail, false)
					if err := dataflowdb.Track(ctx, tx, rec); err != nil {
						return err
					}
					if err := dataflowdb.Enqueue(ctx, tx, fx.dek, rec.ID, processors[:min(perRecord, b.N-j)], payload); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		noop := dataflow.SinkFunc(func(context.Context, dataflow.Message) error { return nil })
		d := dataflow.NewDispatcher(fx.store, allSinks(noop), dataflow.DispatchConfig{BatchSize: 1000}, nil, time.Now)
		b.StartTimer()
		start := time.Now()
		sent := 0
		for {
			n, err := d.RunOnce(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
			sent += n
		}
		b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "deliveries/s")
	})

	b.Run("insert_delete", func(b *testing.B) {
		if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_queue (id uuid PRIMARY KEY, record_id uuid NOT NULL, subprocessor_id text NOT NULL, payload bytea)`); err != nil {
			b.Fatal(err)
		}
		ids := make([]string, b.N)
		recs := make([]string, b.N)
		procs := make([]string, b.N)
		payloads := make([][]byte, b.N)
		for i := range ids {
			ids[i], recs[i], procs[i], payloads[i] = uuid.NewString(), uuid.NewString(), processors[i%perRecord], payload
		}
		b.ResetTimer()
		start := time.Now()
		const batch = 1000
		for i := 0; i < b.N; i += batch {
			j := min(i+batch, b.N)
			if _, err := pool.Exec(ctx, `INSERT INTO bench_queue SELECT unnest($1::uuid[]), unnest($2::uuid[]), unnest($3::text[]), unnest($4::bytea[])`,
				ids[i:j], recs[i:j], procs[i:j], payloads[i:j]); err != nil {
				b.Fatal(err)
			}
		}
		for i := 0; i < b.N; i += batch {
			if _, err := pool.Exec(ctx, `DELETE FROM bench_queue WHERE id = ANY($1::uuid[])`, ids[i:min(i+batch, b.N)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
	})
}
