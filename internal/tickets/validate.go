package tickets

import (
	"regexp"
	"slices"
	"strings"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/validate"
)

// Limits on ticket fields, in characters (runes) unless noted.
const (
	MaxSubject     = 200
	MaxDescription = 20000
	MaxName        = 200
	MaxTitle       = 200
	MaxTags        = 20
	MaxAssignee    = 128
	MaxComment     = 20000
	MaxQuery       = 500
)

var (
	tagPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	callSIDPattern = regexp.MustCompile(`^CA[0-9a-f]{32}$`)
	maskPathSafe   = regexp.MustCompile(`^[a-z_.]{1,64}$`)
)

// ValidateNewTicket checks every field of a new ticket and the contact rules of its channel. It
// returns nil or an *apperr.InvalidError naming the field.
func ValidateNewTicket(in NewTicket) error {
	if _, err := validate.ID("ticket.customer_id", in.CustomerID); err != nil {
		return err
	}
	if err := validateChannel(in.Channel); err != nil {
		return err
	}
	return validateContent(in.ticket(), true)
}

// ticket is the new ticket's client fields as a Ticket, with the defaults applied.
func (in NewTicket) ticket() Ticket {
	pr := in.Priority
	if pr == "" {
		pr = PriorityNormal
	}
	return Ticket{
		CustomerID:  in.CustomerID,
		Channel:     in.Channel,
		Subject:     in.Subject,
		Description: in.Description,
		Priority:    pr,
		Status:      StatusNew,
		Contact:     in.Contact,
		CallSID:     in.CallSID,
		Assignee:    in.Assignee,
		Tags:        slices.Clone(in.Tags),
	}
}

func validateChannel(c Channel) error {
	switch c {
	case ChannelPhone, ChannelEmail, ChannelChat, ChannelFieldForm, ChannelErrorReport:
		return nil
	case "":
		return apperr.Invalid("ticket.channel", "is required")
	}
	return apperr.Invalid("ticket.channel", "is not a valid channel")
}

// validateContent checks the fields a client may set and the contact rules. personal is false
// for a ticket whose personal data was erased: its personal fields are empty and stay so.
func validateContent(t Ticket, personal bool) error {
	if personal {
		if strings.TrimSpace(t.Subject) == "" {
			return apperr.Invalid("ticket.subject", "is required")
		}
		if err := validate.Text("ticket.subject", t.Subject, MaxSubject, false); err != nil {
			return err
		}
		if err := validate.MultilineText("ticket.description", t.Description, MaxDescription, false); err != nil {
			return err
		}
		if err := validateContact(t.Channel, t.Contact); err != nil {
			return err
		}
	}
	switch t.Priority {
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
	default:
		return apperr.Invalid("ticket.priority", "is not a valid priority")
	}
	if t.CallSID != "" && !callSIDPattern.MatchString(t.CallSID) {
		return apperr.Invalid("ticket.call_sid", "must be CA followed by 32 lower-case hex digits")
	}
	if err := validate.Text("ticket.assignee", t.Assignee, MaxAssignee, false); err != nil {
		return err
	}
	return validateTags(t.Tags)
}

func validateContact(ch Channel, c Contact) error {
	if err := validate.Text("ticket.contact.name", c.Name, MaxName, false); err != nil {
		return err
	}
	if err := validate.Text("ticket.contact.title", c.Title, MaxTitle, false); err != nil {
		return err
	}
	if err := validate.Email("ticket.contact.email", c.Email); err != nil {
		return err
	}
	if err := validate.Phone("ticket.contact.phone", c.Phone); err != nil {
		return err
	}
	// Minimisation: ask for no more than the channel needs, and no less.
	switch ch {
	case ChannelPhone, ChannelChat, ChannelFieldForm:
		if strings.TrimSpace(c.Name) == "" && strings.TrimSpace(c.Title) == "" {
			return apperr.Invalid("ticket.contact.name", "or ticket.contact.title is required for %s tickets", ch)
		}
	case ChannelEmail:
		if c.Email == "" {
			return apperr.Invalid("ticket.contact.email", "is required for email tickets (a non-personal alias is fine)")
		}
	case ChannelErrorReport:
		if c.MayContact && c.Email == "" && c.Phone == "" {
			return apperr.Invalid("ticket.contact.email", "or ticket.contact.phone is required when may_contact is true")
		}
	}
	return nil
}

func validateTags(tags []string) error {
	if len(tags) > MaxTags {
		return apperr.Invalid("ticket.tags", "must have at most %d tags", MaxTags)
	}
	for i, tag := range tags {
		if !tagPattern.MatchString(tag) {
			return apperr.Invalid("ticket.tags", "tag %d must match %s", i, tagPattern)
		}
		if slices.Contains(tags[:i], tag) {
			return apperr.Invalid("ticket.tags", "tag %d is repeated", i)
		}
	}
	return nil
}

// ValidateNewComment checks a comment to add; it returns nil or an *apperr.InvalidError.
func ValidateNewComment(in NewComment) error {
	if _, err := validate.ID("ticket_id", in.TicketID); err != nil {
		return err
	}
	if strings.TrimSpace(in.Body) == "" {
		return apperr.Invalid("body", "is required")
	}
	if err := validate.MultilineText("body", in.Body, MaxComment, false); err != nil {
		return err
	}
	return validate.RequestID("request_id", in.RequestID)
}

