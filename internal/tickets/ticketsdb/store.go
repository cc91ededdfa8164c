// Package ticketsdb keeps tickets, comments and their history in PostgreSQL. Personal fields
// are sealed with the customer's personal data key; search uses blind tokens. The
// sqlc-generated queries live in internal/dbsqlc: sqlc always emits a New() of its own, which
// would clash with this package's New.
package ticketsdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/paging"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb/internal/dbsqlc"
)

// Idempotency scopes.
const (
	createScope  = "tickets.create"
	commentScope = "tickets.comment"
)

// Store implements tickets.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	kr   *keyring.Keyring
	q    *dbsqlc.Queries
}

var _ tickets.Store = (*Store)(nil)

// New returns a Store on pool that seals personal fields with keys from kr.
func New(pool *pgxpool.Pool, kr *keyring.Keyring) *Store {
	return &Store{pool: pool, kr: kr, q: &dbsqlc.Queries{}}
}

// CreateTicket implements tickets.Store.
func (s *Store) CreateTicket(ctx context.Context, rec tickets.CreateRecord) (tickets.Ticket, error) {
	var out tickets.Ticket
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		t := rec.Ticket
		if rec.RequestID != "" {
			first, replay, err := postgres.ClaimIdempotencyKey(ctx, tx, createScope, rec.RequestID, s.requestHash(createScope, rec.Request), t.ID)
			if err != nil {
				return err
			}
			if replay {
				out, err = s.get(ctx, tx, first)
				return err
			}
		}
		if _, err := s.q.LiveCustomerForShare(ctx, tx, t.CustomerID); err != nil {
			if errors.Is(postgres.Interpret(err), apperr.ErrNotFound) {
				return apperr.Invalid("ticket.customer_id", "does not name an existing customer")
			}
			return postgres.Interpret(fmt.Errorf("lock customer: %w", err))
		}
		dk, err := keyringdb.Ensure(ctx, tx, s.kr, t.CustomerID, keyringdb.Personal)
		if errors.Is(err, keyring.ErrKeyDestroyed) {
			return apperr.Invalid("ticket.customer_id", "names a customer whose personal data was erased")
		}
		if err != nil {
			return err
		}
		ct := seal(dk, t)
		err = s.q.InsertTicket(ctx, tx, dbsqlc.InsertTicketParams{
			ID: t.ID, CustomerID: t.CustomerID, Channel: string(t.Channel),
			SubjectCt: ct.subject, DescriptionCt: ct.description,
			Priority: string(t.Priority), Status: string(t.Status),
			ContactNameCt: ct.name, ContactTitleCt: ct.title, ContactEmailCt: ct.email,
			ContactEmailHmac: s.kr.Index("email", t.Contact.Email), ContactPhoneCt: ct.phone,
			MayContact: t.Contact.MayContact, DekID: dk.ID, CallSid: t.CallSID,
			RecordingOptOut: t.RecordingOptOut, Assignee: t.Assignee, Tags: nonNil(t.Tags),
			AllowedSubprocessors: nonNil(t.AllowedSubprocessors),
			SearchTokens:         nonNil(s.kr.SearchTokens(t.Subject, t.Description)),
			Version:              t.Version, CreateBy: t.CreateBy, CreateTime: t.CreateTime,
			UpdateTime: t.UpdateTime, FirstResponseDueTime: t.FirstResponseDueTime,
			ResolutionDueTime: t.ResolutionDueTime, FirstResponseTime: t.FirstResponseTime,
		})
		if err != nil {
			if postgres.IsForeignKeyViolation(err, "") {
				return apperr.Invalid("ticket.customer_id", "does not name an existing customer")
			}
			return postgres.Interpret(fmt.Errorf("insert ticket: %w", err))
		}
		if err := s.insertEvent(ctx, tx, rec.Event); err != nil {
			return err
		}
		if err := dataflowdb.Track(ctx, tx, flowRecord(t)); err != nil {
			return err
		}
		if err := enqueueTicket(ctx, tx, dk, t); err != nil {
			return err
		}
		out = t
		return nil
	})
	return out, err
}

// flowRecord is the ticket's entry in the flow ledger.
func flowRecord(t tickets.Ticket) dataflow.Record {
	return dataflow.Record{
		ID: t.ID, Kind: dataflow.KindTicket, CustomerID: t.CustomerID, Allowed: t.AllowedSubprocessors,
		Facts: dataflow.Facts{Kind: dataflow.KindTicket, TicketChannel: string(t.Channel), RecordingOptOut: t.RecordingOptOut},
	}
}

