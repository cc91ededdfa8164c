package recordinggrpc_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/dataflow"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
	"github.com/lumio/contactcentre/internal/grpcserver/grpctest"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingdb"
	"github.com/lumio/contactcentre/internal/recording/recordinggrpc"
	"github.com/lumio/contactcentre/internal/recording/recordingstore"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb"
)

// carrier is an in-memory recording.Carrier: the Twilio adapter has its own tests.
type carrier struct {
	mu    sync.Mutex
	audio map[string][]byte
}

func sid(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (c *carrier) StartRecording(context.Context, string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := sid("RE")
	c.audio[s] = []byte("audio of " + s)
	return s, nil
}
func (c *carrier) StopRecording(context.Context, string, string) error { return nil }
func (c *carrier) DeleteRecording(_ context.Context, s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.audio, s)
	return nil
}
func (c *carrier) FetchMedia(_ context.Context, s string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.audio[s], nil
}
func (c *carrier) ListRecordings(context.Context) ([]recording.CarrierRecording, error) {
	return nil, nil
}

type bundle struct {
	srv       *grpctest.Server
	svc       *recording.Service
	ticketID  string
	recording string
}

// setup serves the real handlers, service and store behind the shared interceptor chain over
// bufconn, with one phone ticket whose call has one stored recording.
func setup(t *testing.T) (supportv1.RecordingServiceClient, bundle) {
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
	policy := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	ts := tickets.NewService(ticketsdb.New(pool, kr), policy, tickets.DefaultSLA(), time.Now)
	callSID := sid("CA")
	tk, err := ts.CreateTicket(ctx, "agent-ann", tickets.NewTicket{
		CustomerID: customer, Channel: tickets.ChannelPhone, Subject: "No sound", CallSID: callSID,
		Contact: tickets.Contact{Title: "Teacher"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	objects, err := recordingstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	linkKey := make([]byte, 32)
	_, _ = rand.Read(linkKey)
	signer, err := recording.NewURLSigner("https://support.example.test", linkKey)
	if err != nil {
		t.Fatal(err)
	}
	optOut := recording.TicketOptOutFunc(func(ctx context.Context, actor, id string, v bool) error {
		_, err := ts.SetRecordingOptOut(ctx, actor, id, v)
		return err
	})
	c := &carrier{audio: map[string][]byte{}}
	svc := recording.NewService(recordingdb.New(pool, kr, policy), c, objects, optOut, signer, recording.Config{}, nil, time.Now)
	if _, err := svc.CallerChoice(ctx, callSID, ""); err != nil {
		t.Fatal(err)
	}
	var recSID string
	for s := range c.audio {
		recSID = s
	}
	err = svc.HandleCallback(ctx, recording.Callback{CallSID: callSID, RecordingSID: recSID, Status: recording.CallbackCompleted, DurationSeconds: 7})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := svc.ListRecordings(ctx, tk.ID)
	if err != nil || len(recs) != 1 || recs[0].Status != recording.StatusStored {
		t.Fatalf("seed recording: %+v, %v", recs, err)
	}

	srv := grpctest.New(t, func(s *grpc.Server) { supportv1.RegisterRecordingServiceServer(s, recordinggrpc.NewServer(svc)) })
	return supportv1.NewRecordingServiceClient(srv.Conn), bundle{srv: srv, svc: svc, ticketID: tk.ID, recording: recs[0].ID}
}

func (b bundle) as(t *testing.T, role auth.Role) context.Context {
	t.Helper()
	return b.srv.As(t, "user-"+string(role), role)
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, code)
	}
}

func TestRecordingServiceCodes(t *testing.T) {
	t.Parallel()
	client, b := setup(t)
	agent := b.as(t, auth.RoleAgent)
	missing := uuid.NewString()

	_, err := client.ListRecordings(context.Background(), &supportv1.ListRecordingsRequest{TicketId: b.ticketID})
	wantCode(t, "no token", err, codes.Unauthenticated)
	_, err = client.ListRecordings(b.as(t, auth.RoleFinance), &supportv1.ListRecordingsRequest{TicketId: b.ticketID})
	wantCode(t, "finance lists recordings", err, codes.PermissionDenied)
	_, err = client.ListRecordings(agent, &supportv1.ListRecordingsRequest{TicketId: "not-a-uuid"})
	wantCode(t, "bad ticket id", err, codes.InvalidArgument)
	_, err = client.ListRecordings(agent, &supportv1.ListRecordingsRequest{TicketId: missing})
	wantCode(t, "unknown ticket", err, codes.NotFound)
	_, err = client.GetRecording(agent, &supportv1.GetRecordingRequest{Id: missing})
	wantCode(t, "unknown recording", err, codes.NotFound)
	_, err = client.SetRecordingOptOut(agent, &supportv1.SetRecordingOptOutRequest{TicketId: missing, OptOut: true})
	wantCode(t, "opt out unknown ticket", err, codes.NotFound)
	_, err = client.DeleteRecording(agent, &supportv1.DeleteRecordingRequest{Id: b.recording})
	wantCode(t, "agent deletes", err, codes.PermissionDenied)

	list, err := client.ListRecordings(agent, &supportv1.ListRecordingsRequest{TicketId: b.ticketID})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetRecordings()) != 1 {
		t.Fatalf("recordings = %v", list.GetRecordings())
	}
	got := list.GetRecordings()[0]
	if got.GetId() != b.recording || got.GetTicketId() != b.ticketID || got.GetStatus() != supportv1.RecordingStatus_RECORDING_STATUS_STORED ||
		got.GetDurationSeconds() != 7 || got.GetDeleteTime() != nil {
		t.Errorf("recording = %v", got)
	}
	if diff := cmp.Diff([]string{"aws_us", "blue_ocean", "callminer", "twilio"}, got.GetAllowedSubprocessors()); diff != "" {
		t.Errorf("allowed_subprocessors (-want +got):\n%s", diff)
	}

	// Agents get metadata only; supervisors also get a link (checked on the domain until the
	// proto carries it).
	who := auth.Identity{Subject: "agent-ann", Roles: []auth.Role{auth.RoleAgent}}
	if _, dl, err := b.svc.GetRecording(context.Background(), who, b.recording); err != nil || dl != nil {
		t.Errorf("agent download = %v, %v; want none", dl, err)
	}
	who = auth.Identity{Subject: "sup", Roles: []auth.Role{auth.RoleSupervisor}}
	if _, dl, err := b.svc.GetRecording(context.Background(), who, b.recording); err != nil || dl == nil {
		t.Errorf("supervisor download = %v, %v; want a link", dl, err)
	}

	deleted, err := client.DeleteRecording(b.as(t, auth.RoleAdmin), &supportv1.DeleteRecordingRequest{Id: b.recording, Reason: "requested by the customer"})
	if err != nil {
		t.Fatal(err)
	}
	if deleted.GetStatus() != supportv1.RecordingStatus_RECORDING_STATUS_DELETED || deleted.GetDeleteTime() == nil {
		t.Errorf("deleted = %v", deleted)
	}
	res, err := client.SetRecordingOptOut(agent, &supportv1.SetRecordingOptOutRequest{TicketId: b.ticketID, OptOut: true})
	if err != nil {
		t.Fatal(err)
	}
	want := &supportv1.SetRecordingOptOutResponse{TicketId: b.ticketID, OptOut: true, RecordingsDeleted: 0}
	if res.GetTicketId() != want.GetTicketId() || !res.GetOptOut() || res.GetRecordingsDeleted() != 0 {
		t.Errorf("opt-out = %v, want %v (the only recording was deleted already)", res, want)
	}
}
