package privacydb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/privacy"
)

// Export implements privacy.Store. It reads one snapshot (REPEATABLE READ, read only) and
// emits each row as it arrives from the server: pgx streams a result set, so memory stays
// bounded by one row (an order with its lines) whatever the customer holds. Ciphertexts are
// opened with the customer's keys; under a destroyed key they come out empty.
func (s *Store) Export(ctx context.Context, customerID string, emit func(privacy.Document) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return postgres.Interpret(fmt.Errorf("begin export: %w", err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	x := exporter{tx: tx, emit: emit, customerID: customerID}
	if err := x.loadKeys(ctx, s.kr); err != nil {
		return err
	}
	for _, step := range []func(context.Context) error{
		x.customer, x.tickets, x.comments, x.events, x.recordings, x.orders, x.payments,
		x.refunds, x.flows, x.deliveries, x.erasure,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

type exporter struct {
	tx         pgx.Tx
	emit       func(privacy.Document) error
	customerID string
	// keys maps a data key id to the open key; nil means destroyed (crypto-shredded).
	keys map[string]*keyring.DataKey
}

func (x *exporter) loadKeys(ctx context.Context, kr *keyring.Keyring) error {
	rows, err := x.tx.Query(ctx, `SELECT id::text, master_key_id, wrapped_key FROM data_keys WHERE customer_id = $1`, x.customerID)
	if err != nil {
		return postgres.Interpret(fmt.Errorf("read data keys: %w", err))
	}
	defer rows.Close()
	x.keys = map[string]*keyring.DataKey{}
	for rows.Next() {
		var id, master string
		var wrapped []byte
		if err := rows.Scan(&id, &master, &wrapped); err != nil {
			return fmt.Errorf("scan data key: %w", err)
		}
		dk, err := kr.Unwrap(id, master, wrapped)
		switch {
		case errors.Is(err, keyring.ErrKeyDestroyed):
			dk = nil
		case err != nil:
			return fmt.Errorf("open data key %s: %w", id, err)
		}
		x.keys[id] = dk
	}
	return postgres.Interpret(rows.Err())
}

// open decrypts ct under key dekID; a destroyed or unknown key, or no ciphertext, is "".
func (x *exporter) open(dekID *string, ct []byte, table, column, id string) (string, error) {
	if dekID == nil || ct == nil {
		return "", nil
	}
	dk := x.keys[*dekID]
	if dk == nil {
		return "", nil
	}
	pt, err := dk.Open(ct, keyring.AAD(table, column, id))
	if err != nil {
		// The message names the column and record only, never content.
		return "", fmt.Errorf("open %s.%s of %s: %w", table, column, id, err)
	}
	return pt, nil
}

// each runs query and emits one document per row as scan builds it.
func (x *exporter) each(ctx context.Context, kind, query string, scan func(pgx.Rows) (string, any, error)) error {
	rows, err := x.tx.Query(ctx, query, x.customerID)
	if err != nil {
		return postgres.Interpret(fmt.Errorf("export %s: %w", kind, err))
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		id, doc, err := scan(rows)
		if err != nil {
			return fmt.Errorf("export %s: %w", kind, err)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", kind, id, err)
		}
		if err := x.emit(privacy.Document{Kind: kind, RecordID: id, JSON: b}); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return postgres.Interpret(fmt.Errorf("export %s: %w", kind, err))
	}
	if kind == privacy.KindCustomer && n == 0 {
		return apperr.ErrNotFound
	}
	return nil
}

type contactDoc struct {
	Name       string `json:"name"`
	Title      string `json:"title"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	MayContact bool   `json:"may_contact"`
}

func (x *exporter) contact(dek *string, table, id string, name, title, email, phone []byte, may bool) (contactDoc, error) {
	c := contactDoc{MayContact: may}
	var err error
	for _, f := range []struct {
		column string
		ct     []byte
		dst    *string
	}{
		{"contact_name_ct", name, &c.Name}, {"contact_title_ct", title, &c.Title},
		{"contact_email_ct", email, &c.Email}, {"contact_phone_ct", phone, &c.Phone},
	} {
		if *f.dst, err = x.open(dek, f.ct, table, f.column, id); err != nil {
			return contactDoc{}, err
		}
	}
	return c, nil
}

// sealedJSON opens a sealed JSON document (an address) and returns it as raw JSON, or null.
func (x *exporter) sealedJSON(dek *string, ct []byte, table, column, id string) (json.RawMessage, error) {
	doc, err := x.open(dek, ct, table, column, id)
	if err != nil || doc == "" {
		return nil, err
	}
	if !json.Valid([]byte(doc)) {
		return nil, fmt.Errorf("%s.%s of %s is not JSON", table, column, id)
	}
	return json.RawMessage(doc), nil
}

func (x *exporter) customer(ctx context.Context) error {
	return x.each(ctx, privacy.KindCustomer, `SELECT id::text, org_name, contact_name_ct, contact_title_ct, contact_email_ct,
		contact_phone_ct, may_contact, personal_dek_id::text, address_ct, retained_dek_id::text, address_country,
		residency_country, marketing_consent, reseller_id, allowed_subprocessors, create_time, update_time, erase_time
		FROM customers WHERE id = $1`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID                   string          `json:"id"`
			OrgName              string          `json:"org_name"`
			Contact              contactDoc      `json:"contact"`
			Address              json.RawMessage `json:"address"`
			AddressCountry       string          `json:"address_country"`
			ResidencyCountry     string          `json:"residency_country"`
			MarketingConsent     bool            `json:"marketing_consent"`
			ResellerID           string          `json:"reseller_id"`
			AllowedSubprocessors []string        `json:"allowed_subprocessors"`
			CreateTime           time.Time       `json:"create_time"`
			UpdateTime           time.Time       `json:"update_time"`
			EraseTime            *time.Time      `json:"erase_time"`
		}
		var name, title, email, phone, addr []byte
		var may bool
		var pdek, rdek string
		if err := rows.Scan(&d.ID, &d.OrgName, &name, &title, &email, &phone, &may, &pdek, &addr, &rdek,
			&d.AddressCountry, &d.ResidencyCountry, &d.MarketingConsent, &d.ResellerID, &d.AllowedSubprocessors,
			&d.CreateTime, &d.UpdateTime, &d.EraseTime); err != nil {
			return "", nil, err
		}
		var err error
		if d.Contact, err = x.contact(&pdek, "customers", d.ID, name, title, email, phone, may); err != nil {
			return "", nil, err
		}
		if d.Address, err = x.sealedJSON(&rdek, addr, "customers", "address_ct", d.ID); err != nil {
			return "", nil, err
		}
		return d.ID, d, nil
	})
}

func (x *exporter) tickets(ctx context.Context) error {
	return x.each(ctx, privacy.KindTicket, `SELECT id::text, channel, subject_ct, description_ct, priority, status,
		contact_name_ct, contact_title_ct, contact_email_ct, contact_phone_ct, may_contact, dek_id::text, call_sid,
		recording_opt_out, assignee, tags, allowed_subprocessors, create_time, update_time, erase_time
		FROM tickets WHERE customer_id = $1 ORDER BY create_time, id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID                   string     `json:"id"`
			Channel              string     `json:"channel"`
			Subject              string     `json:"subject"`
			Description          string     `json:"description"`
			Priority             string     `json:"priority"`
			Status               string     `json:"status"`
			Contact              contactDoc `json:"contact"`
			CallSID              string     `json:"call_sid"`
			RecordingOptOut      bool       `json:"recording_opt_out"`
			Assignee             string     `json:"assignee"`
			Tags                 []string   `json:"tags"`
			AllowedSubprocessors []string   `json:"allowed_subprocessors"`
			CreateTime           time.Time  `json:"create_time"`
			UpdateTime           time.Time  `json:"update_time"`
			EraseTime            *time.Time `json:"erase_time"`
		}
		var subject, desc, name, title, email, phone []byte
		var may bool
		var dek string
		if err := rows.Scan(&d.ID, &d.Channel, &subject, &desc, &d.Priority, &d.Status, &name, &title, &email, &phone,
			&may, &dek, &d.CallSID, &d.RecordingOptOut, &d.Assignee, &d.Tags, &d.AllowedSubprocessors,
			&d.CreateTime, &d.UpdateTime, &d.EraseTime); err != nil {
			return "", nil, err
		}
		var err error
		if d.Subject, err = x.open(&dek, subject, "tickets", "subject_ct", d.ID); err != nil {
			return "", nil, err
		}
		if d.Description, err = x.open(&dek, desc, "tickets", "description_ct", d.ID); err != nil {
			return "", nil, err
		}
		if d.Contact, err = x.contact(&dek, "tickets", d.ID, name, title, email, phone, may); err != nil {
			return "", nil, err
		}
		return d.ID, d, nil
	})
}

func (x *exporter) comments(ctx context.Context) error {
	return x.each(ctx, privacy.KindComment, `SELECT c.id::text, c.ticket_id::text, c.author, c.body_ct, c.dek_id::text,
		c.internal, c.create_time FROM ticket_comments c JOIN tickets t ON t.id = c.ticket_id
		WHERE t.customer_id = $1 ORDER BY c.ticket_id, c.create_time, c.id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID         string    `json:"id"`
			TicketID   string    `json:"ticket_id"`
			Author     string    `json:"author"`
			Body       string    `json:"body"`
			Internal   bool      `json:"internal"`
			CreateTime time.Time `json:"create_time"`
		}
		var body []byte
		var dek string
		if err := rows.Scan(&d.ID, &d.TicketID, &d.Author, &body, &dek, &d.Internal, &d.CreateTime); err != nil {
			return "", nil, err
		}
		var err error
		d.Body, err = x.open(&dek, body, "ticket_comments", "body_ct", d.ID)
		return d.ID, d, err
	})
}

func (x *exporter) events(ctx context.Context) error {
	return x.each(ctx, "ticket_event", `SELECT e.id::text, e.ticket_id::text, e.actor, e.type, e.changed_fields,
		e.from_status, e.to_status, e.create_time FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
		WHERE t.customer_id = $1 ORDER BY e.ticket_id, e.create_time, e.id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID            string    `json:"id"`
			TicketID      string    `json:"ticket_id"`
			Actor         string    `json:"actor"`
			Type          string    `json:"type"`
			ChangedFields []string  `json:"changed_fields"`
			FromStatus    string    `json:"from_status"`
			ToStatus      string    `json:"to_status"`
			CreateTime    time.Time `json:"create_time"`
		}
		err := rows.Scan(&d.ID, &d.TicketID, &d.Actor, &d.Type, &d.ChangedFields, &d.FromStatus, &d.ToStatus, &d.CreateTime)
		return d.ID, d, err
	})
}