// ticketPushTargets are the processors a new ticket is sent to, when its list allows them.
// aws_us hosts us (nothing is pushed there) and twilio carries calls; neither receives tickets.
var ticketPushTargets = []string{dataflow.BlueOcean, dataflow.CallMiner, dataflow.Google, dataflow.Microsoft, dataflow.Salesforce}

// ticketDoc is the ticket as the support vendors receive it.
type ticketDoc struct {
	ID          string   `json:"id"`
	CustomerID  string   `json:"customer_id"`
	Channel     string   `json:"channel"`
	Subject     string   `json:"subject,omitempty"`
	Description string   `json:"description,omitempty"`
	Priority    string   `json:"priority"`
	Status      string   `json:"status"`
	Contact     contact  `json:"contact"`
	CallSID     string   `json:"call_sid,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	CreateTime  string   `json:"create_time"`
}

type contact struct {
	Name       string `json:"name,omitempty"`
	Title      string `json:"title,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	MayContact bool   `json:"may_contact"`
}

// enqueueTicket queues the new ticket to each allowed push target, in the create transaction.
func enqueueTicket(ctx context.Context, tx pgx.Tx, dk *keyring.DataKey, t tickets.Ticket) error {
	var targets []string
	for _, p := range ticketPushTargets {
		if slices.Contains(t.AllowedSubprocessors, p) {
			targets = append(targets, p)
		}
	}
	c := t.Contact
	payload, err := json.Marshal(ticketDoc{
		ID: t.ID, CustomerID: t.CustomerID, Channel: string(t.Channel), Subject: t.Subject,
		Description: t.Description, Priority: string(t.Priority), Status: string(t.Status),
		Contact: contact{Name: c.Name, Title: c.Title, Email: c.Email, Phone: c.Phone, MayContact: c.MayContact},
		CallSID: t.CallSID, Tags: t.Tags, CreateTime: t.CreateTime.Format(time.RFC3339Nano),
	})
	if err != nil {
		return fmt.Errorf("encode ticket delivery: %w", err)
	}
	return dataflowdb.Enqueue(ctx, tx, dk, t.ID, targets, payload)
}

// Ticket implements tickets.Store.
func (s *Store) Ticket(ctx context.Context, id string) (tickets.Ticket, error) {
	return s.get(ctx, s.pool, id)
}

func (s *Store) get(ctx context.Context, db postgres.DBTX, id string) (tickets.Ticket, error) {
	row, err := s.q.GetTicket(ctx, db, id)
	if err != nil {
		return tickets.Ticket{}, postgres.Interpret(fmt.Errorf("get ticket: %w", err))
	}
	return s.toDomain(ticketRow(row), keyCache{})
}

