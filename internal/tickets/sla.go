package tickets

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// SLATarget is how soon a ticket must get its first response and its resolution.
type SLATarget struct {
	FirstResponse time.Duration
	Resolution    time.Duration
}

// SLAPolicy holds the service-level target of each priority. A priority it lacks falls back to
// DefaultSLA's target.
type SLAPolicy map[Priority]SLATarget

// DefaultSLA returns the contract's targets: urgent 1h/4h, high 4h/24h, normal 8h/72h and
// low 24h/168h (first response/resolution).
func DefaultSLA() SLAPolicy {
	return SLAPolicy{
		PriorityUrgent: {FirstResponse: time.Hour, Resolution: 4 * time.Hour},
		PriorityHigh:   {FirstResponse: 4 * time.Hour, Resolution: 24 * time.Hour},
		PriorityNormal: {FirstResponse: 8 * time.Hour, Resolution: 72 * time.Hour},
		PriorityLow:    {FirstResponse: 24 * time.Hour, Resolution: 168 * time.Hour},
	}
}

// ParseSLATarget reads a "first/resolution" pair of Go durations such as "1h/4h".
func ParseSLATarget(s string) (SLATarget, error) {
	first, res, ok := strings.Cut(s, "/")
	if !ok {
		return SLATarget{}, errors.New(`must be "first/resolution", for example "1h/4h"`)
	}
	f, err := time.ParseDuration(strings.TrimSpace(first))
	if err != nil {
		return SLATarget{}, fmt.Errorf("first response: %w", err)
	}
	r, err := time.ParseDuration(strings.TrimSpace(res))
	if err != nil {
		return SLATarget{}, fmt.Errorf("resolution: %w", err)
	}
	t := SLATarget{FirstResponse: f, Resolution: r}
	return t, t.validate()
}

// Validate reports a target that is not positive or a resolution due before the first response.
func (p SLAPolicy) Validate() error {
	for pr, t := range p {
		if _, ok := DefaultSLA()[pr]; !ok {
			return fmt.Errorf("sla: unknown priority %q", pr)
		}
		if err := t.validate(); err != nil {
			return fmt.Errorf("sla %s: %w", pr, err)
		}
	}
	return nil
}

func (t SLATarget) validate() error {
	if t.FirstResponse <= 0 || t.Resolution <= 0 {
		return errors.New("targets must be positive")
	}
	if t.Resolution < t.FirstResponse {
		return errors.New("resolution target must not be shorter than first response")
	}
	return nil
}

// Target returns the target for a priority.
func (p SLAPolicy) Target(pr Priority) SLATarget {
	if t, ok := p[pr]; ok {
		return t
	}
	return DefaultSLA()[pr]
}

// DueTimes derives the due times from the creation time, the priority and the status history:
// due = created + target + the time spent in PENDING so far. Only completed PENDING intervals
// count; while the ticket is pending its clock is stopped but the due times are not moved yet,
// so they move once, by the whole pause, when the ticket leaves PENDING.
func (p SLAPolicy) DueTimes(created time.Time, pr Priority, history []StatusChange) (firstResponse, resolution time.Time) {
	t := p.Target(pr)
	paused := PausedTime(history)
	return created.Add(t.FirstResponse + paused), created.Add(t.Resolution + paused)
}

// PausedTime sums the completed intervals spent in PENDING. history must be in time order.
func PausedTime(history []StatusChange) time.Duration {
	var total time.Duration
	var since time.Time
	pending := false
	for _, c := range history {
		if pending && c.From == StatusPending {
			if d := c.Time.Sub(since); d > 0 {
				total += d
			}
			pending = false
		}
		if c.To == StatusPending && !pending {
			since, pending = c.Time, true
		}
	}
	return total
}
