package ticketsgrpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/dataflow"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
	"github.com/lumio/contactcentre/internal/grpcserver/grpctest"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb"
	"github.com/lumio/contactcentre/internal/tickets/ticketsgrpc"
)

type testBundle struct {
	customer string
	srv      *grpctest.Server
}

// setup serves the real handlers, service and store behind the shared interceptor chain
// (authentication, role check, error mapping) over bufconn.
func setup(t *testing.T) (supportv1.TicketServiceClient, testBundle) {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	customer := uuid.NewString()
	pk, err := keyringdb.Ensure(ctx, pool, kr, customer, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id,
		address_country, residency_country, allowed_subprocessors, create_by, create_time, update_time)
		VALUES ($1, 'Lakeside College', $2, $2, 'CA', 'CA', '{}', 'sales-1', now(), now())`, customer, pk.ID)
	if err != nil {
		t.Fatal(err)
	}
	svc := tickets.NewService(ticketsdb.New(pool, kr), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), tickets.DefaultSLA(), time.Now)
	srv := grpctest.New(t, func(s *grpc.Server) { supportv1.RegisterTicketServiceServer(s, ticketsgrpc.NewServer(svc)) })
	return supportv1.NewTicketServiceClient(srv.Conn), testBundle{customer: customer, srv: srv}
}

func (b testBundle) as(t *testing.T, subject string, role auth.Role) context.Context {
	t.Helper()
	return b.srv.As(t, subject, role)
}

func (b testBundle) phoneTicket() *supportv1.Ticket {
	return &supportv1.Ticket{
		CustomerId: b.customer,
		Channel:    supportv1.Channel_CHANNEL_PHONE,
		Subject:    "Tablet cart will not charge",
		Contact:    &supportv1.Contact{Title: "Facilities manager"},
	}
}

// wantCode fails unless err has code; for INVALID_ARGUMENT field names the violated field.
func wantCode(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%s), want %v", st.Code(), st.Message(), code)
	}
	if field == "" {
		return
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Fatalf("status %q names no field %q", st.Message(), field)
}

func TestCreateIgnoresServerFields(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	ctx := b.as(t, "agent-ann", auth.RoleAgent)
	in := b.phoneTicket()
	in.Id, in.Status, in.Etag, in.CreateBy = "chosen-id", supportv1.Status_STATUS_SOLVED, "99", "mallory"
	in.RecordingOptOut, in.AllowedSubprocessors = true, []string{"sentry"}
	got, err := client.CreateTicket(ctx, &supportv1.CreateTicketRequest{Ticket: in, RequestId: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetId() == "chosen-id" || got.GetStatus() != supportv1.Status_STATUS_NEW || got.GetEtag() != "1" ||
		got.GetCreateBy() != "agent-ann" || got.GetRecordingOptOut() || got.GetPriority() != supportv1.Priority_PRIORITY_NORMAL {
		t.Errorf("created = %v", got)
	}
	if diff := cmp.Diff([]string{"aws_us", "blue_ocean", "callminer", "microsoft", "twilio"}, got.GetAllowedSubprocessors()); diff != "" {
		t.Errorf("allowed_subprocessors (-want +got):\n%s", diff)
	}
	if d := got.GetResolutionDueTime().AsTime().Sub(got.GetCreateTime().AsTime()); d != 72*time.Hour {
		t.Errorf("resolution due after %v, want 72h", d)
	}
	// A retry returns the same ticket; the same id with other content is ALREADY_EXISTS.
	again, err := client.CreateTicket(ctx, &supportv1.CreateTicketRequest{Ticket: in, RequestId: "r-1"})
	if err != nil || again.GetId() != got.GetId() {
		t.Fatalf("retry = %v, %v", again.GetId(), err)
	}
	in.Subject = "another"
	_, err = client.CreateTicket(ctx, &supportv1.CreateTicketRequest{Ticket: in, RequestId: "r-1"})
	wantCode(t, err, codes.AlreadyExists, "")
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	agent := b.as(t, "agent-ann", auth.RoleAgent)
	tk, err := client.CreateTicket(agent, &supportv1.CreateTicketRequest{Ticket: b.phoneTicket()})
	if err != nil {
		t.Fatal(err)
	}
	report := &supportv1.Ticket{
		CustomerId: b.customer, Channel: supportv1.Channel_CHANNEL_ERROR_REPORT, Subject: "App crashed",
		Contact: &supportv1.Contact{MayContact: false},
	}
	anon, err := client.CreateTicket(agent, &supportv1.CreateTicketRequest{Ticket: report})
	if err != nil {
		t.Fatal(err)
	}
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }

	tests := []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
	}{
		{"create without channel", func() error {
			in := b.phoneTicket()
			in.Channel = supportv1.Channel_CHANNEL_UNSPECIFIED
			_, err := client.CreateTicket(agent, &supportv1.CreateTicketRequest{Ticket: in})
			return err
		}, codes.InvalidArgument, "ticket.channel"},
		{"create unknown customer", func() error {
			in := b.phoneTicket()
			in.CustomerId = uuid.NewString()
			_, err := client.CreateTicket(agent, &supportv1.CreateTicketRequest{Ticket: in})
			return err
		}, codes.InvalidArgument, "ticket.customer_id"},
		{"create email without address", func() error {
			in := b.phoneTicket()
			in.Channel = supportv1.Channel_CHANNEL_EMAIL
			_, err := client.CreateTicket(agent, &supportv1.CreateTicketRequest{Ticket: in})
			return err
		}, codes.InvalidArgument, "ticket.contact.email"},
		{"create without ticket", func() error {
			_, err := client.CreateTicket(agent, &supportv1.CreateTicketRequest{})
			return err
		}, codes.InvalidArgument, "ticket"},
		{"get bad id", func() error {
			_, err := client.GetTicket(agent, &supportv1.GetTicketRequest{Id: "42"})
			return err
		}, codes.InvalidArgument, "id"},
		{"get unknown", func() error {
			_, err := client.GetTicket(agent, &supportv1.GetTicketRequest{Id: uuid.NewString()})
			return err
		}, codes.NotFound, ""},
		{"update immutable channel", func() error {
			_, err := client.UpdateTicket(agent, &supportv1.UpdateTicketRequest{
				Ticket: &supportv1.Ticket{Id: tk.GetId(), Channel: supportv1.Channel_CHANNEL_EMAIL}, UpdateMask: mask("channel")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"update without mask", func() error {
			_, err := client.UpdateTicket(agent, &supportv1.UpdateTicketRequest{Ticket: &supportv1.Ticket{Id: tk.GetId()}})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"update stale etag", func() error {
			_, err := client.UpdateTicket(agent, &supportv1.UpdateTicketRequest{
				Ticket: &supportv1.Ticket{Id: tk.GetId(), Etag: "41", Assignee: "bob"}, UpdateMask: mask("assignee")})
			return err
		}, codes.Aborted, ""},
		{"update forbidden transition", func() error {
			_, err := client.UpdateTicket(agent, &supportv1.UpdateTicketRequest{
				Ticket: &supportv1.Ticket{Id: tk.GetId(), Status: supportv1.Status_STATUS_CLOSED}, UpdateMask: mask("status")})
			return err
		}, codes.FailedPrecondition, ""},
		{"update unknown ticket", func() error {
			_, err := client.UpdateTicket(agent, &supportv1.UpdateTicketRequest{
				Ticket: &supportv1.Ticket{Id: uuid.NewString(), Assignee: "bob"}, UpdateMask: mask("assignee")})
			return err
		}, codes.NotFound, ""},
		{"public reply without consent", func() error {
			_, err := client.AddComment(agent, &supportv1.AddCommentRequest{TicketId: anon.GetId(), Body: "Hi"})
			return err
		}, codes.FailedPrecondition, ""},
		{"comment on unknown ticket", func() error {
			_, err := client.AddComment(agent, &supportv1.AddCommentRequest{TicketId: uuid.NewString(), Body: "Hi"})
			return err
		}, codes.NotFound, ""},
		{"list bad page token", func() error {
			_, err := client.ListTickets(agent, &supportv1.ListTicketsRequest{PageToken: "garbage"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"events of unknown ticket", func() error {
			_, err := client.ListTicketEvents(agent, &supportv1.ListTicketEventsRequest{TicketId: uuid.NewString()})
			return err
		}, codes.NotFound, ""},
		{"no token", func() error {
			_, err := client.GetTicket(context.Background(), &supportv1.GetTicketRequest{Id: tk.GetId()})
			return err
		}, codes.Unauthenticated, ""},
		{"privacy officer may not write", func() error {
			_, err := client.CreateTicket(b.as(t, "po", auth.RolePrivacyOfficer), &supportv1.CreateTicketRequest{Ticket: b.phoneTicket()})
			return err
		}, codes.PermissionDenied, ""},
		{"finance may not read", func() error {
			_, err := client.GetTicket(b.as(t, "fin", auth.RoleFinance), &supportv1.GetTicketRequest{Id: tk.GetId()})
			return err
		}, codes.PermissionDenied, ""},
	}
	t.Run("codes", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				wantCode(t, tt.call(), tt.code, tt.field)
			})
		}
	})

	// The failed calls above changed nothing.
	got, err := client.GetTicket(b.as(t, "po", auth.RolePrivacyOfficer), &supportv1.GetTicketRequest{Id: tk.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetEtag() != "1" || got.GetAssignee() != "" {
		t.Errorf("ticket changed by failed calls: %v", got)
	}
}

func TestWorkflow(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	agent := b.as(t, "agent-ann", auth.RoleAgent)
	tk, err := client.CreateTicket(agent, &supportv1.CreateTicketRequest{Ticket: b.phoneTicket()})
	if err != nil {
		t.Fatal(err)
	}
	up, err := client.UpdateTicket(agent, &supportv1.UpdateTicketRequest{
		Ticket: &supportv1.Ticket{
			Id: tk.GetId(), Etag: tk.GetEtag(), Status: supportv1.Status_STATUS_OPEN,
			Contact: &supportv1.Contact{Name: "Rui", Email: "rui@lakeside.example"}, Tags: []string{"charging"},
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status", "contact.email", "tags"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.GetStatus() != supportv1.Status_STATUS_OPEN || up.GetEtag() != "2" || up.GetContact().GetEmail() != "rui@lakeside.example" ||
		up.GetContact().GetName() != "" || up.GetContact().GetTitle() != "Facilities manager" {
		t.Errorf("updated = %v", up)
	}
	c, err := client.AddComment(agent, &supportv1.AddCommentRequest{TicketId: tk.GetId(), Body: "Replaced the fuse in the charging cart"})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetAuthor() != "agent-ann" || c.GetInternal() {
		t.Errorf("comment = %v", c)
	}
	list, err := client.ListTickets(agent, &supportv1.ListTicketsRequest{Query: "fuse", Status: supportv1.Status_STATUS_OPEN})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetTickets()) != 1 || list.GetTickets()[0].GetFirstResponseTime() == nil {
		t.Errorf("search by comment word = %v", list.GetTickets())
	}
	cs, err := client.ListComments(agent, &supportv1.ListCommentsRequest{TicketId: tk.GetId()})
	if err != nil || len(cs.GetComments()) != 1 || !strings.Contains(cs.GetComments()[0].GetBody(), "fuse") {
		t.Errorf("comments = %v, %v", cs, err)
	}
	ev, err := client.ListTicketEvents(agent, &supportv1.ListTicketEventsRequest{TicketId: tk.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range ev.GetEvents() {
		types = append(types, e.GetType())
	}
	if diff := cmp.Diff([]string{"created", "status_changed", "commented"}, types); diff != "" {
		t.Errorf("event types (-want +got):\n%s", diff)
	}
	if e := ev.GetEvents()[1]; e.GetFromStatus() != supportv1.Status_STATUS_NEW || e.GetToStatus() != supportv1.Status_STATUS_OPEN {
		t.Errorf("status event = %v", e)
	}
}