// recordings exports metadata only: the audio is a recording of a call, handed out through
// GetRecording's signed link to those allowed to listen, not embedded in a JSON export.
func (x *exporter) recordings(ctx context.Context) error {
	return x.each(ctx, privacy.KindRecording, `SELECT r.id::text,
		coalesce((SELECT t.id::text FROM tickets t WHERE t.call_sid = r.call_sid ORDER BY t.create_time, t.id LIMIT 1), ''),
		r.call_sid, r.recording_sid, r.status, r.duration_seconds, r.allowed_subprocessors, r.delete_reason,
		r.create_time, r.store_time, r.delete_time
		FROM recordings r
		WHERE r.call_sid IN (SELECT t.call_sid FROM tickets t WHERE t.customer_id = $1 AND t.call_sid <> '')
		ORDER BY r.create_time, r.id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID                   string     `json:"id"`
			TicketID             string     `json:"ticket_id"`
			CallSID              string     `json:"call_sid"`
			RecordingSID         string     `json:"recording_sid"`
			Status               string     `json:"status"`
			DurationSeconds      int32      `json:"duration_seconds"`
			AllowedSubprocessors []string   `json:"allowed_subprocessors"`
			DeleteReason         string     `json:"delete_reason,omitempty"`
			CreateTime           time.Time  `json:"create_time"`
			StoreTime            *time.Time `json:"store_time"`
			DeleteTime           *time.Time `json:"delete_time"`
		}
		err := rows.Scan(&d.ID, &d.TicketID, &d.CallSID, &d.RecordingSID, &d.Status, &d.DurationSeconds,
			&d.AllowedSubprocessors, &d.DeleteReason, &d.CreateTime, &d.StoreTime, &d.DeleteTime)
		return d.ID, d, err
	})
}

func (x *exporter) orders(ctx context.Context) error {
	return x.each(ctx, privacy.KindOrder, `SELECT o.id::text, o.channel, o.reseller_id, o.currency, o.status,
		o.net_minor, o.vat_minor, o.gross_minor, o.stripe_entity, o.country, o.ship_to_ct, o.dek_id::text,
		o.allowed_subprocessors, o.create_time, o.retain_until,
		coalesce((SELECT jsonb_agg(jsonb_build_object('line_number', l.line_number, 'sku', l.sku,
			'description', l.description, 'quantity', l.quantity, 'unit_price_minor', l.unit_price_minor,
			'vat_rate_bp', l.vat_rate_bp, 'net_minor', l.net_minor, 'vat_minor', l.vat_minor) ORDER BY l.line_number)
			FROM order_lines l WHERE l.order_id = o.id), '[]'::jsonb)
		FROM orders o WHERE o.customer_id = $1 ORDER BY o.create_time, o.id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID                   string          `json:"id"`
			Channel              string          `json:"channel"`
			ResellerID           string          `json:"reseller_id"`
			Currency             string          `json:"currency"`
			Status               string          `json:"status"`
			NetMinor             int64           `json:"net_minor"`
			VATMinor             int64           `json:"vat_minor"`
			GrossMinor           int64           `json:"gross_minor"`
			StripeEntity         string          `json:"stripe_entity"`
			Country              string          `json:"country"`
			ShipTo               json.RawMessage `json:"ship_to"`
			AllowedSubprocessors []string        `json:"allowed_subprocessors"`
			CreateTime           time.Time       `json:"create_time"`
			RetainUntil          time.Time       `json:"retain_until"`
			Lines                json.RawMessage `json:"lines"`
		}
		var ship []byte
		var dek string
		var lines []byte
		if err := rows.Scan(&d.ID, &d.Channel, &d.ResellerID, &d.Currency, &d.Status, &d.NetMinor, &d.VATMinor,
			&d.GrossMinor, &d.StripeEntity, &d.Country, &ship, &dek, &d.AllowedSubprocessors, &d.CreateTime,
			&d.RetainUntil, &lines); err != nil {
			return "", nil, err
		}
		d.Lines = lines
		var err error
		d.ShipTo, err = x.sealedJSON(&dek, ship, "orders", "ship_to", d.ID)
		return d.ID, d, err
	})
}

