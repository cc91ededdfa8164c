package privacydb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingdb"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/privacy"
	"github.com/lumio/contactcentre/internal/privacy/privacydb"
	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingdb"
	"github.com/lumio/contactcentre/internal/recording/recordingstore"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb"
)

// env is a database with the real stores and services of every domain an erasure touches.
type env struct {
	pool      *pgxpool.Pool
	url       string
	masterKey string
	kr        *keyring.Keyring
	customers *customers.Service
	tickets   *tickets.Service
	orders    *billing.Service
	rec       *recording.Service
	objects   *recordingstore.FS
	audioDir  string
	carrier   *fakeCarrier
	logs      *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool, url := pgtest.NewDB(t)
	raw := make([]byte, keyring.KeySize)
	_, _ = rand.Read(raw)
	master := base64.StdEncoding.EncodeToString(raw)
	kr := keyringFrom(t, master)
	policy := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	dir := t.TempDir()
	fs, err := recordingstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{pool: pool, url: url, masterKey: master, kr: kr, objects: fs, audioDir: dir, carrier: &fakeCarrier{audio: map[string][]byte{}}, logs: &syncBuffer{}}
	e.customers = customers.NewService(customersdb.New(pool, kr), policy, time.Now)
	e.tickets = tickets.NewService(ticketsdb.New(pool, kr), policy, tickets.DefaultSLA(), time.Now)
	e.orders = billing.NewService(billingdb.New(pool, kr), policy, billing.DefaultRetention(), time.Now)
	optOut := recording.TicketOptOutFunc(func(context.Context, string, string, bool) error { return nil })
	e.rec = recording.NewService(recordingdb.New(pool, kr, policy), e.carrier, fs, optOut, nil, recording.Config{}, e.logger(), time.Now)
	return e
}

func keyringFrom(t testing.TB, master string) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(keyring.Config{MasterKey: master, MasterKeyID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// logger writes JSON logs into e.logs, which the scan reads too: logs must not hold erased data.
func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// service returns a privacy service on a fresh store with the given clock.
func (e *env) service(now func() time.Time, cfg privacy.Config) *privacy.Service {
	return privacy.NewService(privacydb.New(e.pool, e.kr), cfg, e.logger(), now)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeCarrier stands in for Twilio: it serves audio by recording sid and records deletions.
type fakeCarrier struct {
	mu      sync.Mutex
	audio   map[string][]byte
	deleted []string
}

func (c *fakeCarrier) StartRecording(context.Context, string) (string, error) {
	return "", errors.New("not used")
}
func (c *fakeCarrier) StopRecording(context.Context, string, string) error { return nil }
func (c *fakeCarrier) DeleteRecording(_ context.Context, sid string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.audio, sid)
	c.deleted = append(c.deleted, sid)
	return nil
}

func (c *fakeCarrier) FetchMedia(_ context.Context, sid string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.audio[sid]
	if !ok {
		return nil, recording.ErrCarrierNotFound
	}
	return a, nil
}

func (c *fakeCarrier) ListRecordings(context.Context) ([]recording.CarrierRecording, error) {
	return nil, nil
}

func (c *fakeCarrier) held() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, a := range c.audio {
		b.Write(a)
	}
	return b.String()
}

// canaries makes unique marker words. Their letters avoid 0-9a-f, so no hex dump of random
// bytes can contain one by chance.
type canaries struct {
	prefix string
	all    []string
}

func (c *canaries) next() string {
	const letters = "ghjkmnpqrstvwxyz"
	var b strings.Builder
	b.WriteString("canary" + c.prefix)
	for range 10 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b.WriteByte(letters[n.Int64()])
	}
	c.all = append(c.all, b.String())
	return b.String()
}

// seeded is what seed planted for one customer.
type seeded struct {
	customer string
	tickets  []string
	orders   []string
	canaries []string
	// held are the canaries in data the law keeps until retain_until: the invoicing address
	// and the orders' delivery addresses, under the retained key.
	held []string
}

