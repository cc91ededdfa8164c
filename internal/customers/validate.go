package customers

import (
	"strings"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/validate"
)

// Limits of the free-text fields, in runes. They bound storage and keep a contact minimal.
const (
	maxOrgName    = 200
	maxPersonText = 200
	maxLines      = 5
	maxLine       = 200
	maxCity       = 100
	maxPostalCode = 32
	maxRegion     = 100
	maxQueryLen   = 200
)

// ValidateNewCustomer checks a customer's input and returns it normalised: surrounding spaces
// trimmed and the residency country defaulted to the address country. Errors are
// *apperr.InvalidError naming the field by its path in the request ("customer.…"); messages
// never echo the value, which may be personal data.
func ValidateNewCustomer(nc NewCustomer) (NewCustomer, error) {
	nc.OrgName = strings.TrimSpace(nc.OrgName)
	if err := validate.Text("customer.org_name", nc.OrgName, maxOrgName, true); err != nil {
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
	} else if err := validate.Country("customer.residency_country", nc.ResidencyCountry, true); err != nil {
		return NewCustomer{}, err
	}
	nc.ResellerID = strings.TrimSpace(nc.ResellerID)
	if err := validate.ResellerID("customer.reseller_id", nc.ResellerID); err != nil {
		return NewCustomer{}, err
	}
	return nc, nil
}

func validateContact(c Contact) (Contact, error) {
	c.Name = strings.TrimSpace(c.Name)
	c.Title = strings.TrimSpace(c.Title)
	c.Email = strings.TrimSpace(c.Email)
	c.Phone = strings.TrimSpace(c.Phone)
	if err := validate.Text("customer.contact.name", c.Name, maxPersonText, false); err != nil {
		return Contact{}, err
	}
	if err := validate.Text("customer.contact.title", c.Title, maxPersonText, false); err != nil {
		return Contact{}, err
	}
	if err := validate.Email("customer.contact.email", c.Email); err != nil {
		return Contact{}, err
	}
	if err := validate.Phone("customer.contact.phone", c.Phone); err != nil {
		return Contact{}, err
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
		if err := validate.Text("customer.address.lines", l, maxLine, true); err != nil {
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
		if err := validate.Text(f.field, f.v, f.limit, false); err != nil {
			return Address{}, err
		}
	}
	if err := validate.Country("customer.address.country", a.Country, true); err != nil {
		return Address{}, err
	}
	return a, nil
}

func validateID(field, id string) error {
	_, err := validate.ID(field, id)
	return err
}
