// Package privacygrpc serves PrivacyService: erasure requests, their receipts, and the export
// of a customer's data. Which roles may call it (privacy officers and admins) is the auth
// interceptor's table; error codes are grpcserver's mapping of the domain errors.
package privacygrpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/auth"
	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"
	"github.com/lumio/contactcentre/internal/privacy"
)

// Server implements dataflowv1.PrivacyServiceServer.
type Server struct {
	dataflowv1.UnimplementedPrivacyServiceServer
	svc *privacy.Service
}

var _ dataflowv1.PrivacyServiceServer = (*Server)(nil)

// NewServer returns a PrivacyService server on svc.
func NewServer(svc *privacy.Service) *Server { return &Server{svc: svc} }

// RequestErasure erases a customer's data that may go and holds what the law keeps.
func (s *Server) RequestErasure(ctx context.Context, req *dataflowv1.RequestErasureRequest) (*dataflowv1.ErasureRequest, error) {
	who, _ := auth.FromContext(ctx)
	e, err := s.svc.RequestErasure(ctx, who.Subject, privacy.NewErasure{
		CustomerID: req.GetCustomerId(), Reason: req.GetReason(),
	}, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	return toProto(e), nil
}

// GetErasure returns an erasure's receipt.
func (s *Server) GetErasure(ctx context.Context, req *dataflowv1.GetErasureRequest) (*dataflowv1.ErasureRequest, error) {
	e, err := s.svc.GetErasure(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return toProto(e), nil
}

// ExportCustomerData streams every record held for a customer, one JSON document a message.
func (s *Server) ExportCustomerData(req *dataflowv1.ExportCustomerDataRequest, stream grpc.ServerStreamingServer[dataflowv1.ExportCustomerDataResponse]) error {
	return s.svc.ExportCustomerData(stream.Context(), req.GetCustomerId(), func(d privacy.Document) error {
		return stream.Send(&dataflowv1.ExportCustomerDataResponse{Kind: d.Kind, RecordId: d.RecordID, Json: string(d.JSON)})
	})
}

func toProto(e privacy.Erasure) *dataflowv1.ErasureRequest {
	out := &dataflowv1.ErasureRequest{
		Id:         e.ID,
		CustomerId: e.CustomerID,
		Status:     status(e.Status),
		Reason:     e.Reason,
		CreateTime: timestamppb.New(e.CreateTime),
	}
	if e.CompleteTime != nil {
		out.CompleteTime = timestamppb.New(*e.CompleteTime)
	}
	for _, it := range e.Erased {
		out.Erased = append(out.Erased, &dataflowv1.ErasedRecord{RecordId: it.RecordID, Kind: it.Kind})
	}
	for _, h := range e.Held {
		out.Held = append(out.Held, &dataflowv1.HeldRecord{
			RecordId: h.RecordID, Kind: h.Kind, RetainUntil: timestamppb.New(h.RetainUntil), Basis: h.Basis,
		})
	}
	for _, n := range e.Notified {
		out.Notified = append(out.Notified, &dataflowv1.ProcessorNotice{SubprocessorId: n.Subprocessor, Status: n.Status})
	}
	return out
}

func status(s privacy.Status) dataflowv1.ErasureStatus {
	switch s {
	case privacy.StatusRunning:
		return dataflowv1.ErasureStatus_ERASURE_STATUS_RUNNING
	case privacy.StatusHolding:
		return dataflowv1.ErasureStatus_ERASURE_STATUS_HOLDING
	case privacy.StatusComplete:
		return dataflowv1.ErasureStatus_ERASURE_STATUS_COMPLETE
	}
	return dataflowv1.ErasureStatus_ERASURE_STATUS_UNSPECIFIED
}
