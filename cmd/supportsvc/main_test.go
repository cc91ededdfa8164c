package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
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
	"github.com/lumio/contactcentre/internal/recording/recordingtwilio"
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

// TestMetricsAfterTwilioWebhook scrapes /metrics after Twilio webhooks and finds them counted by
// endpoint and outcome, with the recording series present and no call sid in any label.
func TestMetricsAfterTwilioWebhook(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	env := bootstraptest.Env(t, dbURL)
	svc := bootstraptest.Start(t, run, env)
	base := "http://" + svc.Addrs.HTTP.String()

	callSID := "CA0123456789abcdef0123456789abcdef"
	post := func(form url.Values, sign bool, want int) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+recordingtwilio.VoicePath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sign {
			req.Header.Set("X-Twilio-Signature", twilioSignature(env["TWILIO_AUTH_TOKEN"], env["SUPPORTSVC_PUBLIC_URL"]+recordingtwilio.VoicePath, form))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("POST voice = %v, %v; want %d", resp, err, want)
		}
		_ = resp.Body.Close()
	}
	post(url.Values{"CallSid": {callSID}}, false, http.StatusForbidden)
	post(url.Values{"CallSid": {"not-a-sid"}}, true, http.StatusBadRequest)
	post(url.Values{"CallSid": {callSID}, "AccountSid": {env["TWILIO_ACCOUNT_SID"]}}, true, http.StatusOK)

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{
		`webhook_requests_total{endpoint="/twilio/voice",outcome="forbidden"} 1`,
		`webhook_requests_total{endpoint="/twilio/voice",outcome="bad_request"} 1`,
		`webhook_requests_total{endpoint="/twilio/voice",outcome="ok"} 1`,
		`webhook_requests_total{endpoint="/twilio/recording-status",outcome="ok"} 0`,
		"recordings_stored_total 0",
		`recordings_deleted_total{reason="opt_out"} 0`,
		"outbox_oldest_pending_seconds ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%.3000s", want, body)
		}
	}
	if strings.Contains(string(body), callSID) || strings.Contains(string(body), env["TWILIO_ACCOUNT_SID"]) {
		t.Error("metrics carry a Twilio sid")
	}
}

// twilioSignature signs a form POST the way Twilio does: HMAC-SHA1 of the URL followed by the
// sorted fields' names and values.
func twilioSignature(token, fullURL string, form url.Values) string {
	keys := slices.Sorted(maps.Keys(form))
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k + form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
