package privacy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
)

// Limits on the request's text fields.
const (
	maxReasonLen    = 500
	maxRequestIDLen = 200
)

// Config holds what operators tune. Zero fields take DefaultConfig's values.
type Config struct {
	// Lease is how long a replica owns a RUNNING erasure before another may resume it.
	Lease time.Duration
	// ResumeEvery and PurgeEvery pace the background jobs.
	ResumeEvery time.Duration
	PurgeEvery  time.Duration
	// Batch bounds how many erasures one pass of a job handles.
	Batch int
	// StepTimeout bounds one erasure's run of steps inside a request.
	StepTimeout time.Duration
	// AfterStep, when set, is called after each committed step. Tests use it to kill the
	// process between steps; production leaves it nil.
	AfterStep func(id string, step Step)
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Lease: time.Minute, ResumeEvery: 30 * time.Second, PurgeEvery: time.Hour, Batch: 20, StepTimeout: 2 * time.Minute}
}

// Service carries out erasures and exports.
type Service struct {
	store Store
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
}

// NewService returns a Service on store. logger may be nil; now is injectable for tests.
func NewService(store Store, cfg Config, logger *slog.Logger, now func() time.Time) *Service {
	def := DefaultConfig()
	if cfg.Lease <= 0 {
		cfg.Lease = def.Lease
	}
	if cfg.ResumeEvery <= 0 {
		cfg.ResumeEvery = def.ResumeEvery
	}
	if cfg.PurgeEvery <= 0 {
		cfg.PurgeEvery = def.PurgeEvery
	}
	if cfg.Batch <= 0 {
		cfg.Batch = def.Batch
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = def.StepTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, cfg: cfg, log: logger, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// RequestErasure erases customer in.CustomerID's data that may go and holds what the law keeps.
// The request is committed first (RUNNING) and its steps then run one by one; if one fails or
// the process dies, the resumer finishes them, so the receipt returned may still be RUNNING.
// A customer has one erasure: asking again (with any request id) returns it unchanged.
//
// Errors: apperr.ErrUnauthenticated (no actor); *apperr.InvalidError (customer_id, reason,
// request_id); apperr.ErrNotFound (no such customer); apperr.ErrAlreadyExists (request_id
// reused for another request); apperr.ErrUnavailable.
func (s *Service) RequestErasure(ctx context.Context, actor string, in NewErasure, requestID string) (Erasure, error) {
	if actor == "" {
		return Erasure{}, apperr.ErrUnauthenticated
	}
	in, err := ValidateNewErasure(in, requestID)
	if err != nil {
		return Erasure{}, err
	}
	now := s.clock()
	e := Erasure{
		ID: uuid.Must(uuid.NewV7()).String(), CustomerID: in.CustomerID, Reason: in.Reason,
		RequestedBy: actor, Status: StatusRunning, CreateTime: now,
	}
	out, existing, err := s.store.Create(ctx, e, requestID, requestHash(actor, in), now.Add(s.cfg.Lease))
	if err != nil {
		return Erasure{}, fmt.Errorf("request erasure: %w", err)
	}
	if existing && out.Status != StatusRunning {
		return out, nil
	}
	// A RUNNING erasure found again (a retry, or a second request while the first runs) is
	// driven on from here too: RunStep serialises on the erasure's row and skips done steps.
	// The client going away must not stop an erasure half-way (the resumer would finish it,
	// but only after the lease): the steps run to the end or to the timeout.
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StepTimeout)
	defer cancel()
	done, err := s.run(runCtx, out.ID)
	if err != nil {
		// Committed steps stay committed; the resumer takes over after the lease.
		s.log.ErrorContext(ctx, "erasure step failed; the resumer will retry", "erasure_id", out.ID, "err", err)
		got, gerr := s.store.Get(ctx, out.ID)
		if gerr != nil {
			return Erasure{}, fmt.Errorf("read erasure %s: %w", out.ID, gerr)
		}
		return got, nil
	}
	return done, nil
}

// run carries out the remaining steps of erasure id in order.
func (s *Service) run(ctx context.Context, id string) (Erasure, error) {
	var e Erasure
	for _, step := range Steps {
		now := s.clock()
		var err error
		e, err = s.store.RunStep(ctx, id, step, now, now.Add(s.cfg.Lease))
		if err != nil {
			return Erasure{}, fmt.Errorf("erasure %s step %s: %w", id, step, err)
		}
		if s.cfg.AfterStep != nil {
			s.cfg.AfterStep(id, step)
		}
	}
	return e, nil
}

// GetErasure returns an erasure's receipt. Errors: *apperr.InvalidError (id),
// apperr.ErrNotFound.
func (s *Service) GetErasure(ctx context.Context, id string) (Erasure, error) {
	id, err := ParseID("id", id)
	if err != nil {
		return Erasure{}, err
	}
	e, err := s.store.Get(ctx, id)
	if err != nil {
		return Erasure{}, fmt.Errorf("get erasure %s: %w", id, err)
	}
	return e, nil
}

// ExportCustomerData calls emit for every record held for the customer, one at a time, so that
// memory stays constant however much the customer has. Errors: *apperr.InvalidError
// (customer_id), apperr.ErrNotFound, and emit's error unchanged.
func (s *Service) ExportCustomerData(ctx context.Context, customerID string, emit func(Document) error) error {
	id, err := ParseID("customer_id", customerID)
	if err != nil {
		return err
	}
	if err := s.store.Export(ctx, id, emit); err != nil {
		return fmt.Errorf("export customer %s: %w", id, err)
	}
	return nil
}

// Resume finishes RUNNING erasures whose lease ran out (their process died or their step
// failed). It returns the first error after trying every claimed erasure.
func (s *Service) Resume(ctx context.Context) error {
	now := s.clock()
	ids, err := s.store.ClaimStale(ctx, now, now.Add(s.cfg.Lease), s.cfg.Batch)
	if err != nil {
		return fmt.Errorf("claim stale erasures: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if _, err := s.run(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Purge reduces held data whose retention has ended to the legal minimum and completes those
// erasures; it returns how many it completed.
func (s *Service) Purge(ctx context.Context) (int, error) {
	ids, err := s.store.Purge(ctx, s.clock(), s.cfg.Batch)
	if err != nil {
		return len(ids), fmt.Errorf("purge held data: %w", err)
	}
	return len(ids), nil
}

// Job is a background duty that runs once per period until its context ends.
type Job struct {
	name  string
	every time.Duration
	once  func(ctx context.Context) error
	log   *slog.Logger
}

// Run runs the job now and then every period until ctx ends; a failed pass is logged and
// retried at the next tick. It returns nil when ctx ends.
func (j *Job) Run(ctx context.Context) error {
	t := time.NewTicker(j.every)
	defer t.Stop()
	for {
		if err := j.once(ctx); err != nil && ctx.Err() == nil {
			j.log.ErrorContext(ctx, "privacy job failed; will retry", "job", j.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ResumeJob returns the job that resumes interrupted erasures (every Config.ResumeEvery).
func (s *Service) ResumeJob() *Job {
	return &Job{name: "erasure resumer", every: s.cfg.ResumeEvery, once: s.Resume, log: s.log}
}

// PurgeJob returns the job that purges held data at retain_until (every Config.PurgeEvery).
func (s *Service) PurgeJob() *Job {
	return &Job{name: "retention purge", every: s.cfg.PurgeEvery, log: s.log, once: func(ctx context.Context) error {
		n, err := s.Purge(ctx)
		if n > 0 {
			s.log.InfoContext(ctx, "held data purged", "erasures_completed", n)
		}
		return err
	}}
}

// ValidateNewErasure checks the request and returns it normalised. Errors: *apperr.InvalidError.
func ValidateNewErasure(in NewErasure, requestID string) (NewErasure, error) {
	id, err := ParseID("customer_id", in.CustomerID)
	if err != nil {
		return NewErasure{}, err
	}
	in.CustomerID = id
	if !utf8.ValidString(in.Reason) {
		return NewErasure{}, apperr.Invalid("reason", "is not valid UTF-8")
	}
	if utf8.RuneCountInString(in.Reason) > maxReasonLen {
		return NewErasure{}, apperr.Invalid("reason", "is longer than %d characters", maxReasonLen)
	}
	if len(requestID) > maxRequestIDLen || !utf8.ValidString(requestID) {
		return NewErasure{}, apperr.Invalid("request_id", "must be valid UTF-8 of at most %d bytes", maxRequestIDLen)
	}
	return in, nil
}

// ParseID checks that v is a UUID and returns its canonical form. Errors: *apperr.InvalidError
// naming field.
func ParseID(field, v string) (string, error) {
	if v == "" {
		return "", apperr.Invalid(field, "is required")
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return "", apperr.Invalid(field, "is not a valid id")
	}
	return id.String(), nil
}

// requestHash fingerprints a request for idempotency: the same request id from another officer
// or for another customer is a different request.
func requestHash(actor string, in NewErasure) []byte {
	h := sha256.New()
	for _, part := range []string{actor, in.CustomerID, in.Reason} {
		// Length-prefixed, so that no two different requests share an encoding.
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return h.Sum(nil)
}

// Summarise reports, per processor, the state of the deletion requests sent to it, sorted by
// processor: "dead" if any request failed for good (an operator must follow up), else
// "pending" while any is on its way, else "delivered" once all arrived. Requests that the
// outbox refused or cancelled count as "refused"/"cancelled" only when nothing else is known.
func Summarise(ds []NoticeDelivery) []Notice {
	rank := map[string]int{"dead": 5, "pending": 4, "refused": 3, "cancelled": 2, "delivered": 1}
	worst := map[string]string{}
	for _, d := range ds {
		cur, seen := worst[d.Subprocessor]
		if !seen || rank[d.Status] > rank[cur] {
			worst[d.Subprocessor] = d.Status
		}
	}
	out := make([]Notice, 0, len(worst))
	for p, st := range worst {
		if st == "" {
			st = "pending"
		}
		out = append(out, Notice{Subprocessor: p, Status: st})
	}
	slices.SortFunc(out, func(a, b Notice) int {
		switch {
		case a.Subprocessor < b.Subprocessor:
			return -1
		case a.Subprocessor > b.Subprocessor:
			return 1
		}
		return 0
	})
	return out
}
