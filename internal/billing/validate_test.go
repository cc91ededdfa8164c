package billing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/billing"
)

const customerID = "0193a5c2-7d41-7c3e-9f10-2b6a1c9e4d55"

func resellerOrder() billing.NewOrder {
	return billing.NewOrder{
		CustomerID: customerID,
		Channel:    billing.ChannelReseller,
		ResellerID: "edu-partners-nl",
		Currency:   "EUR",
		Lines: []billing.NewLine{
			{SKU: "LUM-STUDENT-1Y", Description: "Leerlinglicentie", Quantity: 120, UnitPriceMinor: 1250, VATRateBP: 2100},
		},
		ShipTo: billing.Address{Lines: []string{"Oudegracht 120"}, City: "Utrecht", PostalCode: "3511 AX", Country: "NL"},
	}
}

func TestValidateNewOrderAcceptsAndNormalises(t *testing.T) {
	t.Parallel()
	in := resellerOrder()
	in.ResellerID = " edu-partners-nl "
	in.Lines[0].SKU = " LUM-STUDENT-1Y "
	in.Lines[0].Description = " Leerlinglicentie\t"
	in.ShipTo.City = " Utrecht "
	got, err := billing.ValidateNewOrder(in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(resellerOrder(), got); diff != "" {
		t.Errorf("normalised (-want +got):\n%s", diff)
	}

	blank := resellerOrder()
	blank.ShipTo = billing.Address{Lines: []string{}, City: "  "}
	got, err = billing.ValidateNewOrder(blank)
	if err != nil || !got.ShipTo.IsZero() || got.ShipTo.Lines != nil {
		t.Errorf("blank ship_to: %+v, %v; want dropped", got.ShipTo, err)
	}

	sf := resellerOrder()
	sf.Channel, sf.ResellerID, sf.Currency = billing.ChannelStorefront, "", "JPY"
	sf.Lines = make([]billing.NewLine, billing.MaxLines)
	for i := range sf.Lines {
		sf.Lines[i] = billing.NewLine{SKU: "A.b_c-9", Quantity: 1, VATRateBP: 10000, Description: strings.Repeat("é", 500)}
	}
	if _, err := billing.ValidateNewOrder(sf); err != nil {
		t.Errorf("storefront order at every limit: %v", err)
	}
}

func TestValidateNewOrderRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*billing.NewOrder)
		field  string
	}{
		{"customer id missing", func(n *billing.NewOrder) { n.CustomerID = "" }, "order.customer_id"},
		{"customer id not a uuid", func(n *billing.NewOrder) { n.CustomerID = "cust-1" }, "order.customer_id"},
		{"customer id braced", func(n *billing.NewOrder) { n.CustomerID = "{" + customerID[:34] + "}" }, "order.customer_id"},
		{"channel missing", func(n *billing.NewOrder) { n.Channel = "" }, "order.channel"},
		{"channel unknown", func(n *billing.NewOrder) { n.Channel = "phone" }, "order.channel"},
		{"reseller order without reseller", func(n *billing.NewOrder) { n.ResellerID = " " }, "order.reseller_id"},
		{"reseller id malformed", func(n *billing.NewOrder) { n.ResellerID = "Edu Partners" }, "order.reseller_id"},
		{"reseller id too long", func(n *billing.NewOrder) { n.ResellerID = strings.Repeat("a", 65) }, "order.reseller_id"},
		{"storefront order with reseller", func(n *billing.NewOrder) { n.Channel = billing.ChannelStorefront }, "order.reseller_id"},
		{"currency missing", func(n *billing.NewOrder) { n.Currency = "" }, "order.currency"},
		{"currency lower case", func(n *billing.NewOrder) { n.Currency = "eur" }, "order.currency"},
		{"currency not ISO 4217", func(n *billing.NewOrder) { n.Currency = "EUX" }, "order.currency"},
		{"currency withdrawn", func(n *billing.NewOrder) { n.Currency = "HRK" }, "order.currency"},
		{"currency without minor unit", func(n *billing.NewOrder) { n.Currency = "XAU" }, "order.currency"},
		{"no lines", func(n *billing.NewOrder) { n.Lines = nil }, "order.lines"},
		{"too many lines", func(n *billing.NewOrder) {
			n.Lines = make([]billing.NewLine, billing.MaxLines+1)
			for i := range n.Lines {
				n.Lines[i] = billing.NewLine{SKU: "A", Quantity: 1}
			}
		}, "order.lines"},
		{"sku missing", func(n *billing.NewOrder) { n.Lines[0].SKU = "  " }, "order.lines[0].sku"},
		{"sku too long", func(n *billing.NewOrder) { n.Lines[0].SKU = strings.Repeat("A", 65) }, "order.lines[0].sku"},
		{"sku starts with a dash", func(n *billing.NewOrder) { n.Lines[0].SKU = "-A" }, "order.lines[0].sku"},
		{"sku with a space", func(n *billing.NewOrder) { n.Lines[0].SKU = "LUM 1" }, "order.lines[0].sku"},
		{"sku not ASCII", func(n *billing.NewOrder) { n.Lines[0].SKU = "LUMÉ" }, "order.lines[0].sku"},
		{"description too long", func(n *billing.NewOrder) { n.Lines[0].Description = strings.Repeat("x", 501) }, "order.lines[0].description"},
		{"description with NUL", func(n *billing.NewOrder) { n.Lines[0].Description = "a\x00b" }, "order.lines[0].description"},
		{"description invalid UTF-8", func(n *billing.NewOrder) { n.Lines[0].Description = "a\xffb" }, "order.lines[0].description"},
		{"quantity zero", func(n *billing.NewOrder) { n.Lines[0].Quantity = 0 }, "order.lines[0].quantity"},
		{"quantity negative", func(n *billing.NewOrder) { n.Lines[0].Quantity = -1 }, "order.lines[0].quantity"},
		{"unit price negative", func(n *billing.NewOrder) { n.Lines[0].UnitPriceMinor = -1 }, "order.lines[0].unit_price_minor"},
		{"vat negative", func(n *billing.NewOrder) { n.Lines[0].VATRateBP = -1 }, "order.lines[0].vat_rate_bp"},
		{"vat over 100 %", func(n *billing.NewOrder) { n.Lines[0].VATRateBP = 10001 }, "order.lines[0].vat_rate_bp"},
		{"second line names its index", func(n *billing.NewOrder) {
			n.Lines = append(n.Lines, billing.NewLine{SKU: "B", Quantity: 0})
		}, "order.lines[1].quantity"},
		{"ship_to without country", func(n *billing.NewOrder) { n.ShipTo.Country = "" }, "order.ship_to.country"},
		{"ship_to country lower case", func(n *billing.NewOrder) { n.ShipTo.Country = "nl" }, "order.ship_to.country"},
		{"ship_to country unassigned", func(n *billing.NewOrder) { n.ShipTo.Country = "XK" }, "order.ship_to.country"},
		{"ship_to too many lines", func(n *billing.NewOrder) { n.ShipTo.Lines = []string{"a", "b", "c", "d", "e", "f"} }, "order.ship_to.lines"},
		{"ship_to blank line", func(n *billing.NewOrder) { n.ShipTo.Lines = []string{"a", " "} }, "order.ship_to.lines"},
		{"ship_to city too long", func(n *billing.NewOrder) { n.ShipTo.City = strings.Repeat("c", 101) }, "order.ship_to.city"},
		{"ship_to postal code with newline", func(n *billing.NewOrder) { n.ShipTo.PostalCode = "1\n2" }, "order.ship_to.postal_code"},
		{"ship_to region too long", func(n *billing.NewOrder) { n.ShipTo.Region = strings.Repeat("r", 101) }, "order.ship_to.region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := resellerOrder()
			tc.mutate(&in)
			_, err := billing.ValidateNewOrder(in)
			if f, ok := apperr.Field(err); !ok || f != tc.field {
				t.Errorf("ValidateNewOrder: %v; want an InvalidError naming %s", err, tc.field)
			}
		})
	}
}

