package main

import (
	"context"
	"fmt"

	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
)

// demoOrder is one order of the demo data, for the customer created with request id customer.
type demoOrder struct {
	customer string
	channel  ordersv1.OrderChannel
	reseller string
	currency string
	lines    []*ordersv1.OrderLine
	shipTo   *ordersv1.Address
}

// demoOrders are storefront orders for the North American customers and reseller orders for the
// European ones, at each country's standard VAT rate. US sales tax is not VAT and is not
// modelled, so US lines carry 0 bp; Ontario's HST (13 %) is charged like VAT.
var demoOrders = []demoOrder{
	{
		customer: "demo-customer-1", channel: ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT, currency: "USD",
		lines: []*ordersv1.OrderLine{
			{Sku: "LUM-DISTRICT-1Y", Description: "Lumio district licence, 12 months", Quantity: 1, UnitPriceMinor: 1_850_000},
			{Sku: "LUM-PD-WORKSHOP", Description: "On-site professional development workshop (1 day)", Quantity: 2, UnitPriceMinor: 120_000},
		},
		shipTo: &ordersv1.Address{Lines: []string{"2200 Maplewood Avenue"}, City: "Portland", PostalCode: "97201", Region: "OR", Country: "US"},
	},
	{
		customer: "demo-customer-1", channel: ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT, currency: "USD",
		lines: []*ordersv1.OrderLine{
			{Sku: "LUM-TEACHER-1Y", Description: "Lumio teacher licence, 12 months", Quantity: 25, UnitPriceMinor: 9_900},
		},
	},
	{
		customer: "demo-customer-2", channel: ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT, currency: "CAD",
		lines: []*ordersv1.OrderLine{
			{Sku: "LUM-SCHOOL-1Y", Description: "Lumio school licence, 12 months", Quantity: 1, UnitPriceMinor: 450_000, VatRateBp: 1300},
			{Sku: "LUM-TRAIN-ONLINE", Description: "Online teacher training seat", Quantity: 10, UnitPriceMinor: 2_500, VatRateBp: 1300},
		},
	},
	{
		customer: "demo-customer-3", channel: ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER, reseller: "edu-partners-nl", currency: "EUR",
		lines: []*ordersv1.OrderLine{
			{Sku: "LUM-STUDENT-1Y", Description: "Lumio leerlinglicentie, 12 maanden", Quantity: 120, UnitPriceMinor: 1_250, VatRateBp: 2100},
			{Sku: "LUM-PD-WORKSHOP", Description: "Studiedag professionalisering (1 dag)", Quantity: 1, UnitPriceMinor: 49_500, VatRateBp: 2100},
		},
		shipTo: &ordersv1.Address{Lines: []string{"Oudegracht 120"}, City: "Utrecht", PostalCode: "3511 AX", Country: "NL"},
	},
	{
		customer: "demo-customer-3", channel: ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER, reseller: "edu-partners-nl", currency: "EUR",
		lines: []*ordersv1.OrderLine{
			{Sku: "LUM-CLASSKIT-30", Description: "Klassenset interactieve tablets (30 stuks)", Quantity: 1, UnitPriceMinor: 89_900, VatRateBp: 2100},
		},
	},
	{
		customer: "demo-customer-4", channel: ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER, reseller: "edu-partners-de", currency: "EUR",
		lines: []*ordersv1.OrderLine{
			{Sku: "LUM-SCHOOL-1Y", Description: "Lumio Schullizenz, 12 Monate", Quantity: 1, UnitPriceMinor: 389_000, VatRateBp: 1900},
			{Sku: "LUM-TEACHER-1Y", Description: "Lumio Lehrkräftelizenz, 12 Monate", Quantity: 40, UnitPriceMinor: 8_900, VatRateBp: 1900},
		},
	},
	{
		customer: "demo-customer-5", channel: ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER, reseller: "edu-partners-uk", currency: "GBP",
		lines: []*ordersv1.OrderLine{
			{Sku: "LUM-TRUST-1Y", Description: "Lumio multi-academy trust licence, 12 months", Quantity: 1, UnitPriceMinor: 1_200_000, VatRateBp: 2000},
			{Sku: "LUM-TRAIN-ONLINE", Description: "Online teacher training seat", Quantity: 60, UnitPriceMinor: 2_000, VatRateBp: 2000},
		},
	},
	{
		customer: "demo-customer-6", channel: ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER, reseller: "edu-partners-ie", currency: "EUR",
		lines: []*ordersv1.OrderLine{
			{Sku: "LUM-BUSINESS-1Y", Description: "Lumio business training licence, 12 months", Quantity: 15, UnitPriceMinor: 14_900, VatRateBp: 2300},
		},
		shipTo: &ordersv1.Address{Lines: []string{"Unit 4, Grand Canal Quay"}, City: "Dublin", PostalCode: "D02 X285", Country: "IE"},
	},
}

// seedDemoOrders creates the demo orders through OrderService. customerIDs maps the demo
// customers' request ids ("demo-customer-1" ...) to their ids. Every order carries a fixed
// request id ("demo-order-N"), so a rerun returns the existing orders and creates nothing.
// It returns how many orders exist after the call; ctx must carry an admin token.
func seedDemoOrders(ctx context.Context, orders ordersv1.OrderServiceClient, customerIDs map[string]string) (int, error) {
	n := 0
	for i, d := range demoOrders {
		reqID := fmt.Sprintf("demo-order-%d", i+1)
		customerID, ok := customerIDs[d.customer]
		if !ok || customerID == "" {
			return n, fmt.Errorf("create order %s: no id for customer %s", reqID, d.customer)
		}
		_, err := orders.CreateOrder(ctx, &ordersv1.CreateOrderRequest{
			RequestId: reqID,
			Order: &ordersv1.Order{
				CustomerId: customerID,
				Channel:    d.channel,
				ResellerId: d.reseller,
				Currency:   d.currency,
				Lines:      d.lines,
				ShipTo:     d.shipTo,
			},
		})
		if err != nil {
			return n, fmt.Errorf("create order %s: %w", reqID, err)
		}
		n++
	}
	return n, nil
}
