package billing

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// PaymentFacts are the flow-policy facts of a storefront payment: its one Stripe entity, with
// the residency of the order's customer. The payment's list and its ledger entry both come from
// this function.
func PaymentFacts(p Payment, residencyCountry string) dataflow.Facts {
	return dataflow.Facts{
		Kind:             dataflow.KindPayment,
		OrderChannel:     dataflow.OrderChannelStorefront,
		StripeEntity:     p.StripeEntity,
		ResidencyCountry: residencyCountry,
	}
}

// OrderPush is one payload of a new order and the processors that receive exactly it.
type OrderPush struct {
	Processors []string
	// Payload is JSON.
	Payload []byte
}

// orderPushTargets are the processors an order is pushed to, each with what it needs. aws_us
// is absent because it hosts us (nothing is sent to it), and the Stripe entities because they
// receive an order only as the payment API call, through the gateway's call-time check.
var orderPushTargets = []struct {
	processor string
	// channel limits the target to one order channel; empty means every order.
	channel Channel
	doc     func(Order) any
}{
	{dataflow.Salesforce, "", func(o Order) any { return newOrderDoc(o) }},
	{dataflow.Microsoft, "", func(o Order) any { return newOrderDoc(o) }},
	// The reseller may also be on a storefront order's list (its customer has one), but it
	// delivers only what it sold.
	{dataflow.Reseller, ChannelReseller, func(o Order) any { return newDeliveryDoc(o) }},
	{dataflow.BigCommerce, ChannelStorefront, func(o Order) any { return newDeliveryDoc(o) }},
	{dataflow.HubSpot, "", func(o Order) any { return newMarketingDoc(o) }},
	{dataflow.Gainsight, "", func(o Order) any { return newMarketingDoc(o) }},
	{dataflow.Mixpanel, "", func(o Order) any { return newMonitoringDoc(o) }},
}

// OrderPushes returns what a new order sends to each processor it is pushed to, grouped by
// identical payload. Only processors on o.AllowedSubprocessors are named: the gateway would
// refuse the others anyway, but a refusal is for a rule that changed, not for a target that
// never applied. Only the processors that deliver goods (the reseller, BigCommerce) receive the
// ship_to address; the others receive the order data alone.
func OrderPushes(o Order) ([]OrderPush, error) {
	var out []OrderPush
	byPayload := map[string]int{}
	for _, t := range orderPushTargets {
		if (t.channel != "" && t.channel != o.Channel) || !slices.Contains(o.AllowedSubprocessors, t.processor) {
			continue
		}
		b, err := json.Marshal(t.doc(o))
		if err != nil {
			return nil, fmt.Errorf("encode order %s for %s: %w", o.ID, t.processor, err)
		}
		if i, ok := byPayload[string(b)]; ok {
			out[i].Processors = append(out[i].Processors, t.processor)
			continue
		}
		byPayload[string(b)] = len(out)
		out = append(out, OrderPush{Processors: []string{t.processor}, Payload: b})
	}
	return out, nil
}

// lineDoc is an order line as processors receive it.
type lineDoc struct {
	SKU            string `json:"sku"`
	Description    string `json:"description,omitempty"`
	Quantity       int64  `json:"quantity"`
	UnitPriceMinor int64  `json:"unit_price_minor"`
	VATRateBP      int32  `json:"vat_rate_bp"`
	NetMinor       int64  `json:"net_minor"`
	VATMinor       int64  `json:"vat_minor"`
}

// orderDoc is the order data of DOMAIN.md (product, quantity, price and VAT) for the CRM and
// the ERP: ids, lines, totals, currency and country, and no contact or address.
type orderDoc struct {
	ID           string    `json:"id"`
	CustomerID   string    `json:"customer_id"`
	Channel      Channel   `json:"channel"`
	ResellerID   string    `json:"reseller_id,omitempty"`
	Status       Status    `json:"status"`
	Currency     string    `json:"currency"`
	Country      string    `json:"country"`
	Lines        []lineDoc `json:"lines"`
	NetMinor     int64     `json:"net_minor"`
	VATMinor     int64     `json:"vat_minor"`
	GrossMinor   int64     `json:"gross_minor"`
	StripeEntity string    `json:"stripe_entity,omitempty"`
	CreateTime   string    `json:"create_time"`
}

