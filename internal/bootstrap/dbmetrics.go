package bootstrap

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports pgxpool.Stat at scrape time. Reading the stats takes the pool's lock
// briefly and allocates nothing per connection, so scraping costs the pool nothing noticeable.
type poolCollector struct {
	pool  *pgxpool.Pool
	descs map[string]*prometheus.Desc
}

// poolMetrics are the exported series: name, help, and whether it is a counter.
var poolMetrics = []struct {
	name, help string
	counter    bool
	value      func(*pgxpool.Stat) float64
}{
	{"db_pool_max_conns", "Maximum size of the pool.", false, func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }},
	{"db_pool_total_conns", "Connections currently open (idle, acquired or being built).", false, func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }},
	{"db_pool_acquired_conns", "Connections currently in use.", false, func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }},
	{"db_pool_idle_conns", "Connections currently idle.", false, func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }},
	{"db_pool_constructing_conns", "Connections currently being established.", false, func(s *pgxpool.Stat) float64 { return float64(s.ConstructingConns()) }},
	{"db_pool_acquires_total", "Successful connection acquisitions.", true, func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }},
	{"db_pool_acquire_wait_seconds_total", "Time spent acquiring connections.", true, func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }},
	{"db_pool_empty_acquires_total", "Acquisitions that had to wait because no connection was idle.", true, func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }},
	{"db_pool_canceled_acquires_total", "Acquisitions abandoned because their context ended.", true, func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }},
	{"db_pool_new_conns_total", "Connections opened.", true, func(s *pgxpool.Stat) float64 { return float64(s.NewConnsCount()) }},
	{"db_pool_max_lifetime_destroys_total", "Connections closed for reaching their maximum lifetime.", true, func(s *pgxpool.Stat) float64 { return float64(s.MaxLifetimeDestroyCount()) }},
	{"db_pool_max_idle_destroys_total", "Connections closed for being idle too long.", true, func(s *pgxpool.Stat) float64 { return float64(s.MaxIdleDestroyCount()) }},
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	c := &poolCollector{pool: pool, descs: map[string]*prometheus.Desc{}}
	for _, m := range poolMetrics {
		c.descs[m.name] = prometheus.NewDesc(m.name, m.help, nil, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	for _, m := range poolMetrics {
		kind := prometheus.GaugeValue
		if m.counter {
			kind = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[m.name], kind, m.value(s))
	}
}
