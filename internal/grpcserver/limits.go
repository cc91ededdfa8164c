package grpcserver

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lumio/contactcentre/internal/auth"
)

const defaultMaxSubjects = 10000

// deadline gives an RPC that arrived without a deadline the default one. Everything the
// handler does downstream (PostgreSQL, Stripe, Twilio, sinks) inherits ctx, so no call can
// outlive it.
func deadline(timeout time.Duration) layer {
	return func(ctx context.Context, _ string, next func(context.Context) error) error {
		if _, ok := ctx.Deadline(); ok {
			return next(ctx)
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return next(ctx)
	}
}

// limit rejects a caller that exceeds its token bucket with RESOURCE_EXHAUSTED and a RetryInfo
// saying when the next call would be admitted. Public methods carry no identity and pass.
func (ic *interceptors) limit(ctx context.Context, _ string, next func(context.Context) error) error {
	if ic.limiter == nil {
		return next(ctx)
	}
	id, ok := auth.FromContext(ctx)
	if !ok {
		return next(ctx)
	}
	if wait := ic.limiter.admit(id.Subject); wait > 0 {
		return rateLimited(wait)
	}
	return next(ctx)
}

func rateLimited(wait time.Duration) error {
	// Round up to whole milliseconds so that a client sleeping exactly RetryDelay is admitted.
	wait = wait.Truncate(time.Millisecond) + time.Millisecond
	st := status.New(codes.ResourceExhausted, "rate limit exceeded for this caller, retry after the delay in RetryInfo")
	if detailed, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = detailed
	}
	return st.Err()
}

// limiter holds one token bucket per token subject. A bucket that has been idle long enough
// to refill completely is indistinguishable from a new one, so evicting it changes nothing
// for its caller: that is what keeps memory bounded without weakening the limit.
type limiter struct {
	rps         rate.Limit
	burst       int
	maxSubjects int
	refill      time.Duration // time for an empty bucket to fill: idle entries older are evicted
	now         func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(cfg RateLimitConfig, now func() time.Time) *limiter {
	if cfg.RPS <= 0 {
		return nil
	}
	burst := cfg.Burst
	if burst <= 0 {
		burst = max(1, int(math.Ceil(cfg.RPS)))
	}
	maxSubjects := cfg.MaxSubjects
	if maxSubjects <= 0 {
		maxSubjects = defaultMaxSubjects
	}
	return &limiter{
		rps: rate.Limit(cfg.RPS), burst: burst, maxSubjects: maxSubjects,
		refill:  time.Duration(float64(burst) / cfg.RPS * float64(time.Second)),
		now:     now,
		buckets: make(map[string]*bucket),
	}
}

// admit takes a token from subject's bucket. It returns 0 when the call may proceed, or how
// long until a token will be available.
func (l *limiter) admit(subject string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[subject]
	if !ok {
		l.makeRoom(now)
		b = &bucket{lim: rate.NewLimiter(l.rps, l.burst)}
		l.buckets[subject] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		// A rejected call must not consume the token it did not get.
		r.CancelAt(now)
		return d
	}
	return 0
}

// makeRoom sweeps refilled buckets at most once per refill period, and when the map is full
// evicts the least recently seen one: an attacker with many valid tokens can cost us at most
// maxSubjects small entries.
func (l *limiter) makeRoom(now time.Time) {
	if now.Sub(l.lastSweep) >= l.refill || len(l.buckets) >= l.maxSubjects {
		for s, b := range l.buckets {
			if now.Sub(b.seen) >= l.refill {
				delete(l.buckets, s)
			}
		}
		l.lastSweep = now
	}
	if len(l.buckets) < l.maxSubjects {
		return
	}
	var oldest string
	var oldestSeen time.Time
	for s, b := range l.buckets {
		if oldest == "" || b.seen.Before(oldestSeen) {
			oldest, oldestSeen = s, b.seen
		}
	}
	delete(l.buckets, oldest)
}

// size reports how many subjects the limiter tracks (for tests).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