// payments leaves out the PaymentIntent's client secret: it is a credential, not the
// customer's data.
func (x *exporter) payments(ctx context.Context) error {
	return x.each(ctx, privacy.KindPayment, `SELECT id::text, order_id::text, stripe_entity, payment_intent_id,
		amount_minor, currency, status, refunded_minor, allowed_subprocessors, create_time, update_time
		FROM payments WHERE customer_id = $1 ORDER BY create_time, id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID                   string    `json:"id"`
			OrderID              string    `json:"order_id"`
			StripeEntity         string    `json:"stripe_entity"`
			PaymentIntentID      string    `json:"payment_intent_id"`
			AmountMinor          int64     `json:"amount_minor"`
			Currency             string    `json:"currency"`
			Status               string    `json:"status"`
			RefundedMinor        int64     `json:"refunded_minor"`
			AllowedSubprocessors []string  `json:"allowed_subprocessors"`
			CreateTime           time.Time `json:"create_time"`
			UpdateTime           time.Time `json:"update_time"`
		}
		err := rows.Scan(&d.ID, &d.OrderID, &d.StripeEntity, &d.PaymentIntentID, &d.AmountMinor, &d.Currency,
			&d.Status, &d.RefundedMinor, &d.AllowedSubprocessors, &d.CreateTime, &d.UpdateTime)
		return d.ID, d, err
	})
}

func (x *exporter) refunds(ctx context.Context) error {
	return x.each(ctx, privacy.KindRefund, `SELECT r.id::text, r.payment_id::text, r.stripe_refund_id, r.amount_minor,
		r.currency, r.status, r.create_time FROM payment_refunds r JOIN payments p ON p.id = r.payment_id
		WHERE p.customer_id = $1 ORDER BY r.create_time, r.id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID             string    `json:"id"`
			PaymentID      string    `json:"payment_id"`
			StripeRefundID string    `json:"stripe_refund_id"`
			AmountMinor    int64     `json:"amount_minor"`
			Currency       string    `json:"currency"`
			Status         string    `json:"status"`
			CreateTime     time.Time `json:"create_time"`
		}
		err := rows.Scan(&d.ID, &d.PaymentID, &d.StripeRefundID, &d.AmountMinor, &d.Currency, &d.Status, &d.CreateTime)
		return d.ID, d, err
	})
}

