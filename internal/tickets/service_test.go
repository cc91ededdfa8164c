package tickets_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/paging"
	"github.com/lumio/contactcentre/internal/tickets"
)

// fakeStore is a tickets.Store made of func fields; a test sets the ones it needs.
type fakeStore struct {
	CreateTicketFn func(context.Context, tickets.CreateRecord) (tickets.Ticket, error)
	UpdateTicketFn func(context.Context, string, tickets.UpdateFunc) (tickets.Ticket, error)
	AddCommentFn   func(context.Context, tickets.CommentRecord, tickets.CommentFunc) (tickets.Comment, error)
	ListTicketsFn  func(context.Context, tickets.Filter, *paging.Cursor, int) ([]tickets.Ticket, error)
}

var _ tickets.Store = (*fakeStore)(nil)

func (f *fakeStore) CreateTicket(ctx context.Context, rec tickets.CreateRecord) (tickets.Ticket, error) {
	return f.CreateTicketFn(ctx, rec)
}
func (f *fakeStore) Ticket(context.Context, string) (tickets.Ticket, error) {
	return tickets.Ticket{}, apperr.ErrNotFound
}
func (f *fakeStore) ListTickets(ctx context.Context, fl tickets.Filter, after *paging.Cursor, limit int) ([]tickets.Ticket, error) {
	return f.ListTicketsFn(ctx, fl, after, limit)
}
func (f *fakeStore) UpdateTicket(ctx context.Context, id string, fn tickets.UpdateFunc) (tickets.Ticket, error) {
	return f.UpdateTicketFn(ctx, id, fn)
}
func (f *fakeStore) AddComment(ctx context.Context, rec tickets.CommentRecord, fn tickets.CommentFunc) (tickets.Comment, error) {
	return f.AddCommentFn(ctx, rec, fn)
}
func (f *fakeStore) ListComments(context.Context, string, *paging.Cursor, int) ([]tickets.Comment, error) {
	return nil, nil
}
func (f *fakeStore) ListEvents(context.Context, string, *paging.Cursor, int) ([]tickets.Event, error) {
	return nil, nil
}

// memTicket holds one ticket and its status history the way a store would, so that update
// and comment rules run exactly as they do against PostgreSQL.
type memTicket struct {
	t       tickets.Ticket
	history []tickets.StatusChange
	events  []tickets.Event
}

func (m *memTicket) store() *fakeStore {
	return &fakeStore{
		UpdateTicketFn: func(_ context.Context, id string, fn tickets.UpdateFunc) (tickets.Ticket, error) {
			if id != m.t.ID {
				return tickets.Ticket{}, apperr.ErrNotFound
			}
			ch, err := fn(m.t, slices.Clone(m.history))
			if err != nil {
				return tickets.Ticket{}, err
			}
			m.apply(ch)
			return m.t, nil
		},
		AddCommentFn: func(_ context.Context, rec tickets.CommentRecord, fn tickets.CommentFunc) (tickets.Comment, error) {
			ch, err := fn(m.t)
			if err != nil {
				return tickets.Comment{}, err
			}
			m.apply(ch)
			return rec.Comment, nil
		},
	}
}

func (m *memTicket) apply(ch tickets.Change) {
	if ch.Event.ID == "" {
		return
	}
	m.t = ch.Ticket
	m.events = append(m.events, ch.Event)
	if ch.Event.Type == tickets.EventStatusChanged {
		m.history = append(m.history, tickets.StatusChange{From: ch.Event.FromStatus, To: ch.Event.ToStatus, Time: ch.Event.CreateTime})
	}
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func setup(t *testing.T, tk tickets.Ticket) (*tickets.Service, *memTicket, *clock) {
	t.Helper()
	m := &memTicket{t: tk}
	c := &clock{now: t0}
	return tickets.NewService(m.store(), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), tickets.DefaultSLA(), c.Now), m, c
}

const ticketID = "0190a5b0-7c1e-7000-8000-0000000000aa"

func openPhoneTicket() tickets.Ticket {
	first, res := tickets.DefaultSLA().DueTimes(t0, tickets.PriorityNormal, nil)
	return tickets.Ticket{
		ID: ticketID, CustomerID: customerID, Channel: tickets.ChannelPhone, Subject: "No sound",
		Priority: tickets.PriorityNormal, Status: tickets.StatusNew, Contact: tickets.Contact{Title: "Teacher"},
		AllowedSubprocessors: []string{"aws_us", "blue_ocean", "callminer", "microsoft", "twilio"},
		Version:              1, CreateTime: t0, UpdateTime: t0, FirstResponseDueTime: first, ResolutionDueTime: res,
	}
}

func ptr[T any](v T) *T { return &v }