var (
	sales = auth.Identity{Subject: "sales-1", Roles: []auth.Role{auth.RoleSales}}
	agent = "agent-1"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func customersNewNL(org string) customers.NewCustomer {
	return customers.NewCustomer{OrgName: org, Address: customers.Address{Lines: []string{"Main 1"}, City: "Utrecht", Country: "NL"}}
}

// seed creates a customer through the real services and plants at least 100 canaries in its
// contact and address, tickets (subjects, descriptions, contacts), comments, order delivery
// addresses and recorded audio (stored, encrypted, in the fs object store).
func seed(t *testing.T, e *env, prefix string) seeded {
	t.Helper()
	ctx := context.Background()
	cs := &canaries{prefix: prefix}
	var held []string
	hold := func(c string) string { held = append(held, c); return c }
	c, err := e.customers.Create(ctx, sales, customers.NewCustomer{
		OrgName: "Org " + prefix + " BV",
		Contact: customers.Contact{Name: "Ann " + cs.next(), Title: "Buyer " + cs.next(), Email: cs.next() + "@example.org", Phone: "+31 20 555 0100"},
		Address: customers.Address{Lines: []string{"Street " + hold(cs.next())}, City: hold(cs.next()), PostalCode: "1011 AB", Country: "NL"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	s := seeded{customer: c.ID}
	callSID := "CA" + randomHex(16)
	if _, err := e.rec.IncomingCall(ctx, callSID); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		in := tickets.NewTicket{
			CustomerID: c.ID, Channel: tickets.ChannelEmail,
			Subject: "Help " + cs.next(), Description: "It broke " + cs.next() + " again",
			Contact:  tickets.Contact{Name: "Bob " + cs.next(), Email: cs.next() + "@example.org"},
			Assignee: agent, Tags: []string{"billing"},
		}
		if i == 0 {
			in.Channel, in.CallSID = tickets.ChannelPhone, callSID
		}
		tk, err := e.tickets.CreateTicket(ctx, agent, in, "req-"+randomHex(4))
		if err != nil {
			t.Fatal(err)
		}
		s.tickets = append(s.tickets, tk.ID)
		for range 2 {
			if _, err := e.tickets.AddComment(ctx, agent, tickets.NewComment{TicketID: tk.ID, Body: "Note " + cs.next(), Internal: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 2 {
		sid := "RE" + randomHex(16)
		e.carrier.mu.Lock()
		e.carrier.audio[sid] = []byte("RIFF audio " + cs.next() + " " + cs.next() + " " + cs.next())
		e.carrier.mu.Unlock()
		err := e.rec.HandleCallback(ctx, recording.Callback{CallSID: callSID, RecordingSID: sid, Status: recording.CallbackCompleted, DurationSeconds: 30})
		if err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		o, err := e.orders.Create(ctx, sales, billing.NewOrder{
			CustomerID: c.ID, Channel: billing.ChannelReseller, ResellerID: "acme", Currency: "EUR",
			Lines:  []billing.NewLine{{SKU: "LIC-1", Description: "Licence", Quantity: 3, UnitPriceMinor: 1999, VATRateBP: 2100}},
			ShipTo: billing.Address{Lines: []string{"Dock " + hold(cs.next())}, City: hold(cs.next()), Country: "NL"},
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		s.orders = append(s.orders, o.ID)
	}
	for len(cs.all) < 100 {
		if _, err := e.tickets.AddComment(ctx, agent, tickets.NewComment{TicketID: s.tickets[1], Body: cs.next()}); err != nil {
			t.Fatal(err)
		}
	}
	s.canaries, s.held = cs.all, held
	// A few of the customer's records reached their processors (as the dispatcher would have
	// recorded); the rest stay queued, so the erasure has both to cancel and to recall.
	_, err = e.pool.Exec(ctx, `UPDATE outbox_deliveries SET status = 'delivered', payload_ct = NULL
		WHERE record_id = ANY ($1::uuid[]) AND kind = 'record' AND status = 'pending'`, []string{c.ID, s.tickets[0], s.tickets[1]})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scan returns everything an attacker holding the database, the master key, the recording
// store, the carrier's account and the logs could read: every row of every table as text (bytea
// as hex and in escape form), each ciphertext opened with every live data key under every
// plausible associated data, the audio files opened likewise, and the services' logs.
func scan(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	var corpus strings.Builder
	keys := liveKeys(t, e)
	open := func(ct []byte, aads ...string) {
		for _, k := range keys {
			for _, a := range aads {
				if pt, err := k.Open(ct, a); err == nil {
					corpus.WriteString(pt)
					corpus.WriteByte('\n')
				}
			}
		}
	}
	rows, err := e.pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 15 {
		t.Fatalf("scan found only %d tables", len(tables))
	}
	for _, table := range tables {
		var byteaCols []string
		crows, err := e.pool.Query(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = $1 AND data_type = 'bytea' ORDER BY column_name`, table)
		if err != nil {
			t.Fatal(err)
		}
		for crows.Next() {
			var c string
			_ = crows.Scan(&c)
			byteaCols = append(byteaCols, c)
		}
		crows.Close()
		sel := `SELECT t::text, coalesce(to_jsonb(t) ->> 'id', to_jsonb(t) ->> 'record_id', '')`
		for _, c := range byteaCols {
			sel += fmt.Sprintf(", t.%q, encode(t.%q, 'escape')", c, c)
		}
		rows, err := e.pool.Query(ctx, sel+fmt.Sprintf(" FROM %q t", table))
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(&corpus, vals[0])
			corpus.WriteByte('\n')
			id := fmt.Sprint(vals[1])
			for i, c := range byteaCols {
				b, _ := vals[2+2*i].([]byte)
				if esc, ok := vals[3+2*i].(string); ok {
					corpus.WriteString(esc)
				}
				if b == nil {
					continue
				}
				open(b, keyring.AAD(table, c, id), keyring.AAD(table, strings.TrimSuffix(c, "_ct"), id),
					keyring.AAD("outbox", "payload", id))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	files, _ := filepath.Glob(filepath.Join(e.audioDir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus.Write(b)
		open(b, keyring.AAD("recordings", "audio", strings.TrimSuffix(filepath.Base(f), ".audio")))
	}
	corpus.WriteString(e.carrier.held())
	corpus.WriteString(e.logs.String())
	return corpus.String()
}

func liveKeys(t *testing.T, e *env) []*keyring.DataKey {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT id::text, master_key_id, wrapped_key FROM data_keys WHERE wrapped_key IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*keyring.DataKey
	for rows.Next() {
		var id, m string
		var w []byte
		if err := rows.Scan(&id, &m, &w); err != nil {
			t.Fatal(err)
		}
		dk, err := e.kr.Unwrap(id, m, w)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dk)
	}
	return out
}

// found lists the canaries that corpus still holds: as plaintext, as a blind search token or
// as the keyed hash of an email.
func found(e *env, corpus string, cs []string) []string {
	var out []string
	for _, c := range cs {
		hit := strings.Contains(corpus, c)
		for _, tok := range e.kr.SearchTokens(c) {
			hit = hit || strings.Contains(corpus, tok)
		}
		if h := e.kr.Index("email", c+"@example.org"); h != nil {
			hit = hit || strings.Contains(corpus, hex.EncodeToString(h))
		}
		if hit {
			out = append(out, c)
		}
	}
	return out
}

// revenue is the sum of gross over the customer's orders.
func revenue(t *testing.T, e *env, customerID string) (n int, gross int64) {
	t.Helper()
	err := e.pool.QueryRow(context.Background(), `SELECT count(*), coalesce(sum(gross_minor), 0)::bigint FROM orders WHERE customer_id = $1`, customerID).Scan(&n, &gross)
	if err != nil {
		t.Fatal(err)
	}
	return n, gross
}
