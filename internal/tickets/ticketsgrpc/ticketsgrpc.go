// Package ticketsgrpc serves tickets.Service as contactcentre.support.v1.TicketService: it
// converts between proto and domain types and leaves every rule to the domain. Errors are
// returned as domain errors; the grpcserver interceptor maps them to status codes.
package ticketsgrpc

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
	"github.com/lumio/contactcentre/internal/tickets"
)

// Server implements supportv1.TicketServiceServer.
type Server struct {
	supportv1.UnimplementedTicketServiceServer
	svc *tickets.Service
}

var _ supportv1.TicketServiceServer = (*Server)(nil)

// NewServer returns a Server backed by svc.
func NewServer(svc *tickets.Service) *Server { return &Server{svc: svc} }

// actor is the caller's token subject; the authentication interceptor has put it in ctx.
func actor(ctx context.Context) string {
	id, _ := auth.FromContext(ctx)
	return id.Subject
}

// CreateTicket implements supportv1.TicketServiceServer.
func (s *Server) CreateTicket(ctx context.Context, req *supportv1.CreateTicketRequest) (*supportv1.Ticket, error) {
	t := req.GetTicket()
	if t == nil {
		return nil, apperr.Invalid("ticket", "is required")
	}
	in := tickets.NewTicket{
		CustomerID:  t.GetCustomerId(),
		Channel:     channelFromProto(t.GetChannel()),
		Subject:     t.GetSubject(),
		Description: t.GetDescription(),
		Priority:    priorityFromProto(t.GetPriority()),
		Contact:     contactFromProto(t.GetContact()),
		CallSID:     t.GetCallSid(),
		Assignee:    t.GetAssignee(),
		Tags:        t.GetTags(),
	}
	created, err := s.svc.CreateTicket(ctx, actor(ctx), in, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	return ticketToProto(created), nil
}

// GetTicket implements supportv1.TicketServiceServer.
func (s *Server) GetTicket(ctx context.Context, req *supportv1.GetTicketRequest) (*supportv1.Ticket, error) {
	t, err := s.svc.GetTicket(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return ticketToProto(t), nil
}

// ListTickets implements supportv1.TicketServiceServer.
func (s *Server) ListTickets(ctx context.Context, req *supportv1.ListTicketsRequest) (*supportv1.ListTicketsResponse, error) {
	f := tickets.Filter{
		CustomerID: req.GetCustomerId(),
		Assignee:   req.GetAssignee(),
		Query:      req.GetQuery(),
	}
	if req.GetStatus() != supportv1.Status_STATUS_UNSPECIFIED {
		f.Status = statusFromProto(req.GetStatus())
	}
	if req.GetChannel() != supportv1.Channel_CHANNEL_UNSPECIFIED {
		f.Channel = channelFromProto(req.GetChannel())
	}
	ts, next, err := s.svc.ListTickets(ctx, f, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &supportv1.ListTicketsResponse{NextPageToken: next, Tickets: make([]*supportv1.Ticket, len(ts))}
	for i, t := range ts {
		resp.Tickets[i] = ticketToProto(t)
	}
	return resp, nil
}

// UpdateTicket implements supportv1.TicketServiceServer.
func (s *Server) UpdateTicket(ctx context.Context, req *supportv1.UpdateTicketRequest) (*supportv1.Ticket, error) {
	t := req.GetTicket()
	if t == nil {
		return nil, apperr.Invalid("ticket", "is required")
	}
	values := tickets.Ticket{
		Subject:     t.GetSubject(),
		Description: t.GetDescription(),
		Priority:    priorityFromProto(t.GetPriority()),
		Status:      statusFromProto(t.GetStatus()),
		Contact:     contactFromProto(t.GetContact()),
		CallSID:     t.GetCallSid(),
		Assignee:    t.GetAssignee(),
		Tags:        t.GetTags(),
	}
	u, err := tickets.UpdateFromMask(t.GetId(), t.GetEtag(), req.GetUpdateMask().GetPaths(), values)
	if err != nil {
		return nil, err
	}
	updated, err := s.svc.UpdateTicket(ctx, actor(ctx), u)
	if err != nil {
		return nil, err
	}
	return ticketToProto(updated), nil
}

// AddComment implements supportv1.TicketServiceServer.
func (s *Server) AddComment(ctx context.Context, req *supportv1.AddCommentRequest) (*supportv1.Comment, error) {
	c, err := s.svc.AddComment(ctx, actor(ctx), tickets.NewComment{
		TicketID:  req.GetTicketId(),
		Body:      req.GetBody(),
		Internal:  req.GetInternal(),
		RequestID: req.GetRequestId(),
	})
	if err != nil {
		return nil, err
	}
	return commentToProto(c), nil
}

// ListComments implements supportv1.TicketServiceServer.
func (s *Server) ListComments(ctx context.Context, req *supportv1.ListCommentsRequest) (*supportv1.ListCommentsResponse, error) {
	cs, next, err := s.svc.ListComments(ctx, req.GetTicketId(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &supportv1.ListCommentsResponse{NextPageToken: next, Comments: make([]*supportv1.Comment, len(cs))}
	for i, c := range cs {
		resp.Comments[i] = commentToProto(c)
	}
	return resp, nil
}

// ListTicketEvents implements supportv1.TicketServiceServer.
func (s *Server) ListTicketEvents(ctx context.Context, req *supportv1.ListTicketEventsRequest) (*supportv1.ListTicketEventsResponse, error) {
	es, next, err := s.svc.ListEvents(ctx, req.GetTicketId(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &supportv1.ListTicketEventsResponse{NextPageToken: next, Events: make([]*supportv1.TicketEvent, len(es))}
	for i, e := range es {
		resp.Events[i] = &supportv1.TicketEvent{
			Id:            e.ID,
			TicketId:      e.TicketID,
			Actor:         e.Actor,
			Type:          string(e.Type),
			ChangedFields: e.ChangedFields,
			FromStatus:    statusToProto(e.FromStatus),
			ToStatus:      statusToProto(e.ToStatus),
			CreateTime:    timestamppb.New(e.CreateTime),
		}
	}
	return resp, nil
}

func ticketToProto(t tickets.Ticket) *supportv1.Ticket {
	return &supportv1.Ticket{
		Id:          t.ID,
		CustomerId:  t.CustomerID,
		Channel:     channelToProto[t.Channel],
		Subject:     t.Subject,
		Description: t.Description,
		Priority:    priorityToProto[t.Priority],
		Status:      statusToProto(t.Status),
		Contact: &supportv1.Contact{
			Name:       t.Contact.Name,
			Title:      t.Contact.Title,
			Email:      t.Contact.Email,
			Phone:      t.Contact.Phone,
			MayContact: t.Contact.MayContact,
		},
		CallSid:              t.CallSID,
		RecordingOptOut:      t.RecordingOptOut,
		Assignee:             t.Assignee,
		Tags:                 t.Tags,
		AllowedSubprocessors: t.AllowedSubprocessors,
		Etag:                 t.Etag(),
		CreateTime:           timestamppb.New(t.CreateTime),
		UpdateTime:           timestamppb.New(t.UpdateTime),
		FirstResponseDueTime: timestamppb.New(t.FirstResponseDueTime),
		ResolutionDueTime:    timestamppb.New(t.ResolutionDueTime),
		FirstResponseTime:    optTime(t.FirstResponseTime),
		CreateBy:             t.CreateBy,
	}
}

func commentToProto(c tickets.Comment) *supportv1.Comment {
	return &supportv1.Comment{
		Id:         c.ID,
		TicketId:   c.TicketID,
		Author:     c.Author,
		Body:       c.Body,
		Internal:   c.Internal,
		CreateTime: timestamppb.New(c.CreateTime),
	}
}

func optTime(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func contactFromProto(c *supportv1.Contact) tickets.Contact {
	return tickets.Contact{
		Name:       c.GetName(),
		Title:      c.GetTitle(),
		Email:      c.GetEmail(),
		Phone:      c.GetPhone(),
		MayContact: c.GetMayContact(),
	}
}

var (
	channelToProto = map[tickets.Channel]supportv1.Channel{
		tickets.ChannelPhone:       supportv1.Channel_CHANNEL_PHONE,
		tickets.ChannelEmail:       supportv1.Channel_CHANNEL_EMAIL,
		tickets.ChannelChat:        supportv1.Channel_CHANNEL_CHAT,
		tickets.ChannelFieldForm:   supportv1.Channel_CHANNEL_FIELD_FORM,
		tickets.ChannelErrorReport: supportv1.Channel_CHANNEL_ERROR_REPORT,
	}
	priorityToProto = map[tickets.Priority]supportv1.Priority{
		tickets.PriorityLow:    supportv1.Priority_PRIORITY_LOW,
		tickets.PriorityNormal: supportv1.Priority_PRIORITY_NORMAL,
		tickets.PriorityHigh:   supportv1.Priority_PRIORITY_HIGH,
		tickets.PriorityUrgent: supportv1.Priority_PRIORITY_URGENT,
	}
	statusesToProto = map[tickets.Status]supportv1.Status{
		tickets.StatusNew:     supportv1.Status_STATUS_NEW,
		tickets.StatusOpen:    supportv1.Status_STATUS_OPEN,
		tickets.StatusPending: supportv1.Status_STATUS_PENDING,
		tickets.StatusOnHold:  supportv1.Status_STATUS_ON_HOLD,
		tickets.StatusSolved:  supportv1.Status_STATUS_SOLVED,
		tickets.StatusClosed:  supportv1.Status_STATUS_CLOSED,
	}
)

func statusToProto(s tickets.Status) supportv1.Status { return statusesToProto[s] }

// fromProto inverts a to-proto table. UNSPECIFIED becomes "" (the domain's "not given") and an
// unknown number a value the domain rejects as invalid.
func fromProto[D ~string, P ~int32](table map[D]P, p P) D {
	if p == 0 {
		return ""
	}
	for d, v := range table {
		if v == p {
			return d
		}
	}
	return D("unknown(" + strconv.Itoa(int(p)) + ")")
}

func channelFromProto(c supportv1.Channel) tickets.Channel    { return fromProto(channelToProto, c) }
func priorityFromProto(p supportv1.Priority) tickets.Priority { return fromProto(priorityToProto, p) }
func statusFromProto(s supportv1.Status) tickets.Status       { return fromProto(statusesToProto, s) }
