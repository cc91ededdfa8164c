// Package billinggrpc serves contactcentre.orders.v1.OrderService and PaymentService: thin
// handlers that convert between proto and the billing domain. Errors are domain errors, mapped
// to status codes by the grpcserver interceptor.
package billinggrpc

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
)

// OrderServer implements ordersv1.OrderServiceServer.
type OrderServer struct {
	ordersv1.UnimplementedOrderServiceServer
	svc *billing.Service
}

var _ ordersv1.OrderServiceServer = (*OrderServer)(nil)

// NewOrderServer returns an OrderServer on svc.
func NewOrderServer(svc *billing.Service) *OrderServer { return &OrderServer{svc: svc} }

// CreateOrder implements ordersv1.OrderServiceServer. Only the client-settable fields of the
// order are read: id, status, totals, flow list and times in the request are ignored.
func (s *OrderServer) CreateOrder(ctx context.Context, req *ordersv1.CreateOrderRequest) (*ordersv1.Order, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	in, err := newOrderFromProto(req.GetOrder())
	if err != nil {
		return nil, err
	}
	o, err := s.svc.Create(ctx, who, in, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	return toProto(o), nil
}

// GetOrder implements ordersv1.OrderServiceServer.
func (s *OrderServer) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.Order, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.svc.Get(ctx, who, req.GetId())
	if err != nil {
		return nil, err
	}
	return toProto(o), nil
}

// ListOrders implements ordersv1.OrderServiceServer.
func (s *OrderServer) ListOrders(ctx context.Context, req *ordersv1.ListOrdersRequest) (*ordersv1.ListOrdersResponse, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := channelFromProto("channel", req.GetChannel())
	if err != nil {
		return nil, err
	}
	start, err := timeFromProto("start_time", req.GetStartTime())
	if err != nil {
		return nil, err
	}
	end, err := timeFromProto("end_time", req.GetEndTime())
	if err != nil {
		return nil, err
	}
	page, err := s.svc.List(ctx, who, billing.ListRequest{
		CustomerID: req.GetCustomerId(),
		ResellerID: req.GetResellerId(),
		Channel:    ch,
		Start:      start,
		End:        end,
		PageSize:   req.GetPageSize(),
		PageToken:  req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	resp := &ordersv1.ListOrdersResponse{
		Orders:        make([]*ordersv1.Order, 0, len(page.Orders)),
		NextPageToken: page.NextPageToken,
	}
	for _, o := range page.Orders {
		resp.Orders = append(resp.Orders, toProto(o))
	}
	return resp, nil
}

// identity returns the caller the auth interceptor put in ctx. Its absence is a wiring bug,
// answered as unauthenticated rather than served without record-level checks.
func identity(ctx context.Context) (auth.Identity, error) {
	who, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Identity{}, apperr.ErrUnauthenticated
	}
	return who, nil
}

func newOrderFromProto(o *ordersv1.Order) (billing.NewOrder, error) {
	ch, err := channelFromProto("order.channel", o.GetChannel())
	if err != nil {
		return billing.NewOrder{}, err
	}
	in := billing.NewOrder{
		CustomerID: o.GetCustomerId(),
		Channel:    ch,
		ResellerID: o.GetResellerId(),
		Currency:   o.GetCurrency(),
		ShipTo:     addressFromProto(o.GetShipTo()),
	}
	// More lines than the limit are refused by validation; converting them first would let a
	// huge request allocate before it is refused.
	if len(o.GetLines()) > billing.MaxLines {
		return billing.NewOrder{}, apperr.Invalid("order.lines", "must have at most %d lines", billing.MaxLines)
	}
	for _, l := range o.GetLines() {
		in.Lines = append(in.Lines, billing.NewLine{
			SKU:            l.GetSku(),
			Description:    l.GetDescription(),
			Quantity:       l.GetQuantity(),
			UnitPriceMinor: l.GetUnitPriceMinor(),
			VATRateBP:      l.GetVatRateBp(),
		})
	}
	return in, nil
}

func channelFromProto(field string, c ordersv1.OrderChannel) (billing.Channel, error) {
	switch c {
	case ordersv1.OrderChannel_ORDER_CHANNEL_UNSPECIFIED:
		return "", nil
	case ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER:
		return billing.ChannelReseller, nil
	case ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT:
		return billing.ChannelStorefront, nil
	}
	return "", apperr.Invalid(field, "must be ORDER_CHANNEL_RESELLER or ORDER_CHANNEL_STOREFRONT")
}

func channelToProto(c billing.Channel) ordersv1.OrderChannel {
	switch c {
	case billing.ChannelReseller:
		return ordersv1.OrderChannel_ORDER_CHANNEL_RESELLER
	case billing.ChannelStorefront:
		return ordersv1.OrderChannel_ORDER_CHANNEL_STOREFRONT
	}
	return ordersv1.OrderChannel_ORDER_CHANNEL_UNSPECIFIED
}

var statuses = map[billing.Status]ordersv1.OrderStatus{
	billing.StatusPendingPayment: ordersv1.OrderStatus_ORDER_STATUS_PENDING_PAYMENT,
	billing.StatusPaid:           ordersv1.OrderStatus_ORDER_STATUS_PAID,
	billing.StatusFulfilled:      ordersv1.OrderStatus_ORDER_STATUS_FULFILLED,
	billing.StatusCancelled:      ordersv1.OrderStatus_ORDER_STATUS_CANCELLED,
	billing.StatusRefunded:       ordersv1.OrderStatus_ORDER_STATUS_REFUNDED,
}

func timeFromProto(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, apperr.Invalid(field, "is not a valid timestamp")
	}
	return ts.AsTime(), nil
}

func addressFromProto(a *ordersv1.Address) billing.Address {
	if a == nil {
		return billing.Address{}
	}
	return billing.Address{
		Lines:      a.GetLines(),
		City:       a.GetCity(),
		PostalCode: a.GetPostalCode(),
		Region:     a.GetRegion(),
		Country:    a.GetCountry(),
	}
}

func toProto(o billing.Order) *ordersv1.Order {
	out := &ordersv1.Order{
		Id:                   o.ID,
		CustomerId:           o.CustomerID,
		Channel:              channelToProto(o.Channel),
		ResellerId:           o.ResellerID,
		Currency:             o.Currency,
		Lines:                make([]*ordersv1.OrderLine, 0, len(o.Lines)),
		Status:               statuses[o.Status],
		NetMinor:             o.NetMinor,
		VatMinor:             o.VATMinor,
		GrossMinor:           o.GrossMinor,
		AllowedSubprocessors: o.AllowedSubprocessors,
		CreateTime:           timestamppb.New(o.CreateTime),
		UpdateTime:           timestamppb.New(o.UpdateTime),
		RetainUntil:          timestamppb.New(o.RetainUntil),
		Etag:                 o.ETag(),
	}
	for _, l := range o.Lines {
		out.Lines = append(out.Lines, &ordersv1.OrderLine{
			Sku:            l.SKU,
			Description:    l.Description,
			Quantity:       l.Quantity,
			UnitPriceMinor: l.UnitPriceMinor,
			VatRateBp:      l.VATRateBP,
			NetMinor:       l.NetMinor,
			VatMinor:       l.VATMinor,
		})
	}
	if !o.ShipTo.IsZero() {
		out.ShipTo = &ordersv1.Address{
			Lines:      o.ShipTo.Lines,
			City:       o.ShipTo.City,
			PostalCode: o.ShipTo.PostalCode,
			Region:     o.ShipTo.Region,
			Country:    o.ShipTo.Country,
		}
	}
	return out
}
