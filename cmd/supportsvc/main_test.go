package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/bootstrap/bootstraptest"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// TestRunEndToEnd starts the real supportsvc on :0 against a fresh database and works a ticket
// the way the agent console does.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	pool, dbURL := pgtest.NewDB(t)
	env := bootstraptest.Env(t, dbURL)

	// Customers belong to ordersvc; create one through its domain on the same database.
	kr, err := keyring.New(keyring.Config{MasterKey: env["DATA_MASTER_KEY"], MasterKeyID: env["DATA_MASTER_KEY_ID"]})
	if err != nil {
		t.Fatal(err)
	}
	custSvc := customers.NewService(customersdb.New(pool, kr), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), time.Now)
	cust, err := custSvc.Create(context.Background(), auth.Identity{Subject: "sam", Roles: []auth.Role{auth.RoleSales}},
		customers.NewCustomer{OrgName: "Shelbyville Academy", Address: customers.Address{Country: "CA"}}, "")
	if err != nil {
		t.Fatal(err)
	}

	svc := bootstraptest.Start(t, run, env)
	refl, err := grpc_reflection_v1.NewServerReflectionClient(svc.Conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Send(&grpc_reflection_v1.ServerReflectionRequest{MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	listed, err := refl.Recv()
	if err != nil {
		t.Fatalf("reflection without a token: %v", err)
	}
	// Close the stream: an open one is an in-flight RPC that graceful stop would wait for.
	_ = refl.CloseSend()
	if _, err := refl.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("reflection stream did not end: %v", err)
	}
	var names []string
	for _, s := range listed.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"contactcentre.support.v1.TicketService", "contactcentre.support.v1.RecordingService", "contactcentre.dataflow.v1.DataFlowService"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}

	desk := supportv1.NewTicketServiceClient(svc.Conn)
	agent := bootstraptest.As(t, env, auth.RoleAgent, "alice")
	ticket, err := desk.CreateTicket(agent, &supportv1.CreateTicketRequest{
		RequestId: "call-1",
		Ticket: &supportv1.Ticket{
			CustomerId: cust.ID, Channel: supportv1.Channel_CHANNEL_PHONE, Priority: supportv1.Priority_PRIORITY_URGENT,
			Subject: "Projector shows no signal", Description: "Room 12 projector dark since the update",
			Contact: &supportv1.Contact{Title: "Head of science"},
		},
	})
	if err != nil {
		t.Fatalf("CreateTicket: %v", err)
	}
	if got := strings.Join(ticket.GetAllowedSubprocessors(), ","); got != "aws_us,blue_ocean,callminer,microsoft,twilio" {
		t.Errorf("phone ticket flows to %s", got)
	}
	if ticket.GetStatus() != supportv1.Status_STATUS_NEW || ticket.GetFirstResponseDueTime().AsTime().Sub(ticket.GetCreateTime().AsTime()) != time.Hour {
		t.Errorf("new urgent ticket: status %v, first response due %v after creation", ticket.GetStatus(),
			ticket.GetFirstResponseDueTime().AsTime().Sub(ticket.GetCreateTime().AsTime()))
	}
	if _, err := desk.AddComment(agent, &supportv1.AddCommentRequest{TicketId: ticket.GetId(), Body: "Swapped the HDMI switch, works again"}); err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	found, err := desk.ListTickets(agent, &supportv1.ListTicketsRequest{Query: "hdmi"})
	if err != nil || len(found.GetTickets()) != 1 || found.GetTickets()[0].GetId() != ticket.GetId() {
		t.Fatalf("search over comments = %v, %v", found, err)
	}
	// The first public reply is the first response: it changes the ticket, and so its etag.
	replied, err := desk.GetTicket(agent, &supportv1.GetTicketRequest{Id: ticket.GetId()})
	if err != nil || replied.GetFirstResponseTime() == nil || replied.GetEtag() == ticket.GetEtag() {
		t.Fatalf("after the first reply: %v, %v", replied, err)
	}
	_, err = desk.UpdateTicket(agent, &supportv1.UpdateTicketRequest{
		Ticket:     &supportv1.Ticket{Id: ticket.GetId(), Status: supportv1.Status_STATUS_OPEN, Etag: ticket.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("update with a stale etag: got %v, want Aborted", err)
	}
	opened, err := desk.UpdateTicket(agent, &supportv1.UpdateTicketRequest{
		Ticket:     &supportv1.Ticket{Id: ticket.GetId(), Status: supportv1.Status_STATUS_OPEN, Etag: replied.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if err != nil || opened.GetStatus() != supportv1.Status_STATUS_OPEN {
		t.Fatalf("open ticket = %v, %v", opened, err)
	}
	_, err = desk.UpdateTicket(agent, &supportv1.UpdateTicketRequest{
		Ticket:     &supportv1.Ticket{Id: ticket.GetId(), Status: supportv1.Status_STATUS_CLOSED, Etag: opened.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("OPEN to CLOSED: got %v, want FailedPrecondition", err)
	}
	finance := bootstraptest.As(t, env, auth.RoleFinance, "fran")
	if _, err := desk.GetTicket(finance, &supportv1.GetTicketRequest{Id: ticket.GetId()}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("finance reading a ticket: got %v, want PermissionDenied", err)
	}
	// The caller declines recording: CallMiner leaves the ticket's flows, nothing was recorded.
	optOut, err := supportv1.NewRecordingServiceClient(svc.Conn).SetRecordingOptOut(agent,
		&supportv1.SetRecordingOptOutRequest{TicketId: ticket.GetId(), OptOut: true})
	if err != nil || !optOut.GetOptOut() || optOut.GetRecordingsDeleted() != 0 {
		t.Fatalf("SetRecordingOptOut = %v, %v", optOut, err)
	}
	after, err := desk.GetTicket(agent, &supportv1.GetTicketRequest{Id: ticket.GetId()})
	if err != nil || !after.GetRecordingOptOut() || strings.Contains(strings.Join(after.GetAllowedSubprocessors(), ","), "callminer") {
		t.Fatalf("after opt-out the ticket = %v, %v", after, err)
	}
	supervisor := bootstraptest.As(t, env, auth.RoleSupervisor, "sue")
	why, err := dataflowv1.NewDataFlowServiceClient(svc.Conn).ExplainFlow(supervisor,
		&dataflowv1.ExplainFlowRequest{RecordId: ticket.GetId(), SubprocessorId: "callminer"})
	if err != nil || why.GetAllowed() || why.GetReason() == "" {
		t.Fatalf("ExplainFlow(callminer) after opt-out = %v, %v", why, err)
	}
	deliveries, err := dataflowv1.NewDataFlowServiceClient(svc.Conn).ListDeliveries(supervisor,
		&dataflowv1.ListDeliveriesRequest{RecordId: ticket.GetId()})
	if err != nil || len(deliveries.GetDeliveries()) == 0 {
		t.Fatalf("ListDeliveries = %v, %v", deliveries, err)
	}
	for _, d := range deliveries.GetDeliveries() {
		if d.GetSubprocessorId() == "callminer" && d.GetKind() == "record" &&
			d.GetStatus() != dataflowv1.DeliveryStatus_DELIVERY_STATUS_CANCELLED && d.GetStatus() != dataflowv1.DeliveryStatus_DELIVERY_STATUS_DELIVERED {
			t.Errorf("callminer delivery after opt-out is %v", d.GetStatus())
		}
	}
	if err := svc.Stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

// TestRunRejectsBadConfig checks that a missing or malformed setting stops start-up with a
// one-line reason naming the setting.
func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	base := bootstraptest.Env(t, "postgres://127.0.0.1:1/none")
	tests := []struct{ key, value, want string }{
		{"SUPPORTSVC_PUBLIC_URL", "", "SUPPORTSVC_PUBLIC_URL"},
		{"SUPPORTSVC_PUBLIC_URL", "not a url", "SUPPORTSVC_PUBLIC_URL"},
		{"TWILIO_ACCOUNT_SID", "", "TWILIO_ACCOUNT_SID"},
		{"TWILIO_ACCOUNT_SID", "AC123", "TWILIO_ACCOUNT_SID"},
		{"TWILIO_AUTH_TOKEN", "short", "TWILIO_AUTH_TOKEN"},
		{"SLA_HIGH", "4h", "SLA_HIGH"},
		{"SLA_LOW", "2h/1h", "SLA_LOW"},
		{"LOG_LEVEL", "loud", "LOG_LEVEL"},
		{"DATABASE_MAX_CONNS", "many", "DATABASE_MAX_CONNS"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			if tt.value == "" {
				delete(env, tt.key)
			} else {
				env[tt.key] = tt.value
			}
			err := run(context.Background(), bootstraptest.Lookup(env), io.Discard, func(bootstrap.Addrs) {})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("run = %v, want a one-line error naming %s", err, tt.want)
			}
		})
	}
}
