package billingdb_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingdb"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

var (
	sales  = auth.Identity{Subject: "sam", Roles: []auth.Role{auth.RoleSales}}
	shop   = auth.Identity{Subject: "shop", Roles: []auth.Role{auth.RoleStorefront}}
	shop2  = auth.Identity{Subject: "shop-2", Roles: []auth.Role{auth.RoleStorefront}}
	admin  = auth.Identity{Subject: "root", Roles: []auth.Role{auth.RoleAdmin}}
	finAll = auth.Identity{Subject: "fin", Roles: []auth.Role{auth.RoleFinance}}
)

// base is the first instant the test clock returns; each call to it advances one hour, so
// orders have distinct, ordered create times.
var base = time.Date(2026, time.February, 1, 9, 0, 0, 0, time.UTC)

type bundle struct {
	pool *pgxpool.Pool
	kr   *keyring.Keyring
	svc  *billing.Service
	// next is the hour the clock returns next (base + next hours).
	next *atomic.Int64
}

func setup(t *testing.T) bundle {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	next := new(atomic.Int64)
	clock := func() time.Time { return base.Add(time.Duration(next.Add(1)-1) * time.Hour) }
	retention := billing.DefaultRetention()
	retention.Overrides = map[string]int{"DE": 10}
	svc := billing.NewService(billingdb.New(pool, kr), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), retention, clock)
	return bundle{pool: pool, kr: kr, svc: svc, next: next}
}

// customer is the part of a customers row that orders read.
type customer struct {
	addressCountry, residency string
	consent                   bool
	reseller, createBy        string
}

