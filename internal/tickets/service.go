package tickets

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/paging"
	"github.com/lumio/contactcentre/internal/validate"
)

// Service applies the ticket desk's rules and keeps tickets in a Store.
type Service struct {
	store  Store
	policy dataflow.Policy
	sla    SLAPolicy
	now    func() time.Time
}

// NewService returns a Service. now is the clock (tests control it); sla's missing priorities
// fall back to DefaultSLA.
func NewService(store Store, policy dataflow.Policy, sla SLAPolicy, now func() time.Time) *Service {
	return &Service{store: store, policy: policy, sla: sla, now: now}
}

// clock returns the current time as PostgreSQL stores it, so returned and re-read values agree.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *Service) allowed(t Ticket) []string {
	return s.policy.Decide(dataflow.Facts{
		Kind:            dataflow.KindTicket,
		TicketChannel:   string(t.Channel),
		RecordingOptOut: t.RecordingOptOut,
	}).Allowed
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// CreateTicket opens a ticket for actor. The status starts NEW, the priority defaults to NORMAL
// and the due times follow the SLA policy. A retry with the same requestID returns the first
// ticket. Errors: apperr.ErrUnauthenticated (no actor), *apperr.InvalidError (bad field, or
// ticket.customer_id naming no live customer), apperr.ErrAlreadyExists (requestID reused for a
// different request).
func (s *Service) CreateTicket(ctx context.Context, actor string, in NewTicket, requestID string) (Ticket, error) {
	if actor == "" {
		return Ticket{}, apperr.ErrUnauthenticated
	}
	if err := ValidateNewTicket(in); err != nil {
		return Ticket{}, err
	}
	if err := validate.RequestID("request_id", requestID); err != nil {
		return Ticket{}, err
	}
	// The canonical id, so that a retry spelling the id in upper case is still a retry.
	in.CustomerID, _ = validate.ID("ticket.customer_id", in.CustomerID)
	now := s.clock()
	t := in.ticket()
	t.ID = newID()
	t.AllowedSubprocessors = s.allowed(t)
	t.Version = 1
	t.CreateBy = actor
	t.CreateTime, t.UpdateTime = now, now
	t.FirstResponseDueTime, t.ResolutionDueTime = s.sla.DueTimes(now, t.Priority, nil)
	rec := CreateRecord{
		Ticket: t,
		Event: Event{
			ID: newID(), TicketID: t.ID, Actor: actor, Type: EventCreated,
			ChangedFields: setFields(t), ToStatus: StatusNew, CreateTime: now,
		},
		RequestID: requestID,
		// The creator is part of the request: another user reusing the id is not a retry.
		Request: struct {
			Actor  string
			Ticket NewTicket
		}{actor, in},
	}
	created, err := s.store.CreateTicket(ctx, rec)
	if err != nil {
		return Ticket{}, fmt.Errorf("create ticket: %w", err)
	}
	return created, nil
}

// setFields names the client fields a new ticket has set (names only, never values).
func setFields(t Ticket) []string {
	var out []string
	add := func(name string, set bool) {
		if set {
			out = append(out, name)
		}
	}
	add("subject", t.Subject != "")
	add("description", t.Description != "")
	add("priority", true)
	add("contact.name", t.Contact.Name != "")
	add("contact.title", t.Contact.Title != "")
	add("contact.email", t.Contact.Email != "")
	add("contact.phone", t.Contact.Phone != "")
	add("contact.may_contact", t.Contact.MayContact)
	add("assignee", t.Assignee != "")
	add("tags", len(t.Tags) > 0)
	add("call_sid", t.CallSID != "")
	return out
}

// GetTicket returns one ticket. Errors: *apperr.InvalidError (id), apperr.ErrNotFound.
func (s *Service) GetTicket(ctx context.Context, id string) (Ticket, error) {
	id, err := validate.ID("id", id)
	if err != nil {
		return Ticket{}, err
	}
	t, err := s.store.Ticket(ctx, id)
	if err != nil {
		return Ticket{}, fmt.Errorf("get ticket %s: %w", id, err)
	}
	return t, nil
}

// ListTickets returns a page of tickets matching f, newest first, and the token of the next
// page ("" on the last). Errors: *apperr.InvalidError (a filter, page_size or page_token).
func (s *Service) ListTickets(ctx context.Context, f Filter, pageSize int32, pageToken string) ([]Ticket, string, error) {
	if err := ValidateFilter(f); err != nil {
		return nil, "", err
	}
	if f.CustomerID != "" {
		f.CustomerID, _ = validate.ID("customer_id", f.CustomerID)
	}
	size, after, err := pageArgs(pageSize, pageToken, f)
	if err != nil {
		return nil, "", err
	}
	ts, err := s.store.ListTickets(ctx, f, after, size+1)
	if err != nil {
		return nil, "", fmt.Errorf("list tickets: %w", err)
	}
	ts, next := page(ts, size, f, func(t Ticket) paging.Cursor { return paging.Cursor{Time: t.CreateTime, ID: t.ID} })
	return ts, next, nil
}

