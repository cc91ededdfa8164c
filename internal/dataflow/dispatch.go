package dataflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// DispatchConfig tunes the outbox dispatcher. The env tags are the settings' names; zero
// values take the defaults.
type DispatchConfig struct {
	// BatchSize is how many deliveries one claim takes.
	BatchSize int `env:"OUTBOX_BATCH_SIZE, default=500"`
	// MaxAttempts parks a delivery as dead after this many failed attempts.
	MaxAttempts int `env:"OUTBOX_MAX_ATTEMPTS, default=12"`
	// PollInterval is the pause after a claim that found nothing to do.
	PollInterval time.Duration `env:"OUTBOX_POLL_INTERVAL, default=500ms"`
	// Lease is how long a claimed delivery stays invisible to other dispatchers: a dispatcher
	// that dies mid-batch has its deliveries claimed again once the lease runs out. It must be
	// longer than a batch takes to send (sinks have their own, shorter timeouts).
	Lease time.Duration `env:"OUTBOX_LEASE, default=60s"`
	// Concurrency is how many deliveries of a batch are in flight at once.
	Concurrency int `env:"OUTBOX_CONCURRENCY, default=16"`
	// BackoffBase and BackoffMax bound the retry delays (see Backoff).
	BackoffBase time.Duration `env:"OUTBOX_BACKOFF_BASE, default=2s"`
	BackoffMax  time.Duration `env:"OUTBOX_BACKOFF_MAX, default=1h"`
}

func (c DispatchConfig) withDefaults() DispatchConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 12
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.Lease <= 0 {
		c.Lease = 60 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 2 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = time.Hour
	}
	return c
}

// Claim is one delivery that a dispatcher has leased.
type Claim struct {
	Delivery   Delivery
	RecordKind Kind
	// Payload is the opened payload (nil for deletion requests).
	Payload []byte
	// Erased is true when the payload's data key was destroyed: the data is gone and the
	// delivery can never be sent.
	Erased bool
	// OpenError is set when the payload could not be opened for another reason.
	OpenError string
}

// Check is the state of a claimed delivery at send time, read while the record's ledger entry
// is held stable (no fact change can commit until the batch is settled).
type Check struct {
	// Pending is false when the delivery was settled meanwhile (cancelled by a revocation, or
	// sent by another dispatcher after this one's lease ran out): it is left alone.
	Pending bool
	// Busy is true when the record is being changed right now: the delivery is released and
	// tried again once the change committed.
	Busy bool
	// Known is false when the record is not in the ledger.
	Known bool
	// Allowed is the record's current list.
	Allowed []string
}

// Outcome is what the dispatcher decided for one claimed delivery.
type Outcome struct {
	ID     string
	Status Status
	// NextAttemptTime is when a pending (retried) delivery is due again.
	NextAttemptTime time.Time
	// Error is the failure to record (never personal data).
	Error string
	// Audit, when set, is written to the flow audit trail with the status as its action.
	Audit string
	// Release gives a delivery back without counting the attempt (its record was busy).
	Release bool
}

// DispatchStore is the outbox as the dispatcher needs it.
type DispatchStore interface {
	// Claim leases up to limit deliveries that are due at now, counting an attempt on each and
	// making them invisible to other claims until leaseUntil.
	Claim(ctx context.Context, limit int, now, leaseUntil time.Time) ([]Claim, error)
	// Settle holds the ledger entries of the claims' records stable, reads their current lists
	// into one Check per claim, calls decide, and records its outcomes, all atomically: a fact
	// change of a record cannot commit between the check and the recorded outcome.
	Settle(ctx context.Context, claims []Claim, now time.Time, decide func(ctx context.Context, checks []Check) []Outcome) error
}

// Dispatcher sends the outbox's deliveries through the processors' sinks. Many dispatchers (one
// per replica) can run on the same outbox: claims never overlap while a lease holds.
type Dispatcher struct {
	store   DispatchStore
	sinks   SinkFor
	cfg     DispatchConfig
	log     *slog.Logger
	now     func() time.Time
	rnd     func() float64
	notify  chan struct{}
	metrics *DispatchMetrics
}

// NewDispatcher returns a dispatcher. sinks returns each processor's sink; a processor without
// one has its deliveries retried (and eventually parked as dead) rather than dropped. A nil
// logger discards logs.
func NewDispatcher(store DispatchStore, sinks SinkFor, cfg DispatchConfig, logger *slog.Logger, now func() time.Time) *Dispatcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		store: store, sinks: sinks, cfg: cfg.withDefaults(), log: logger, now: now,
		notify: make(chan struct{}, 1),
	}
}

// WithMetrics makes d count its settled deliveries in m (nil counts nothing) and returns d.
// Call it before Run.
func (d *Dispatcher) WithMetrics(m *DispatchMetrics) *Dispatcher {
	d.metrics = m
	return d
}

