package tickets_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/tickets"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestDueTimes(t *testing.T) {
	t.Parallel()
	const h = time.Hour
	open := tickets.StatusChange{From: tickets.StatusNew, To: tickets.StatusOpen, Time: at(h)}
	tests := []struct {
		name      string
		priority  tickets.Priority
		history   []tickets.StatusChange
		wantFirst time.Time
		wantRes   time.Time
	}{
		{"no history urgent", tickets.PriorityUrgent, nil, at(1 * h), at(4 * h)},
		{"no history high", tickets.PriorityHigh, nil, at(4 * h), at(24 * h)},
		{"no history normal", tickets.PriorityNormal, nil, at(8 * h), at(72 * h)},
		{"no history low", tickets.PriorityLow, nil, at(24 * h), at(168 * h)},
		{"open without pause", tickets.PriorityNormal, []tickets.StatusChange{open}, at(8 * h), at(72 * h)},
		{
			"one completed pause moves both",
			tickets.PriorityNormal,
			[]tickets.StatusChange{open, {tickets.StatusOpen, tickets.StatusPending, at(2 * h)}, {tickets.StatusPending, tickets.StatusOpen, at(5 * h)}},
			at(11 * h), at(75 * h),
		},
		{
			"while pending the open interval is not added yet",
			tickets.PriorityNormal,
			[]tickets.StatusChange{open, {tickets.StatusOpen, tickets.StatusPending, at(2 * h)}},
			at(8 * h), at(72 * h),
		},
		{
			"two pauses add up, on hold does not pause",
			tickets.PriorityHigh,
			[]tickets.StatusChange{
				open,
				{tickets.StatusOpen, tickets.StatusPending, at(2 * h)}, {tickets.StatusPending, tickets.StatusOpen, at(3 * h)},
				{tickets.StatusOpen, tickets.StatusOnHold, at(4 * h)}, {tickets.StatusOnHold, tickets.StatusOpen, at(9 * h)},
				{tickets.StatusOpen, tickets.StatusPending, at(10 * h)}, {tickets.StatusPending, tickets.StatusOpen, at(12 * h)},
			},
			at(7 * h), at(27 * h),
		},
		{
			"completed pause then pending again",
			tickets.PriorityUrgent,
			[]tickets.StatusChange{
				open,
				{tickets.StatusOpen, tickets.StatusPending, at(2 * h)}, {tickets.StatusPending, tickets.StatusOpen, at(3 * h)},
				{tickets.StatusOpen, tickets.StatusPending, at(4 * h)},
			},
			at(2 * h), at(5 * h),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first, res := tickets.DefaultSLA().DueTimes(t0, tt.priority, tt.history)
			if diff := cmp.Diff([]time.Time{tt.wantFirst, tt.wantRes}, []time.Time{first, res}); diff != "" {
				t.Errorf("DueTimes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDueTimesPriorityChangeUsesSameHistory(t *testing.T) {
	t.Parallel()
	history := []tickets.StatusChange{
		{tickets.StatusNew, tickets.StatusOpen, at(0)},
		{tickets.StatusOpen, tickets.StatusPending, at(time.Hour)},
		{tickets.StatusPending, tickets.StatusOpen, at(3 * time.Hour)},
	}
	first, res := tickets.DefaultSLA().DueTimes(t0, tickets.PriorityUrgent, history)
	if want := at(3 * time.Hour); !first.Equal(want) {
		t.Errorf("first response due = %v, want %v", first, want)
	}
	if want := at(6 * time.Hour); !res.Equal(want) {
		t.Errorf("resolution due = %v, want %v", res, want)
	}
}

func TestSLAPolicyConfigured(t *testing.T) {
	t.Parallel()
	p := tickets.SLAPolicy{tickets.PriorityUrgent: {FirstResponse: 30 * time.Minute, Resolution: 2 * time.Hour}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	first, res := p.DueTimes(t0, tickets.PriorityUrgent, nil)
	if !first.Equal(at(30*time.Minute)) || !res.Equal(at(2*time.Hour)) {
		t.Errorf("configured urgent = %v/%v", first, res)
	}
	// A priority the policy leaves out keeps its default.
	if _, res := p.DueTimes(t0, tickets.PriorityLow, nil); !res.Equal(at(168 * time.Hour)) {
		t.Errorf("default low resolution = %v", res)
	}
	bad := []tickets.SLAPolicy{
		{tickets.PriorityHigh: {FirstResponse: 0, Resolution: time.Hour}},
		{tickets.PriorityHigh: {FirstResponse: 2 * time.Hour, Resolution: time.Hour}},
		{"bogus": {FirstResponse: time.Hour, Resolution: time.Hour}},
	}
	for _, b := range bad {
		if b.Validate() == nil {
			t.Errorf("Validate(%v) = nil, want an error", b)
		}
	}
}

func TestParseSLATarget(t *testing.T) {
	t.Parallel()
	got, err := tickets.ParseSLATarget("1h/4h")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tickets.SLATarget{FirstResponse: time.Hour, Resolution: 4 * time.Hour}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, s := range []string{"", "1h", "x/4h", "1h/y", "-1h/4h", "4h/1h"} {
		if _, err := tickets.ParseSLATarget(s); err == nil {
			t.Errorf("ParseSLATarget(%q) = nil error", s)
		}
	}
}