func newOrderDoc(o Order) orderDoc {
	lines := make([]lineDoc, 0, len(o.Lines))
	for _, l := range o.Lines {
		lines = append(lines, lineDoc(l))
	}
	return orderDoc{
		ID: o.ID, CustomerID: o.CustomerID, Channel: o.Channel, ResellerID: o.ResellerID,
		Status: o.Status, Currency: o.Currency, Country: o.Country, Lines: lines,
		NetMinor: o.NetMinor, VATMinor: o.VATMinor, GrossMinor: o.GrossMinor,
		StripeEntity: o.StripeEntity, CreateTime: o.CreateTime.UTC().Format(time.RFC3339Nano),
	}
}

// deliveryDoc adds the delivery address for the processors that deliver the goods.
type deliveryDoc struct {
	orderDoc
	ShipTo *Address `json:"ship_to,omitempty"`
}

func newDeliveryDoc(o Order) deliveryDoc {
	d := deliveryDoc{orderDoc: newOrderDoc(o)}
	if !o.ShipTo.IsZero() {
		shipTo := o.ShipTo
		d.ShipTo = &shipTo
	}
	return d
}

// marketingLine is what a marketing processor learns of a line: which product, how many.
type marketingLine struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// marketingDoc is what marketing tools need for training and offers: who bought which products
// and when, without prices, address or delivery.
type marketingDoc struct {
	ID         string          `json:"id"`
	CustomerID string          `json:"customer_id"`
	Channel    Channel         `json:"channel"`
	Lines      []marketingLine `json:"lines"`
	CreateTime string          `json:"create_time"`
}

func newMarketingDoc(o Order) marketingDoc {
	lines := make([]marketingLine, 0, len(o.Lines))
	for _, l := range o.Lines {
		lines = append(lines, marketingLine{SKU: l.SKU, Quantity: l.Quantity})
	}
	return marketingDoc{
		ID: o.ID, CustomerID: o.CustomerID, Channel: o.Channel, Lines: lines,
		CreateTime: o.CreateTime.UTC().Format(time.RFC3339Nano),
	}
}

// monitoringDoc holds facts only. The mixpanel sink projects it through the pseudonymisation
// allow-list (ids hashed) whatever it holds; its field names are that list's.
type monitoringDoc struct {
	ID           string  `json:"id"`
	CustomerID   string  `json:"customer_id"`
	ResellerID   string  `json:"reseller_id,omitempty"`
	Kind         string  `json:"kind"`
	Channel      Channel `json:"channel"`
	Status       Status  `json:"status"`
	Currency     string  `json:"currency"`
	Country      string  `json:"country"`
	StripeEntity string  `json:"stripe_entity,omitempty"`
	LineCount    int     `json:"line_count"`
	NetMinor     int64   `json:"net_minor"`
	VATMinor     int64   `json:"vat_minor"`
	GrossMinor   int64   `json:"gross_minor"`
	CreateTime   string  `json:"create_time"`
}

func newMonitoringDoc(o Order) monitoringDoc {
	return monitoringDoc{
		ID: o.ID, CustomerID: o.CustomerID, ResellerID: o.ResellerID, Kind: string(dataflow.KindOrder),
		Channel: o.Channel, Status: o.Status, Currency: o.Currency, Country: o.Country,
		StripeEntity: o.StripeEntity, LineCount: len(o.Lines), NetMinor: o.NetMinor,
		VATMinor: o.VATMinor, GrossMinor: o.GrossMinor, CreateTime: o.CreateTime.UTC().Format(time.RFC3339Nano),
	}
}
