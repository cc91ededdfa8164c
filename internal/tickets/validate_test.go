package tickets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/validate"
)

const customerID = "0190a5b0-7c1e-7000-8000-000000000001"

func validPhoneTicket() tickets.NewTicket {
	return tickets.NewTicket{
		CustomerID: customerID,
		Channel:    tickets.ChannelPhone,
		Subject:    "Projector does not pair",
		Contact:    tickets.Contact{Title: "IT coordinator"},
	}
}

// wantField fails unless err is an *apperr.InvalidError naming field ("" means nil error).
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	var ie *apperr.InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an InvalidError naming %s", err, field)
	}
	if ie.Field != field {
		t.Fatalf("err names %q (%s), want %q", ie.Field, ie.Reason, field)
	}
}

func TestValidateNewTicket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*tickets.NewTicket)
		field string
	}{
		{"valid phone with title only", func(*tickets.NewTicket) {}, ""},
		{"valid phone with name only", func(n *tickets.NewTicket) { n.Contact = tickets.Contact{Name: "Ana"} }, ""},
		{"customer id missing", func(n *tickets.NewTicket) { n.CustomerID = "" }, "ticket.customer_id"},
		{"customer id not a uuid", func(n *tickets.NewTicket) { n.CustomerID = "cust-1" }, "ticket.customer_id"},
		{"customer id braces", func(n *tickets.NewTicket) { n.CustomerID = "{" + customerID[:34] + "}" }, "ticket.customer_id"},
		{"channel unspecified", func(n *tickets.NewTicket) { n.Channel = "" }, "ticket.channel"},
		{"channel unknown", func(n *tickets.NewTicket) { n.Channel = "fax" }, "ticket.channel"},
		{"subject missing", func(n *tickets.NewTicket) { n.Subject = "" }, "ticket.subject"},
		{"subject blank", func(n *tickets.NewTicket) { n.Subject = "  \t" }, "ticket.subject"},
		{"subject 200 runes", func(n *tickets.NewTicket) { n.Subject = strings.Repeat("é", 200) }, ""},
		{"subject 201 runes", func(n *tickets.NewTicket) { n.Subject = strings.Repeat("é", 201) }, "ticket.subject"},
		{"subject newline", func(n *tickets.NewTicket) { n.Subject = "a\nb" }, "ticket.subject"},
		{"subject invalid utf8", func(n *tickets.NewTicket) { n.Subject = "a\xff" }, "ticket.subject"},
		{"description 20000", func(n *tickets.NewTicket) { n.Description = strings.Repeat("x", 20000) }, ""},
		{"description 20001", func(n *tickets.NewTicket) { n.Description = strings.Repeat("x", 20001) }, "ticket.description"},
		{"description multiline", func(n *tickets.NewTicket) { n.Description = "line 1\r\n\tline 2" }, ""},
		{"description NUL", func(n *tickets.NewTicket) { n.Description = "a\x00" }, "ticket.description"},
		{"priority unknown", func(n *tickets.NewTicket) { n.Priority = "meh" }, "ticket.priority"},
		{"priority default", func(n *tickets.NewTicket) { n.Priority = "" }, ""},
		{"name 201", func(n *tickets.NewTicket) { n.Contact.Name = strings.Repeat("n", 201) }, "ticket.contact.name"},
		{"title 201", func(n *tickets.NewTicket) { n.Contact.Title = strings.Repeat("t", 201) }, "ticket.contact.title"},
		{"email valid", func(n *tickets.NewTicket) { n.Contact.Email = "support-desk@school.example" }, ""},
		{"email with display name", func(n *tickets.NewTicket) { n.Contact.Email = "Ana <ana@school.example>" }, "ticket.contact.email"},
		{"email no at", func(n *tickets.NewTicket) { n.Contact.Email = "ana.school.example" }, "ticket.contact.email"},
		{"email too long", func(n *tickets.NewTicket) {
			n.Contact.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".example"
		}, "ticket.contact.email"},
		{"phone valid", func(n *tickets.NewTicket) { n.Contact.Phone = "+31 (20) 555-0100" }, ""},
		{"phone letters", func(n *tickets.NewTicket) { n.Contact.Phone = "+31 CALL ME" }, "ticket.contact.phone"},
		{"phone short", func(n *tickets.NewTicket) { n.Contact.Phone = "1234" }, "ticket.contact.phone"},
		{"phone 33", func(n *tickets.NewTicket) { n.Contact.Phone = strings.Repeat("1", 33) }, "ticket.contact.phone"},
		{"tags valid", func(n *tickets.NewTicket) { n.Tags = []string{"projector", "wifi_5g", "a-b"} }, ""},
		{"tag upper", func(n *tickets.NewTicket) { n.Tags = []string{"Projector"} }, "ticket.tags"},
		{"tag leading dash", func(n *tickets.NewTicket) { n.Tags = []string{"-x"} }, "ticket.tags"},
		{"tag 41", func(n *tickets.NewTicket) { n.Tags = []string{strings.Repeat("a", 41)} }, "ticket.tags"},
		{"tag repeated", func(n *tickets.NewTicket) { n.Tags = []string{"a", "a"} }, "ticket.tags"},
		{"21 tags", func(n *tickets.NewTicket) {
			for i := range 21 {
				n.Tags = append(n.Tags, "t"+strings.Repeat("x", i))
			}
		}, "ticket.tags"},
		{"assignee 129", func(n *tickets.NewTicket) { n.Assignee = strings.Repeat("a", 129) }, "ticket.assignee"},
		{"call sid valid", func(n *tickets.NewTicket) { n.CallSID = "CA" + strings.Repeat("0f", 16) }, ""},
		{"call sid upper hex", func(n *tickets.NewTicket) { n.CallSID = "CA" + strings.Repeat("0F", 16) }, "ticket.call_sid"},
		{"call sid short", func(n *tickets.NewTicket) { n.CallSID = "CA123" }, "ticket.call_sid"},

		// Contact minimisation per channel.
		{"phone without name or title", func(n *tickets.NewTicket) { n.Contact = tickets.Contact{Email: "a@b.example"} }, "ticket.contact.name"},
		{"chat without name or title", func(n *tickets.NewTicket) { n.Channel, n.Contact = tickets.ChannelChat, tickets.Contact{} }, "ticket.contact.name"},
		{"field form with title", func(n *tickets.NewTicket) { n.Channel = tickets.ChannelFieldForm }, ""},
		{"email without email", func(n *tickets.NewTicket) { n.Channel = tickets.ChannelEmail }, "ticket.contact.email"},
		{"email with alias only", func(n *tickets.NewTicket) {
			n.Channel, n.Contact = tickets.ChannelEmail, tickets.Contact{Email: "support-desk@district.example"}
		}, ""},
		{"error report anonymous", func(n *tickets.NewTicket) { n.Channel, n.Contact = tickets.ChannelErrorReport, tickets.Contact{} }, ""},
		{"error report may contact without address", func(n *tickets.NewTicket) {
			n.Channel, n.Contact = tickets.ChannelErrorReport, tickets.Contact{MayContact: true, Name: "Sam"}
		}, "ticket.contact.email"},
		{"error report may contact by phone", func(n *tickets.NewTicket) {
			n.Channel, n.Contact = tickets.ChannelErrorReport, tickets.Contact{MayContact: true, Phone: "+1 555 0100"}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := validPhoneTicket()
			tt.edit(&in)
			wantField(t, tickets.ValidateNewTicket(in), tt.field)
		})
	}
}

