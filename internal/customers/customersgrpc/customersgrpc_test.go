package customersgrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb"
	"github.com/lumio/contactcentre/internal/customers/customersgrpc"
	"github.com/lumio/contactcentre/internal/dataflow"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	"github.com/lumio/contactcentre/internal/grpcserver/grpctest"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// setup serves CustomerService over bufconn behind the real interceptor chain and returns a
// client and a per-role context maker.
func setup(t *testing.T) (ordersv1.CustomerServiceClient, func(sub string, roles ...auth.Role) context.Context) {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	svc := customers.NewService(customersdb.New(pool, keyringtest.New(t)), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), time.Now)
	srv := grpctest.New(t, func(s *grpc.Server) { ordersv1.RegisterCustomerServiceServer(s, customersgrpc.NewServer(svc)) })
	as := func(sub string, roles ...auth.Role) context.Context { return srv.As(t, sub, roles...) }
	return ordersv1.NewCustomerServiceClient(srv.Conn), as
}

func dutchCompany() *ordersv1.Customer {
	return &ordersv1.Customer{
		OrgName:          "Tulp Onderwijs BV",
		Contact:          &ordersv1.Contact{Title: "Inkoper", Email: "inkoop@tulp.example"},
		Address:          &ordersv1.Address{Lines: []string{"Keizersgracht 1"}, City: "Amsterdam", PostalCode: "1015 CJ", Country: "NL"},
		MarketingConsent: true,
		ResellerId:       "edu-partners-nl",
	}
}

