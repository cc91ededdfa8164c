package ticketsdb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb"
)

type testBundle struct {
	pool     *pgxpool.Pool
	kr       *keyring.Keyring
	customer string
}

func setup(t *testing.T) (*tickets.Service, testBundle) {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	b := testBundle{pool: pool, kr: kr}
	b.customer = b.newCustomer(t)
	svc := tickets.NewService(ticketsdb.New(pool, kr), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), tickets.DefaultSLA(), time.Now)
	return svc, b
}

// newCustomer inserts a customer row directly: the customers package is not this one's to use.
func (b testBundle) newCustomer(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7()).String()
	pk, err := keyringdb.Ensure(ctx, b.pool, b.kr, id, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := keyringdb.Ensure(ctx, b.pool, b.kr, id, keyringdb.Retained)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.pool.Exec(ctx, `INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id,
		address_country, residency_country, allowed_subprocessors, create_by, create_time, update_time)
		VALUES ($1, 'Springfield School District', $2, $3, 'US', 'US', '{}', 'sales-1', now(), now())`, id, pk.ID, rk.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (b testBundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (b testBundle) phoneTicket() tickets.NewTicket {
	return tickets.NewTicket{
		CustomerID:  b.customer,
		Channel:     tickets.ChannelPhone,
		Subject:     "Whiteboard flickers in room twelve",
		Description: "Caller says the flicker started after the firmware update.",
		Priority:    tickets.PriorityHigh,
		Contact:     tickets.Contact{Name: "Agatha Quinlan", Title: "Head of IT", Email: "agatha.quinlan@springfield.example", Phone: "+1 555 0100"},
		Tags:        []string{"hardware", "firmware"},
		Assignee:    "agent-9",
	}
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ie *apperr.InvalidError
	if !errors.As(err, &ie) || ie.Field != field {
		t.Fatalf("err = %v, want InvalidError naming %s", err, field)
	}
}

func TestCreateGetRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	created, err := svc.CreateTicket(ctx, "agent-1", b.phoneTicket(), "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.GetTicket(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("get after create (-want +got):\n%s", diff)
	}
	if got.Contact.Email != "agatha.quinlan@springfield.example" || got.Subject == "" || got.Status != tickets.StatusNew {
		t.Errorf("round trip lost data: %+v", got)
	}
	if _, err := svc.GetTicket(ctx, uuid.NewString()); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("unknown id: err = %v, want ErrNotFound", err)
	}
}

func TestCiphertextHoldsNoPlaintext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	in := b.phoneTicket()
	tk, err := svc.CreateTicket(ctx, "agent-1", in, "")
	if err != nil {
		t.Fatal(err)
	}
	body := "Replaced the ballast; Agatha confirmed by phone."
	if _, err := svc.AddComment(ctx, "agent-1", tickets.NewComment{TicketID: tk.ID, Body: body}); err != nil {
		t.Fatal(err)
	}
	// Every column of the raw rows, as PostgreSQL's text output, must be free of the secrets.
	var rows []string
	for _, q := range []string{
		`SELECT t::text FROM tickets t WHERE id = $1`,
		`SELECT c::text FROM ticket_comments c WHERE ticket_id = $1`,
		`SELECT e::text FROM ticket_events e WHERE ticket_id = $1`,
	} {
		r, err := b.pool.Query(ctx, q, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, s)
		}
		r.Close()
	}
	if len(rows) < 3 {
		t.Fatalf("read %d raw rows, want ticket, comment and events", len(rows))
	}
	var raw struct{ subject, email, hmac []byte }
	if err := b.pool.QueryRow(ctx, `SELECT subject_ct, contact_email_ct, contact_email_hmac FROM tickets WHERE id = $1`, tk.ID).
		Scan(&raw.subject, &raw.email, &raw.hmac); err != nil {
		t.Fatal(err)
	}
	secrets := []string{"Whiteboard", "flickers", "firmware update", "Agatha", "Quinlan", "Head of IT", "agatha.quinlan", "555 0100", "ballast"}
	for _, s := range secrets {
		for _, row := range rows {
			if strings.Contains(strings.ToLower(row), strings.ToLower(s)) {
				t.Errorf("raw row holds plaintext %q", s)
			}
		}
		if bytes.Contains(raw.subject, []byte(s)) || bytes.Contains(raw.email, []byte(s)) {
			t.Errorf("ciphertext holds plaintext %q", s)
		}
	}
	if len(raw.subject) == 0 || len(raw.email) == 0 {
		t.Error("personal columns are empty: nothing was sealed")
	}
	if !bytes.Equal(raw.hmac, b.kr.Index("email", in.Contact.Email)) {
		t.Error("contact_email_hmac is not the keyed index of the email")
	}
}

func TestCreateIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	in := b.phoneTicket()
	first, err := svc.CreateTicket(ctx, "agent-1", in, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.CreateTicket(ctx, "agent-1", in, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("retry returned another ticket (-want +got):\n%s", diff)
	}
	changed := in
	changed.Subject = "Something else"
	if _, err := svc.CreateTicket(ctx, "agent-1", changed, "req-1"); !errors.Is(err, apperr.ErrAlreadyExists) {
		t.Errorf("different payload: err = %v, want ErrAlreadyExists", err)
	}
	if _, err := svc.CreateTicket(ctx, "agent-2", in, "req-1"); !errors.Is(err, apperr.ErrAlreadyExists) {
		t.Errorf("different creator: err = %v, want ErrAlreadyExists", err)
	}
	if n := b.count(t, "tickets"); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
	if n := b.count(t, "ticket_events"); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

func TestCreateIdempotentConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	in := b.phoneTicket()
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			tk, err := svc.CreateTicket(ctx, "agent-1", in, "same-request")
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = tk.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("concurrent retries returned different tickets: %v", ids)
		}
	}
	if n := b.count(t, "tickets"); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
}

func TestCreateRefusesUnknownOrErasedCustomerAndWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	erased := b.newCustomer(t)
	if _, err := b.pool.Exec(ctx, `UPDATE customers SET erase_time = now() WHERE id = $1`, erased); err != nil {
		t.Fatal(err)
	}
	before := map[string]int{}
	tables := []string{"tickets", "ticket_events", "idempotency_keys", "data_keys"}
	for _, tb := range tables {
		before[tb] = b.count(t, tb)
	}
	for _, cust := range []string{uuid.NewString(), erased} {
		in := b.phoneTicket()
		in.CustomerID = cust
		_, err := svc.CreateTicket(ctx, "agent-1", in, "req-"+cust)
		wantInvalid(t, err, "ticket.customer_id")
	}
	// An unknown customer gets no data key either: Ensure runs after the customer check.
	for _, tb := range tables {
		if n := b.count(t, tb); n != before[tb] {
			t.Errorf("%s: %d rows after failed creates, want %d", tb, n, before[tb])
		}
	}
}

