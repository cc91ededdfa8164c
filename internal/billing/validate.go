package billing

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/country"
	"github.com/lumio/contactcentre/internal/validate"
)

// Limits of an order's input. Descriptions and SKUs are product text, not personal data, but
// are bounded all the same: finance exports millions of lines.
const (
	MaxLines       = 500
	maxSKU         = 64
	maxDescription = 500
	maxAddrLines   = 5
	maxAddrLine    = 200
	maxCity        = 100
	maxPostalCode  = 32
	maxRegion      = 100
)

var skuRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidateNewOrder checks an order's input and returns it normalised (surrounding spaces of
// text trimmed, an empty ship_to dropped). Errors are *apperr.InvalidError naming the field by
// its path in the request ("order.lines[2].sku"); messages never echo values.
func ValidateNewOrder(n NewOrder) (NewOrder, error) {
	id, err := validate.ID("order.customer_id", n.CustomerID)
	if err != nil {
		return NewOrder{}, err
	}
	n.CustomerID = id
	n.ResellerID = strings.TrimSpace(n.ResellerID)
	switch n.Channel {
	case ChannelReseller:
		if n.ResellerID == "" {
			return NewOrder{}, apperr.Invalid("order.reseller_id", "is required for reseller orders")
		}
		if err := validate.ResellerID("order.reseller_id", n.ResellerID); err != nil {
			return NewOrder{}, err
		}
	case ChannelStorefront:
		if n.ResellerID != "" {
			return NewOrder{}, apperr.Invalid("order.reseller_id", "must be empty for storefront orders")
		}
	case "":
		return NewOrder{}, apperr.Invalid("order.channel", "is required")
	default:
		return NewOrder{}, apperr.Invalid("order.channel", "must be ORDER_CHANNEL_RESELLER or ORDER_CHANNEL_STOREFRONT")
	}
	if n.Currency == "" {
		return NewOrder{}, apperr.Invalid("order.currency", "is required")
	}
	if !country.IsCurrency(n.Currency) {
		return NewOrder{}, apperr.Invalid("order.currency", "must be an active ISO 4217 currency code in upper case")
	}
	switch {
	case len(n.Lines) == 0:
		return NewOrder{}, apperr.Invalid("order.lines", "must have at least one line")
	case len(n.Lines) > MaxLines:
		return NewOrder{}, apperr.Invalid("order.lines", "must have at most %d lines", MaxLines)
	}
	lines := make([]NewLine, len(n.Lines))
	for i, l := range n.Lines {
		l, err := validateLine(i, l)
		if err != nil {
			return NewOrder{}, err
		}
		lines[i] = l
	}
	n.Lines = lines
	a, err := validateAddress(n.ShipTo)
	if err != nil {
		return NewOrder{}, err
	}
	n.ShipTo = a
	return n, nil
}

func validateLine(i int, l NewLine) (NewLine, error) {
	field := func(name string) string { return fmt.Sprintf("order.lines[%d].%s", i, name) }
	l.SKU = strings.TrimSpace(l.SKU)
	l.Description = strings.TrimSpace(l.Description)
	switch {
	case l.SKU == "":
		return NewLine{}, apperr.Invalid(field("sku"), "is required")
	case len(l.SKU) > maxSKU:
		return NewLine{}, apperr.Invalid(field("sku"), "must be at most %d characters", maxSKU)
	case !skuRE.MatchString(l.SKU):
		return NewLine{}, apperr.Invalid(field("sku"), "must be ASCII letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if err := validate.Text(field("description"), l.Description, maxDescription, false); err != nil {
		return NewLine{}, err
	}
	if l.Quantity <= 0 {
		return NewLine{}, apperr.Invalid(field("quantity"), "must be greater than 0")
	}
	if l.UnitPriceMinor < 0 {
		return NewLine{}, apperr.Invalid(field("unit_price_minor"), "must not be negative")
	}
	if l.VATRateBP < 0 || l.VATRateBP > bpDenominator {
		return NewLine{}, apperr.Invalid(field("vat_rate_bp"), "must be 0 to %d basis points", bpDenominator)
	}
	return l, nil
}

func validateAddress(a Address) (Address, error) {
	if len(a.Lines) > maxAddrLines {
		return Address{}, apperr.Invalid("order.ship_to.lines", "must have at most %d lines", maxAddrLines)
	}
	var lines []string
	for _, l := range a.Lines {
		l = strings.TrimSpace(l)
		if err := validate.Text("order.ship_to.lines", l, maxAddrLine, true); err != nil {
			return Address{}, err
		}
		lines = append(lines, l)
	}
	a.Lines = lines
	a.City = strings.TrimSpace(a.City)
	a.PostalCode = strings.TrimSpace(a.PostalCode)
	a.Region = strings.TrimSpace(a.Region)
	a.Country = strings.TrimSpace(a.Country)
	if a.IsZero() {
		return Address{}, nil
	}
	for _, f := range []struct {
		field, v string
		maxRunes int
	}{
		{"order.ship_to.city", a.City, maxCity},
		{"order.ship_to.postal_code", a.PostalCode, maxPostalCode},
		{"order.ship_to.region", a.Region, maxRegion},
	} {
		if err := validate.Text(f.field, f.v, f.maxRunes, false); err != nil {
			return Address{}, err
		}
	}
	if a.Country == "" {
		return Address{}, apperr.Invalid("order.ship_to.country", "is required when ship_to is given")
	}
	if err := validate.Country("order.ship_to.country", a.Country, true); err != nil {
		return Address{}, err
	}
	return a, nil
}

// ValidateListRequest checks a list request's filters (page size and token are checked where
// they are decoded).
func ValidateListRequest(r ListRequest) error {
	if r.CustomerID != "" {
		if _, err := validate.ID("customer_id", r.CustomerID); err != nil {
			return err
		}
	}
	if err := validate.ResellerID("reseller_id", r.ResellerID); err != nil {
		return err
	}
	switch r.Channel {
	case "", ChannelReseller, ChannelStorefront:
	default:
		return apperr.Invalid("channel", "must be ORDER_CHANNEL_RESELLER or ORDER_CHANNEL_STOREFRONT")
	}
	if !r.Start.IsZero() && !r.End.IsZero() && !r.End.After(r.Start) {
		return apperr.Invalid("end_time", "must be after start_time")
	}
	return nil
}
