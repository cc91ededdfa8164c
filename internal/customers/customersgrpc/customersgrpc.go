// Package customersgrpc serves contactcentre.orders.v1.CustomerService: thin handlers that
// convert between proto and the customers domain. Errors are domain errors, mapped to status
// codes by the grpcserver interceptor.
package customersgrpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/customers"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
)

// Server implements ordersv1.CustomerServiceServer.
type Server struct {
	ordersv1.UnimplementedCustomerServiceServer
	svc *customers.Service
}

var _ ordersv1.CustomerServiceServer = (*Server)(nil)

// NewServer returns a Server on svc.
func NewServer(svc *customers.Service) *Server { return &Server{svc: svc} }

// CreateCustomer implements ordersv1.CustomerServiceServer.
func (s *Server) CreateCustomer(ctx context.Context, req *ordersv1.CreateCustomerRequest) (*ordersv1.Customer, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.svc.Create(ctx, who, fromProto(req.GetCustomer()), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	return toProto(c), nil
}

// GetCustomer implements ordersv1.CustomerServiceServer.
func (s *Server) GetCustomer(ctx context.Context, req *ordersv1.GetCustomerRequest) (*ordersv1.Customer, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.svc.Get(ctx, who, req.GetId())
	if err != nil {
		return nil, err
	}
	return toProto(c), nil
}

// ListCustomers implements ordersv1.CustomerServiceServer.
func (s *Server) ListCustomers(ctx context.Context, req *ordersv1.ListCustomersRequest) (*ordersv1.ListCustomersResponse, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.svc.List(ctx, who, req.GetQuery(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &ordersv1.ListCustomersResponse{
		Customers:     make([]*ordersv1.Customer, 0, len(page.Customers)),
		NextPageToken: page.NextPageToken,
	}
	for _, c := range page.Customers {
		resp.Customers = append(resp.Customers, toProto(c))
	}
	return resp, nil
}

// UpdateCustomer implements ordersv1.CustomerServiceServer.
func (s *Server) UpdateCustomer(ctx context.Context, req *ordersv1.UpdateCustomerRequest) (*ordersv1.Customer, error) {
	who, err := identity(ctx)
	if err != nil {
		return nil, err
	}
	pc := req.GetCustomer()
	c, err := s.svc.Update(ctx, who, customers.Update{
		ID:     pc.GetId(),
		ETag:   pc.GetEtag(),
		Mask:   req.GetUpdateMask().GetPaths(),
		Values: fromProto(pc),
	})
	if err != nil {
		return nil, err
	}
	return toProto(c), nil
}

// identity is the caller the auth interceptor put in the context; without one the interceptor
// was bypassed, which must fail closed.
func identity(ctx context.Context) (auth.Identity, error) {
	who, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Identity{}, apperr.ErrUnauthenticated
	}
	return who, nil
}

func fromProto(c *ordersv1.Customer) customers.NewCustomer {
	ct, a := c.GetContact(), c.GetAddress()
	return customers.NewCustomer{
		OrgName: c.GetOrgName(),
		Contact: customers.Contact{
			Name:       ct.GetName(),
			Title:      ct.GetTitle(),
			Email:      ct.GetEmail(),
			Phone:      ct.GetPhone(),
			MayContact: ct.GetMayContact(),
		},
		Address: customers.Address{
			Lines:      a.GetLines(),
			City:       a.GetCity(),
			PostalCode: a.GetPostalCode(),
			Region:     a.GetRegion(),
			Country:    a.GetCountry(),
		},
		ResidencyCountry: c.GetResidencyCountry(),
		MarketingConsent: c.GetMarketingConsent(),
		ResellerID:       c.GetResellerId(),
	}
}

func toProto(c customers.Customer) *ordersv1.Customer {
	return &ordersv1.Customer{
		Id:      c.ID,
		OrgName: c.OrgName,
		Contact: &ordersv1.Contact{
			Name:       c.Contact.Name,
			Title:      c.Contact.Title,
			Email:      c.Contact.Email,
			Phone:      c.Contact.Phone,
			MayContact: c.Contact.MayContact,
		},
		Address: &ordersv1.Address{
			Lines:      c.Address.Lines,
			City:       c.Address.City,
			PostalCode: c.Address.PostalCode,
			Region:     c.Address.Region,
			Country:    c.Address.Country,
		},
		ResidencyCountry:     c.ResidencyCountry,
		MarketingConsent:     c.MarketingConsent,
		ResellerId:           c.ResellerID,
		AllowedSubprocessors: c.AllowedSubprocessors,
		Etag:                 c.ETag(),
		CreateTime:           timestamppb.New(c.CreateTime),
		UpdateTime:           timestamppb.New(c.UpdateTime),
		CreateBy:             c.CreateBy,
	}
}
