package privacydb_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/privacy"
	"github.com/lumio/contactcentre/internal/tickets"
)

// clock is an injectable, movable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestErasureLeavesNoCanary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	a, b := seed(t, e, "a"), seed(t, e, "b")
	if len(a.canaries) < 100 || len(b.canaries) < 100 {
		t.Fatalf("planted %d and %d canaries, want at least 100 each", len(a.canaries), len(b.canaries))
	}
	before := scan(t, e)
	// The scan must be able to see what it looks for, or its silence proves nothing.
	if missing := len(a.canaries) - len(found(e, before, a.canaries)); missing != 0 {
		t.Fatalf("before erasure the scan misses %d of customer a's canaries", missing)
	}
	nOrders, grossBefore := revenue(t, e, a.customer)
	bTicket, err := e.tickets.GetTicket(ctx, b.tickets[0])
	if err != nil {
		t.Fatal(err)
	}

	clk := &clock{t: time.Now().UTC()}
	svc := e.service(clk.now, privacy.Config{})
	got, err := svc.RequestErasure(ctx, "po-1", privacy.NewErasure{CustomerID: a.customer, Reason: "customer asked by phone"}, "erase-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != privacy.StatusHolding || got.RetainUntil == nil {
		t.Fatalf("status = %s, retain_until %v; want HOLDING with a date (orders are retained)", got.Status, got.RetainUntil)
	}
	// supportsvc's sweeper deletes the audio at the carrier and in the object store.
	if err := e.rec.Sweep(ctx); err != nil {
		t.Fatal(err)
	}

	// What may go is gone; only what the law keeps (the addresses under the retained key)
	// can still be opened, until retain_until.
	after := scan(t, e)
	if diff := cmp.Diff(sorted(a.held), sorted(found(e, after, a.canaries))); diff != "" {
		t.Errorf("after erasure customer a's canaries other than the held ones (-want +got):\n%s", diff)
	}
	if missing := len(b.canaries) - len(found(e, after, b.canaries)); missing != 0 {
		t.Errorf("customer b lost %d canaries", missing)
	}
	if n, gross := revenue(t, e, a.customer); n != nOrders || gross != grossBefore {
		t.Errorf("held orders report %d orders, %d gross; want %d, %d", n, gross, nOrders, grossBefore)
	}
	bAfter, err := e.tickets.GetTicket(ctx, b.tickets[0])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(bTicket, bAfter); diff != "" {
		t.Errorf("other customer's ticket changed (-want +got):\n%s", diff)
	}

	// The receipt: every ticket, comment and recording erased; orders and the customer held
	// with dates and bases; processors that got copies told.
	kinds := map[string]int{}
	for _, it := range got.Erased {
		kinds[it.Kind]++
	}
	wantKinds := map[string]int{privacy.KindTicket: 12, privacy.KindComment: len(commentIDs(t, e, a.customer)),
		privacy.KindRecording: 2, privacy.KindCustomer: 1, privacy.KindDataKey: 1}
	for k, n := range wantKinds {
		if kinds[k] != n {
			t.Errorf("erased %d of kind %s, want %d", kinds[k], k, n)
		}
	}
	held := map[string]int{}
	for _, h := range got.Held {
		held[h.Kind]++
		if h.Basis == "" || !h.RetainUntil.After(clk.now()) || h.RetainUntil.After(*got.RetainUntil) {
			t.Errorf("held %s %s: basis %q until %v (erasure until %v)", h.Kind, h.RecordID, h.Basis, h.RetainUntil, got.RetainUntil)
		}
		if h.Kind == privacy.KindOrder && !strings.Contains(h.Basis, "Algemene wet inzake rijksbelastingen art. 52") {
			t.Errorf("order basis for NL = %q", h.Basis)
		}
	}
	if diff := cmp.Diff(map[string]int{privacy.KindOrder: 5, privacy.KindCustomer: 1}, held); diff != "" {
		t.Errorf("held kinds (-want +got):\n%s", diff)
	}
	if len(got.Notified) == 0 {
		t.Error("no processor was told, though the customer and two tickets had been delivered")
	}
	for _, n := range got.Notified {
		if n.Status != "pending" {
			t.Errorf("notice to %s: %s, want pending (no dispatcher ran)", n.Subprocessor, n.Status)
		}
	}

	// Erased tickets keep their skeleton and refuse personal data.
	tk, err := e.tickets.GetTicket(ctx, a.tickets[0])
	if err != nil {
		t.Fatal(err)
	}
	if !tk.PersonalDataErased || tk.Subject != "" || tk.Channel != tickets.ChannelPhone || tk.Assignee != agent || !slices.Equal(tk.Tags, []string{"billing"}) {
		t.Errorf("erased ticket = %+v", tk)
	}
	if _, err := e.tickets.AddComment(ctx, agent, tickets.NewComment{TicketID: a.tickets[0], Body: "x"}); err == nil {
		t.Error("a comment on an erased ticket was accepted")
	}
	if _, err := e.orders.Create(ctx, sales, billing.NewOrder{CustomerID: a.customer, Channel: billing.ChannelReseller, ResellerID: "acme", Currency: "EUR",
		Lines: []billing.NewLine{{SKU: "X", Quantity: 1, UnitPriceMinor: 1}}}, ""); err == nil {
		t.Error("an order for an erased customer was accepted")
	}

	// Erasing twice is harmless: the same receipt, by request id or by customer.
	again, err := svc.RequestErasure(ctx, "po-1", privacy.NewErasure{CustomerID: a.customer, Reason: "customer asked by phone"}, "erase-a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("second erasure (-want +got):\n%s", diff)
	}
	other, err := svc.RequestErasure(ctx, "po-2", privacy.NewErasure{CustomerID: a.customer}, "")
	if err != nil || other.ID != got.ID {
		t.Errorf("erasure with another officer = %s, %v; want the first (%s)", other.ID, err, got.ID)
	}
	if _, err := svc.RequestErasure(ctx, "po-1", privacy.NewErasure{CustomerID: b.customer}, "erase-a"); !errors.Is(err, apperr.ErrAlreadyExists) {
		t.Errorf("request id reused for another customer: %v, want ErrAlreadyExists", err)
	}

	// The purge at retain_until reduces the held data to the legal minimum.
	if n, err := svc.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("purge before retain_until = %d, %v; want nothing", n, err)
	}
	clk.set(got.RetainUntil.Add(time.Second))
	if n, err := svc.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("purge at retain_until = %d, %v; want 1", n, err)
	}
	done, err := svc.GetErasure(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != privacy.StatusComplete || done.CompleteTime == nil || !done.CompleteTime.Equal(clk.now().Truncate(time.Microsecond)) {
		t.Errorf("after purge: %s at %v", done.Status, done.CompleteTime)
	}
	var addr, ships, liveRetained int
	var org string
	err = e.pool.QueryRow(ctx, `SELECT (address_ct IS NOT NULL)::int, org_name,
		(SELECT count(*) FROM orders WHERE customer_id = $1 AND ship_to_ct IS NOT NULL),
		(SELECT count(*) FROM data_keys WHERE customer_id = $1 AND wrapped_key IS NOT NULL)
		FROM customers WHERE id = $1`, a.customer).Scan(&addr, &org, &ships, &liveRetained)
	if err != nil {
		t.Fatal(err)
	}
	if addr != 0 || org != "" || ships != 0 || liveRetained != 0 {
		t.Errorf("after purge: address %d, org %q, ship_to %d, live keys %d; want none", addr, org, ships, liveRetained)
	}
	if n, gross := revenue(t, e, a.customer); n != nOrders || gross != grossBefore {
		t.Errorf("after purge: %d orders, %d gross; want %d, %d", n, gross, nOrders, grossBefore)
	}
	if left := found(e, scan(t, e), a.canaries); len(left) > 0 {
		t.Errorf("after purge %d canaries remain", len(left))
	}
	if missing := len(b.canaries) - len(found(e, scan(t, e), b.canaries)); missing != 0 {
		t.Errorf("after purge customer b lost %d canaries", missing)
	}
}

