// Package validate holds the field checks that every domain applies to its input, so that an
// email, a phone number, an id or a country is accepted or refused the same way everywhere.
// Each check returns nil or an *apperr.InvalidError naming the field; messages never echo the
// value, which may be personal data.
package validate

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/country"
)

// Limits shared by every domain.
const (
	// MaxRequestID bounds a client's idempotency key.
	MaxRequestID = 128
	// MaxEmailBytes is RFC 5321's limit on a forward path.
	MaxEmailBytes = 254
)

var (
	phonePattern    = regexp.MustCompile(`^\+?[0-9 ()-]{5,32}$`)
	resellerPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// ID checks that id is a UUID in its canonical 36-character form, so one record has one id
// string, and returns it lower-cased.
func ID(field, id string) (string, error) {
	if id == "" {
		return "", apperr.Invalid(field, "is required")
	}
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return "", apperr.Invalid(field, "is not a valid id")
	}
	return u.String(), nil
}

// RequestID checks a client request id: empty (no idempotency) or at most MaxRequestID
// printable characters.
func RequestID(field, id string) error {
	if len(id) > MaxRequestID || !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return apperr.Invalid(field, "must be at most %d printable characters", MaxRequestID)
	}
	return nil
}

// Text checks one line of text: valid UTF-8, at most maxRunes characters, no control
// characters (PostgreSQL refuses NUL; the rest have no place in a name or an address).
func Text(field, s string, maxRunes int, required bool) error {
	return text(field, s, maxRunes, required, false)
}

// MultilineText is Text that also allows newlines and tabs, for descriptions and comments.
func MultilineText(field, s string, maxRunes int, required bool) error {
	return text(field, s, maxRunes, required, true)
}

func text(field, s string, maxRunes int, required, multiline bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return apperr.Invalid(field, "is required")
	case !utf8.ValidString(s):
		return apperr.Invalid(field, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > maxRunes:
		return apperr.Invalid(field, "must be at most %d characters", maxRunes)
	case strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t'))
	}):
		return apperr.Invalid(field, "must not contain control characters")
	}
	return nil
}

// Email checks a bare email address (empty is allowed: callers decide whether it is required).
// "Name <a@b>" is refused: it would smuggle a natural person's name past the name field, and
// the equality index needs one canonical form.
func Email(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxEmailBytes {
		return apperr.Invalid(field, "must be at most %d bytes", MaxEmailBytes)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return apperr.Invalid(field, "is not a valid email address")
	}
	return nil
}

// Phone checks a phone number: 5 to 32 digits, spaces, '(', ')' or '-', optionally after '+'
// (empty is allowed).
func Phone(field, s string) error {
	if s != "" && !phonePattern.MatchString(s) {
		return apperr.Invalid(field, "must be 5 to 32 digits, spaces, '(', ')' or '-', optionally after '+'")
	}
	return nil
}

// Country checks an assigned ISO 3166-1 alpha-2 code in upper case.
func Country(field, s string, required bool) error {
	switch {
	case s == "" && !required:
		return nil
	case s == "":
		return apperr.Invalid(field, "is required")
	case !country.IsAssigned(s):
		return apperr.Invalid(field, "must be an assigned ISO 3166-1 alpha-2 code in upper case")
	}
	return nil
}

// ResellerID checks a reseller's id: 1 to 64 lower-case letters, digits, '_' or '-' (empty is
// allowed).
func ResellerID(field, s string) error {
	if s != "" && !resellerPattern.MatchString(s) {
		return apperr.Invalid(field, "must be 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit")
	}
	return nil
}
