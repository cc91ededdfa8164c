package privacygrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb"
	"github.com/lumio/contactcentre/internal/dataflow"
	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"
	"github.com/lumio/contactcentre/internal/grpcserver/grpctest"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/privacy"
	"github.com/lumio/contactcentre/internal/privacy/privacydb"
	"github.com/lumio/contactcentre/internal/privacy/privacygrpc"
)

type bundle struct {
	srv      *grpctest.Server
	customer string
}

// setup serves the real handler, service and store behind the shared interceptor chain over
// bufconn, with one customer (NL) that has a contact and no orders.
func setup(t *testing.T) (dataflowv1.PrivacyServiceClient, bundle) {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	cs := customers.NewService(customersdb.New(pool, kr), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), time.Now)
	c, err := cs.Create(ctx, auth.Identity{Subject: "sales-1", Roles: []auth.Role{auth.RoleSales}}, customers.NewCustomer{
		OrgName: "Acme BV",
		Contact: customers.Contact{Name: "Ann Example", Email: "ann@example.org"},
		Address: customers.Address{Lines: []string{"Main 1"}, City: "Utrecht", Country: "NL"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	svc := privacy.NewService(privacydb.New(pool, kr), privacy.Config{}, nil, time.Now)
	srv := grpctest.New(t, func(s *grpc.Server) { dataflowv1.RegisterPrivacyServiceServer(s, privacygrpc.NewServer(svc)) })
	return dataflowv1.NewPrivacyServiceClient(srv.Conn), bundle{srv: srv, customer: c.ID}
}

func (b bundle) as(t *testing.T, role auth.Role) context.Context {
	t.Helper()
	return b.srv.As(t, "user-"+string(role), role)
}

func TestRequestAndGetErasure(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	po := b.as(t, auth.RolePrivacyOfficer)
	got, err := client.RequestErasure(po, &dataflowv1.RequestErasureRequest{CustomerId: b.customer, Reason: "ticket 42", RequestId: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetStatus() != dataflowv1.ErasureStatus_ERASURE_STATUS_COMPLETE || got.GetCompleteTime() == nil || len(got.GetHeld()) != 0 {
		t.Errorf("erasure of a customer without orders = %v; want COMPLETE, nothing held", got)
	}
	if got.GetReason() != "ticket 42" || got.GetCustomerId() != b.customer || len(got.GetErased()) == 0 {
		t.Errorf("receipt = %v", got)
	}
	again, err := client.GetErasure(b.as(t, auth.RoleAdmin), &dataflowv1.GetErasureRequest{Id: got.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, again, protocmp.Transform()); diff != "" {
		t.Errorf("GetErasure (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"agent may not erase", func() error {
			_, err := client.RequestErasure(b.as(t, auth.RoleAgent), &dataflowv1.RequestErasureRequest{CustomerId: b.customer})
			return err
		}, codes.PermissionDenied},
		{"finance may not read receipts", func() error {
			_, err := client.GetErasure(b.as(t, auth.RoleFinance), &dataflowv1.GetErasureRequest{Id: got.GetId()})
			return err
		}, codes.PermissionDenied},
		{"no token", func() error {
			_, err := client.GetErasure(context.Background(), &dataflowv1.GetErasureRequest{Id: got.GetId()})
			return err
		}, codes.Unauthenticated},
		{"bad customer id", func() error {
			_, err := client.RequestErasure(po, &dataflowv1.RequestErasureRequest{CustomerId: "acme"})
			return err
		}, codes.InvalidArgument},
		{"unknown customer", func() error {
			_, err := client.RequestErasure(po, &dataflowv1.RequestErasureRequest{CustomerId: uuid.NewString()})
			return err
		}, codes.NotFound},
		{"request id reused for another request", func() error {
			_, err := client.RequestErasure(po, &dataflowv1.RequestErasureRequest{CustomerId: b.customer, Reason: "other", RequestId: "r1"})
			return err
		}, codes.AlreadyExists},
		{"unknown erasure", func() error {
			_, err := client.GetErasure(po, &dataflowv1.GetErasureRequest{Id: uuid.NewString()})
			return err
		}, codes.NotFound},
		{"empty id", func() error {
			_, err := client.GetErasure(po, &dataflowv1.GetErasureRequest{})
			return err
		}, codes.InvalidArgument},
	} {
		if c := status.Code(tt.call()); c != tt.code {
			t.Errorf("%s: code %v, want %v", tt.name, c, tt.code)
		}
	}
}

func TestExportCustomerData(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	read := func(ctx context.Context, id string) ([]*dataflowv1.ExportCustomerDataResponse, error) {
		stream, err := client.ExportCustomerData(ctx, &dataflowv1.ExportCustomerDataRequest{CustomerId: id})
		if err != nil {
			return nil, err
		}
		var out []*dataflowv1.ExportCustomerDataResponse
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			out = append(out, m)
		}
	}
	docs, err := read(b.as(t, auth.RolePrivacyOfficer), b.customer)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 || docs[0].GetKind() != privacy.KindCustomer || docs[0].GetRecordId() != b.customer {
		t.Fatalf("first document = %v; want the customer", docs)
	}
	var c struct {
		OrgName string `json:"org_name"`
		Contact struct {
			Email string `json:"email"`
		} `json:"contact"`
		Address struct {
			City string `json:"city"`
		} `json:"address"`
	}
	if err := json.Unmarshal([]byte(docs[0].GetJson()), &c); err != nil {
		t.Fatal(err)
	}
	if c.OrgName != "Acme BV" || c.Contact.Email != "ann@example.org" || c.Address.City != "Utrecht" {
		t.Errorf("customer document = %s", docs[0].GetJson())
	}
	for _, tt := range []struct {
		name string
		ctx  context.Context
		id   string
		code codes.Code
	}{
		{"agent", b.as(t, auth.RoleAgent), b.customer, codes.PermissionDenied},
		{"unknown", b.as(t, auth.RoleAdmin), uuid.NewString(), codes.NotFound},
		{"malformed", b.as(t, auth.RoleAdmin), "x", codes.InvalidArgument},
	} {
		if _, err := read(tt.ctx, tt.id); status.Code(err) != tt.code {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.code)
		}
	}
}