// TestValidationMessagesHideValues: the message names the field and the rule, never the value,
// which for an address may be personal data.
func TestValidationMessagesHideValues(t *testing.T) {
	t.Parallel()
	in := resellerOrder()
	in.ShipTo.City = "Secret\nStreet"
	_, err := billing.ValidateNewOrder(in)
	if err == nil || strings.Contains(err.Error(), "Secret") {
		t.Errorf("error %q leaks the value", err)
	}
}

func TestValidateListRequest(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		r     billing.ListRequest
		field string
	}{
		{"empty", billing.ListRequest{}, ""},
		{"all filters", billing.ListRequest{CustomerID: customerID, ResellerID: "edu-partners-nl", Channel: billing.ChannelReseller, Start: t0, End: t0.Add(time.Second)}, ""},
		{"open start", billing.ListRequest{End: t0}, ""},
		{"open end", billing.ListRequest{Start: t0}, ""},
		{"bad customer", billing.ListRequest{CustomerID: "x"}, "customer_id"},
		{"bad reseller", billing.ListRequest{ResellerID: "A B"}, "reseller_id"},
		{"bad channel", billing.ListRequest{Channel: "x"}, "channel"},
		{"inverted range", billing.ListRequest{Start: t0, End: t0.Add(-time.Second)}, "end_time"},
		{"empty range", billing.ListRequest{Start: t0, End: t0}, "end_time"},
	} {
		err := billing.ValidateListRequest(tc.r)
		f, _ := apperr.Field(err)
		if f != tc.field || (tc.field == "") != (err == nil) {
			t.Errorf("%s: ValidateListRequest = %v, want field %q", tc.name, err, tc.field)
		}
	}
}