func TestValidateRequestID(t *testing.T) {
	t.Parallel()
	wantField(t, validate.RequestID("request_id", ""), "")
	wantField(t, validate.RequestID("request_id", "retry-7f3a"), "")
	wantField(t, validate.RequestID("request_id", strings.Repeat("r", 128)), "")
	wantField(t, validate.RequestID("request_id", strings.Repeat("r", 129)), "request_id")
	wantField(t, validate.RequestID("request_id", "a\tb"), "request_id")
	wantField(t, validate.RequestID("request_id", "\xff"), "request_id")
}

func TestValidateNewComment(t *testing.T) {
	t.Parallel()
	ok := tickets.NewComment{TicketID: customerID, Body: "We sent a replacement cable."}
	wantField(t, tickets.ValidateNewComment(ok), "")
	for field, edit := range map[string]func(*tickets.NewComment){
		"ticket_id":  func(c *tickets.NewComment) { c.TicketID = "x" },
		"body":       func(c *tickets.NewComment) { c.Body = " \n " },
		"request_id": func(c *tickets.NewComment) { c.RequestID = strings.Repeat("r", 129) },
	} {
		c := ok
		edit(&c)
		wantField(t, tickets.ValidateNewComment(c), field)
	}
	long := ok
	long.Body = strings.Repeat("b", tickets.MaxComment+1)
	wantField(t, tickets.ValidateNewComment(long), "body")
}

func TestValidateFilter(t *testing.T) {
	t.Parallel()
	wantField(t, tickets.ValidateFilter(tickets.Filter{}), "")
	wantField(t, tickets.ValidateFilter(tickets.Filter{CustomerID: customerID, Status: tickets.StatusOpen, Channel: tickets.ChannelChat, Query: "projector"}), "")
	wantField(t, tickets.ValidateFilter(tickets.Filter{CustomerID: "nope"}), "customer_id")
	wantField(t, tickets.ValidateFilter(tickets.Filter{Status: "done"}), "status")
	wantField(t, tickets.ValidateFilter(tickets.Filter{Channel: "fax"}), "channel")
	wantField(t, tickets.ValidateFilter(tickets.Filter{Query: strings.Repeat("q", 501)}), "query")
}

