package customers

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
)

// Limits of the free-text fields, in runes. They bound storage and keep a contact minimal.
const (
	maxOrgName    = 200
	maxPersonText = 200
	maxEmail      = 254 // RFC 5321 path limit
	maxLines      = 5
	maxLine       = 200
	maxCity       = 100
	maxPostalCode = 32
	maxRegion     = 100
	maxQueryLen   = 200
	maxRequestID  = 128
)

var (
	phoneRE    = regexp.MustCompile(`^\+?[0-9 ()-]{5,32}$`)
	countryRE  = regexp.MustCompile(`^[A-Z]{2}$`)
	resellerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// ValidateNewCustomer checks a customer's input and returns it normalised: surrounding spaces
// trimmed and the residency country defaulted to the address country. Errors are
// *apperr.InvalidError naming the field by its path in the request ("customer.…"); messages
// never echo the value, which may be personal data.
func ValidateNewCustomer(nc NewCustomer) (NewCustomer, error) {
	nc.OrgName = strings.TrimSpace(nc.OrgName)
	if err := checkText("customer.org_name", nc.OrgName, maxOrgName, true); err != nil {
		return NewCustomer{}, err
	}
	c, err := validateContact(nc.Contact)
	if err != nil {
		return NewCustomer{}, err
	}
	nc.Contact = c
	a, err := validateAddress(nc.Address)
	if err != nil {
		return NewCustomer{}, err
	}
	nc.Address = a
	nc.ResidencyCountry = strings.TrimSpace(nc.ResidencyCountry)
	if nc.ResidencyCountry == "" {
		nc.ResidencyCountry = nc.Address.Country
	} else if !countryRE.MatchString(nc.ResidencyCountry) {
		return NewCustomer{}, apperr.Invalid("customer.residency_country", "must be an ISO 3166-1 alpha-2 code in upper case")
	}
	nc.ResellerID = strings.TrimSpace(nc.ResellerID)
	if nc.ResellerID != "" && !resellerRE.MatchString(nc.ResellerID) {
		return NewCustomer{}, apperr.Invalid("customer.reseller_id", "must be 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit")
	}
	return nc, nil
}

func validateContact(c Contact) (Contact, error) {
	c.Name = strings.TrimSpace(c.Name)
	c.Title = strings.TrimSpace(c.Title)
	c.Email = strings.TrimSpace(c.Email)
	c.Phone = strings.TrimSpace(c.Phone)
	if err := checkText("customer.contact.name", c.Name, maxPersonText, false); err != nil {
		return Contact{}, err
	}
	if err := checkText("customer.contact.title", c.Title, maxPersonText, false); err != nil {
		return Contact{}, err
	}
	if c.Email != "" {
		if len(c.Email) > maxEmail {
			return Contact{}, apperr.Invalid("customer.contact.email", "must be at most %d bytes", maxEmail)
		}
		// A bare address only: "Name <a@b>" would smuggle a natural person's name past the
		// name field, and the HMAC index needs one canonical form.
		a, err := mail.ParseAddress(c.Email)
		if err != nil || a.Name != "" || a.Address != c.Email {
			return Contact{}, apperr.Invalid("customer.contact.email", "is not a valid email address")
		}
	}
	if c.Phone != "" && !phoneRE.MatchString(c.Phone) {
		return Contact{}, apperr.Invalid("customer.contact.phone", "must be 5 to 32 digits, spaces, '(', ')' or '-', optionally after '+'")
	}
	return c, nil
}

func validateAddress(a Address) (Address, error) {
	if len(a.Lines) > maxLines {
		return Address{}, apperr.Invalid("customer.address.lines", "must have at most %d lines", maxLines)
	}
	lines := make([]string, 0, len(a.Lines))
	for _, l := range a.Lines {
		l = strings.TrimSpace(l)
		if err := checkText("customer.address.lines", l, maxLine, true); err != nil {
			return Address{}, err
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		lines = nil
	}
	a.Lines = lines
	a.City = strings.TrimSpace(a.City)
	a.PostalCode = strings.TrimSpace(a.PostalCode)
	a.Region = strings.TrimSpace(a.Region)
	a.Country = strings.TrimSpace(a.Country)
	for _, f := range []struct {
		field, v string
		limit    int
	}{
		{"customer.address.city", a.City, maxCity},
		{"customer.address.postal_code", a.PostalCode, maxPostalCode},
		{"customer.address.region", a.Region, maxRegion},
	} {
		if err := checkText(f.field, f.v, f.limit, false); err != nil {
			return Address{}, err
		}
	}
	if a.Country == "" {
		return Address{}, apperr.Invalid("customer.address.country", "is required")
	}
	if !countryRE.MatchString(a.Country) {
		return Address{}, apperr.Invalid("customer.address.country", "must be an ISO 3166-1 alpha-2 code in upper case")
	}
	return a, nil
}

// checkText accepts valid UTF-8 of at most limit runes without control characters (PostgreSQL
// rejects NUL and invalid UTF-8; control characters have no place in a name or an address).
func checkText(field, v string, limit int, required bool) error {
	switch {
	case v == "" && required:
		return apperr.Invalid(field, "is required")
	case !utf8.ValidString(v):
		return apperr.Invalid(field, "is not valid UTF-8")
	case utf8.RuneCountInString(v) > limit:
		return apperr.Invalid(field, "must be at most %d characters", limit)
	case strings.ContainsFunc(v, unicode.IsControl):
		return apperr.Invalid(field, "must not contain control characters")
	}
	return nil
}

func validateRequestID(id string) error {
	if len(id) > maxRequestID {
		return apperr.Invalid("request_id", "must be at most %d bytes", maxRequestID)
	}
	if !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return apperr.Invalid("request_id", "must be printable text")
	}
	return nil
}

func validateID(field, id string) error {
	if id == "" {
		return apperr.Invalid(field, "is required")
	}
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return apperr.Invalid(field, "is not a valid id")
	}
	return nil
}
