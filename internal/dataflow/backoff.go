package dataflow

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces the retries of a failed delivery: the nth retry waits a random duration in
// [d/2, d] where d = Base·2^(n-1), capped at Max. The jitter spreads the retries of a batch that
// failed together (a receiver's outage) so that they do not hit it again all at once.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Delay returns the wait before the retry that follows failed attempt number attempt (from 1).
// rnd returns a float in [0, 1); nil uses math/rand/v2.
func (b Backoff) Delay(attempt int, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	base, maxDelay := b.Base, b.Max
	if base <= 0 {
		base = time.Second
	}
	if maxDelay < base {
		maxDelay = base
	}
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	half := d / 2
	return half + time.Duration(rnd()*float64(d-half))
}