// FuzzValidateNewOrder: whatever the input, validation never panics and returns either nil or
// an *apperr.InvalidError; what it accepts, pricing accepts or refuses as invalid too, and a
// second validation of its output changes nothing.
func FuzzValidateNewOrder(f *testing.F) {
	f.Add(customerID, "reseller", "edu-partners-nl", "EUR", "LUM-1", "desc", int64(1), int64(100), int32(2100), "Utrecht", "NL")
	f.Add(customerID, "storefront", "", "JPY", "A", "", int64(-1), int64(-5), int32(10001), "", "")
	f.Add("", "", "", "", "", "\x00", int64(0), int64(0), int32(0), "\xff", "nl")
	f.Fuzz(func(t *testing.T, cust, channel, reseller, currency, sku, desc string, qty, price int64, rate int32, city, ctry string) {
		in := billing.NewOrder{
			CustomerID: cust, Channel: billing.Channel(channel), ResellerID: reseller, Currency: currency,
			Lines:  []billing.NewLine{{SKU: sku, Description: desc, Quantity: qty, UnitPriceMinor: price, VATRateBP: rate}},
			ShipTo: billing.Address{City: city, Country: ctry},
		}
		out, err := billing.ValidateNewOrder(in)
		if err != nil {
			var inv *apperr.InvalidError
			if !errors.As(err, &inv) || inv.Field == "" {
				t.Fatalf("ValidateNewOrder error %T %v, want *apperr.InvalidError", err, err)
			}
			return
		}
		again, err := billing.ValidateNewOrder(out)
		if err != nil {
			t.Fatalf("revalidating accepted output: %v", err)
		}
		if diff := cmp.Diff(out, again); diff != "" {
			t.Fatalf("validation is not idempotent (-first +second):\n%s", diff)
		}
		if _, err := billing.Price(out.Lines); err != nil {
			var inv *apperr.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Price error %T %v, want *apperr.InvalidError", err, err)
			}
		}
	})
}
