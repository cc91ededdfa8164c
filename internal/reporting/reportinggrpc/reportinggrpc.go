// Package reportinggrpc serves contactcentre.orders.v1.ReportingService: thin handlers that
// convert between the wire and package reporting. Roles (finance, admin) are checked per RPC by
// the shared interceptor before a handler runs; errors are mapped by grpcserver.ToStatus.
package reportinggrpc

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/apperr"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	"github.com/lumio/contactcentre/internal/reporting"
)

// Server implements ordersv1.ReportingServiceServer.
type Server struct {
	ordersv1.UnimplementedReportingServiceServer
	svc *reporting.Service
}

var _ ordersv1.ReportingServiceServer = (*Server)(nil)

// NewServer returns a Server over svc.
func NewServer(svc *reporting.Service) *Server { return &Server{svc: svc} }

// RevenueReport implements ordersv1.ReportingServiceServer.
func (s *Server) RevenueReport(ctx context.Context, req *ordersv1.RevenueReportRequest) (*ordersv1.RevenueReportResponse, error) {
	start, end, err := timeRange(req.GetStartTime(), req.GetEndTime())
	if err != nil {
		return nil, err
	}
	group := make([]reporting.Dimension, len(req.GetGroupBy()))
	for i, d := range req.GetGroupBy() {
		group[i] = dimensions[d] // unknown values map to 0, which the domain refuses by index
	}
	rows, err := s.svc.Revenue(ctx, reporting.RevenueRequest{Start: start, End: end, GroupBy: group})
	if err != nil {
		return nil, err
	}
	resp := &ordersv1.RevenueReportResponse{Rows: make([]*ordersv1.RevenueRow, len(rows))}
	for i, r := range rows {
		resp.Rows[i] = &ordersv1.RevenueRow{
			StripeEntity:     stripeEntityName(r.StripeEntity),
			Country:          r.Country,
			ResellerId:       r.ResellerID,
			Sku:              r.SKU,
			Month:            r.Month,
			Channel:          channelName(r.Channel),
			Currency:         r.Currency,
			OrderCount:       r.OrderCount,
			NetMinor:         r.NetMinor,
			VatMinor:         r.VATMinor,
			GrossMinor:       r.GrossMinor,
			RefundedMinor:    r.RefundedMinor,
			VatRateBp:        r.VATRateBP,
			RefundedVatMinor: r.RefundedVATMinor,
			LineCount:        r.LineCount,
		}
	}
	return resp, nil
}

// ExportOrders implements ordersv1.ReportingServiceServer. Send blocks while the client's
// flow-control window is full, which in turn holds back the next database batch: memory stays
// at one batch however slow the reader. One message is reused because Send marshals it
// before returning.
func (s *Server) ExportOrders(req *ordersv1.ExportOrdersRequest, stream grpc.ServerStreamingServer[ordersv1.ExportOrdersResponse]) error {
	start, end, err := timeRange(req.GetStartTime(), req.GetEndTime())
	if err != nil {
		return err
	}
	msg := &ordersv1.ExportOrdersResponse{CreateTime: &timestamppb.Timestamp{}}
	return s.svc.Export(stream.Context(), start, end, func(l reporting.ExportLine) error {
		msg.OrderId = l.OrderID
		msg.CustomerId = l.CustomerID
		msg.Channel = channelName(l.Channel)
		msg.ResellerId = l.ResellerID
		msg.StripeEntity = stripeEntityName(l.StripeEntity)
		msg.Country = l.Country
		msg.Currency = l.Currency
		msg.Status = statusName(l.Status)
		msg.CreateTime.Seconds, msg.CreateTime.Nanos = l.CreateTime.Unix(), int32(l.CreateTime.Nanosecond())
		msg.LineNumber = l.LineNumber
		msg.Sku = l.SKU
		msg.Description = l.Description
		msg.Quantity = l.Quantity
		msg.UnitPriceMinor = l.UnitPriceMinor
		msg.VatRateBp = l.VATRateBP
		msg.NetMinor = l.NetMinor
		msg.VatMinor = l.VATMinor
		return stream.Send(msg)
	})
}

// timeRange reads optional timestamps: an absent one is the zero time (which the domain
// refuses as missing); a malformed one is invalid here, naming its field.
func timeRange(start, end *timestamppb.Timestamp) (time.Time, time.Time, error) {
	var s, e time.Time
	if start != nil {
		if err := start.CheckValid(); err != nil {
			return s, e, apperr.Invalid("start_time", "is not a valid timestamp")
		}
		s = start.AsTime()
	}
	if end != nil {
		if err := end.CheckValid(); err != nil {
			return s, e, apperr.Invalid("end_time", "is not a valid timestamp")
		}
		e = end.AsTime()
	}
	return s, e, nil
}

var dimensions = map[ordersv1.Dimension]reporting.Dimension{
	ordersv1.Dimension_DIMENSION_STRIPE_ENTITY: reporting.DimStripeEntity,
	ordersv1.Dimension_DIMENSION_COUNTRY:       reporting.DimCountry,
	ordersv1.Dimension_DIMENSION_RESELLER:      reporting.DimReseller,
	ordersv1.Dimension_DIMENSION_SKU:           reporting.DimSKU,
	ordersv1.Dimension_DIMENSION_MONTH:         reporting.DimMonth,
	ordersv1.Dimension_DIMENSION_CHANNEL:       reporting.DimChannel,
	ordersv1.Dimension_DIMENSION_VAT_RATE:      reporting.DimVATRate,
}

// The report's string columns carry the API's enum names (STRIPE_ENTITY_IE, ORDER_CHANNEL_...,
// ORDER_STATUS_...), so that finance's tools read the same spellings as every other RPC.
func stripeEntityName(e string) string {
	switch e {
	case "stripe_us":
		return ordersv1.StripeEntity_STRIPE_ENTITY_US.String()
	case "stripe_ie":
		return ordersv1.StripeEntity_STRIPE_ENTITY_IE.String()
	}
	return ""
}

func channelName(c string) string {
	switch c {
	case "reseller":
		return ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER.String()
	case "storefront":
		return ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT.String()
	}
	return ""
}

var statuses = map[string]string{
	"pending_payment": ordersv1.OrderStatus_ORDER_STATUS_PENDING_PAYMENT.String(),
	"paid":            ordersv1.OrderStatus_ORDER_STATUS_PAID.String(),
	"fulfilled":       ordersv1.OrderStatus_ORDER_STATUS_FULFILLED.String(),
	"cancelled":       ordersv1.OrderStatus_ORDER_STATUS_CANCELLED.String(),
	"refunded":        ordersv1.OrderStatus_ORDER_STATUS_REFUNDED.String(),
}

func statusName(s string) string { return statuses[s] }