// ListTickets implements tickets.Store.
func (s *Store) ListTickets(ctx context.Context, f tickets.Filter, after *paging.Cursor, limit int) ([]tickets.Ticket, error) {
	p := dbsqlc.ListTicketsParams{
		Status:   optText(string(f.Status)),
		Channel:  optText(string(f.Channel)),
		Assignee: optText(f.Assignee),
		MaxRows:  int32(limit),
	}
	if f.CustomerID != "" {
		p.CustomerID = &f.CustomerID
	}
	if f.Query != "" {
		// A query without searchable words matches nothing rather than everything.
		p.QueryTokens = nonNil(s.kr.SearchTokens(f.Query))
	}
	if after != nil {
		p.AfterTime, p.AfterID = &after.Time, &after.ID
	}
	rows, err := s.q.ListTickets(ctx, s.pool, p)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list tickets: %w", err))
	}
	out := make([]tickets.Ticket, 0, len(rows))
	keys := keyCache{}
	for _, r := range rows {
		t, err := s.toDomain(ticketRow(r), keys)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// UpdateTicket implements tickets.Store.
func (s *Store) UpdateTicket(ctx context.Context, id string, fn tickets.UpdateFunc) (tickets.Ticket, error) {
	var out tickets.Ticket
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.GetTicketForUpdate(ctx, tx, id)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock ticket: %w", err))
		}
		keys := keyCache{}
		cur, err := s.toDomain(ticketRow(row), keys)
		if err != nil {
			return err
		}
		hist, err := s.q.StatusHistory(ctx, tx, id)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("read status history: %w", err))
		}
		history := make([]tickets.StatusChange, len(hist))
		for i, h := range hist {
			history[i] = tickets.StatusChange{From: tickets.Status(h.FromStatus), To: tickets.Status(h.ToStatus), Time: h.CreateTime.UTC()}
		}
		ch, err := fn(cur, history)
		if err != nil {
			return err
		}
		if ch.Event.ID == "" {
			out = cur
			return nil
		}
		t := ch.Ticket
		p := dbsqlc.UpdateTicketParams{
			Priority: string(t.Priority), Status: string(t.Status), MayContact: t.Contact.MayContact,
			CallSid: t.CallSID, RecordingOptOut: t.RecordingOptOut, Assignee: t.Assignee,
			Tags: nonNil(t.Tags), AllowedSubprocessors: nonNil(t.AllowedSubprocessors),
			Version: t.Version, UpdateTime: t.UpdateTime,
			FirstResponseDueTime: t.FirstResponseDueTime, ResolutionDueTime: t.ResolutionDueTime,
			ID: t.ID, PrevVersion: cur.Version,
		}
		if cur.PersonalDataErased {
			// Nothing to seal with: keep the (unreadable) ciphertexts and the search as they are.
			p.SubjectCt, p.DescriptionCt = row.SubjectCt, row.DescriptionCt
			p.ContactNameCt, p.ContactTitleCt = row.ContactNameCt, row.ContactTitleCt
			p.ContactEmailCt, p.ContactPhoneCt = row.ContactEmailCt, row.ContactPhoneCt
			p.ContactEmailHmac = nil
		} else {
			dk, err := keys.open(s.kr, row.DekID, row.DekMasterKeyID, row.DekWrappedKey)
			if err != nil {
				return err
			}
			ct := seal(dk, t)
			p.SubjectCt, p.DescriptionCt = ct.subject, ct.description
			p.ContactNameCt, p.ContactTitleCt, p.ContactEmailCt, p.ContactPhoneCt = ct.name, ct.title, ct.email, ct.phone
			p.ContactEmailHmac = s.kr.Index("email", t.Contact.Email)
			if t.Subject != cur.Subject || t.Description != cur.Description {
				p.SearchTokens = nonNil(s.kr.SearchTokens(t.Subject, t.Description))
			}
		}
		n, err := s.q.UpdateTicket(ctx, tx, p)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("update ticket: %w", err))
		}
		if n != 1 {
			// The row is locked, so this means a bug rather than a race; refuse loudly.
			return fmt.Errorf("update ticket %s: version %d not found", id, cur.Version)
		}
		if err := s.insertEvent(ctx, tx, ch.Event); err != nil {
			return err
		}
		// Every change re-tracks the ticket: when its list shrank (a recording opt-out), Track
		// cancels what is queued and asks processors that hold a copy to delete it.
		if err := dataflowdb.Track(ctx, tx, flowRecord(t)); err != nil {
			return err
		}
		out = t
		return nil
	})
	return out, err
}

// AddComment implements tickets.Store.
func (s *Store) AddComment(ctx context.Context, rec tickets.CommentRecord, fn tickets.CommentFunc) (tickets.Comment, error) {
	var out tickets.Comment
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c := rec.Comment
		if rec.RequestID != "" {
			first, replay, err := postgres.ClaimIdempotencyKey(ctx, tx, commentScope, rec.RequestID, s.requestHash(commentScope, rec.Request), c.ID)
			if err != nil {
				return err
			}
			if replay {
				out, err = s.comment(ctx, tx, first)
				return err
			}
		}
		row, err := s.q.GetTicketForUpdate(ctx, tx, c.TicketID)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock ticket: %w", err))
		}
		keys := keyCache{}
		cur, err := s.toDomain(ticketRow(row), keys)
		if err != nil {
			return err
		}
		ch, err := fn(cur)
		if err != nil {
			return err
		}
		dk, err := keys.open(s.kr, row.DekID, row.DekMasterKeyID, row.DekWrappedKey)
		if err != nil {
			return err
		}
		err = s.q.InsertComment(ctx, tx, dbsqlc.InsertCommentParams{
			ID: c.ID, TicketID: c.TicketID, Author: c.Author,
			BodyCt: dk.Seal(c.Body, keyring.AAD("ticket_comments", "body_ct", c.ID)),
			DekID:  dk.ID, Internal: c.Internal, CreateTime: c.CreateTime,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("insert comment: %w", err))
		}
		n, err := s.q.AddCommentToTicket(ctx, tx, dbsqlc.AddCommentToTicketParams{
			Tokens:            nonNil(s.kr.SearchTokens(c.Body)),
			FirstResponseTime: ch.Ticket.FirstResponseTime,
			Version:           ch.Ticket.Version, UpdateTime: ch.Ticket.UpdateTime,
			ID: c.TicketID, PrevVersion: cur.Version,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("add comment to ticket: %w", err))
		}
		if n != 1 {
			return fmt.Errorf("add comment to ticket %s: version %d not found", c.TicketID, cur.Version)
		}
		if err := s.insertEvent(ctx, tx, ch.Event); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