func TestUpdateFromMask(t *testing.T) {
	t.Parallel()
	v := tickets.Ticket{
		Subject: "s", Priority: tickets.PriorityHigh, Status: tickets.StatusOpen,
		Contact: tickets.Contact{Name: "n", Title: "t", Email: "e@x.example", Phone: "+1 555 0100", MayContact: true},
		Tags:    []string{"a"},
	}
	u, err := tickets.UpdateFromMask("id", "3", []string{"contact", "priority"}, v)
	if err != nil {
		t.Fatal(err)
	}
	if u.ContactName == nil || *u.ContactName != "n" || u.ContactMayContact == nil || !*u.ContactMayContact || u.Priority == nil || *u.Priority != tickets.PriorityHigh {
		t.Errorf("contact+priority mask did not set the fields: %+v", u)
	}
	if u.Subject != nil || u.Status != nil || u.Tags != nil {
		t.Errorf("fields outside the mask were set: %+v", u)
	}
	u, err = tickets.UpdateFromMask("id", "", []string{"contact.title"}, v)
	if err != nil || u.ContactTitle == nil || u.ContactName != nil {
		t.Errorf("contact.title mask = %+v, %v", u, err)
	}
	tests := []struct {
		paths  []string
		reason string
	}{
		{nil, "is required"},
		{[]string{"channel"}, "channel cannot change"},
		{[]string{"subject", "customer_id"}, "customer_id cannot change"},
		{[]string{"etag"}, "set by the server"},
		{[]string{"recording_opt_out"}, "set by the server"},
		{[]string{"allowed_subprocessors"}, "set by the server"},
		{[]string{"contact.address"}, "not a ticket field"},
		{[]string{"*"}, "unknown field"},
		{[]string{"Ana <ana@x.example>"}, "unknown field"},
	}
	for _, tt := range tests {
		_, err := tickets.UpdateFromMask("id", "", tt.paths, v)
		wantField(t, err, "update_mask")
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("paths %q: %v, want %q", tt.paths, err, tt.reason)
		}
		if strings.Contains(err.Error(), "ana@") {
			t.Errorf("error echoes a client value: %v", err)
		}
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	got, err := validate.ID("id", strings.ToUpper(customerID))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(customerID, got); diff != "" {
		t.Errorf("canonical id (-want +got):\n%s", diff)
	}
	wantField(t, func() error { _, err := validate.ID("id", ""); return err }(), "id")
	wantField(t, func() error { _, err := validate.ID("id", "urn:uuid:"+customerID); return err }(), "id")
}

// onlyInvalid fails the fuzz target unless err is nil or an *apperr.InvalidError.
func onlyInvalid(t *testing.T, err error) {
	t.Helper()
	var ie *apperr.InvalidError
	if err != nil && !errors.As(err, &ie) {
		t.Fatalf("err = %T %v, want nil or *apperr.InvalidError", err, err)
	}
}

func FuzzValidateNewTicket(f *testing.F) {
	f.Add(customerID, "phone", "subject", "desc", "normal", "Ana", "title", "a@b.example", "+1 555 0100", true, "CA"+strings.Repeat("a", 32), "agent-1", "x,y")
	f.Add("", "", "", "", "", "", "", "", "", false, "", "", "")
	f.Add(customerID, "email", "\xff", "\x00", "urgent", "", "", "<a@b>", "((((()))))", false, "CA", "", ",")
	f.Fuzz(func(t *testing.T, cust, ch, subj, desc, prio, name, title, email, phone string, may bool, sid, assignee, tags string) {
		in := tickets.NewTicket{
			CustomerID: cust, Channel: tickets.Channel(ch), Subject: subj, Description: desc,
			Priority: tickets.Priority(prio), Contact: tickets.Contact{Name: name, Title: title, Email: email, Phone: phone, MayContact: may},
			CallSID: sid, Assignee: assignee, Tags: strings.Split(tags, ","),
		}
		onlyInvalid(t, tickets.ValidateNewTicket(in))
	})
}

func FuzzUpdateFromMask(f *testing.F) {
	f.Add("subject,contact.email", "s", "e@x.example")
	f.Add("", "", "")
	f.Add("channel", "\xff", "x")
	f.Fuzz(func(t *testing.T, paths, subject, email string) {
		v := tickets.Ticket{Subject: subject, Contact: tickets.Contact{Email: email}}
		_, err := tickets.UpdateFromMask(customerID, "1", strings.Split(paths, ","), v)
		onlyInvalid(t, err)
	})
}

func FuzzValidateNewComment(f *testing.F) {
	f.Add(customerID, "body", "req")
	f.Add("", "", "")
	f.Add(customerID, "\x00", "\xff")
	f.Fuzz(func(t *testing.T, id, body, req string) {
		onlyInvalid(t, tickets.ValidateNewComment(tickets.NewComment{TicketID: id, Body: body, RequestID: req}))
	})
}

func FuzzValidateFilter(f *testing.F) {
	f.Add(customerID, "open", "chat", "agent", "query words")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, cust, status, ch, assignee, query string) {
		onlyInvalid(t, tickets.ValidateFilter(tickets.Filter{
			CustomerID: cust, Status: tickets.Status(status), Channel: tickets.Channel(ch), Assignee: assignee, Query: query,
		}))
	})
}