// Notify wakes a polling dispatcher early (for example on a LISTEN/NOTIFY signal).
func (d *Dispatcher) Notify() {
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx is done and then returns nil. A failing claim or settle is logged
// and retried after the poll interval: the outbox keeps everything until it is settled.
func (d *Dispatcher) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-d.notify:
		}
		n, err := d.RunOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			d.log.ErrorContext(ctx, "outbox dispatch failed", "error", err)
			timer.Reset(d.cfg.PollInterval)
		case n >= d.cfg.BatchSize:
			// A full batch means more is probably waiting: go on without pausing.
			timer.Reset(0)
		default:
			timer.Reset(d.cfg.PollInterval)
		}
	}
}

// RunOnce claims and settles one batch and returns how many deliveries it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	now := d.now().UTC()
	claims, err := d.store.Claim(ctx, d.cfg.BatchSize, now, now.Add(d.cfg.Lease))
	if err != nil {
		return 0, fmt.Errorf("claim deliveries: %w", err)
	}
	if len(claims) == 0 {
		return 0, nil
	}
	var outcomes []Outcome
	err = d.store.Settle(ctx, claims, now, func(ctx context.Context, checks []Check) []Outcome {
		outcomes = d.decide(ctx, claims, checks)
		return outcomes
	})
	if err != nil {
		return len(claims), fmt.Errorf("settle deliveries: %w", err)
	}
	// Counted only once committed: a failed settle leaves the deliveries pending.
	d.metrics.settled(claims, outcomes)
	return len(claims), nil
}

// decide applies the gateway's rules to each claim and sends what may go. It is the one place
// that decides whether data leaves: the list it checks is the record's list at send time.
func (d *Dispatcher) decide(ctx context.Context, claims []Claim, checks []Check) []Outcome {
	out := make([]Outcome, len(claims))
	var toSend []int
	for i, c := range claims {
		ch := checks[i]
		id := c.Delivery.ID
		switch {
		case !ch.Pending:
			out[i] = Outcome{ID: id} // settled elsewhere; Status "" means leave it
		case ch.Busy:
			out[i] = Outcome{ID: id, Status: StatusPending, Release: true}
		case !ch.Known:
			out[i] = Outcome{ID: id, Status: StatusRefused, Audit: "the record is not in the flow ledger"}
		case c.Delivery.Kind == DeliveryDeletion:
			// A deletion request carries only the id and kind: it may go to a processor that is
			// no longer allowed, which is its whole point.
			toSend = append(toSend, i)
		case !slices.Contains(ch.Allowed, c.Delivery.Subprocessor):
			out[i] = Outcome{ID: id, Status: StatusRefused, Audit: "not on the record's allowed list at send time"}
		case c.Erased:
			out[i] = Outcome{ID: id, Status: StatusCancelled, Audit: "the record's personal data was erased before it was sent"}
		case c.OpenError != "":
			out[i] = Outcome{ID: id, Status: StatusDead, Error: c.OpenError, Audit: "payload cannot be opened"}
		default:
			toSend = append(toSend, i)
		}
	}
	d.send(ctx, claims, toSend, out)
	return out
}

// send delivers the claims at idx concurrently and fills in their outcomes.
func (d *Dispatcher) send(ctx context.Context, claims []Claim, idx []int, out []Outcome) {
	if len(idx) == 0 {
		return
	}
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, i := range idx {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = d.deliver(ctx, claims[i])
		}()
	}
	wg.Wait()
}

func (d *Dispatcher) deliver(ctx context.Context, c Claim) Outcome {
	dl := c.Delivery
	sink := d.sinks(dl.Subprocessor)
	var err error
	if sink == nil {
		err = fmt.Errorf("no sink configured for %s", dl.Subprocessor)
	} else {
		err = sink.Deliver(ctx, Message{
			DeliveryID: dl.ID, RecordID: dl.RecordID, RecordKind: c.RecordKind, Kind: dl.Kind,
			Subprocessor: dl.Subprocessor, Attempt: dl.Attempts, Payload: c.Payload,
		})
	}
	if err == nil {
		return Outcome{ID: dl.ID, Status: StatusDelivered}
	}
	msg := err.Error()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// Shutting down is not the receiver's fault: give the delivery back uncounted.
		return Outcome{ID: dl.ID, Status: StatusPending, Release: true}
	}
	if IsPermanent(err) || dl.Attempts >= d.cfg.MaxAttempts {
		d.log.WarnContext(ctx, "outbox delivery dead", "delivery_id", dl.ID, "subprocessor", dl.Subprocessor, "attempts", dl.Attempts, "error", msg)
		return Outcome{ID: dl.ID, Status: StatusDead, Error: msg, Audit: "delivery failed: " + msg}
	}
	next := d.now().UTC().Add(Backoff{Base: d.cfg.BackoffBase, Max: d.cfg.BackoffMax}.Delay(dl.Attempts, d.rnd))
	return Outcome{ID: dl.ID, Status: StatusPending, NextAttemptTime: next, Error: msg}
}