func (x *exporter) flows(ctx context.Context) error {
	return x.each(ctx, "flow_record", `SELECT record_id::text, kind, facts, allowed_subprocessors, update_time
		FROM flow_records WHERE customer_id = $1 ORDER BY record_id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			RecordID             string          `json:"record_id"`
			Kind                 string          `json:"kind"`
			Facts                json.RawMessage `json:"facts"`
			AllowedSubprocessors []string        `json:"allowed_subprocessors"`
			UpdateTime           time.Time       `json:"update_time"`
		}
		var facts []byte
		err := rows.Scan(&d.RecordID, &d.Kind, &facts, &d.AllowedSubprocessors, &d.UpdateTime)
		d.Facts = facts
		return d.RecordID, d, err
	})
}

// deliveries lists what was sent where; payloads are copies of the records exported above.
func (x *exporter) deliveries(ctx context.Context) error {
	return x.each(ctx, privacy.KindOutboxDelivery, `SELECT d.id::text, d.record_id::text, d.subprocessor_id, d.kind,
		d.status, d.attempts, d.last_error, d.create_time, d.update_time
		FROM outbox_deliveries d JOIN flow_records f ON f.record_id = d.record_id
		WHERE f.customer_id = $1 ORDER BY d.record_id, d.create_time, d.id`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID             string    `json:"id"`
			RecordID       string    `json:"record_id"`
			SubprocessorID string    `json:"subprocessor_id"`
			Kind           string    `json:"kind"`
			Status         string    `json:"status"`
			Attempts       int32     `json:"attempts"`
			LastError      string    `json:"last_error"`
			CreateTime     time.Time `json:"create_time"`
			UpdateTime     time.Time `json:"update_time"`
		}
		err := rows.Scan(&d.ID, &d.RecordID, &d.SubprocessorID, &d.Kind, &d.Status, &d.Attempts, &d.LastError, &d.CreateTime, &d.UpdateTime)
		return d.ID, d, err
	})
}

func (x *exporter) erasure(ctx context.Context) error {
	return x.each(ctx, "erasure", `SELECT id::text, status, reason, create_time, retain_until, complete_time
		FROM erasure_requests WHERE customer_id = $1`, func(rows pgx.Rows) (string, any, error) {
		var d struct {
			ID           string     `json:"id"`
			Status       string     `json:"status"`
			Reason       string     `json:"reason"`
			CreateTime   time.Time  `json:"create_time"`
			RetainUntil  *time.Time `json:"retain_until"`
			CompleteTime *time.Time `json:"complete_time"`
		}
		err := rows.Scan(&d.ID, &d.Status, &d.Reason, &d.CreateTime, &d.RetainUntil, &d.CompleteTime)
		return d.ID, d, err
	})
}
