package customers

import (
	"github.com/lumio/contactcentre/internal/apperr"
)

// maskable are the update_mask paths a caller may change. A parent path ("contact") replaces
// the whole sub-message; a sub-path replaces one field of it.
var maskable = map[string]bool{
	"org_name":            true,
	"contact":             true,
	"contact.name":        true,
	"contact.title":       true,
	"contact.email":       true,
	"contact.phone":       true,
	"contact.may_contact": true,
	"address":             true,
	"address.lines":       true,
	"address.city":        true,
	"address.postal_code": true,
	"address.region":      true,
	"address.country":     true,
	"residency_country":   true,
	"marketing_consent":   true,
	"reseller_id":         true,
}

// outputOnly are the paths the server sets; naming them is a client error, not a no-op, so a
// client that believes it can set them learns otherwise (AIP-203).
var outputOnly = map[string]bool{
	"id":                    true,
	"allowed_subprocessors": true,
	"etag":                  true,
	"create_time":           true,
	"update_time":           true,
	"create_by":             true,
}

type mask map[string]bool

// parseMask checks the update_mask paths. An empty mask is refused rather than read as "all
// fields": an accidental full overwrite of a customer is worse than an explicit error.
func parseMask(paths []string) (mask, error) {
	if len(paths) == 0 {
		return nil, apperr.Invalid("update_mask", "is required: name the fields to change")
	}
	m := mask{}
	for _, p := range paths {
		switch {
		case outputOnly[p]:
			return nil, apperr.Invalid("update_mask", "names output-only field %q", p)
		case !maskable[p]:
			return nil, apperr.Invalid("update_mask", "names unknown field %q", p)
		}
		m[p] = true
	}
	return m, nil
}

// apply returns cur with the masked fields taken from v.
func (m mask) apply(cur, v NewCustomer) NewCustomer {
	next := cur
	if m["org_name"] {
		next.OrgName = v.OrgName
	}
	if m["contact"] {
		next.Contact = v.Contact
	}
	if m["contact.name"] {
		next.Contact.Name = v.Contact.Name
	}
	if m["contact.title"] {
		next.Contact.Title = v.Contact.Title
	}
	if m["contact.email"] {
		next.Contact.Email = v.Contact.Email
	}
	if m["contact.phone"] {
		next.Contact.Phone = v.Contact.Phone
	}
	if m["contact.may_contact"] {
		next.Contact.MayContact = v.Contact.MayContact
	}
	if m["address"] {
		next.Address = v.Address
	}
	if m["address.lines"] {
		next.Address.Lines = v.Address.Lines
	}
	if m["address.city"] {
		next.Address.City = v.Address.City
	}
	if m["address.postal_code"] {
		next.Address.PostalCode = v.Address.PostalCode
	}
	if m["address.region"] {
		next.Address.Region = v.Address.Region
	}
	if m["address.country"] {
		next.Address.Country = v.Address.Country
	}
	if m["residency_country"] {
		next.ResidencyCountry = v.ResidencyCountry
	} else if cur.ResidencyCountry == cur.Address.Country && next.Address.Country != cur.Address.Country {
		// A residency that was (or equals) the default follows a corrected address country;
		// an explicitly different residency is kept. Clearing it lets validation re-default it.
		next.ResidencyCountry = ""
	}
	if m["marketing_consent"] {
		next.MarketingConsent = v.MarketingConsent
	}
	if m["reseller_id"] {
		next.ResellerID = v.ResellerID
	}
	return next
}
