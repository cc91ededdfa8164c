package billing

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lumio/contactcentre/internal/country"
)

// DefaultRetentionYears is how long orders are kept after the end of their calendar year when
// no per-country rule applies: seven years covers the longest common bookkeeping periods
// (e.g. NL art. 52 AWR, IE s.886 TCA 1997, UK HMRC six years plus the current one).
const DefaultRetentionYears = 7

// maxRetentionYears bounds configured periods: no bookkeeping law asks for more, and a typo
// such as "DE=100" must not pin records for a century.
const maxRetentionYears = 30

// RetentionPolicy says how long orders must be kept. The period runs from the end of the
// order's calendar year (in UTC), as bookkeeping periods do: an order made at any moment of
// year Y is kept until (Y+1+years)-01-01T00:00:00Z. Overrides are keyed by the customer's
// address country, where the seller's records for that sale are taxed.
type RetentionPolicy struct {
	DefaultYears int
	// Overrides maps ISO 3166-1 alpha-2 codes to their own number of years (e.g. DE: 10).
	Overrides map[string]int
}

// DefaultRetention returns the default policy: DefaultRetentionYears everywhere, no overrides
// (they come from configuration: ParseRetentionOverrides).
func DefaultRetention() RetentionPolicy {
	return RetentionPolicy{DefaultYears: DefaultRetentionYears, Overrides: map[string]int{}}
}

// Years returns the retention period for orders of customers addressed in countryCode.
func (p RetentionPolicy) Years(countryCode string) int {
	if y, ok := p.Overrides[countryCode]; ok {
		return y
	}
	return p.DefaultYears
}

// RetainUntil returns the first instant at which an order created at created, for a customer
// addressed in countryCode, may be deleted: the end of created's calendar year (UTC) plus the
// country's period. Dec 31 23:59:59 of year Y and Jan 1 00:00:00 of Y both give the same date;
// Jan 1 00:00:00 of Y+1 gives one year more.
func (p RetentionPolicy) RetainUntil(created time.Time, countryCode string) time.Time {
	y := created.UTC().Year()
	return time.Date(y+1+p.Years(countryCode), time.January, 1, 0, 0, 0, 0, time.UTC)
}

var overrideRE = regexp.MustCompile(`^([A-Z]{2})=([0-9]{1,3})$`)

// ParseRetentionOverrides reads ORDER_RETENTION_OVERRIDES: comma-separated COUNTRY=YEARS
// pairs such as "DE=10,FR=10" (spaces around items are ignored; empty means none). Each
// country must be an assigned ISO 3166-1 code, listed once, with 1 to 30 years.
func ParseRetentionOverrides(s string) (map[string]int, error) {
	out := map[string]int{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		m := overrideRE.FindStringSubmatch(item)
		if m == nil {
			return nil, fmt.Errorf("ORDER_RETENTION_OVERRIDES: %q is not COUNTRY=YEARS (e.g. DE=10)", item)
		}
		if !country.IsAssigned(m[1]) {
			return nil, fmt.Errorf("ORDER_RETENTION_OVERRIDES: %s is not an assigned ISO 3166-1 alpha-2 code", m[1])
		}
		years, _ := strconv.Atoi(m[2])
		if years < 1 || years > maxRetentionYears {
			return nil, fmt.Errorf("ORDER_RETENTION_OVERRIDES: %s=%d: years must be 1 to %d", m[1], years, maxRetentionYears)
		}
		if _, dup := out[m[1]]; dup {
			return nil, fmt.Errorf("ORDER_RETENTION_OVERRIDES: %s is listed twice", m[1])
		}
		out[m[1]] = years
	}
	return out, nil
}