func pageArgs(pageSize int32, pageToken string, filter any) (int, *paging.Cursor, error) {
	size, err := paging.Size(pageSize)
	if err != nil {
		return 0, nil, err
	}
	c, ok, err := paging.Decode(pageToken, filter)
	if err != nil || !ok {
		return size, nil, err
	}
	return size, &c, nil
}

// page trims a result fetched with limit size+1 to size and makes the next page's token.
func page[T any](items []T, size int, filter any, cursor func(T) paging.Cursor) ([]T, string) {
	if len(items) <= size {
		return items, ""
	}
	items = items[:size]
	return items, paging.Encode(cursor(items[size-1]), filter)
}

// UpdateTicket changes the fields the update names, for actor. It enforces the status machine,
// the contact rules and the etag, recomputes the flow list and the due times, and records an
// event. Errors: apperr.ErrUnauthenticated, *apperr.InvalidError, apperr.ErrNotFound,
// apperr.ErrStaleEtag, *apperr.PreconditionError (a closed ticket, a forbidden transition,
// personal data that was erased).
func (s *Service) UpdateTicket(ctx context.Context, actor string, u TicketUpdate) (Ticket, error) {
	if actor == "" {
		return Ticket{}, apperr.ErrUnauthenticated
	}
	id, err := validate.ID("ticket.id", u.ID)
	if err != nil {
		return Ticket{}, err
	}
	if u.Status != nil && !u.Status.valid() {
		return Ticket{}, apperr.Invalid("ticket.status", "is not a valid status")
	}
	now := s.clock()
	t, err := s.store.UpdateTicket(ctx, id, func(cur Ticket, history []StatusChange) (Change, error) {
		if u.Etag != "" && u.Etag != cur.Etag() {
			return Change{}, apperr.ErrStaleEtag
		}
		if cur.Status == StatusClosed {
			return Change{}, errClosed
		}
		next, changed := u.apply(cur)
		if len(changed) == 0 {
			return Change{Ticket: cur}, nil
		}
		if cur.PersonalDataErased && slices.ContainsFunc(changed, isPersonal) {
			return Change{}, apperr.Precondition("the ticket's personal data was erased and cannot be set again")
		}
		ev := Event{ID: newID(), TicketID: cur.ID, Actor: actor, Type: EventUpdated, CreateTime: now}
		if next.Status != cur.Status {
			if err := CheckTransition(cur.Status, next.Status); err != nil {
				return Change{}, err
			}
			ev.Type, ev.FromStatus, ev.ToStatus = EventStatusChanged, cur.Status, next.Status
			history = append(slices.Clip(history), StatusChange{From: cur.Status, To: next.Status, Time: now})
		}
		if err := validateContent(next, !cur.PersonalDataErased); err != nil {
			return Change{}, err
		}
		next.FirstResponseDueTime, next.ResolutionDueTime = s.sla.DueTimes(next.CreateTime, next.Priority, history)
		ev.ChangedFields = s.derive(&next, cur, changed)
		next.Version, next.UpdateTime = cur.Version+1, now
		return Change{Ticket: next, Event: ev}, nil
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("update ticket %s: %w", id, err)
	}
	return t, nil
}

func isPersonal(field string) bool { return slices.Contains(personalFields, field) }

// derive recomputes the flow list (on every change: the policy may have changed too) and adds the
// derived fields that changed to the client's.
func (s *Service) derive(next *Ticket, cur Ticket, changed []string) []string {
	next.AllowedSubprocessors = s.allowed(*next)
	if !slices.Equal(next.AllowedSubprocessors, cur.AllowedSubprocessors) {
		changed = append(changed, "allowed_subprocessors")
	}
	if !next.FirstResponseDueTime.Equal(cur.FirstResponseDueTime) {
		changed = append(changed, "first_response_due_time")
	}
	if !next.ResolutionDueTime.Equal(cur.ResolutionDueTime) {
		changed = append(changed, "resolution_due_time")
	}
	return changed
}

// SetRecordingOptOut records whether the caller declined recording, recomputes the flow list
// and records an event. It works on closed tickets too: the caller's choice always counts.
// Errors: apperr.ErrUnauthenticated, *apperr.InvalidError (ticketID), apperr.ErrNotFound.
func (s *Service) SetRecordingOptOut(ctx context.Context, actor, ticketID string, optOut bool) (Ticket, error) {
	if actor == "" {
		return Ticket{}, apperr.ErrUnauthenticated
	}
	id, err := validate.ID("ticket_id", ticketID)
	if err != nil {
		return Ticket{}, err
	}
	now := s.clock()
	t, err := s.store.UpdateTicket(ctx, id, func(cur Ticket, _ []StatusChange) (Change, error) {
		if cur.RecordingOptOut == optOut {
			return Change{Ticket: cur}, nil
		}
		next := cur
		next.RecordingOptOut = optOut
		changed := s.derive(&next, cur, []string{"recording_opt_out"})
		next.Version, next.UpdateTime = cur.Version+1, now
		return Change{Ticket: next, Event: Event{
			ID: newID(), TicketID: cur.ID, Actor: actor, Type: EventRecordingOptOut,
			ChangedFields: changed, CreateTime: now,
		}}, nil
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("set recording opt-out of ticket %s: %w", id, err)
	}
	return t, nil
}

// AddComment adds a public reply or an internal note by actor. The first public reply sets the
// ticket's first_response_time. A public reply on an error report whose reporter did not consent
// to contact is refused. Errors: apperr.ErrUnauthenticated, *apperr.InvalidError,
// apperr.ErrNotFound, apperr.ErrAlreadyExists (request_id reused), *apperr.PreconditionError
// (closed ticket, no consent, erased personal data).
func (s *Service) AddComment(ctx context.Context, actor string, in NewComment) (Comment, error) {
	if actor == "" {
		return Comment{}, apperr.ErrUnauthenticated
	}
	if err := ValidateNewComment(in); err != nil {
		return Comment{}, err
	}
	in.TicketID, _ = validate.ID("ticket_id", in.TicketID)
	now := s.clock()
	rec := CommentRecord{
		Comment: Comment{
			ID: newID(), TicketID: in.TicketID, Author: actor, Body: in.Body,
			Internal: in.Internal, CreateTime: now,
		},
		RequestID: in.RequestID,
		Request: struct {
			Actor   string
			Comment NewComment
		}{actor, in},
	}
	c, err := s.store.AddComment(ctx, rec, func(cur Ticket) (Change, error) {
		if cur.Status == StatusClosed {
			return Change{}, errClosed
		}
		if cur.PersonalDataErased {
			return Change{}, apperr.Precondition("the ticket's personal data was erased: it takes no more comments")
		}
		if !in.Internal && cur.Channel == ChannelErrorReport && !cur.Contact.MayContact {
			return Change{}, apperr.Precondition("no consent, no contact: the reporter did not agree to be contacted; add an internal note instead")
		}
		next := cur
		changed := []string{"comments"}
		if !in.Internal && cur.FirstResponseTime == nil {
			next.FirstResponseTime = &now
			next.Version, next.UpdateTime = cur.Version+1, now
			changed = append(changed, "first_response_time")
		}
		return Change{Ticket: next, Event: Event{
			ID: newID(), TicketID: cur.ID, Actor: actor, Type: EventCommented,
			ChangedFields: changed, CreateTime: now,
		}}, nil
	})
	if err != nil {
		return Comment{}, fmt.Errorf("add comment to ticket %s: %w", in.TicketID, err)
	}
	return c, nil
}

// ListComments returns a page of a ticket's comments, oldest first. Errors:
// *apperr.InvalidError, apperr.ErrNotFound (no such ticket).
func (s *Service) ListComments(ctx context.Context, ticketID string, pageSize int32, pageToken string) ([]Comment, string, error) {
	id, err := validate.ID("ticket_id", ticketID)
	if err != nil {
		return nil, "", err
	}
	size, after, err := pageArgs(pageSize, pageToken, id)
	if err != nil {
		return nil, "", err
	}
	cs, err := s.store.ListComments(ctx, id, after, size+1)
	if err != nil {
		return nil, "", fmt.Errorf("list comments of ticket %s: %w", id, err)
	}
	cs, next := page(cs, size, id, func(c Comment) paging.Cursor { return paging.Cursor{Time: c.CreateTime, ID: c.ID} })
	return cs, next, nil
}

// ListEvents returns a page of a ticket's history, oldest first. Errors: *apperr.InvalidError,
// apperr.ErrNotFound (no such ticket).
func (s *Service) ListEvents(ctx context.Context, ticketID string, pageSize int32, pageToken string) ([]Event, string, error) {
	id, err := validate.ID("ticket_id", ticketID)
	if err != nil {
		return nil, "", err
	}
	size, after, err := pageArgs(pageSize, pageToken, id)
	if err != nil {
		return nil, "", err
	}
	es, err := s.store.ListEvents(ctx, id, after, size+1)
	if err != nil {
		return nil, "", fmt.Errorf("list events of ticket %s: %w", id, err)
	}
	es, next := page(es, size, id, func(e Event) paging.Cursor { return paging.Cursor{Time: e.CreateTime, ID: e.ID} })
	return es, next, nil
}
