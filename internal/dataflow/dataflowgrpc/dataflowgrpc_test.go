package dataflowgrpc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowgrpc"
	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"
	"github.com/lumio/contactcentre/internal/grpcserver/grpctest"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

type bundle struct {
	srv      *grpctest.Server
	ticket   string
	customer string
}

// setup serves the real handlers, service and store behind the shared interceptor chain over
// bufconn, with a tracked customer (NL) and one of its phone tickets whose caller opted out.
func setup(t *testing.T) (dataflowv1.DataFlowServiceClient, bundle) {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	policy := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	b := bundle{customer: uuid.NewString(), ticket: uuid.NewString()}
	dek, err := keyringdb.Ensure(ctx, pool, kr, b.customer, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	cf := dataflow.Facts{Kind: dataflow.KindCustomer, ResidencyCountry: "NL"}
	tf := dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: dataflow.ChannelPhone, RecordingOptOut: true}
	err = postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
		if err := dataflowdb.Track(ctx, tx, dataflow.Record{ID: b.customer, Kind: dataflow.KindCustomer, CustomerID: b.customer, Facts: cf, Allowed: policy.Decide(cf).Allowed}); err != nil {
			return err
		}
		if err := dataflowdb.Track(ctx, tx, dataflow.Record{ID: b.ticket, Kind: dataflow.KindTicket, CustomerID: b.customer, Facts: tf, Allowed: policy.Decide(tf).Allowed}); err != nil {
			return err
		}
		return dataflowdb.Enqueue(ctx, tx, dek, b.ticket, []string{dataflow.BlueOcean, dataflow.CallMiner}, []byte(`{}`))
	})
	if err != nil {
		t.Fatal(err)
	}

	b.srv = grpctest.New(t, func(s *grpc.Server) {
		dataflowv1.RegisterDataFlowServiceServer(s, dataflowgrpc.NewServer(dataflow.NewService(dataflowdb.New(pool, kr), policy)))
	})
	return dataflowv1.NewDataFlowServiceClient(b.srv.Conn), b
}

func (b bundle) as(t *testing.T, role auth.Role) context.Context {
	t.Helper()
	return b.srv.As(t, "user-"+string(role), role)
}

func TestExplainFlow(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	po := b.as(t, auth.RolePrivacyOfficer)

	got, err := client.ExplainFlow(po, &dataflowv1.ExplainFlowRequest{RecordId: b.ticket, SubprocessorId: dataflow.CallMiner})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetAllowed() || !strings.Contains(got.GetReason(), "declined recording") || got.GetTransferBasis() != dataflow.BasisAdequacy {
		t.Errorf("callminer for an opted-out call = %v", got)
	}
	got, err = client.ExplainFlow(b.as(t, auth.RoleSupervisor), &dataflowv1.ExplainFlowRequest{RecordId: b.ticket, SubprocessorId: dataflow.AWSUS})
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetAllowed() || got.GetTransferBasis() != dataflow.BasisSCCDPF {
		t.Errorf("aws_us = %v", got)
	}

	for _, tt := range []struct {
		name string
		req  *dataflowv1.ExplainFlowRequest
		ctx  context.Context
		code codes.Code
	}{
		{"unknown record", &dataflowv1.ExplainFlowRequest{RecordId: uuid.NewString(), SubprocessorId: dataflow.AWSUS}, po, codes.NotFound},
		{"unknown processor", &dataflowv1.ExplainFlowRequest{RecordId: b.ticket, SubprocessorId: "acme"}, po, codes.InvalidArgument},
		{"bad id", &dataflowv1.ExplainFlowRequest{RecordId: "ticket-1", SubprocessorId: dataflow.AWSUS}, po, codes.InvalidArgument},
		{"agent may not", &dataflowv1.ExplainFlowRequest{RecordId: b.ticket, SubprocessorId: dataflow.AWSUS}, b.as(t, auth.RoleAgent), codes.PermissionDenied},
		{"no token", &dataflowv1.ExplainFlowRequest{RecordId: b.ticket, SubprocessorId: dataflow.AWSUS}, context.Background(), codes.Unauthenticated},
	} {
		_, err := client.ExplainFlow(tt.ctx, tt.req)
		if c := status.Code(err); c != tt.code {
			t.Errorf("%s: code %v (%v), want %v", tt.name, c, err, tt.code)
		}
	}
}

func TestListDeliveries(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	resp, err := client.ListDeliveries(b.as(t, auth.RoleAdmin), &dataflowv1.ListDeliveriesRequest{RecordId: b.ticket})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]dataflowv1.DeliveryStatus{}
	for _, d := range resp.GetDeliveries() {
		got[d.GetSubprocessorId()] = d.GetStatus()
		if d.GetId() == "" || d.GetUpdateTime() == nil {
			t.Errorf("delivery lacks id or update time: %v", d)
		}
	}
	want := map[string]dataflowv1.DeliveryStatus{
		dataflow.BlueOcean: dataflowv1.DeliveryStatus_DELIVERY_STATUS_PENDING,
		dataflow.CallMiner: dataflowv1.DeliveryStatus_DELIVERY_STATUS_REFUSED,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if _, err := client.ListDeliveries(b.as(t, auth.RolePrivacyOfficer), &dataflowv1.ListDeliveriesRequest{RecordId: uuid.NewString()}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown record: %v, want NOT_FOUND", err)
	}
	if _, err := client.ListDeliveries(b.as(t, auth.RoleFinance), &dataflowv1.ListDeliveriesRequest{RecordId: b.ticket}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("finance: %v, want PERMISSION_DENIED", err)
	}
}

func TestListSubprocessorsShowsUndisclosedCarrier(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	resp, err := client.ListSubprocessors(b.as(t, auth.RoleAgent), &dataflowv1.ListSubprocessorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetSubprocessors()) != len(dataflow.Registry()) {
		t.Fatalf("%d processors, want %d", len(resp.GetSubprocessors()), len(dataflow.Registry()))
	}
	for _, p := range resp.GetSubprocessors() {
		if p.GetDisclosed() != (p.GetId() != dataflow.Twilio) {
			t.Errorf("%s disclosed = %v", p.GetId(), p.GetDisclosed())
		}
	}
}
