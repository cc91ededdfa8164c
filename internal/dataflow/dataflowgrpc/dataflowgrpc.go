// Package dataflowgrpc serves DataFlowService: the subprocessor registry and, per record, the
// policy's explanation and the outbound deliveries.
package dataflowgrpc

import (
	"context"

	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// Server implements dataflowv1.DataFlowServiceServer. ExplainFlow and ListDeliveries need the
// outbox gateway and answer UNIMPLEMENTED until it exists.
type Server struct {
	dataflowv1.UnimplementedDataFlowServiceServer
}

var _ dataflowv1.DataFlowServiceServer = (*Server)(nil)

// NewServer returns a DataFlowService server.
func NewServer() *Server { return &Server{} }

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
