package customersdb_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

var (
	sales      = auth.Identity{Subject: "sam", Roles: []auth.Role{auth.RoleSales}}
	storefront = auth.Identity{Subject: "storefront-us", Roles: []auth.Role{auth.RoleStorefront}}
)

type bundle struct {
	store *customersdb.Store
	pool  *pgxpool.Pool
	kr    *keyring.Keyring
}

func setup(t *testing.T) (*customers.Service, bundle) {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	store := customersdb.New(pool, kr)
	svc := customers.NewService(store, dataflow.NewPolicy(dataflow.DefaultNorthAmerica), time.Now)
	return svc, bundle{store: store, pool: pool, kr: kr}
}

func school() customers.NewCustomer {
	return customers.NewCustomer{
		OrgName: "Springfield School District",
		Contact: customers.Contact{
			Name: "Edna Krabappel", Title: "Procurement Officer",
			Email: "purchasing@springfield-sd.example", Phone: "+1 555 010 2000", MayContact: true,
		},
		Address: customers.Address{
			Lines: []string{"19 Evergreen Terrace", "Building B"}, City: "North Haverbrook",
			PostalCode: "97403", Region: "Oregon", Country: "US",
		},
	}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRoundTripEncryptsAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	created, err := svc.Create(ctx, storefront, school(), "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.store.Get(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	want := school()
	if diff := cmp.Diff(want.Contact, got.Contact); diff != "" {
		t.Errorf("contact (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.Address, got.Address); diff != "" {
		t.Errorf("address (-want +got):\n%s", diff)
	}

	// The whole raw row, as text, holds none of the contact or address plaintext.
	var row string
	var hmac []byte
	var country string
	err = b.pool.QueryRow(ctx, `SELECT c::text, contact_email_hmac, address_country FROM customers c WHERE id = $1`,
		created.ID).Scan(&row, &hmac, &country)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{
		"Edna", "Krabappel", "Procurement", "purchasing@", "springfield-sd", "+1 555 010 2000",
		"Evergreen", "Building B", "Haverbrook", "97403", "Oregon",
	} {
		for _, form := range []string{secret, fmt.Sprintf("%x", secret)} {
			if strings.Contains(row, form) {
				t.Errorf("raw row holds plaintext %q", secret)
			}
		}
	}
	if string(hmac) != string(b.kr.Index("email", want.Contact.Email)) {
		t.Error("contact_email_hmac is not the keyring index of the email")
	}
	if country != "US" {
		t.Errorf("address_country = %q, want plaintext US", country)
	}
	// One personal and one retained key, each protecting its own columns.
	if n := count(t, b.pool, `SELECT count(*) FROM data_keys d JOIN customers c
		ON (d.id = c.personal_dek_id AND d.purpose = 'personal') OR (d.id = c.retained_dek_id AND d.purpose = 'retained')
		WHERE c.id = $1`, created.ID); n != 2 {
		t.Errorf("customer's data keys = %d, want personal + retained", n)
	}
}

func TestTitleOnlyContactStoresNulls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	in := customers.NewCustomer{OrgName: "Lakeside Unified", Contact: customers.Contact{Title: "Business Manager"}, Address: customers.Address{Country: "CA"}}
	created, err := svc.Create(ctx, sales, in, "")
	if err != nil {
		t.Fatal(err)
	}
	var nulls int
	err = b.pool.QueryRow(ctx, `SELECT num_nulls(contact_name_ct, contact_email_ct, contact_email_hmac, contact_phone_ct, address_ct)
		FROM customers WHERE id = $1`, created.ID).Scan(&nulls)
	if err != nil || nulls != 5 {
		t.Errorf("null personal columns = %d (%v), want 5: empty values store nothing", nulls, err)
	}
	got, err := svc.Get(ctx, sales, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(customers.Contact{Title: "Business Manager"}, got.Contact); diff != "" {
		t.Errorf("contact (-want +got):\n%s", diff)
	}
	if got.ResidencyCountry != "CA" {
		t.Errorf("residency = %q, want CA from the address", got.ResidencyCountry)
	}
}

func TestDestroyedKeysYieldEmptyFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	created, err := svc.Create(ctx, sales, school(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyringdb.Destroy(ctx, b.pool, created.ID, keyringdb.Personal); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(ctx, sales, created.ID)
	if err != nil {
		t.Fatalf("Get after erasure: %v", err)
	}
	if diff := cmp.Diff(customers.Contact{MayContact: true}, got.Contact); diff != "" {
		t.Errorf("erased contact (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(school().Address, got.Address); diff != "" {
		t.Errorf("retained address must survive erasure (-want +got):\n%s", diff)
	}

	// The erased contact cannot be refilled; the organisation itself can still change.
	_, err = svc.Update(ctx, sales, customers.Update{ID: created.ID, Mask: []string{"contact.email"},
		Values: customers.NewCustomer{Contact: customers.Contact{Email: "new@x.example"}}})
	var pre *apperr.PreconditionError
	if !errors.As(err, &pre) {
		t.Errorf("set contact of erased customer: err = %v, want a precondition error", err)
	}
	if _, err := svc.Update(ctx, sales, customers.Update{ID: created.ID, Mask: []string{"org_name"},
		Values: customers.NewCustomer{OrgName: "Springfield SD"}}); err != nil {
		t.Errorf("rename erased customer: %v", err)
	}

	if _, err := keyringdb.Destroy(ctx, b.pool, created.ID, keyringdb.Retained); err != nil {
		t.Fatal(err)
	}
	got, err = svc.Get(ctx, sales, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(customers.Address{Country: "US"}, got.Address); diff != "" {
		t.Errorf("purged address keeps only the plaintext country (-want +got):\n%s", diff)
	}
}

func TestCreateIdempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("retry returns the first customer", func(t *testing.T) {
		t.Parallel()
		svc, b := setup(t)
		first, err := svc.Create(ctx, sales, school(), "req-1")
		if err != nil {
			t.Fatal(err)
		}
		again, err := svc.Create(ctx, sales, school(), "req-1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("retry (-first +retry):\n%s", diff)
		}
		different := school()
		different.OrgName = "Shelbyville Elementary"
		if _, err := svc.Create(ctx, sales, different, "req-1"); !errors.Is(err, apperr.ErrAlreadyExists) {
			t.Errorf("same id, different request: err = %v, want ErrAlreadyExists", err)
		}
		// Another caller's identical request must not receive the first caller's customer.
		other := auth.Identity{Subject: "sue", Roles: []auth.Role{auth.RoleSales}}
		if _, err := svc.Create(ctx, other, school(), "req-1"); !errors.Is(err, apperr.ErrAlreadyExists) {
			t.Errorf("same id, other caller: err = %v, want ErrAlreadyExists", err)
		}
		if n := count(t, b.pool, `SELECT count(*) FROM customers`); n != 1 {
			t.Errorf("customers = %d, want 1", n)
		}
		if n := count(t, b.pool, `SELECT count(*) FROM data_keys`); n != 2 {
			t.Errorf("data keys = %d, want 2 (the refused requests made none)", n)
		}
	})

	t.Run("concurrent retries create one row", func(t *testing.T) {
		t.Parallel()
		svc, b := setup(t)
		const n = 8
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c, err := svc.Create(ctx, sales, school(), "race")
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = c.ID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("concurrent creates returned different ids: %v", ids)
			}
		}
		if got := count(t, b.pool, `SELECT count(*) FROM customers`); got != 1 {
			t.Errorf("customers = %d, want 1", got)
		}
	})

	t.Run("no request id, no idempotency", func(t *testing.T) {
		t.Parallel()
		svc, b := setup(t)
		for range 2 {
			if _, err := svc.Create(ctx, sales, school(), ""); err != nil {
				t.Fatal(err)
			}
		}
		if got := count(t, b.pool, `SELECT count(*) FROM customers`); got != 2 {
			t.Errorf("customers = %d, want 2", got)
		}
	})
}

func TestInvalidCreateWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	in := school()
	in.Contact.Phone = "ask for Edna"
	if _, err := svc.Create(ctx, sales, in, "req-bad"); err == nil {
		t.Fatal("invalid phone accepted")
	}
	for _, table := range []string{"customers", "data_keys", "idempotency_keys"} {
		if n := count(t, b.pool, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("%s rows = %d, want 0", table, n)
		}
	}
}

func TestListPagingUnderConcurrentInserts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := setup(t)
	before := map[string]bool{}
	for i := range 23 {
		in := school()
		in.OrgName = fmt.Sprintf("School %02d", i)
		c, err := svc.Create(ctx, sales, in, "")
		if err != nil {
			t.Fatal(err)
		}
		before[c.ID] = true
	}

	stop := make(chan struct{})
	var inserted atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			in := school()
			in.OrgName = fmt.Sprintf("Late school %d", i)
			if _, err := svc.Create(ctx, sales, in, ""); err != nil {
				t.Error(err)
				return
			}
			inserted.Add(1)
		}
	})

	seen := map[string]int{}
	var last time.Time
	token := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging did not end")
		}
		p, err := svc.List(ctx, sales, "", 5, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Customers {
			seen[c.ID]++
			if !last.IsZero() && c.CreateTime.After(last) {
				t.Errorf("not newest first: %v after %v", c.CreateTime, last)
			}
			last = c.CreateTime
		}
		if p.NextPageToken == "" {
			break
		}
		token = p.NextPageToken
		time.Sleep(2 * time.Millisecond) // let the writer interleave
	}
	close(stop)
	wg.Wait()

	for id, n := range seen {
		if n != 1 {
			t.Errorf("customer %s listed %d times", id, n)
		}
	}
	for id := range before {
		if seen[id] != 1 {
			t.Errorf("customer %s that existed before paging was missed", id)
		}
	}
	if inserted.Load() == 0 {
		t.Log("the writer inserted nothing while paging; the concurrency was not exercised")
	}
}

