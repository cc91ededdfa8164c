package billinggrpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/country"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
)

// PaymentServer implements ordersv1.PaymentServiceServer.
type PaymentServer struct {
	ordersv1.UnimplementedPaymentServiceServer
	svc *billing.Payments
}

var _ ordersv1.PaymentServiceServer = (*PaymentServer)(nil)

// NewPaymentServer returns a PaymentServer on svc.
func NewPaymentServer(svc *billing.Payments) *PaymentServer { return &PaymentServer{svc: svc} }

// ResolveStripeEntity implements ordersv1.PaymentServiceServer.
func (s *PaymentServer) ResolveStripeEntity(_ context.Context, req *ordersv1.ResolveStripeEntityRequest) (*ordersv1.ResolveStripeEntityResponse, error) {
	e, err := s.svc.ResolveEntity(req.GetResidencyCountry())
	if err != nil {
		return nil, err
	}
	return &ordersv1.ResolveStripeEntityResponse{StripeEntity: entityToProto(e.Name), PublishableKey: e.PublishableKey}, nil
}

// CreatePayment implements ordersv1.PaymentServiceServer.
func (s *PaymentServer) CreatePayment(ctx context.Context, req *ordersv1.CreatePaymentRequest) (*ordersv1.Payment, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.Create(ctx, who, req.GetOrderId(), req.GetIdempotencyKey())
	if err != nil {
		return nil, err
	}
	return paymentToProto(p), nil
}

// GetPayment implements ordersv1.PaymentServiceServer.
func (s *PaymentServer) GetPayment(ctx context.Context, req *ordersv1.GetPaymentRequest) (*ordersv1.Payment, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.Get(ctx, who, req.GetId())
	if err != nil {
		return nil, err
	}
	return paymentToProto(p), nil
}

// RefundPayment implements ordersv1.PaymentServiceServer.
func (s *PaymentServer) RefundPayment(ctx context.Context, req *ordersv1.RefundPaymentRequest) (*ordersv1.Refund, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Refund(ctx, who, req.GetPaymentId(), req.GetAmountMinor(), req.GetIdempotencyKey())
	if err != nil {
		return nil, err
	}
	return &ordersv1.Refund{
		Id:          r.ID,
		PaymentId:   r.PaymentID,
		RefundId:    r.StripeRefundID,
		AmountMinor: r.AmountMinor,
		Currency:    r.Currency,
		Status:      refundStatuses[r.Status],
		CreateTime:  timestamppb.New(r.CreateTime),
	}, nil
}

func entityToProto(e string) ordersv1.StripeEntity {
	switch e {
	case country.StripeUS:
		return ordersv1.StripeEntity_STRIPE_ENTITY_US
	case country.StripeIE:
		return ordersv1.StripeEntity_STRIPE_ENTITY_IE
	}
	return ordersv1.StripeEntity_STRIPE_ENTITY_UNSPECIFIED
}

var paymentStatuses = map[billing.PaymentStatus]ordersv1.PaymentStatus{
	billing.PaymentRequiresPayment:   ordersv1.PaymentStatus_PAYMENT_STATUS_REQUIRES_PAYMENT,
	billing.PaymentProcessing:        ordersv1.PaymentStatus_PAYMENT_STATUS_PROCESSING,
	billing.PaymentSucceeded:         ordersv1.PaymentStatus_PAYMENT_STATUS_SUCCEEDED,
	billing.PaymentFailed:            ordersv1.PaymentStatus_PAYMENT_STATUS_FAILED,
	billing.PaymentCanceled:          ordersv1.PaymentStatus_PAYMENT_STATUS_CANCELED,
	billing.PaymentPartiallyRefunded: ordersv1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED,
	billing.PaymentRefunded:          ordersv1.PaymentStatus_PAYMENT_STATUS_REFUNDED,
}

var refundStatuses = map[billing.RefundStatus]ordersv1.RefundStatus{
	billing.RefundPending:   ordersv1.RefundStatus_REFUND_STATUS_PENDING,
	billing.RefundSucceeded: ordersv1.RefundStatus_REFUND_STATUS_SUCCEEDED,
	billing.RefundFailed:    ordersv1.RefundStatus_REFUND_STATUS_FAILED,
}

func paymentToProto(p billing.Payment) *ordersv1.Payment {
	return &ordersv1.Payment{
		Id:                   p.ID,
		OrderId:              p.OrderID,
		StripeEntity:         entityToProto(p.StripeEntity),
		PaymentIntentId:      p.PaymentIntentID,
		ClientSecret:         p.ClientSecret,
		PublishableKey:       p.PublishableKey,
		AmountMinor:          p.AmountMinor,
		Currency:             p.Currency,
		Status:               paymentStatuses[p.Status],
		AllowedSubprocessors: p.AllowedSubprocessors,
		CreateTime:           timestamppb.New(p.CreateTime),
		RefundedMinor:        p.RefundedMinor,
	}
}
