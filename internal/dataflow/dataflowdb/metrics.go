package dataflowdb

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// collectTimeout bounds the scrape-time query: a slow database must not hang /metrics.
const collectTimeout = 2 * time.Second

// pendingQuery reads the backlog per processor. The partial index outbox_deliveries_due covers
// exactly the pending rows, so the cost follows the backlog, not the table's history. The age
// uses the database's clock, which wrote create_time.
const pendingQuery = `SELECT subprocessor_id, count(*), extract(epoch FROM now() - min(create_time))::float8
FROM outbox_deliveries WHERE status = 'pending' GROUP BY subprocessor_id`

// Collector exports the outbox backlog at scrape time: outbox_pending{processor} and
// outbox_oldest_pending_seconds. When the query fails those series are left out and
// outbox_collect_errors_total counts the failure.
type Collector struct {
	pool    *pgxpool.Pool
	pending *prometheus.Desc
	oldest  *prometheus.Desc
	errs    *prometheus.Desc
	nerrs   atomic.Uint64
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns the backlog collector on pool.
func NewCollector(pool *pgxpool.Pool) *Collector {
	return &Collector{
		pool: pool,
		pending: prometheus.NewDesc("outbox_pending",
			"Outbox deliveries not yet settled (due, leased or waiting to retry), by processor.", []string{"processor"}, nil),
		oldest: prometheus.NewDesc("outbox_oldest_pending_seconds",
			"Age of the oldest pending outbox delivery; 0 when none is pending.", nil, nil),
		errs: prometheus.NewDesc("outbox_collect_errors_total",
			"Scrapes whose outbox backlog query failed.", nil, nil),
	}
}

// RegisterMetrics registers the collector on pool with reg; a nil reg registers nothing.
func RegisterMetrics(reg prometheus.Registerer, pool *pgxpool.Pool) error {
	if reg == nil {
		return nil
	}
	return reg.Register(NewCollector(pool))
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.oldest
	ch <- c.errs
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counts, oldest, err := c.read()
	if err != nil {
		c.nerrs.Add(1)
	} else {
		for _, p := range dataflow.ProcessorLabels() {
			ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, counts[p], p)
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest)
	}
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(c.nerrs.Load()))
}

func (c *Collector) read() (map[string]float64, float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	rows, err := c.pool.Query(ctx, pendingQuery)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	counts := map[string]float64{}
	var oldest float64
	for rows.Next() {
		var (
			id  string
			n   int64
			age float64
		)
		if err := rows.Scan(&id, &n, &age); err != nil {
			return nil, 0, err
		}
		counts[dataflow.ProcessorLabel(id)] += float64(n)
		oldest = max(oldest, age)
	}
	return counts, oldest, rows.Err()
}