func TestCustomerLifecycle(t *testing.T) {
	t.Parallel()
	client, as := setup(t)
	salesCtx := as("sam", auth.RoleSales)

	created, err := client.CreateCustomer(salesCtx, &ordersv1.CreateCustomerRequest{Customer: dutchCompany(), RequestId: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	want := dutchCompany()
	want.Id = created.GetId()
	want.ResidencyCountry = "NL"
	want.AllowedSubprocessors = []string{"aws_us", "hubspot", "microsoft", "mixpanel", "reseller", "salesforce"}
	want.Etag = "1"
	want.CreateBy = "sam"
	want.CreateTime, want.UpdateTime = created.GetCreateTime(), created.GetUpdateTime()
	if diff := cmp.Diff(want, created, protocmp.Transform()); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}

	retry, err := client.CreateCustomer(salesCtx, &ordersv1.CreateCustomerRequest{Customer: dutchCompany(), RequestId: "r1"})
	if err != nil || retry.GetId() != created.GetId() {
		t.Errorf("retry: id %q, err %v; want %q", retry.GetId(), err, created.GetId())
	}

	got, err := client.GetCustomer(as("ann", auth.RoleAgent), &ordersv1.GetCustomerRequest{Id: created.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got, protocmp.Transform()); diff != "" {
		t.Errorf("agent reads (-want +got):\n%s", diff)
	}

	updated, err := client.UpdateCustomer(salesCtx, &ordersv1.UpdateCustomerRequest{
		Customer:   &ordersv1.Customer{Id: created.GetId(), Etag: "1", MarketingConsent: false},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"marketing_consent"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"aws_us", "microsoft", "mixpanel", "reseller", "salesforce"}, updated.GetAllowedSubprocessors()); diff != "" {
		t.Errorf("consent withdrawn drops hubspot (-want +got):\n%s", diff)
	}
	if updated.GetEtag() != "2" {
		t.Errorf("etag = %q, want 2", updated.GetEtag())
	}

	list, err := client.ListCustomers(as("fin", auth.RoleFinance), &ordersv1.ListCustomersRequest{Query: "tulp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetCustomers()) != 1 || list.GetCustomers()[0].GetId() != created.GetId() {
		t.Errorf("list by name = %v, want the one customer", list.GetCustomers())
	}
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	client, as := setup(t)
	salesCtx := as("sam", auth.RoleSales)
	storefrontCtx := as("storefront-us", auth.RoleStorefront)
	mine, err := client.CreateCustomer(storefrontCtx, &ordersv1.CreateCustomerRequest{Customer: dutchCompany(), RequestId: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := client.CreateCustomer(salesCtx, &ordersv1.CreateCustomerRequest{Customer: dutchCompany()})
	if err != nil {
		t.Fatal(err)
	}
	bad := dutchCompany()
	bad.Contact.Phone = "call the office"
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }

	tests := []struct {
		name      string
		call      func() error
		want      codes.Code
		wantField string
	}{
		{"no token", func() error {
			_, err := client.GetCustomer(context.Background(), &ordersv1.GetCustomerRequest{Id: mine.GetId()})
			return err
		}, codes.Unauthenticated, ""},
		{"role may not call", func() error {
			_, err := client.CreateCustomer(as("ann", auth.RoleAgent), &ordersv1.CreateCustomerRequest{Customer: dutchCompany()})
			return err
		}, codes.PermissionDenied, ""},
		{"invalid field", func() error {
			_, err := client.CreateCustomer(salesCtx, &ordersv1.CreateCustomerRequest{Customer: bad})
			return err
		}, codes.InvalidArgument, "customer.contact.phone"},
		{"request id reused", func() error {
			other := dutchCompany()
			other.OrgName = "Another BV"
			_, err := client.CreateCustomer(storefrontCtx, &ordersv1.CreateCustomerRequest{Customer: other, RequestId: "r1"})
			return err
		}, codes.AlreadyExists, ""},
		{"malformed id", func() error {
			_, err := client.GetCustomer(salesCtx, &ordersv1.GetCustomerRequest{Id: "nope"})
			return err
		}, codes.InvalidArgument, "id"},
		{"missing", func() error {
			_, err := client.GetCustomer(salesCtx, &ordersv1.GetCustomerRequest{Id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"})
			return err
		}, codes.NotFound, ""},
		{"storefront reads another's", func() error {
			_, err := client.GetCustomer(storefrontCtx, &ordersv1.GetCustomerRequest{Id: theirs.GetId()})
			return err
		}, codes.NotFound, ""},
		{"storefront updates another's", func() error {
			_, err := client.UpdateCustomer(storefrontCtx, &ordersv1.UpdateCustomerRequest{
				Customer: &ordersv1.Customer{Id: theirs.GetId(), OrgName: "x"}, UpdateMask: mask("org_name")})
			return err
		}, codes.NotFound, ""},
		{"stale etag", func() error {
			_, err := client.UpdateCustomer(salesCtx, &ordersv1.UpdateCustomerRequest{
				Customer: &ordersv1.Customer{Id: mine.GetId(), Etag: "7", OrgName: "x"}, UpdateMask: mask("org_name")})
			return err
		}, codes.Aborted, ""},
		{"no mask", func() error {
			_, err := client.UpdateCustomer(salesCtx, &ordersv1.UpdateCustomerRequest{Customer: &ordersv1.Customer{Id: mine.GetId()}})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"output-only in mask", func() error {
			_, err := client.UpdateCustomer(salesCtx, &ordersv1.UpdateCustomerRequest{
				Customer: &ordersv1.Customer{Id: mine.GetId(), AllowedSubprocessors: []string{"google"}}, UpdateMask: mask("allowed_subprocessors")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"negative page size", func() error {
			_, err := client.ListCustomers(salesCtx, &ordersv1.ListCustomersRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument, "page_size"},
		{"foreign page token", func() error {
			_, err := client.ListCustomers(salesCtx, &ordersv1.ListCustomersRequest{PageToken: "bm90IGEgdG9rZW4"})
			return err
		}, codes.InvalidArgument, "page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			st := status.Convert(err)
			if st.Code() != tt.want {
				t.Fatalf("code = %v (%v), want %v", st.Code(), err, tt.want)
			}
			if tt.wantField != "" && !hasFieldViolation(st, tt.wantField) {
				t.Errorf("details %v do not name field %q", st.Details(), tt.wantField)
			}
		})
	}
}

func TestStorefrontListsOnlyItsOwn(t *testing.T) {
	t.Parallel()
	client, as := setup(t)
	sf := as("storefront-us", auth.RoleStorefront)
	mine, err := client.CreateCustomer(sf, &ordersv1.CreateCustomerRequest{Customer: dutchCompany()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateCustomer(as("sam", auth.RoleSales), &ordersv1.CreateCustomerRequest{Customer: dutchCompany()}); err != nil {
		t.Fatal(err)
	}
	resp, err := client.ListCustomers(sf, &ordersv1.ListCustomersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range resp.GetCustomers() {
		ids = append(ids, c.GetId())
	}
	if diff := cmp.Diff([]string{mine.GetId()}, ids); diff != "" {
		t.Errorf("storefront list (-want +got):\n%s", diff)
	}
}

func hasFieldViolation(st *status.Status, field string) bool {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return true
				}
			}
		}
	}
	return false
}
