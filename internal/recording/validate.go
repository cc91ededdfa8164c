package recording

import (
	"net/url"
	"regexp"
	"strconv"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/validate"
)

var (
	callSIDPattern      = regexp.MustCompile(`^CA[0-9a-f]{32}$`)
	recordingSIDPattern = regexp.MustCompile(`^RE[0-9a-f]{32}$`)
	accountSIDPattern   = regexp.MustCompile(`^AC[0-9a-f]{32}$`)
)

// maxDurationSeconds bounds RecordingDuration: Twilio ends calls after 24 hours.
const maxDurationSeconds = 24 * 60 * 60

// ParseID returns the canonical form of a UUID in field, or an *apperr.InvalidError: it is
// validate.ID, kept for the carrier's HTTP handler.
func ParseID(field, v string) (string, error) { return validate.ID(field, v) }

// ValidCallSID reports whether v is a Twilio call sid. Sids are put into carrier URLs, so
// nothing else may pass.
func ValidCallSID(v string) bool { return callSIDPattern.MatchString(v) }

// ValidRecordingSID reports whether v is a Twilio recording sid.
func ValidRecordingSID(v string) bool { return recordingSIDPattern.MatchString(v) }

// ParseCallSID checks a CallSid form field. Errors: *apperr.InvalidError.
func ParseCallSID(form url.Values) (string, error) {
	v := form.Get("CallSid")
	if !ValidCallSID(v) {
		return "", apperr.Invalid("CallSid", "is not a Twilio call sid")
	}
	return v, nil
}

// ParseCallback reads a recording status callback's form. RecordingUrl is ignored on purpose:
// media is fetched by sid from the configured API, never from a URL the request names.
// Errors: *apperr.InvalidError naming the form field.
func ParseCallback(form url.Values) (Callback, error) {
	cb := Callback{
		AccountSID:   form.Get("AccountSid"),
		CallSID:      form.Get("CallSid"),
		RecordingSID: form.Get("RecordingSid"),
		Status:       form.Get("RecordingStatus"),
	}
	if !accountSIDPattern.MatchString(cb.AccountSID) {
		return Callback{}, apperr.Invalid("AccountSid", "is not a Twilio account sid")
	}
	if !ValidCallSID(cb.CallSID) {
		return Callback{}, apperr.Invalid("CallSid", "is not a Twilio call sid")
	}
	if !ValidRecordingSID(cb.RecordingSID) {
		return Callback{}, apperr.Invalid("RecordingSid", "is not a Twilio recording sid")
	}
	switch cb.Status {
	case CallbackInProgress, CallbackCompleted, CallbackAbsent, CallbackFailed:
	default:
		return Callback{}, apperr.Invalid("RecordingStatus", "is not a recording status")
	}
	if d := form.Get("RecordingDuration"); d != "" {
		n, err := strconv.ParseInt(d, 10, 32)
		if err != nil || n < 0 || n > maxDurationSeconds {
			return Callback{}, apperr.Invalid("RecordingDuration", "must be a number of seconds")
		}
		cb.DurationSeconds = int32(n)
	}
	return cb, nil
}