func (s *Store) comment(ctx context.Context, db postgres.DBTX, id string) (tickets.Comment, error) {
	row, err := s.q.GetComment(ctx, db, id)
	if err != nil {
		return tickets.Comment{}, postgres.Interpret(fmt.Errorf("get comment: %w", err))
	}
	return s.commentToDomain(commentRow(row), keyCache{})
}

// ListComments implements tickets.Store.
func (s *Store) ListComments(ctx context.Context, ticketID string, after *paging.Cursor, limit int) ([]tickets.Comment, error) {
	p := dbsqlc.ListCommentsParams{TicketID: ticketID, MaxRows: int32(limit)}
	if after != nil {
		p.AfterTime, p.AfterID = &after.Time, &after.ID
	}
	rows, err := s.q.ListComments(ctx, s.pool, p)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list comments: %w", err))
	}
	if len(rows) == 0 {
		if err := s.mustExist(ctx, ticketID); err != nil {
			return nil, err
		}
	}
	out := make([]tickets.Comment, 0, len(rows))
	keys := keyCache{}
	for _, r := range rows {
		c, err := s.commentToDomain(commentRow(r), keys)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ListEvents implements tickets.Store.
func (s *Store) ListEvents(ctx context.Context, ticketID string, after *paging.Cursor, limit int) ([]tickets.Event, error) {
	p := dbsqlc.ListEventsParams{TicketID: ticketID, MaxRows: int32(limit)}
	if after != nil {
		p.AfterTime, p.AfterID = &after.Time, &after.ID
	}
	rows, err := s.q.ListEvents(ctx, s.pool, p)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list events: %w", err))
	}
	if len(rows) == 0 {
		if err := s.mustExist(ctx, ticketID); err != nil {
			return nil, err
		}
	}
	out := make([]tickets.Event, 0, len(rows))
	for _, r := range rows {
		out = append(out, tickets.Event{
			ID: r.ID, TicketID: r.TicketID, Actor: r.Actor, Type: tickets.EventType(r.Type),
			ChangedFields: r.ChangedFields, FromStatus: tickets.Status(r.FromStatus),
			ToStatus: tickets.Status(r.ToStatus), CreateTime: r.CreateTime.UTC(),
		})
	}
	return out, nil
}

// mustExist tells an empty page of an existing ticket from a ticket that does not exist; it runs
// only on empty pages, which every ticket's history never is.
func (s *Store) mustExist(ctx context.Context, ticketID string) error {
	ok, err := s.q.TicketExists(ctx, s.pool, ticketID)
	if err != nil {
		return postgres.Interpret(fmt.Errorf("ticket exists: %w", err))
	}
	if !ok {
		return apperr.ErrNotFound
	}
	return nil
}

func (s *Store) insertEvent(ctx context.Context, tx pgx.Tx, e tickets.Event) error {
	err := s.q.InsertEvent(ctx, tx, dbsqlc.InsertEventParams{
		ID: e.ID, TicketID: e.TicketID, Actor: e.Actor, Type: string(e.Type),
		ChangedFields: nonNil(e.ChangedFields), FromStatus: string(e.FromStatus),
		ToStatus: string(e.ToStatus), CreateTime: e.CreateTime,
	})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("insert event: %w", err))
	}
	return nil
}

// ticketRow is the shape of every ticket read; the generated row types convert to it directly.
type ticketRow dbsqlc.GetTicketRow

// commentRow is the shape of every comment read.
type commentRow dbsqlc.GetCommentRow

// keyCache opens each data key once per call: a page of tickets mostly shares few customers.
// A nil entry means the key was destroyed.
type keyCache map[string]*keyring.DataKey

