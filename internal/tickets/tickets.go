// Package tickets is the contact centre's ticket desk: tickets, their comments and history, the
// status machine, contact minimisation, service-level targets and the rules that guard them.
package tickets

import (
	"context"
	"strconv"
	"time"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/paging"
)

// Channel is how a ticket reached the contact centre. The values are the policy's channel names.
type Channel string

// Channels.
const (
	ChannelPhone       Channel = dataflow.ChannelPhone
	ChannelEmail       Channel = dataflow.ChannelEmail
	ChannelChat        Channel = dataflow.ChannelChat
	ChannelFieldForm   Channel = dataflow.ChannelFieldForm
	ChannelErrorReport Channel = dataflow.ChannelErrorReport
)

// Priority sets a ticket's service-level targets.
type Priority string

// Priorities.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Status is where a ticket is in its life; see CheckTransition for the allowed moves.
type Status string

// Statuses.
const (
	StatusNew     Status = "new"
	StatusOpen    Status = "open"
	StatusPending Status = "pending"
	StatusOnHold  Status = "on_hold"
	StatusSolved  Status = "solved"
	StatusClosed  Status = "closed"
)

// EventType names what a history entry records.
type EventType string

// Event types.
const (
	EventCreated         EventType = "created"
	EventUpdated         EventType = "updated"
	EventStatusChanged   EventType = "status_changed"
	EventCommented       EventType = "commented"
	EventRecordingOptOut EventType = "recording_opt_out"
)

// Contact is the person who reached us. A title may stand in for a name and a non-personal alias
// for a personal email (GDPR minimisation).
type Contact struct {
	Name       string
	Title      string
	Email      string
	Phone      string
	MayContact bool
}

// Ticket is one support case.
type Ticket struct {
	ID                   string
	CustomerID           string
	Channel              Channel
	Subject              string
	Description          string
	Priority             Priority
	Status               Status
	Contact              Contact
	CallSID              string
	RecordingOptOut      bool
	Assignee             string
	Tags                 []string
	AllowedSubprocessors []string
	Version              int64
	CreateBy             string
	CreateTime           time.Time
	UpdateTime           time.Time
	FirstResponseDueTime time.Time
	ResolutionDueTime    time.Time
	// FirstResponseTime is when the first public reply was added; nil until then.
	FirstResponseTime *time.Time
	// PersonalDataErased is true when the customer's personal data key was destroyed: the
	// personal fields read as empty and can no longer be changed.
	PersonalDataErased bool
}

// Etag is the ticket's version as a decimal string (AIP-154).
func (t Ticket) Etag() string { return strconv.FormatInt(t.Version, 10) }

// NewTicket is what a client may set when it opens a ticket. Everything else (status, ids,
// times, flow lists, recording opt-out) is the server's.
type NewTicket struct {
	CustomerID  string
	Channel     Channel
	Subject     string
	Description string
	// Priority defaults to PriorityNormal when empty.
	Priority Priority
	Contact  Contact
	CallSID  string
	Assignee string
	Tags     []string
}

// TicketUpdate names the changes to a ticket: a nil field is unchanged. Build it with
// UpdateFromMask.
type TicketUpdate struct {
	ID string
	// Etag, when not empty, must match the ticket's current etag.
	Etag              string
	Subject           *string
	Description       *string
	Priority          *Priority
	Status            *Status
	ContactName       *string
	ContactTitle      *string
	ContactEmail      *string
	ContactPhone      *string
	ContactMayContact *bool
	CallSID           *string
	Assignee          *string
	Tags              *[]string
}

// Filter selects tickets; zero fields match everything.
type Filter struct {
	CustomerID string
	Status     Status
	Channel    Channel
	Assignee   string
	// Query is a full-text search over subject, description and comments: every word must match.
	Query string
}

// Comment is a public reply to the contact or an internal note between agents.
type Comment struct {
	ID         string
	TicketID   string
	Author     string
	Body       string
	Internal   bool
	CreateTime time.Time
}

// NewComment is a comment to add.
type NewComment struct {
	TicketID string
	Body     string
	Internal bool
	// RequestID makes a retry return the first comment; empty means no idempotency.
	RequestID string
}

// Event is one entry in a ticket's history. It names the fields that changed, never their values.
type Event struct {
	ID            string
	TicketID      string
	Actor         string
	Type          EventType
	ChangedFields []string
	FromStatus    Status
	ToStatus      Status
	CreateTime    time.Time
}

// StatusChange is one status_changed event, as the SLA clock reads the history.
type StatusChange struct {
	From Status
	To   Status
	Time time.Time
}

// CreateRecord is a fully prepared ticket for Store.CreateTicket.
type CreateRecord struct {
	Ticket Ticket
	Event  Event
	// RequestID and Request make the create idempotent: a retry with the same RequestID and an
	// equal Request returns the first ticket. Request is the client's input and the creator.
	RequestID string
	Request   any
}

// Change is what an UpdateFunc decides: the new ticket and the event that records it. A zero
// Event means nothing changed and nothing is written.
type Change struct {
	Ticket Ticket
	Event  Event
}

// UpdateFunc decides a change from the current ticket (locked) and its status history.
type UpdateFunc func(current Ticket, history []StatusChange) (Change, error)

// CommentRecord is a prepared comment for Store.AddComment.
type CommentRecord struct {
	Comment   Comment
	RequestID string
	Request   any
}

// CommentFunc decides, from the current ticket (locked), whether the comment may be added and
// how the ticket changes with it.
type CommentFunc func(current Ticket) (Change, error)

// Store keeps tickets. Implementations encrypt personal fields and run each method in one
// transaction, so nothing is half-written.
type Store interface {
	// CreateTicket inserts the ticket and its event. A replayed request returns the first
	// ticket. Errors: apperr.ErrAlreadyExists (request id reused), *apperr.InvalidError naming
	// ticket.customer_id (no such customer, or erased).
	CreateTicket(ctx context.Context, rec CreateRecord) (Ticket, error)
	// Ticket returns one ticket or apperr.ErrNotFound.
	Ticket(ctx context.Context, id string) (Ticket, error)
	// ListTickets returns up to limit tickets matching f, newest first, after the cursor.
	ListTickets(ctx context.Context, f Filter, after *paging.Cursor, limit int) ([]Ticket, error)
	// UpdateTicket locks the ticket, calls fn and writes its Change. Errors: apperr.ErrNotFound
	// and whatever fn returns.
	UpdateTicket(ctx context.Context, id string, fn UpdateFunc) (Ticket, error)
	// AddComment locks the ticket, calls fn, then inserts the comment, adds its words to the
	// ticket's search and writes fn's Change. A replayed request returns the first comment
	// without calling fn. Errors: apperr.ErrNotFound, apperr.ErrAlreadyExists and fn's.
	AddComment(ctx context.Context, rec CommentRecord, fn CommentFunc) (Comment, error)
	// ListComments returns up to limit comments, oldest first, after the cursor.
	// apperr.ErrNotFound if the ticket does not exist.
	ListComments(ctx context.Context, ticketID string, after *paging.Cursor, limit int) ([]Comment, error)
	// ListEvents returns up to limit events, oldest first, after the cursor.
	// apperr.ErrNotFound if the ticket does not exist.
	ListEvents(ctx context.Context, ticketID string, after *paging.Cursor, limit int) ([]Event, error)
}