func TestListPagingUnderConcurrentInserts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	var want []string
	for range 23 {
		tk, err := svc.CreateTicket(ctx, "agent-1", b.phoneTicket(), "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, tk.ID)
	}
	slices.Reverse(want) // newest first

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := svc.CreateTicket(ctx, "agent-2", b.phoneTicket(), ""); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("paging did not end")
		}
		ts, next, err := svc.ListTickets(ctx, tickets.Filter{}, 5, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range ts {
			got = append(got, tk.ID)
		}
		if next == "" {
			break
		}
		token = next
		time.Sleep(5 * time.Millisecond) // let inserts land between pages
	}
	close(stop)
	wg.Wait()
	if n := b.count(t, "tickets"); n <= len(want) {
		t.Fatalf("no ticket was inserted while paging (%d tickets): the test proves nothing", n)
	}

	// Tickets inserted after the first page may appear only before the old ones (they are
	// newer); the old ones must each appear exactly once and in order.
	var old []string
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("ticket %s listed twice", id)
		}
		seen[id] = true
		if slices.Contains(want, id) {
			old = append(old, id)
		}
	}
	if diff := cmp.Diff(want, old); diff != "" {
		t.Errorf("pre-existing tickets across pages (-want +got):\n%s", diff)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	other := b.newCustomer(t)
	mk := func(cust string, ch tickets.Channel, assignee string) tickets.Ticket {
		t.Helper()
		in := b.phoneTicket()
		in.CustomerID, in.Channel, in.Assignee = cust, ch, assignee
		tk, err := svc.CreateTicket(ctx, "agent-1", in, "")
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	a := mk(b.customer, tickets.ChannelPhone, "ann")
	c := mk(b.customer, tickets.ChannelEmail, "bob")
	d := mk(other, tickets.ChannelChat, "ann")
	if _, err := svc.UpdateTicket(ctx, "ann", tickets.TicketUpdate{ID: c.ID, Status: ptr(tickets.StatusOpen)}); err != nil {
		t.Fatal(err)
	}
	ids := func(f tickets.Filter) []string {
		t.Helper()
		ts, _, err := svc.ListTickets(ctx, f, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tk := range ts {
			out = append(out, tk.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    tickets.Filter
		want []string
	}{
		{"all newest first", tickets.Filter{}, []string{d.ID, c.ID, a.ID}},
		{"customer", tickets.Filter{CustomerID: other}, []string{d.ID}},
		{"status", tickets.Filter{Status: tickets.StatusOpen}, []string{c.ID}},
		{"channel", tickets.Filter{Channel: tickets.ChannelPhone}, []string{a.ID}},
		{"assignee", tickets.Filter{Assignee: "ann"}, []string{d.ID, a.ID}},
		{"combined", tickets.Filter{CustomerID: b.customer, Assignee: "ann"}, []string{a.ID}},
		{"no match", tickets.Filter{Status: tickets.StatusClosed}, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ids(tt.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	// A page token only works with the filters it was issued for.
	_, next, err := svc.ListTickets(ctx, tickets.Filter{Assignee: "ann"}, 1, "")
	if err != nil || next == "" {
		t.Fatalf("first page: next %q, err %v", next, err)
	}
	_, _, err = svc.ListTickets(ctx, tickets.Filter{Assignee: "bob"}, 1, next)
	wantInvalid(t, err, "page_token")
}

func TestSearchCoversSubjectDescriptionAndComments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	in := b.phoneTicket()
	in.Subject, in.Description = "Projector dead", "No picture since Monday"
	tk, err := svc.CreateTicket(ctx, "agent-1", in, "")
	if err != nil {
		t.Fatal(err)
	}
	other := b.phoneTicket()
	other.Subject, other.Description = "Login loop", "Password reset does not arrive"
	if _, err := svc.CreateTicket(ctx, "agent-1", other, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddComment(ctx, "agent-1", tickets.NewComment{TicketID: tk.ID, Body: "Lamp module replaced", Internal: true}); err != nil {
		t.Fatal(err)
	}
	search := func(q string) []string {
		t.Helper()
		ts, _, err := svc.ListTickets(ctx, tickets.Filter{Query: q}, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range ts {
			out = append(out, x.ID)
		}
		return out
	}
	for q, want := range map[string][]string{
		"projector":      {tk.ID},
		"PICTURE monday": {tk.ID},
		"lamp":           {tk.ID},
		"projector lamp": {tk.ID},
		"lamp password":  nil, // every word must match
		"unrelated":      nil,
		"x":              nil, // no searchable word matches nothing, not everything
	} {
		if diff := cmp.Diff(want, search(q)); diff != "" {
			t.Errorf("query %q (-want +got):\n%s", q, diff)
		}
	}
	// Editing the subject drops its old words but keeps the comments' words.
	if _, err := svc.UpdateTicket(ctx, "agent-1", tickets.TicketUpdate{ID: tk.ID, Subject: ptr("Beamer dead")}); err != nil {
		t.Fatal(err)
	}
	if got := search("projector"); len(got) != 0 {
		t.Errorf("old subject word still matches: %v", got)
	}
	if diff := cmp.Diff([]string{tk.ID}, search("beamer lamp")); diff != "" {
		t.Errorf("after subject edit (-want +got):\n%s", diff)
	}
	// Search combines with the other filters.
	ts, _, err := svc.ListTickets(ctx, tickets.Filter{Query: "lamp", Status: tickets.StatusOpen}, 0, "")
	if err != nil || len(ts) != 0 {
		t.Errorf("lamp+open = %v, %v", ts, err)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	tk, err := svc.CreateTicket(ctx, "agent-1", b.phoneTicket(), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.UpdateTicket(ctx, "agent-2", tickets.TicketUpdate{ID: tk.ID, Etag: tk.Etag(), Status: ptr(tickets.StatusOpen), ContactEmail: ptr("desk@springfield.example")})
	if err != nil {
		t.Fatal(err)
	}
	// A stale etag changes nothing.
	_, err = svc.UpdateTicket(ctx, "agent-2", tickets.TicketUpdate{ID: tk.ID, Etag: tk.Etag(), Assignee: ptr("zed")})
	if !errors.Is(err, apperr.ErrStaleEtag) {
		t.Fatalf("stale etag: err = %v", err)
	}
	// A rule violation changes nothing either.
	_, err = svc.UpdateTicket(ctx, "agent-2", tickets.TicketUpdate{ID: tk.ID, Assignee: ptr("zed"), ContactName: ptr(""), ContactTitle: ptr("")})
	wantInvalid(t, err, "ticket.contact.name")
	got, err := svc.GetTicket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Assignee != "agent-9" || got.Status != tickets.StatusOpen || got.Contact.Email != "desk@springfield.example" {
		t.Errorf("after updates: %+v", got)
	}
	if !bytes.Equal(b.emailHMAC(t, tk.ID), b.kr.Index("email", "desk@springfield.example")) {
		t.Error("email index not updated with the email")
	}
	if _, err := svc.UpdateTicket(ctx, "agent-2", tickets.TicketUpdate{ID: uuid.NewString(), Assignee: ptr("x")}); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("unknown ticket: err = %v", err)
	}
}

func (b testBundle) emailHMAC(t *testing.T, id string) []byte {
	t.Helper()
	var h []byte
	if err := b.pool.QueryRow(context.Background(), `SELECT contact_email_hmac FROM tickets WHERE id = $1`, id).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEventsAndSLAHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	b := testBundle{pool: pool, kr: kr}
	b.customer = b.newCustomer(t)
	base := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	now := base
	svc := tickets.NewService(ticketsdb.New(pool, kr), dataflow.NewPolicy(nil), tickets.DefaultSLA(), func() time.Time { return now })

	tk, err := svc.CreateTicket(ctx, "agent-1", b.phoneTicket(), "")
	if err != nil {
		t.Fatal(err)
	}
	step := func(d time.Duration, actor string, st tickets.Status) tickets.Ticket {
		t.Helper()
		now = base.Add(d)
		got, err := svc.UpdateTicket(ctx, actor, tickets.TicketUpdate{ID: tk.ID, Status: &st})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	step(time.Hour, "agent-2", tickets.StatusOpen)
	step(2*time.Hour, "agent-2", tickets.StatusPending)
	got := step(6*time.Hour, "agent-3", tickets.StatusOpen)
	// High: 4h/24h, moved by the 4h spent pending (read back from ticket_events).
	if want := base.Add(8 * time.Hour); !got.FirstResponseDueTime.Equal(want) {
		t.Errorf("first response due = %v, want %v", got.FirstResponseDueTime, want)
	}
	if want := base.Add(28 * time.Hour); !got.ResolutionDueTime.Equal(want) {
		t.Errorf("resolution due = %v, want %v", got.ResolutionDueTime, want)
	}
	now = base.Add(7 * time.Hour)
	if _, err := svc.AddComment(ctx, "agent-3", tickets.NewComment{TicketID: tk.ID, Body: "Please power-cycle it."}); err != nil {
		t.Fatal(err)
	}
	reread, err := svc.GetTicket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if reread.FirstResponseTime == nil || !reread.FirstResponseTime.Equal(now) {
		t.Errorf("first response time = %v, want %v", reread.FirstResponseTime, now)
	}
	optOut, err := svc.SetRecordingOptOut(ctx, "recorder", tk.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(optOut.AllowedSubprocessors, dataflow.CallMiner) {
		t.Errorf("opt-out kept callminer: %v", optOut.AllowedSubprocessors)
	}

	var events []tickets.Event
	token := ""
	for {
		page, next, err := svc.ListEvents(ctx, tk.ID, 2, token)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, page...)
		if next == "" {
			break
		}
		token = next
	}
	type summary struct {
		Actor    string
		Type     tickets.EventType
		From, To tickets.Status
	}
	var sum []summary
	for _, e := range events {
		sum = append(sum, summary{e.Actor, e.Type, e.FromStatus, e.ToStatus})
		for _, f := range e.ChangedFields {
			if strings.Contains(f, "@") || strings.Contains(f, " ") {
				t.Errorf("event field %q looks like a value", f)
			}
		}
	}
	want := []summary{
		{"agent-1", tickets.EventCreated, "", tickets.StatusNew},
		{"agent-2", tickets.EventStatusChanged, tickets.StatusNew, tickets.StatusOpen},
		{"agent-2", tickets.EventStatusChanged, tickets.StatusOpen, tickets.StatusPending},
		{"agent-3", tickets.EventStatusChanged, tickets.StatusPending, tickets.StatusOpen},
		{"agent-3", tickets.EventCommented, "", ""},
		{"recorder", tickets.EventRecordingOptOut, "", ""},
	}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, _, err := svc.ListEvents(ctx, uuid.NewString(), 0, ""); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("events of unknown ticket: err = %v", err)
	}
}

func TestComments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	tk, err := svc.CreateTicket(ctx, "agent-1", b.phoneTicket(), "")
	if err != nil {
		t.Fatal(err)
	}
	first, err := svc.AddComment(ctx, "agent-1", tickets.NewComment{TicketID: tk.ID, Body: "One", RequestID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.AddComment(ctx, "agent-1", tickets.NewComment{TicketID: tk.ID, Body: "One", RequestID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("retried comment (-want +got):\n%s", diff)
	}
	if _, err := svc.AddComment(ctx, "agent-1", tickets.NewComment{TicketID: tk.ID, Body: "Two", RequestID: "c-1"}); !errors.Is(err, apperr.ErrAlreadyExists) {
		t.Errorf("reused comment request id: err = %v", err)
	}
	for i := range 4 {
		if _, err := svc.AddComment(ctx, "agent-2", tickets.NewComment{TicketID: tk.ID, Body: fmt.Sprint("note ", i), Internal: true}); err != nil {
			t.Fatal(err)
		}
	}
	var bodies []string
	token := ""
	for {
		cs, next, err := svc.ListComments(ctx, tk.ID, 2, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			bodies = append(bodies, c.Body)
		}
		if next == "" {
			break
		}
		token = next
	}
	if diff := cmp.Diff([]string{"One", "note 0", "note 1", "note 2", "note 3"}, bodies); diff != "" {
		t.Errorf("comments oldest first (-want +got):\n%s", diff)
	}
	if _, err := svc.AddComment(ctx, "agent-1", tickets.NewComment{TicketID: uuid.NewString(), Body: "x"}); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("comment on unknown ticket: err = %v", err)
	}
	if _, _, err := svc.ListComments(ctx, uuid.NewString(), 0, ""); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("comments of unknown ticket: err = %v", err)
	}
}

func TestDestroyedKeyReadsEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	tk, err := svc.CreateTicket(ctx, "agent-1", b.phoneTicket(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddComment(ctx, "agent-1", tickets.NewComment{TicketID: tk.ID, Body: "secret reply"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := keyringdb.Destroy(ctx, b.pool, b.customer, keyringdb.Personal); err != nil || !ok {
		t.Fatalf("destroy: %v, %v", ok, err)
	}
	got, err := svc.GetTicket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "" || got.Description != "" || got.Contact.Name != "" || got.Contact.Email != "" || !got.PersonalDataErased {
		t.Errorf("erased ticket still shows personal data: %+v", got)
	}
	if got.Status != tickets.StatusNew || got.Assignee != "agent-9" {
		t.Errorf("erased ticket lost its non-personal fields: %+v", got)
	}
	ts, _, err := svc.ListTickets(ctx, tickets.Filter{}, 0, "")
	if err != nil || len(ts) != 1 || ts[0].Subject != "" {
		t.Errorf("list after erasure = %+v, %v", ts, err)
	}
	cs, _, err := svc.ListComments(ctx, tk.ID, 0, "")
	if err != nil || len(cs) != 1 || cs[0].Body != "" {
		t.Errorf("comments after erasure = %+v, %v", cs, err)
	}
	// The ticket's workflow goes on; its personal data cannot come back.
	if _, err := svc.UpdateTicket(ctx, "agent-1", tickets.TicketUpdate{ID: tk.ID, Status: ptr(tickets.StatusOpen)}); err != nil {
		t.Errorf("status change after erasure: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