func TestListSearchAndOwnership(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := setup(t)
	names := map[string]auth.Identity{
		"Springfield School District": sales,
		"Shelbyville Academy Trust":   storefront,
		"100% Organic_Farms Ltd":      sales,
		"1000 Organic Farms":          storefront,
		"Capital City SCHOOL":         storefront,
	}
	for name, who := range names {
		in := school()
		in.OrgName = name
		if _, err := svc.Create(ctx, who, in, ""); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		who   auth.Identity
		query string
		want  []string
	}{
		{sales, "school", []string{"Capital City SCHOOL", "Springfield School District"}},
		{sales, "FIELD", []string{"Springfield School District"}},
		{sales, "0%", []string{"100% Organic_Farms Ltd"}},  // % is literal
		{sales, "c_f", []string{"100% Organic_Farms Ltd"}}, // _ is literal
		{sales, "zzz", nil},                                     // no match
		{sales, "", mapKeys(names)},                             // everything
		{storefront, "school", []string{"Capital City SCHOOL"}}, // only its own
		{storefront, "", []string{"1000 Organic Farms", "Capital City SCHOOL", "Shelbyville Academy Trust"}},
	}
	for _, tt := range tests {
		p, err := svc.List(ctx, tt.who, tt.query, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range p.Customers {
			got = append(got, c.OrgName)
		}
		if diff := cmp.Diff(sorted(tt.want), sorted(got)); diff != "" {
			t.Errorf("%s List(%q) (-want +got):\n%s", tt.who.Subject, tt.query, diff)
		}
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("etag", func(t *testing.T) {
		t.Parallel()
		svc, _ := setup(t)
		c, err := svc.Create(ctx, sales, school(), "")
		if err != nil {
			t.Fatal(err)
		}
		upd := customers.Update{ID: c.ID, ETag: c.ETag(), Mask: []string{"org_name"}, Values: customers.NewCustomer{OrgName: "Springfield SD"}}
		got, err := svc.Update(ctx, sales, upd)
		if err != nil {
			t.Fatal(err)
		}
		if got.ETag() != "2" || got.OrgName != "Springfield SD" {
			t.Errorf("etag %q, name %q; want 2, Springfield SD", got.ETag(), got.OrgName)
		}
		upd.Values.OrgName = "Lost update"
		if _, err := svc.Update(ctx, sales, upd); !errors.Is(err, apperr.ErrStaleEtag) {
			t.Errorf("stale etag: err = %v, want ErrStaleEtag", err)
		}
		now, err := svc.Get(ctx, sales, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, now); diff != "" {
			t.Errorf("a refused update changed the row (-want +got):\n%s", diff)
		}
	})

	t.Run("recomputes allowed_subprocessors in the same write", func(t *testing.T) {
		t.Parallel()
		svc, b := setup(t)
		c, err := svc.Create(ctx, sales, school(), "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"aws_us", "microsoft", "mixpanel", "salesforce"}, c.AllowedSubprocessors); diff != "" {
			t.Errorf("initial list (-want +got):\n%s", diff)
		}
		got, err := svc.Update(ctx, sales, customers.Update{ID: c.ID, Mask: []string{"marketing_consent", "reseller_id"},
			Values: customers.NewCustomer{MarketingConsent: true, ResellerID: "edu-us"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"aws_us", "gainsight", "hubspot", "microsoft", "mixpanel", "reseller", "salesforce"}
		if diff := cmp.Diff(want, got.AllowedSubprocessors); diff != "" {
			t.Errorf("returned list (-want +got):\n%s", diff)
		}
		var stored []string
		if err := b.pool.QueryRow(ctx, `SELECT allowed_subprocessors FROM customers WHERE id = $1`, c.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, stored); diff != "" {
			t.Errorf("stored list (-want +got):\n%s", diff)
		}
		// Moving to Germany keeps HubSpot but drops Gainsight (North America only).
		got, err = svc.Update(ctx, sales, customers.Update{ID: c.ID, Mask: []string{"residency_country"},
			Values: customers.NewCustomer{ResidencyCountry: "DE"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"aws_us", "hubspot", "microsoft", "mixpanel", "reseller", "salesforce"}, got.AllowedSubprocessors); diff != "" {
			t.Errorf("after moving to DE (-want +got):\n%s", diff)
		}
	})

	t.Run("facts hooks run in the transaction", func(t *testing.T) {
		t.Parallel()
		svc, b := setup(t)
		c, err := svc.Create(ctx, sales, school(), "")
		if err != nil {
			t.Fatal(err)
		}
		var calls []string
		fail := errors.New("orders unavailable")
		var failNext bool
		b.store.OnFactsChange(func(ctx context.Context, tx pgx.Tx, before, after customers.Customer) error {
			calls = append(calls, fmt.Sprintf("%v->%v", before.MarketingConsent, after.MarketingConsent))
			// The hook sees the updated row through the same transaction.
			var consent bool
			if err := tx.QueryRow(ctx, `SELECT marketing_consent FROM customers WHERE id = $1`, after.ID).Scan(&consent); err != nil {
				return err
			}
			if consent != after.MarketingConsent {
				return errors.New("hook does not see the update")
			}
			if failNext {
				return fail
			}
			return nil
		})
		if _, err := svc.Update(ctx, sales, customers.Update{ID: c.ID, Mask: []string{"org_name"},
			Values: customers.NewCustomer{OrgName: "Renamed"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Update(ctx, sales, customers.Update{ID: c.ID, Mask: []string{"marketing_consent"},
			Values: customers.NewCustomer{MarketingConsent: true}}); err != nil {
			t.Fatal(err)
		}
		failNext = true
		if _, err := svc.Update(ctx, sales, customers.Update{ID: c.ID, Mask: []string{"marketing_consent"},
			Values: customers.NewCustomer{MarketingConsent: false}}); !errors.Is(err, fail) {
			t.Fatalf("hook failure: err = %v, want it returned", err)
		}
		if diff := cmp.Diff([]string{"false->true", "true->false"}, calls); diff != "" {
			t.Errorf("hook calls: only fact changes (-want +got):\n%s", diff)
		}
		got, err := svc.Get(ctx, sales, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.MarketingConsent || got.ETag() != "3" {
			t.Errorf("after a failed hook: consent %v etag %s, want the update rolled back (true, 3)", got.MarketingConsent, got.ETag())
		}
	})

	t.Run("not found and hidden", func(t *testing.T) {
		t.Parallel()
		svc, _ := setup(t)
		c, err := svc.Create(ctx, sales, school(), "")
		if err != nil {
			t.Fatal(err)
		}
		upd := customers.Update{ID: c.ID, Mask: []string{"org_name"}, Values: customers.NewCustomer{OrgName: "Mine now"}}
		if _, err := svc.Update(ctx, storefront, upd); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("storefront updating sales' customer: err = %v, want ErrNotFound", err)
		}
		upd.ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
		if _, err := svc.Update(ctx, sales, upd); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("missing customer: err = %v, want ErrNotFound", err)
		}
		if _, err := svc.Get(ctx, sales, upd.ID); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("get missing: err = %v, want ErrNotFound", err)
		}
	})
}

func mapKeys(m map[string]auth.Identity) []string { return slices.Collect(maps.Keys(m)) }

func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(slices.Values(s))
}