func commentIDs(t *testing.T, e *env, customerID string) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT c.id::text FROM ticket_comments c JOIN tickets t ON t.id = c.ticket_id WHERE t.customer_id = $1`, customerID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		out = append(out, id)
	}
	return out
}

func TestErasureWithNothingHeldCompletesAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	c, err := e.customers.Create(ctx, sales, customersNewNL("Solo"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tickets.CreateTicket(ctx, agent, tickets.NewTicket{CustomerID: c.ID, Channel: tickets.ChannelEmail,
		Subject: "s", Contact: tickets.Contact{Email: "info@example.org"}}, ""); err != nil {
		t.Fatal(err)
	}
	svc := e.service(time.Now, privacy.Config{})
	got, err := svc.RequestErasure(ctx, "po-1", privacy.NewErasure{CustomerID: c.ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != privacy.StatusComplete || got.CompleteTime == nil || len(got.Held) != 0 || got.RetainUntil != nil {
		t.Fatalf("erasure = %+v; want COMPLETE with nothing held", got)
	}
	var live int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM data_keys WHERE customer_id = $1 AND wrapped_key IS NOT NULL`, c.ID).Scan(&live); err != nil || live != 0 {
		t.Errorf("live keys = %d, %v; want both destroyed", live, err)
	}
}

func TestRequestErasureErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(time.Now, privacy.Config{})
	ctx := context.Background()
	if _, err := svc.RequestErasure(ctx, "po-1", privacy.NewErasure{CustomerID: "00000000-0000-7000-8000-000000000001"}, ""); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("unknown customer: %v, want ErrNotFound", err)
	}
	if _, err := svc.GetErasure(ctx, "00000000-0000-7000-8000-000000000001"); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("unknown erasure: %v, want ErrNotFound", err)
	}
	if err := svc.ExportCustomerData(ctx, "00000000-0000-7000-8000-000000000001", func(privacy.Document) error { return nil }); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("export of unknown customer: %v, want ErrNotFound", err)
	}
}

func TestExportDecryptsUntilErased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	a := seed(t, e, "x")
	svc := e.service(time.Now, privacy.Config{})
	collect := func() (map[string]int, string) {
		t.Helper()
		kinds := map[string]int{}
		var all strings.Builder
		err := svc.ExportCustomerData(ctx, a.customer, func(d privacy.Document) error {
			if !json.Valid(d.JSON) || d.RecordID == "" {
				t.Errorf("document %s %q is not a JSON record: %s", d.Kind, d.RecordID, d.JSON)
			}
			kinds[d.Kind]++
			all.Write(d.JSON)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return kinds, all.String()
	}
	kinds, text := collect()
	for _, k := range []string{privacy.KindCustomer, privacy.KindTicket, privacy.KindComment, "ticket_event", privacy.KindRecording,
		privacy.KindOrder, "flow_record", privacy.KindOutboxDelivery} {
		if kinds[k] == 0 {
			t.Errorf("export has no %s", k)
		}
	}
	if left := len(a.canaries) - len(found(e, text, a.canaries)); left > 6 {
		// Only the audio's canaries (6) are not in the export: it carries recording metadata.
		t.Errorf("export misses %d canaries", left)
	}
	if _, err := svc.RequestErasure(ctx, "po-1", privacy.NewErasure{CustomerID: a.customer}, ""); err != nil {
		t.Fatal(err)
	}
	kinds2, text2 := collect()
	if kinds2[privacy.KindTicket] != kinds[privacy.KindTicket] || kinds2[privacy.KindOrder] != kinds[privacy.KindOrder] || kinds2["erasure"] != 1 {
		t.Errorf("after erasure the export lists %v, before %v", kinds2, kinds)
	}
	// Held addresses still open under the retained key; everything under the personal key is
	// exported empty.
	if diff := cmp.Diff(sorted(a.held), sorted(found(e, text2, a.canaries))); diff != "" {
		t.Errorf("canaries exported after erasure (-want +got):\n%s", diff)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestPurgeWaitsForAnExtendedRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	c, err := e.customers.Create(ctx, sales, customersNewNL("Ext"), "")
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.orders.Create(ctx, sales, billing.NewOrder{CustomerID: c.ID, Channel: billing.ChannelReseller, ResellerID: "acme", Currency: "EUR",
		Lines: []billing.NewLine{{SKU: "LIC", Quantity: 1, UnitPriceMinor: 100, VATRateBP: 2100}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC()}
	svc := e.service(clk.now, privacy.Config{})
	got, err := svc.RequestErasure(ctx, "po-1", privacy.NewErasure{CustomerID: c.ID}, "")
	if err != nil || got.Status != privacy.StatusHolding || !got.RetainUntil.Equal(o.RetainUntil) {
		t.Fatalf("erasure = %+v, %v; want HOLDING until the order's %v", got, err, o.RetainUntil)
	}
	// A tax audit extends the order's retention by a year (the triggers allow later dates).
	extended := o.RetainUntil.AddDate(1, 0, 0)
	if _, err := e.pool.Exec(ctx, `UPDATE orders SET retain_until = $2 WHERE id = $1`, o.ID, extended); err != nil {
		t.Fatal(err)
	}
	clk.set(o.RetainUntil.Add(time.Hour))
	if n, err := svc.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("purge at the old date = %d, %v; want nothing completed", n, err)
	}
	held, err := svc.GetErasure(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if held.Status != privacy.StatusHolding || !held.RetainUntil.Equal(extended) {
		t.Errorf("after the old date: %s until %v; want HOLDING until %v", held.Status, held.RetainUntil, extended)
	}
	for _, h := range held.Held {
		if !h.RetainUntil.Equal(extended) {
			t.Errorf("held %s until %v, want %v", h.Kind, h.RetainUntil, extended)
		}
	}
	clk.set(extended.Add(time.Hour))
	if n, err := svc.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("purge at the new date = %d, %v; want 1", n, err)
	}
}