func TestCreateTicket(t *testing.T) {
	t.Parallel()
	var got tickets.CreateRecord
	store := &fakeStore{CreateTicketFn: func(_ context.Context, rec tickets.CreateRecord) (tickets.Ticket, error) {
		got = rec
		return rec.Ticket, nil
	}}
	now := t0.Add(123456789 * time.Nanosecond)
	svc := tickets.NewService(store, dataflow.NewPolicy(dataflow.DefaultNorthAmerica), tickets.DefaultSLA(), func() time.Time { return now })
	in := validPhoneTicket()
	in.CustomerID = strings.ToUpper(in.CustomerID)
	tk, err := svc.CreateTicket(context.Background(), "agent-7", in, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	created := now.Truncate(time.Microsecond)
	want := tickets.Ticket{
		ID: tk.ID, CustomerID: customerID, Channel: tickets.ChannelPhone, Subject: in.Subject,
		Priority: tickets.PriorityNormal, Status: tickets.StatusNew, Contact: in.Contact,
		AllowedSubprocessors: []string{"aws_us", "blue_ocean", "callminer", "microsoft", "twilio"},
		Version:              1, CreateBy: "agent-7", CreateTime: created, UpdateTime: created,
		FirstResponseDueTime: created.Add(8 * time.Hour), ResolutionDueTime: created.Add(72 * time.Hour),
	}
	if diff := cmp.Diff(want, tk); diff != "" {
		t.Errorf("created ticket (-want +got):\n%s", diff)
	}
	if tk.Etag() != "1" {
		t.Errorf("etag = %q, want \"1\"", tk.Etag())
	}
	if got.RequestID != "req-1" || got.Event.Type != tickets.EventCreated || got.Event.Actor != "agent-7" || got.Event.ToStatus != tickets.StatusNew {
		t.Errorf("record = %+v", got)
	}
	if _, err := svc.CreateTicket(context.Background(), "", in, ""); !errors.Is(err, apperr.ErrUnauthenticated) {
		t.Errorf("no actor: err = %v", err)
	}
	_, err = svc.CreateTicket(context.Background(), "agent-7", in, "bad\x00id")
	wantField(t, err, "request_id")
}

func TestUpdateTicketRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("stale etag", func(t *testing.T) {
		t.Parallel()
		svc, m, _ := setup(t, openPhoneTicket())
		_, err := svc.UpdateTicket(ctx, "a", tickets.TicketUpdate{ID: ticketID, Etag: "7", Assignee: ptr("bob")})
		if !errors.Is(err, apperr.ErrStaleEtag) {
			t.Fatalf("err = %v, want ErrStaleEtag", err)
		}
		if len(m.events) != 0 {
			t.Errorf("events written on a stale etag: %v", m.events)
		}
	})
	t.Run("matching etag and event names fields only", func(t *testing.T) {
		t.Parallel()
		svc, m, c := setup(t, openPhoneTicket())
		c.now = t0.Add(time.Minute)
		got, err := svc.UpdateTicket(ctx, "sup-1", tickets.TicketUpdate{ID: ticketID, Etag: "1", Assignee: ptr("bob"), ContactName: ptr("Ana Secret")})
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 || got.Assignee != "bob" || !got.UpdateTime.Equal(c.now) {
			t.Errorf("updated = %+v", got)
		}
		want := tickets.Event{ID: m.events[0].ID, TicketID: ticketID, Actor: "sup-1", Type: tickets.EventUpdated,
			ChangedFields: []string{"contact.name", "assignee"}, CreateTime: c.now}
		if diff := cmp.Diff(want, m.events[0]); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
	})
	t.Run("no change writes nothing", func(t *testing.T) {
		t.Parallel()
		svc, m, _ := setup(t, openPhoneTicket())
		got, err := svc.UpdateTicket(ctx, "a", tickets.TicketUpdate{ID: ticketID, Subject: ptr("No sound")})
		if err != nil || got.Version != 1 || len(m.events) != 0 {
			t.Errorf("no-op update = %+v, %v, events %v", got, err, m.events)
		}
	})
	t.Run("forbidden transition names it", func(t *testing.T) {
		t.Parallel()
		svc, _, _ := setup(t, openPhoneTicket())
		_, err := svc.UpdateTicket(ctx, "a", tickets.TicketUpdate{ID: ticketID, Status: ptr(tickets.StatusSolved)})
		var pe *apperr.PreconditionError
		if !errors.As(err, &pe) || !strings.Contains(pe.Rule, "new to solved") {
			t.Fatalf("err = %v, want precondition naming new to solved", err)
		}
	})
	t.Run("closed ticket is final", func(t *testing.T) {
		t.Parallel()
		tk := openPhoneTicket()
		tk.Status = tickets.StatusClosed
		svc, _, _ := setup(t, tk)
		_, err := svc.UpdateTicket(ctx, "a", tickets.TicketUpdate{ID: ticketID, Assignee: ptr("bob")})
		var pe *apperr.PreconditionError
		if !errors.As(err, &pe) || !strings.Contains(pe.Rule, "closed") {
			t.Fatalf("err = %v, want closed precondition", err)
		}
	})
	t.Run("invalid status value", func(t *testing.T) {
		t.Parallel()
		svc, _, _ := setup(t, openPhoneTicket())
		_, err := svc.UpdateTicket(ctx, "a", tickets.TicketUpdate{ID: ticketID, Status: ptr(tickets.Status(""))})
		wantField(t, err, "ticket.status")
	})
	t.Run("contact rules hold after update", func(t *testing.T) {
		t.Parallel()
		svc, m, _ := setup(t, openPhoneTicket())
		_, err := svc.UpdateTicket(ctx, "a", tickets.TicketUpdate{ID: ticketID, ContactTitle: ptr("")})
		wantField(t, err, "ticket.contact.name")
		if m.t.Contact.Title != "Teacher" {
			t.Errorf("ticket changed despite the error")
		}
	})
	t.Run("erased ticket can change status but not personal fields", func(t *testing.T) {
		t.Parallel()
		tk := openPhoneTicket()
		tk.Subject, tk.Contact, tk.PersonalDataErased = "", tickets.Contact{}, true
		svc, _, _ := setup(t, tk)
		if _, err := svc.UpdateTicket(ctx, "a", tickets.TicketUpdate{ID: ticketID, Status: ptr(tickets.StatusOpen)}); err != nil {
			t.Fatalf("status change on an erased ticket: %v", err)
		}
		_, err := svc.UpdateTicket(ctx, "a", tickets.TicketUpdate{ID: ticketID, Subject: ptr("new")})
		var pe *apperr.PreconditionError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want precondition", err)
		}
	})
}

func TestUpdateTicketSLAFromHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, m, c := setup(t, openPhoneTicket())
	step := func(d time.Duration, u tickets.TicketUpdate) tickets.Ticket {
		t.Helper()
		c.now = t0.Add(d)
		u.ID = ticketID
		got, err := svc.UpdateTicket(ctx, "agent", u)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	step(time.Hour, tickets.TicketUpdate{Status: ptr(tickets.StatusOpen)})
	got := step(2*time.Hour, tickets.TicketUpdate{Status: ptr(tickets.StatusPending)})
	if want := t0.Add(8 * time.Hour); !got.FirstResponseDueTime.Equal(want) {
		t.Errorf("while pending: first due = %v, want unchanged %v", got.FirstResponseDueTime, want)
	}
	got = step(5*time.Hour, tickets.TicketUpdate{Status: ptr(tickets.StatusOpen)})
	if want := t0.Add(11 * time.Hour); !got.FirstResponseDueTime.Equal(want) {
		t.Errorf("after 3h pending: first due = %v, want %v", got.FirstResponseDueTime, want)
	}
	if want := t0.Add(75 * time.Hour); !got.ResolutionDueTime.Equal(want) {
		t.Errorf("after 3h pending: resolution due = %v, want %v", got.ResolutionDueTime, want)
	}
	// A priority change recomputes from creation and the same history.
	got = step(6*time.Hour, tickets.TicketUpdate{Priority: ptr(tickets.PriorityUrgent)})
	if want := t0.Add(4 * time.Hour); !got.FirstResponseDueTime.Equal(want) {
		t.Errorf("urgent: first due = %v, want %v", got.FirstResponseDueTime, want)
	}
	if want := t0.Add(7 * time.Hour); !got.ResolutionDueTime.Equal(want) {
		t.Errorf("urgent: resolution due = %v, want %v", got.ResolutionDueTime, want)
	}
	types := []tickets.EventType{}
	for _, e := range m.events {
		types = append(types, e.Type)
	}
	wantTypes := []tickets.EventType{tickets.EventStatusChanged, tickets.EventStatusChanged, tickets.EventStatusChanged, tickets.EventUpdated}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("event types (-want +got):\n%s", diff)
	}
	if e := m.events[1]; e.FromStatus != tickets.StatusOpen || e.ToStatus != tickets.StatusPending {
		t.Errorf("status event = %+v", e)
	}
}

func TestSetRecordingOptOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tk := openPhoneTicket()
	tk.Status = tickets.StatusClosed
	svc, m, _ := setup(t, tk)
	got, err := svc.SetRecordingOptOut(ctx, "recorder", ticketID, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"aws_us", "blue_ocean", "microsoft", "twilio"}, got.AllowedSubprocessors); diff != "" {
		t.Errorf("allowed after opt-out (-want +got):\n%s", diff)
	}
	if !got.RecordingOptOut || got.Version != 2 {
		t.Errorf("ticket = %+v", got)
	}
	want := []string{"recording_opt_out", "allowed_subprocessors"}
	if diff := cmp.Diff(want, m.events[0].ChangedFields); diff != "" || m.events[0].Type != tickets.EventRecordingOptOut {
		t.Errorf("event %+v (-want +got fields):\n%s", m.events[0], diff)
	}
	if _, err := svc.SetRecordingOptOut(ctx, "recorder", ticketID, true); err != nil || len(m.events) != 1 {
		t.Errorf("repeat opt-out: err %v, %d events", err, len(m.events))
	}
}

func TestAddCommentRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	errorReport := func(may bool) tickets.Ticket {
		tk := openPhoneTicket()
		tk.Channel, tk.Contact = tickets.ChannelErrorReport, tickets.Contact{MayContact: may}
		if may {
			tk.Contact.Email = "r@x.example"
		}
		return tk
	}
	t.Run("no consent no public contact", func(t *testing.T) {
		t.Parallel()
		svc, m, _ := setup(t, errorReport(false))
		_, err := svc.AddComment(ctx, "agent", tickets.NewComment{TicketID: ticketID, Body: "Hello"})
		var pe *apperr.PreconditionError
		if !errors.As(err, &pe) || !strings.Contains(pe.Rule, "no consent, no contact") {
			t.Fatalf("err = %v, want the consent precondition", err)
		}
		if _, err := svc.AddComment(ctx, "agent", tickets.NewComment{TicketID: ticketID, Body: "note", Internal: true}); err != nil {
			t.Fatalf("internal note: %v", err)
		}
		if m.t.FirstResponseTime != nil {
			t.Errorf("an internal note set first_response_time")
		}
	})
	t.Run("consent allows reply and first reply sets first response", func(t *testing.T) {
		t.Parallel()
		svc, m, c := setup(t, errorReport(true))
		c.now = t0.Add(30 * time.Minute)
		if _, err := svc.AddComment(ctx, "agent", tickets.NewComment{TicketID: ticketID, Body: "Hello"}); err != nil {
			t.Fatal(err)
		}
		first := c.now
		c.now = t0.Add(time.Hour)
		if _, err := svc.AddComment(ctx, "agent", tickets.NewComment{TicketID: ticketID, Body: "Again"}); err != nil {
			t.Fatal(err)
		}
		if m.t.FirstResponseTime == nil || !m.t.FirstResponseTime.Equal(first) {
			t.Errorf("first response = %v, want %v", m.t.FirstResponseTime, first)
		}
		if m.t.Version != 2 {
			t.Errorf("version = %d, want 2 (only the first reply changes the ticket)", m.t.Version)
		}
		if diff := cmp.Diff([]string{"comments", "first_response_time"}, m.events[0].ChangedFields); diff != "" {
			t.Errorf("first comment event (-want +got):\n%s", diff)
		}
	})
	t.Run("closed ticket takes no comment", func(t *testing.T) {
		t.Parallel()
		tk := openPhoneTicket()
		tk.Status = tickets.StatusClosed
		svc, _, _ := setup(t, tk)
		_, err := svc.AddComment(ctx, "agent", tickets.NewComment{TicketID: ticketID, Body: "x", Internal: true})
		var pe *apperr.PreconditionError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want precondition", err)
		}
	})
}

func TestListTicketsPaging(t *testing.T) {
	t.Parallel()
	var gotLimit int
	var gotAfter *paging.Cursor
	store := &fakeStore{ListTicketsFn: func(_ context.Context, _ tickets.Filter, after *paging.Cursor, limit int) ([]tickets.Ticket, error) {
		gotLimit, gotAfter = limit, after
		out := make([]tickets.Ticket, limit)
		for i := range out {
			out[i] = tickets.Ticket{ID: string(rune('a' + i)), CreateTime: t0.Add(-time.Duration(i) * time.Minute)}
		}
		return out, nil
	}}
	svc := tickets.NewService(store, dataflow.NewPolicy(nil), tickets.DefaultSLA(), time.Now)
	f := tickets.Filter{Status: tickets.StatusOpen}
	ts, next, err := svc.ListTickets(context.Background(), f, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	if gotLimit != 3 || len(ts) != 2 || next == "" {
		t.Fatalf("limit %d, %d tickets, next %q", gotLimit, len(ts), next)
	}
	if _, _, err := svc.ListTickets(context.Background(), f, 2, next); err != nil || gotAfter == nil || gotAfter.ID != "b" {
		t.Fatalf("second page: after %+v, err %v", gotAfter, err)
	}
	_, _, err = svc.ListTickets(context.Background(), tickets.Filter{Status: tickets.StatusNew}, 2, next)
	wantField(t, err, "page_token")
	_, _, err = svc.ListTickets(context.Background(), f, -1, "")
	wantField(t, err, "page_size")
}
