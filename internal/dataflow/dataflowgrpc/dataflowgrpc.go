// Package dataflowgrpc serves DataFlowService: the subprocessor registry and, per record, the
// policy's explanation and the outbound deliveries.
package dataflowgrpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// Server implements dataflowv1.DataFlowServiceServer.
type Server struct {
	dataflowv1.UnimplementedDataFlowServiceServer
	svc *dataflow.Service
}

var _ dataflowv1.DataFlowServiceServer = (*Server)(nil)

// NewServer returns a DataFlowService server explaining and listing through svc.
func NewServer(svc *dataflow.Service) *Server { return &Server{svc: svc} }

// ExplainFlow says whether a record may flow to a processor, why, and on which transfer basis.
func (s *Server) ExplainFlow(ctx context.Context, req *dataflowv1.ExplainFlowRequest) (*dataflowv1.ExplainFlowResponse, error) {
	e, err := s.svc.ExplainFlow(ctx, req.GetRecordId(), req.GetSubprocessorId())
	if err != nil {
		return nil, err
	}
	return &dataflowv1.ExplainFlowResponse{Allowed: e.Allowed, Reason: e.Reason, TransferBasis: e.TransferBasis}, nil
}

// ListDeliveries lists a record's outbound deliveries, oldest first.
func (s *Server) ListDeliveries(ctx context.Context, req *dataflowv1.ListDeliveriesRequest) (*dataflowv1.ListDeliveriesResponse, error) {
	ds, err := s.svc.ListDeliveries(ctx, req.GetRecordId())
	if err != nil {
		return nil, err
	}
	out := make([]*dataflowv1.Delivery, 0, len(ds))
	for _, d := range ds {
		out = append(out, &dataflowv1.Delivery{
			Id:             d.ID,
			SubprocessorId: d.Subprocessor,
			Status:         deliveryStatus(d.Status),
			Attempts:       int32(min(d.Attempts, 1<<30)),
			UpdateTime:     timestamppb.New(d.UpdateTime),
			Error:          d.LastError,
			Kind:           string(d.Kind),
		})
	}
	return &dataflowv1.ListDeliveriesResponse{Deliveries: out}, nil
}

func deliveryStatus(s dataflow.Status) dataflowv1.DeliveryStatus {
	switch s {
	case dataflow.StatusPending:
		return dataflowv1.DeliveryStatus_DELIVERY_STATUS_PENDING
	case dataflow.StatusDelivered:
		return dataflowv1.DeliveryStatus_DELIVERY_STATUS_DELIVERED
	case dataflow.StatusRefused:
		return dataflowv1.DeliveryStatus_DELIVERY_STATUS_REFUSED
	case dataflow.StatusCancelled:
		return dataflowv1.DeliveryStatus_DELIVERY_STATUS_CANCELLED
	case dataflow.StatusDead:
		return dataflowv1.DeliveryStatus_DELIVERY_STATUS_DEAD
	}
	return dataflowv1.DeliveryStatus_DELIVERY_STATUS_UNSPECIFIED
}

// ListSubprocessors lists the registry.
func (s *Server) ListSubprocessors(context.Context, *dataflowv1.ListSubprocessorsRequest) (*dataflowv1.ListSubprocessorsResponse, error) {
	reg := dataflow.Registry()
	out := make([]*dataflowv1.Subprocessor, 0, len(reg))
	for _, p := range reg {
		out = append(out, &dataflowv1.Subprocessor{
			Id:            p.ID,
			LegalName:     p.LegalName,
			Countries:     p.Countries,
			Roles:         p.Roles,
			Purpose:       p.Purpose,
			Data:          dataClass(p.Data),
			Disclosed:     p.Disclosed,
			TransferBasis: p.TransferBasis,
		})
	}
	return &dataflowv1.ListSubprocessorsResponse{Subprocessors: out}, nil
}

func dataClass(c dataflow.DataClass) dataflowv1.DataClass {
	if c == dataflow.Pseudonymised {
		return dataflowv1.DataClass_DATA_CLASS_PSEUDONYMISED
	}
	return dataflowv1.DataClass_DATA_CLASS_IDENTIFIABLE
}