// addCustomer writes a customer row directly (billing must not import the customers domain,
// and the store reads only these columns).
func (b bundle) addCustomer(t *testing.T, c customer) string {
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
	if c.residency == "" {
		c.residency = c.addressCountry
	}
	_, err = b.pool.Exec(ctx, `INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id,
		address_country, residency_country, marketing_consent, reseller_id, allowed_subprocessors,
		create_by, create_time, update_time)
		VALUES ($1, 'Test School', $2, $3, $4, $5, $6, $7, '{}', $8, now(), now())`,
		id, pk.ID, rk.ID, c.addressCountry, c.residency, c.consent, c.reseller, c.createBy)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func resellerOrder(customerID string) billing.NewOrder {
	return billing.NewOrder{
		CustomerID: customerID,
		Channel:    billing.ChannelReseller,
		ResellerID: "edu-partners-nl",
		Currency:   "EUR",
		Lines: []billing.NewLine{
			{SKU: "LUM-STUDENT-1Y", Description: "Leerlinglicentie, 12 maanden", Quantity: 120, UnitPriceMinor: 1250, VATRateBP: 2100},
			{SKU: "LUM-PD-WORKSHOP", Description: "Studiedag", Quantity: 1, UnitPriceMinor: 49500, VATRateBP: 2100},
		},
		ShipTo: billing.Address{Lines: []string{"Oudegracht 120"}, City: "Utrecht", PostalCode: "3511 AX", Country: "NL"},
	}
}

func storefrontOrder(customerID string) billing.NewOrder {
	return billing.NewOrder{
		CustomerID: customerID,
		Channel:    billing.ChannelStorefront,
		Currency:   "USD",
		Lines:      []billing.NewLine{{SKU: "LUM-TEACHER-1Y", Quantity: 25, UnitPriceMinor: 9900}},
	}
}

func (b bundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateGetRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cust := b.addCustomer(t, customer{addressCountry: "NL", consent: true, reseller: "edu-partners-nl", createBy: "sam"})

	created, err := b.svc.Create(ctx, sales, resellerOrder(cust), "r1")
	if err != nil {
		t.Fatal(err)
	}
	want := billing.Order{
		ID:         created.ID,
		CustomerID: cust,
		Channel:    billing.ChannelReseller,
		ResellerID: "edu-partners-nl",
		Currency:   "EUR",
		Lines: []billing.Line{
			{SKU: "LUM-STUDENT-1Y", Description: "Leerlinglicentie, 12 maanden", Quantity: 120, UnitPriceMinor: 1250, VATRateBP: 2100, NetMinor: 150000, VATMinor: 31500},
			{SKU: "LUM-PD-WORKSHOP", Description: "Studiedag", Quantity: 1, UnitPriceMinor: 49500, VATRateBP: 2100, NetMinor: 49500, VATMinor: 10395},
		},
		ShipTo:               resellerOrder(cust).ShipTo,
		Status:               billing.StatusPaid,
		NetMinor:             199500,
		VATMinor:             41895,
		GrossMinor:           241395,
		Country:              "NL",
		AllowedSubprocessors: []string{"aws_us", "hubspot", "microsoft", "mixpanel", "reseller", "salesforce"},
		Version:              1,
		CreateBy:             "sam",
		CreateTime:           base,
		UpdateTime:           base,
		RetainUntil:          time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	got, err := b.svc.Get(ctx, finAll, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}

	// ship_to is sealed under the customer's retained key, bound to this order's row.
	var ct []byte
	var dek string
	if err := b.pool.QueryRow(ctx, `SELECT ship_to_ct, dek_id::text FROM orders WHERE id = $1`, created.ID).Scan(&ct, &dek); err != nil {
		t.Fatal(err)
	}
	rk, err := keyringdb.ForCustomer(ctx, b.pool, b.kr, cust, keyringdb.Retained)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("Oudegracht")) || dek != rk.ID {
		t.Errorf("ship_to stored in plaintext or under key %s, want the retained key %s", dek, rk.ID)
	}
	if _, err := rk.Open(ct, keyring.AAD("orders", "ship_to", created.ID)); err != nil {
		t.Errorf("ship_to does not open with its AAD: %v", err)
	}
	if n := b.count(t, `SELECT count(*) FROM order_lines WHERE order_id = $1`, created.ID); n != 2 {
		t.Errorf("%d order_lines rows, want 2", n)
	}

	// A purged retained key leaves the order readable without its address.
	if _, err := keyringdb.Destroy(ctx, b.pool, cust, keyringdb.Retained); err != nil {
		t.Fatal(err)
	}
	got, err = b.svc.Get(ctx, finAll, created.ID)
	if err != nil || !got.ShipTo.IsZero() || got.GrossMinor != want.GrossMinor {
		t.Errorf("after purge: ship_to %+v gross %d, %v", got.ShipTo, got.GrossMinor, err)
	}

	if _, err := b.svc.Get(ctx, finAll, uuid.Must(uuid.NewV7()).String()); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("unknown id: %v, want not found", err)
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cust := b.addCustomer(t, customer{addressCountry: "US", createBy: "shop"})

	first, err := b.svc.Create(ctx, shop, storefrontOrder(cust), "checkout-1")
	if err != nil {
		t.Fatal(err)
	}
	retry, err := b.svc.Create(ctx, shop, storefrontOrder(cust), "checkout-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, retry); diff != "" {
		t.Errorf("retry (-first +retry):\n%s", diff)
	}
	other := storefrontOrder(cust)
	other.Lines[0].Quantity = 26
	if _, err := b.svc.Create(ctx, shop, other, "checkout-1"); !errors.Is(err, apperr.ErrAlreadyExists) {
		t.Errorf("same id, different order: %v, want ErrAlreadyExists", err)
	}
	if _, err := b.svc.Create(ctx, admin, storefrontOrder(cust), "checkout-1"); !errors.Is(err, apperr.ErrAlreadyExists) {
		t.Errorf("same id and order, different caller: %v, want ErrAlreadyExists", err)
	}
	if n := b.count(t, `SELECT count(*) FROM orders`); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
	// Without a request id every call creates.
	for range 2 {
		if _, err := b.svc.Create(ctx, shop, storefrontOrder(cust), ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM orders`); n != 3 {
		t.Errorf("%d orders, want 3", n)
	}
}

func TestConcurrentCreatesWithOneRequestIDMakeOneOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cust := b.addCustomer(t, customer{addressCountry: "US", createBy: "shop"})
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o, err := b.svc.Create(context.Background(), shop, storefrontOrder(cust), "same")
			ids[i], errs[i] = o.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("call %d: id %s, err %v; want %s", i, ids[i], errs[i], ids[0])
		}
	}
	if got := b.count(t, `SELECT count(*) FROM orders`); got != 1 {
		t.Errorf("%d orders, want 1", got)
	}
	if got := b.count(t, `SELECT count(*) FROM order_lines`); got != 1 {
		t.Errorf("%d order lines, want 1", got)
	}
}

// TestNothingWrittenOnFailure: a refused create leaves no order, line, idempotency key or data
// key behind, and the same request id can be used once the cause is fixed.
func TestNothingWrittenOnFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	de := b.addCustomer(t, customer{addressCountry: "DE", createBy: "shop"})
	us := b.addCustomer(t, customer{addressCountry: "US", createBy: "shop"})
	keysBefore := b.count(t, `SELECT count(*) FROM data_keys`)

	var pre *apperr.PreconditionError
	if _, err := b.svc.Create(ctx, shop, storefrontOrder(de), "k1"); !errors.As(err, &pre) {
		t.Fatalf("German storefront order: %v, want a precondition", err)
	}
	if _, err := b.svc.Create(ctx, shop, storefrontOrder(uuid.Must(uuid.NewV7()).String()), "k2"); err == nil {
		t.Fatal("order for a customer that does not exist accepted")
	}
	if _, err := b.svc.Create(ctx, shop2, storefrontOrder(us), "k3"); err == nil {
		t.Fatal("order for another storefront's customer accepted")
	}
	if _, err := b.pool.Exec(ctx, `UPDATE customers SET erase_time = now() WHERE id = $1`, us); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Create(ctx, shop, storefrontOrder(us), "k4"); !errors.As(err, &pre) {
		t.Fatalf("erased customer: %v, want a precondition", err)
	}
	for table, want := range map[string]int{"orders": 0, "order_lines": 0, "idempotency_keys": 0, "data_keys": keysBefore} {
		if got := b.count(t, `SELECT count(*) FROM `+table); got != want {
			t.Errorf("%s has %d rows, want %d", table, got, want)
		}
	}
	// The refusal claimed nothing: the same id works for a valid order.
	if _, err := b.svc.Create(ctx, sales, resellerOrder(de), "k1"); err != nil {
		t.Errorf("request id of a refused create is not free: %v", err)
	}
}

func TestAllowedSubprocessorsByChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		who        auth.Identity
		c          customer
		channel    billing.Channel
		wantEntity string
		want       []string
	}{
		{"reseller order of an Irish company", sales, customer{addressCountry: "IE", createBy: "sam"}, billing.ChannelReseller, "",
			[]string{"aws_us", "microsoft", "mixpanel", "reseller", "salesforce"}},
		{"storefront order of a US district", shop, customer{addressCountry: "US", createBy: "shop"}, billing.ChannelStorefront, "stripe_us",
			[]string{"aws_us", "bigcommerce", "microsoft", "mixpanel", "salesforce", "stripe_us"}},
		{"storefront order of a Canadian school with consent", shop, customer{addressCountry: "CA", consent: true, createBy: "shop"}, billing.ChannelStorefront, "stripe_us",
			[]string{"aws_us", "bigcommerce", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce", "stripe_us"}},
		// An IE-addressed customer cannot use the storefront at all (the gate); a US-addressed
		// customer resident in Ireland can, and pays through Stripe Europe.
		{"storefront order of a US-addressed Irish resident", shop, customer{addressCountry: "US", residency: "IE", createBy: "shop"}, billing.ChannelStorefront, "stripe_ie",
			[]string{"aws_us", "bigcommerce", "microsoft", "mixpanel", "salesforce", "stripe_ie"}},
	} {
		cust := b.addCustomer(t, tc.c)
		in := storefrontOrder(cust)
		if tc.channel == billing.ChannelReseller {
			in = resellerOrder(cust)
		}
		created, err := b.svc.Create(ctx, tc.who, in, "")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := b.svc.Get(ctx, admin, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got.AllowedSubprocessors); diff != "" {
			t.Errorf("%s: allowed_subprocessors (-want +got):\n%s", tc.name, diff)
		}
		var entity string
		if err := b.pool.QueryRow(ctx, `SELECT stripe_entity FROM orders WHERE id = $1`, created.ID).Scan(&entity); err != nil {
			t.Fatal(err)
		}
		if entity != tc.wantEntity || got.StripeEntity != tc.wantEntity {
			t.Errorf("%s: stripe_entity %q (stored %q), want %q", tc.name, got.StripeEntity, entity, tc.wantEntity)
		}
	}
	ie := b.addCustomer(t, customer{addressCountry: "IE", createBy: "shop"})
	var pre *apperr.PreconditionError
	if _, err := b.svc.Create(ctx, shop, storefrontOrder(ie), ""); !errors.As(err, &pre) {
		t.Errorf("storefront order of an IE-addressed customer: %v, want the storefront gate", err)
	}
}

func TestListPagingFiltersAndTimeRange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	nl := b.addCustomer(t, customer{addressCountry: "NL", createBy: "sam"})
	us := b.addCustomer(t, customer{addressCountry: "US", createBy: "shop"})
	// Seven orders an hour apart: reseller NL (edu-partners-nl, edu-partners-be alternating)
	// and storefront US.
	var all []billing.Order
	for i := range 7 {
		var in billing.NewOrder
		who := sales
		switch i % 3 {
		case 0:
			in = resellerOrder(nl)
		case 1:
			in = resellerOrder(nl)
			in.ResellerID = "edu-partners-be"
		case 2:
			in, who = storefrontOrder(us), shop
		}
		o, err := b.svc.Create(ctx, who, in, "")
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, o)
	}
	newestFirst := func(keep func(billing.Order) bool) []string {
		var ids []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				ids = append(ids, all[i].ID)
			}
		}
		return ids
	}
	collect := func(who auth.Identity, r billing.ListRequest) []string {
		t.Helper()
		var ids []string
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			page, err := b.svc.List(ctx, who, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Orders) > int(r.PageSize) && r.PageSize > 0 {
				t.Fatalf("page of %d orders, size %d", len(page.Orders), r.PageSize)
			}
			for _, o := range page.Orders {
				ids = append(ids, o.ID)
				if len(o.Lines) == 0 {
					t.Errorf("listed order %s has no lines", o.ID)
				}
			}
			if page.NextPageToken == "" {
				return ids
			}
			r.PageToken = page.NextPageToken
		}
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }
	for _, tc := range []struct {
		name string
		who  auth.Identity
		r    billing.ListRequest
		keep func(billing.Order) bool
	}{
		{"everything, pages of 2", finAll, billing.ListRequest{PageSize: 2}, func(billing.Order) bool { return true }},
		{"one page", finAll, billing.ListRequest{}, func(billing.Order) bool { return true }},
		{"by customer", finAll, billing.ListRequest{CustomerID: nl, PageSize: 3}, func(o billing.Order) bool { return o.CustomerID == nl }},
		{"by reseller", finAll, billing.ListRequest{ResellerID: "edu-partners-be", PageSize: 1}, func(o billing.Order) bool { return o.ResellerID == "edu-partners-be" }},
		{"by channel", finAll, billing.ListRequest{Channel: billing.ChannelStorefront, PageSize: 1}, func(o billing.Order) bool { return o.Channel == billing.ChannelStorefront }},
		{"time range is [start, end)", finAll, billing.ListRequest{Start: at(2), End: at(5), PageSize: 2}, func(o billing.Order) bool {
			return !o.CreateTime.Before(at(2)) && o.CreateTime.Before(at(5))
		}},
		{"open-ended start", finAll, billing.ListRequest{Start: at(5)}, func(o billing.Order) bool { return !o.CreateTime.Before(at(5)) }},
		{"open-ended end", finAll, billing.ListRequest{End: at(1)}, func(o billing.Order) bool { return o.CreateTime.Before(at(1)) }},
		{"filters combine", finAll, billing.ListRequest{CustomerID: nl, ResellerID: "edu-partners-nl", Start: at(1), PageSize: 1}, func(o billing.Order) bool {
			return o.ResellerID == "edu-partners-nl" && !o.CreateTime.Before(at(1))
		}},
		{"sales sees reseller orders", sales, billing.ListRequest{PageSize: 2}, func(o billing.Order) bool { return o.Channel == billing.ChannelReseller }},
		{"sales asking for storefront orders sees none", sales, billing.ListRequest{Channel: billing.ChannelStorefront}, func(billing.Order) bool { return false }},
	} {
		got := collect(tc.who, tc.r)
		if diff := cmp.Diff(newestFirst(tc.keep), got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := b.svc.List(ctx, finAll, billing.ListRequest{Start: at(5), End: at(2)}); err == nil {
		t.Error("inverted range accepted")
	}
}

func TestStorefrontIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	mine := b.addCustomer(t, customer{addressCountry: "US", createBy: "shop"})
	theirs := b.addCustomer(t, customer{addressCountry: "CA", createBy: "shop-2"})
	o1, err := b.svc.Create(ctx, shop, storefrontOrder(mine), "")
	if err != nil {
		t.Fatal(err)
	}
	o2, err := b.svc.Create(ctx, shop2, storefrontOrder(theirs), "")
	if err != nil {
		t.Fatal(err)
	}
	// An admin-made storefront order for shop's customer is still not shop's.
	o3, err := b.svc.Create(ctx, admin, storefrontOrder(mine), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Get(ctx, shop, o2.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("shop reads shop-2's order: %v, want not found", err)
	}
	if _, err := b.svc.Get(ctx, shop, o3.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("shop reads admin's order: %v, want not found", err)
	}
	if _, err := b.svc.Get(ctx, shop, o1.ID); err != nil {
		t.Errorf("shop reads its own order: %v", err)
	}
	for who, want := range map[*auth.Identity][]string{&shop: {o1.ID}, &shop2: {o2.ID}} {
		page, err := b.svc.List(ctx, *who, billing.ListRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range page.Orders {
			got = append(got, o.ID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s lists (-want +got):\n%s", who.Subject, diff)
		}
		// Filtering by another storefront's customer finds nothing rather than an error.
		page, err = b.svc.List(ctx, *who, billing.ListRequest{CustomerID: theirs})
		if err != nil {
			t.Fatal(err)
		}
		if who.Subject == "shop" && len(page.Orders) != 0 {
			t.Errorf("shop sees %d orders of shop-2's customer", len(page.Orders))
		}
	}
}

// TestRetentionIsEnforcedByTheDatabase: before retain_until no statement removes an order or
// its lines, or moves the date earlier; after it, they may go.
func TestRetentionIsEnforcedByTheDatabase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cust := b.addCustomer(t, customer{addressCountry: "DE", createBy: "sam"})
	kept, err := b.svc.Create(ctx, sales, resellerOrder(cust), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC); !kept.RetainUntil.Equal(want) {
		t.Errorf("DE order retain_until %v, want %v (override)", kept.RetainUntil, want)
	}
	for _, stmt := range []string{
		`DELETE FROM order_lines WHERE order_id = $1`,
		`DELETE FROM orders WHERE id = $1`,
		`UPDATE orders SET retain_until = now() - interval '1 day' WHERE id = $1`,
		`UPDATE order_lines SET net_minor = net_minor WHERE order_id = $1`,
	} {
		if _, err := b.pool.Exec(ctx, stmt, kept.ID); err == nil {
			t.Errorf("%s succeeded before retain_until", stmt)
		}
	}
	for _, stmt := range []string{`TRUNCATE order_lines`, `TRUNCATE orders CASCADE`} {
		if _, err := b.pool.Exec(ctx, stmt); err == nil {
			t.Errorf("%s succeeded with a retained order", stmt)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM order_lines WHERE order_id = $1`, kept.ID); n != 2 {
		t.Errorf("%d lines left, want 2", n)
	}
	// Lengthening retention is allowed (e.g. a legal hold).
	if _, err := b.pool.Exec(ctx, `UPDATE orders SET retain_until = retain_until + interval '1 year' WHERE id = $1`, kept.ID); err != nil {
		t.Errorf("extending retain_until: %v", err)
	}

	// An order from 2000 was due for deletion on 2008-01-01.
	oldSvc := billing.NewService(billingdb.New(b.pool, b.kr), dataflow.NewPolicy(dataflow.DefaultNorthAmerica), billing.DefaultRetention(),
		func() time.Time { return time.Date(2000, 6, 1, 0, 0, 0, 0, time.UTC) })
	old, err := oldSvc.Create(ctx, sales, resellerOrder(b.addCustomer(t, customer{addressCountry: "NL", createBy: "sam"})), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM order_lines WHERE order_id = $1`, old.ID); err != nil {
		t.Errorf("deleting expired lines: %v", err)
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM orders WHERE id = $1`, old.ID); err != nil {
		t.Errorf("deleting an expired order: %v", err)
	}
}

// TestRecomputeFlowsFollowsCustomerFacts: a facts change (consent given, residency moved) made
// in a transaction recomputes the customer's orders' lists in that same transaction; the Stripe
// entity decided at creation stays.
func TestRecomputeFlowsFollowsCustomerFacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	store := billingdb.New(b.pool, b.kr)
	cust := b.addCustomer(t, customer{addressCountry: "US", createBy: "shop"})
	other := b.addCustomer(t, customer{addressCountry: "US", createBy: "shop"})
	sf, err := b.svc.Create(ctx, shop, storefrontOrder(cust), "")
	if err != nil {
		t.Fatal(err)
	}
	untouched, err := b.svc.Create(ctx, shop, storefrontOrder(other), "")
	if err != nil {
		t.Fatal(err)
	}
	at := base.Add(1000 * time.Hour)
	recompute := func(sql string) int {
		t.Helper()
		tx, err := b.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, sql, cust); err != nil {
			t.Fatal(err)
		}
		n, err := store.RecomputeFlows(ctx, tx, cust, at, b.svc.Flows)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := recompute(`UPDATE customers SET marketing_consent = true WHERE id = $1`); n != 1 {
		t.Errorf("consent given: %d orders changed, want 1", n)
	}
	got, err := b.svc.Get(ctx, admin, sf.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aws_us", "bigcommerce", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce", "stripe_us"}
	if diff := cmp.Diff(want, got.AllowedSubprocessors); diff != "" {
		t.Errorf("after consent (-want +got):\n%s", diff)
	}
	if got.Version != 2 || !got.UpdateTime.Equal(at) {
		t.Errorf("version %d update_time %v, want 2 and %v", got.Version, got.UpdateTime, at)
	}
	// Moving residency to Ireland drops Gainsight (not North American) but keeps stripe_us:
	// the order's payment entity was fixed at creation.
	if n := recompute(`UPDATE customers SET residency_country = 'IE' WHERE id = $1`); n != 1 {
		t.Errorf("residency moved: %d orders changed, want 1", n)
	}
	got, _ = b.svc.Get(ctx, admin, sf.ID)
	want = []string{"aws_us", "bigcommerce", "hubspot", "microsoft", "mixpanel", "salesforce", "stripe_us"}
	if diff := cmp.Diff(want, got.AllowedSubprocessors); diff != "" || got.StripeEntity != "stripe_us" {
		t.Errorf("after residency move, entity %q (-want +got):\n%s", got.StripeEntity, diff)
	}
	// Nothing changed: nothing written.
	if n := recompute(`UPDATE customers SET org_name = 'Renamed' WHERE id = $1`); n != 0 {
		t.Errorf("no facts changed: %d orders rewritten", n)
	}
	if o, _ := b.svc.Get(ctx, admin, untouched.ID); o.Version != 1 {
		t.Errorf("another customer's order changed to version %d", o.Version)
	}
}
