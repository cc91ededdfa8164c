package billing_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/billing"
)

func TestRetainUntil(t *testing.T) {
	t.Parallel()
	p := billing.DefaultRetention()
	p.Overrides = map[string]int{"DE": 10, "FR": 10}
	utc := func(y int, m time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, m, d, h, mi, s, ns, time.UTC)
	}
	tokyo := time.FixedZone("JST", 9*3600)
	la := time.FixedZone("PST", -8*3600)
	for _, tc := range []struct {
		name    string
		created time.Time
		country string
		want    time.Time
	}{
		{"mid-year, default 7", utc(2025, time.June, 15, 12, 0, 0, 0), "NL", utc(2033, time.January, 1, 0, 0, 0, 0)},
		{"first instant of the year", utc(2025, time.January, 1, 0, 0, 0, 0), "US", utc(2033, time.January, 1, 0, 0, 0, 0)},
		{"Dec 31 23:59:59 belongs to its year", utc(2025, time.December, 31, 23, 59, 59, 0), "US", utc(2033, time.January, 1, 0, 0, 0, 0)},
		{"last nanosecond of the year", utc(2025, time.December, 31, 23, 59, 59, 999999999), "IE", utc(2033, time.January, 1, 0, 0, 0, 0)},
		{"one second later is the next year", utc(2026, time.January, 1, 0, 0, 0, 0), "US", utc(2034, time.January, 1, 0, 0, 0, 0)},
		{"override DE 10", utc(2025, time.March, 3, 9, 0, 0, 0), "DE", utc(2036, time.January, 1, 0, 0, 0, 0)},
		{"override FR on Dec 31", utc(2025, time.December, 31, 23, 59, 59, 0), "FR", utc(2036, time.January, 1, 0, 0, 0, 0)},
		{"calendar year is UTC's: Jan 1 08:00 JST is still Dec 31 UTC", time.Date(2026, time.January, 1, 8, 0, 0, 0, tokyo), "JP", utc(2033, time.January, 1, 0, 0, 0, 0)},
		{"calendar year is UTC's: Dec 31 18:00 PST is Jan 1 UTC", time.Date(2025, time.December, 31, 18, 0, 0, 0, la), "US", utc(2034, time.January, 1, 0, 0, 0, 0)},
		{"leap day", utc(2028, time.February, 29, 0, 0, 0, 0), "GB", utc(2036, time.January, 1, 0, 0, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := p.RetainUntil(tc.created, tc.country)
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("RetainUntil(%v, %s) = %v, want %v", tc.created, tc.country, got, tc.want)
			}
		})
	}
}

func TestDefaultRetention(t *testing.T) {
	t.Parallel()
	p := billing.DefaultRetention()
	if p.DefaultYears != 7 || len(p.Overrides) != 0 || p.Years("DE") != 7 {
		t.Errorf("DefaultRetention() = %+v", p)
	}
}

func TestParseRetentionOverrides(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    map[string]int
		wantErr bool
	}{
		{"", map[string]int{}, false},
		{"   ", map[string]int{}, false},
		{"DE=10", map[string]int{"DE": 10}, false},
		{"DE=10,FR=10", map[string]int{"DE": 10, "FR": 10}, false},
		{" DE=10 , SE=7 ", map[string]int{"DE": 10, "SE": 7}, false},
		{"CH=30", map[string]int{"CH": 30}, false},
		{"de=10", nil, true},
		{"DE=0", nil, true},
		{"DE=31", nil, true},
		{"DE=-1", nil, true},
		{"DE=10.5", nil, true},
		{"DE:10", nil, true},
		{"DE=10,", nil, true},
		{"DE=10,DE=8", nil, true},
		{"XK=10", nil, true},
		{"UK=10", nil, true},
		{"DEU=10", nil, true},
		{"DE=1000", nil, true},
	} {
		got, err := billing.ParseRetentionOverrides(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseRetentionOverrides(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseRetentionOverrides(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
