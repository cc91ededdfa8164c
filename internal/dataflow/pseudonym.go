package dataflow

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"
)

// The pseudonymised projection is an allow-list, not a deny-list: a field reaches a
// pseudonymised processor only if it is named here and its value has the expected shape, so a
// field that a domain adds tomorrow (a name, a note) is dropped by default.
var (
	// pseudonymIDFields are identifiers: they are replaced by keyed hashes.
	pseudonymIDFields = map[string]bool{
		"id": true, "record_id": true, "customer_id": true, "ticket_id": true, "order_id": true,
		"payment_id": true, "reseller_id": true,
	}
	countryValue = regexp.MustCompile(`^[A-Z]{2}$`)
	currencyVal  = regexp.MustCompile(`^[A-Z]{3}$`)
	// pseudonymFields are the non-identifying facts a monitoring processor may see, each with
	// the check its value must pass.
	pseudonymFields = map[string]func(any) bool{
		// Enumerations pass only with a known value: a free-text value in an enum field is dropped.
		"kind":              oneOf(KindTicket, KindRecording, KindCustomer, KindOrder, KindPayment),
		"channel":           oneOf(ChannelPhone, ChannelEmail, ChannelChat, ChannelFieldForm, ChannelErrorReport, OrderChannelReseller, OrderChannelStorefront),
		"status":            oneOf("new", "open", "pending", "on_hold", "solved", "closed", "pending_payment", "paid", "fulfilled", "cancelled", "refunded"),
		"priority":          oneOf("low", "normal", "high", "urgent"),
		"order_channel":     oneOf(OrderChannelReseller, OrderChannelStorefront),
		"stripe_entity":     oneOf(StripeUS, StripeIE),
		"residency_country": func(v any) bool { return matches(countryValue, v) },
		"country":           func(v any) bool { return matches(countryValue, v) },
		"currency":          func(v any) bool { return matches(currencyVal, v) },
		"marketing_consent": isBool,
		"has_reseller":      isBool,
		"recording_opt_out": isBool,
		"may_contact":       isBool,
		"line_count":        isInteger,
		"net_minor":         isInteger,
		"vat_minor":         isInteger,
		"gross_minor":       isInteger,
		"create_time":       isTime,
		"update_time":       isTime,
	}
)

// Pseudonymise projects a record's JSON object onto the pseudonymised form: identifiers (id,
// record_id, customer_id, ...) become hash(value), allowed facts pass if their values have the
// expected shape (enumerations, country and currency codes, booleans, integers, timestamps),
// and everything else (names, emails, phones, addresses, free text, nested objects) is dropped.
// hash must be a keyed hash (an HMAC), so that the receiver cannot reverse it by guessing ids.
func Pseudonymise(payload []byte, hash func(string) string) ([]byte, error) {
	out := map[string]any{}
	if len(payload) > 0 {
		var in map[string]any
		if err := json.Unmarshal(payload, &in); err != nil {
			// The error of encoding/json may quote the input; keep it out of the message.
			return nil, fmt.Errorf("pseudonymise: payload is not a JSON object")
		}
		for k, v := range in {
			if pseudonymIDFields[k] {
				if s, ok := v.(string); ok && s != "" {
					out[k] = hash(s)
				}
				continue
			}
			if check, ok := pseudonymFields[k]; ok && check(v) {
				out[k] = v
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("pseudonymise: %w", err)
	}
	return b, nil
}

func oneOf[S ~string](values ...S) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		return ok && slices.Contains(values, S(s))
	}
}

func matches(re *regexp.Regexp, v any) bool {
	s, ok := v.(string)
	return ok && re.MatchString(s)
}

func isBool(v any) bool { _, ok := v.(bool); return ok }

func isInteger(v any) bool {
	f, ok := v.(float64)
	return ok && f == math.Trunc(f) && math.Abs(f) < 1<<53
}

func isTime(v any) bool {
	s, ok := v.(string)
	if !ok || len(s) > 40 {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