// ValidateFilter checks list filters; it returns nil or an *apperr.InvalidError.
func ValidateFilter(f Filter) error {
	if f.CustomerID != "" {
		if _, err := validate.ID("customer_id", f.CustomerID); err != nil {
			return err
		}
	}
	if f.Status != "" && !f.Status.valid() {
		return apperr.Invalid("status", "is not a valid status")
	}
	if f.Channel != "" {
		if err := validateChannel(f.Channel); err != nil {
			return apperr.Invalid("channel", "is not a valid channel")
		}
	}
	if err := validate.Text("assignee", f.Assignee, MaxAssignee, false); err != nil {
		return err
	}
	return validate.Text("query", f.Query, MaxQuery, false)
}

// Update-mask paths (AIP-134), relative to the ticket.
var (
	immutablePaths  = []string{"channel", "customer_id"}
	outputOnlyPaths = []string{
		"id", "etag", "create_time", "update_time", "first_response_due_time", "resolution_due_time",
		"first_response_time", "allowed_subprocessors", "recording_opt_out", "create_by",
	}
)

// UpdateFromMask builds a TicketUpdate from an update mask and the values the client sent. A
// path must name an updatable field: channel and customer_id are immutable, output-only fields
// are the server's. It returns nil or an *apperr.InvalidError naming update_mask or the field.
func UpdateFromMask(id, etag string, paths []string, v Ticket) (TicketUpdate, error) {
	u := TicketUpdate{ID: id, Etag: etag}
	if len(paths) == 0 {
		return u, apperr.Invalid("update_mask", "is required: name the fields to change")
	}
	for _, p := range paths {
		switch p {
		case "subject":
			u.Subject = &v.Subject
		case "description":
			u.Description = &v.Description
		case "priority":
			u.Priority = &v.Priority
		case "status":
			u.Status = &v.Status
		case "contact":
			u.ContactName, u.ContactTitle = &v.Contact.Name, &v.Contact.Title
			u.ContactEmail, u.ContactPhone = &v.Contact.Email, &v.Contact.Phone
			u.ContactMayContact = &v.Contact.MayContact
		case "contact.name":
			u.ContactName = &v.Contact.Name
		case "contact.title":
			u.ContactTitle = &v.Contact.Title
		case "contact.email":
			u.ContactEmail = &v.Contact.Email
		case "contact.phone":
			u.ContactPhone = &v.Contact.Phone
		case "contact.may_contact":
			u.ContactMayContact = &v.Contact.MayContact
		case "assignee":
			u.Assignee = &v.Assignee
		case "tags":
			tags := slices.Clone(v.Tags)
			u.Tags = &tags
		case "call_sid":
			u.CallSID = &v.CallSID
		default:
			switch {
			case slices.Contains(immutablePaths, p):
				return u, apperr.Invalid("update_mask", "%s cannot change after creation", p)
			case slices.Contains(outputOnlyPaths, p):
				return u, apperr.Invalid("update_mask", "%s is set by the server", p)
			case maskPathSafe.MatchString(p):
				return u, apperr.Invalid("update_mask", "%s is not a ticket field", p)
			}
			// Echo only paths that cannot carry free text into logs.
			return u, apperr.Invalid("update_mask", "names an unknown field")
		}
	}
	return u, nil
}

// apply returns the ticket with the update's fields set, and the names of the fields whose value
// actually changed.
func (u TicketUpdate) apply(cur Ticket) (Ticket, []string) {
	next := cur
	next.Tags = slices.Clone(cur.Tags)
	var changed []string
	set := func(name string, dst *string, v *string) {
		if v != nil && *v != *dst {
			*dst = *v
			changed = append(changed, name)
		}
	}
	set("subject", &next.Subject, u.Subject)
	set("description", &next.Description, u.Description)
	if u.Priority != nil && *u.Priority != next.Priority {
		next.Priority = *u.Priority
		changed = append(changed, "priority")
	}
	if u.Status != nil && *u.Status != next.Status {
		next.Status = *u.Status
		changed = append(changed, "status")
	}
	set("contact.name", &next.Contact.Name, u.ContactName)
	set("contact.title", &next.Contact.Title, u.ContactTitle)
	set("contact.email", &next.Contact.Email, u.ContactEmail)
	set("contact.phone", &next.Contact.Phone, u.ContactPhone)
	if u.ContactMayContact != nil && *u.ContactMayContact != next.Contact.MayContact {
		next.Contact.MayContact = *u.ContactMayContact
		changed = append(changed, "contact.may_contact")
	}
	set("assignee", &next.Assignee, u.Assignee)
	if u.Tags != nil && !slices.Equal(*u.Tags, next.Tags) {
		next.Tags = slices.Clone(*u.Tags)
		changed = append(changed, "tags")
	}
	set("call_sid", &next.CallSID, u.CallSID)
	return next, changed
}

// personalFields are the fields sealed with the customer's personal data key.
var personalFields = []string{"subject", "description", "contact.name", "contact.title", "contact.email", "contact.phone"}