func (k keyCache) open(kr *keyring.Keyring, id, masterKeyID string, wrapped []byte) (*keyring.DataKey, error) {
	if dk, ok := k[id]; ok {
		if dk == nil {
			return nil, keyring.ErrKeyDestroyed
		}
		return dk, nil
	}
	dk, err := kr.Unwrap(id, masterKeyID, wrapped)
	if errors.Is(err, keyring.ErrKeyDestroyed) {
		k[id] = nil
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	k[id] = dk
	return dk, nil
}

func aad(column, ticketID string) string { return keyring.AAD("tickets", column, ticketID) }

// toDomain opens a row. A destroyed key (erasure) yields empty personal fields, not an error:
// the ticket still exists for its history and statistics.
func (s *Store) toDomain(r ticketRow, keys keyCache) (tickets.Ticket, error) {
	t := tickets.Ticket{
		ID: r.ID, CustomerID: r.CustomerID, Channel: tickets.Channel(r.Channel),
		Priority: tickets.Priority(r.Priority), Status: tickets.Status(r.Status),
		Contact: tickets.Contact{MayContact: r.MayContact}, CallSID: r.CallSid,
		RecordingOptOut: r.RecordingOptOut, Assignee: r.Assignee, Tags: r.Tags,
		AllowedSubprocessors: r.AllowedSubprocessors, Version: r.Version, CreateBy: r.CreateBy,
		CreateTime: r.CreateTime.UTC(), UpdateTime: r.UpdateTime.UTC(),
		FirstResponseDueTime: r.FirstResponseDueTime.UTC(), ResolutionDueTime: r.ResolutionDueTime.UTC(),
	}
	if r.FirstResponseTime != nil {
		ft := r.FirstResponseTime.UTC()
		t.FirstResponseTime = &ft
	}
	dk, err := keys.open(s.kr, r.DekID, r.DekMasterKeyID, r.DekWrappedKey)
	if errors.Is(err, keyring.ErrKeyDestroyed) || r.EraseTime != nil {
		t.PersonalDataErased = true
		return t, nil
	}
	if err != nil {
		return tickets.Ticket{}, err
	}
	for _, f := range []struct {
		column string
		ct     []byte
		dst    *string
	}{
		{"subject_ct", r.SubjectCt, &t.Subject},
		{"description_ct", r.DescriptionCt, &t.Description},
		{"contact_name_ct", r.ContactNameCt, &t.Contact.Name},
		{"contact_title_ct", r.ContactTitleCt, &t.Contact.Title},
		{"contact_email_ct", r.ContactEmailCt, &t.Contact.Email},
		{"contact_phone_ct", r.ContactPhoneCt, &t.Contact.Phone},
	} {
		if *f.dst, err = dk.Open(f.ct, aad(f.column, r.ID)); err != nil {
			return tickets.Ticket{}, fmt.Errorf("ticket %s %s: %w", r.ID, f.column, err)
		}
	}
	return t, nil
}

func (s *Store) commentToDomain(r commentRow, keys keyCache) (tickets.Comment, error) {
	c := tickets.Comment{
		ID: r.ID, TicketID: r.TicketID, Author: r.Author, Internal: r.Internal,
		CreateTime: r.CreateTime.UTC(),
	}
	dk, err := keys.open(s.kr, r.DekID, r.DekMasterKeyID, r.DekWrappedKey)
	if errors.Is(err, keyring.ErrKeyDestroyed) {
		return c, nil
	}
	if err != nil {
		return tickets.Comment{}, err
	}
	if c.Body, err = dk.Open(r.BodyCt, keyring.AAD("ticket_comments", "body_ct", r.ID)); err != nil {
		return tickets.Comment{}, fmt.Errorf("comment %s: %w", r.ID, err)
	}
	return c, nil
}

type sealedColumns struct {
	subject, description, name, title, email, phone []byte
}

func seal(dk *keyring.DataKey, t tickets.Ticket) sealedColumns {
	return sealedColumns{
		subject:     dk.Seal(t.Subject, aad("subject_ct", t.ID)),
		description: dk.Seal(t.Description, aad("description_ct", t.ID)),
		name:        dk.Seal(t.Contact.Name, aad("contact_name_ct", t.ID)),
		title:       dk.Seal(t.Contact.Title, aad("contact_title_ct", t.ID)),
		email:       dk.Seal(t.Contact.Email, aad("contact_email_ct", t.ID)),
		phone:       dk.Seal(t.Contact.Phone, aad("contact_phone_ct", t.ID)),
	}
}

// requestHash fingerprints a request for idempotency. It is keyed because the request holds
// personal data that a plain hash in idempotency_keys would expose to guessing.
func (s *Store) requestHash(scope string, req any) []byte {
	b, err := json.Marshal(req)
	if err != nil {
		panic(fmt.Sprintf("ticketsdb: encode request %T: %v", req, err))
	}
	sum := sha256.Sum256(b)
	// Index lower-cases its input; hex keeps the digest, and so the case of the input, intact.
	return s.kr.Index(scope, hex.EncodeToString(sum[:]))
}

func optText(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
