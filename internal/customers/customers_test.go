package customers_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/paging"
)

// fakeStore is a customers.Store whose behaviour each test sets; an unset method fails.
type fakeStore struct {
	create func(ctx context.Context, c customers.Customer, requestID string) (customers.Customer, error)
	get    func(ctx context.Context, id string) (customers.Customer, error)
	list   func(ctx context.Context, f customers.Filter, after *paging.Cursor, limit int) ([]customers.Customer, error)
	update func(ctx context.Context, id string, apply func(customers.Customer) (customers.Customer, error)) (customers.Customer, error)
}

var errUnexpected = errors.New("unexpected store call")

func (f *fakeStore) Create(ctx context.Context, c customers.Customer, requestID string) (customers.Customer, error) {
	if f.create == nil {
		return customers.Customer{}, errUnexpected
	}
	return f.create(ctx, c, requestID)
}

func (f *fakeStore) Get(ctx context.Context, id string) (customers.Customer, error) {
	if f.get == nil {
		return customers.Customer{}, errUnexpected
	}
	return f.get(ctx, id)
}

func (f *fakeStore) List(ctx context.Context, flt customers.Filter, after *paging.Cursor, limit int) ([]customers.Customer, error) {
	if f.list == nil {
		return nil, errUnexpected
	}
	return f.list(ctx, flt, after, limit)
}

func (f *fakeStore) Update(ctx context.Context, id string, apply func(customers.Customer) (customers.Customer, error)) (customers.Customer, error) {
	if f.update == nil {
		return customers.Customer{}, errUnexpected
	}
	return f.update(ctx, id, apply)
}

// memUpdate makes an update func that applies to cur, as a store would inside its transaction.
func memUpdate(cur customers.Customer) func(context.Context, string, func(customers.Customer) (customers.Customer, error)) (customers.Customer, error) {
	return func(_ context.Context, _ string, apply func(customers.Customer) (customers.Customer, error)) (customers.Customer, error) {
		next, err := apply(cur)
		if err != nil {
			return customers.Customer{}, err
		}
		next.Version++
		return next, nil
	}
}

var (
	testNow    = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC)
	storefront = auth.Identity{Subject: "storefront-us", Roles: []auth.Role{auth.RoleStorefront}}
	sales      = auth.Identity{Subject: "sam", Roles: []auth.Role{auth.RoleSales}}
	agent      = auth.Identity{Subject: "ann", Roles: []auth.Role{auth.RoleAgent}}
	admin      = auth.Identity{Subject: "root", Roles: []auth.Role{auth.RoleAdmin}}
)

func setup(t *testing.T) (*customers.Service, *fakeStore) {
	t.Helper()
	fs := &fakeStore{}
	return customers.NewService(fs, dataflow.NewPolicy(dataflow.DefaultNorthAmerica), func() time.Time { return testNow }), fs
}

func validInput() customers.NewCustomer {
	return customers.NewCustomer{
		OrgName: "Springfield School District",
		Contact: customers.Contact{Title: "Procurement Officer", Email: "purchasing@springfield.example"},
		Address: customers.Address{Lines: []string{"19 Evergreen Terrace"}, City: "Springfield", Region: "OR", Country: "US"},
	}
}

func existing(createBy string) customers.Customer {
	in := validInput()
	return customers.Customer{
		ID: uuid.Must(uuid.NewV7()).String(), OrgName: in.OrgName, Contact: in.Contact, Address: in.Address,
		ResidencyCountry: "US", AllowedSubprocessors: []string{"aws_us", "microsoft", "mixpanel", "salesforce"},
		Version: 3, CreateBy: createBy, CreateTime: testNow, UpdateTime: testNow,
	}
}

func TestValidateNewCustomer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(*customers.NewCustomer)
		wantField string // empty: valid
		check     func(t *testing.T, got customers.NewCustomer)
	}{
		{name: "title and role alias only", edit: func(*customers.NewCustomer) {}},
		{name: "no contact at all", edit: func(c *customers.NewCustomer) { c.Contact = customers.Contact{} }},
		{name: "no address lines", edit: func(c *customers.NewCustomer) { c.Address = customers.Address{Country: "NL"} }},
		{
			name: "residency defaults to the address country",
			edit: func(c *customers.NewCustomer) { c.Address.Country = "CA" },
			check: func(t *testing.T, got customers.NewCustomer) {
				if got.ResidencyCountry != "CA" {
					t.Errorf("residency = %q, want CA", got.ResidencyCountry)
				}
			},
		},
		{
			name: "explicit residency is kept",
			edit: func(c *customers.NewCustomer) { c.ResidencyCountry = "IE" },
			check: func(t *testing.T, got customers.NewCustomer) {
				if got.ResidencyCountry != "IE" {
					t.Errorf("residency = %q, want IE", got.ResidencyCountry)
				}
			},
		},
		{
			name: "surrounding space is trimmed",
			edit: func(c *customers.NewCustomer) { c.OrgName = "  Acme BV \t"; c.Contact.Email = " info@acme.example " },
			check: func(t *testing.T, got customers.NewCustomer) {
				if got.OrgName != "Acme BV" || got.Contact.Email != "info@acme.example" {
					t.Errorf("got %q %q, want trimmed", got.OrgName, got.Contact.Email)
				}
			},
		},
		{name: "phone with plus and spaces", edit: func(c *customers.NewCustomer) { c.Contact.Phone = "+1 (555) 010-2000" }},
		{name: "reseller id", edit: func(c *customers.NewCustomer) { c.ResellerID = "edu-partners-nl" }},
		{name: "five lines of 200", edit: func(c *customers.NewCustomer) {
			c.Address.Lines = []string{strings.Repeat("a", 200), "b", "c", "d", "e"}
		}},
		{name: "org name of 200 runes", edit: func(c *customers.NewCustomer) { c.OrgName = strings.Repeat("é", 200) }},

		{name: "org name missing", edit: func(c *customers.NewCustomer) { c.OrgName = " " }, wantField: "customer.org_name"},
		{name: "org name too long", edit: func(c *customers.NewCustomer) { c.OrgName = strings.Repeat("x", 201) }, wantField: "customer.org_name"},
		{name: "org name control char", edit: func(c *customers.NewCustomer) { c.OrgName = "Acme\x00" }, wantField: "customer.org_name"},
		{name: "org name invalid utf8", edit: func(c *customers.NewCustomer) { c.OrgName = "Acme\xff" }, wantField: "customer.org_name"},
		{name: "contact name too long", edit: func(c *customers.NewCustomer) { c.Contact.Name = strings.Repeat("n", 201) }, wantField: "customer.contact.name"},
		{name: "contact title too long", edit: func(c *customers.NewCustomer) { c.Contact.Title = strings.Repeat("t", 201) }, wantField: "customer.contact.title"},
		{name: "email syntax", edit: func(c *customers.NewCustomer) { c.Contact.Email = "not-an-email" }, wantField: "customer.contact.email"},
		{name: "email with display name", edit: func(c *customers.NewCustomer) { c.Contact.Email = "Jane Doe <jane@x.example>" }, wantField: "customer.contact.email"},
		{name: "email too long", edit: func(c *customers.NewCustomer) {
			c.Contact.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com"
		}, wantField: "customer.contact.email"},
		{name: "phone letters", edit: func(c *customers.NewCustomer) { c.Contact.Phone = "call me" }, wantField: "customer.contact.phone"},
		{name: "phone too short", edit: func(c *customers.NewCustomer) { c.Contact.Phone = "123" }, wantField: "customer.contact.phone"},
		{name: "country missing", edit: func(c *customers.NewCustomer) { c.Address.Country = "" }, wantField: "customer.address.country"},
		{name: "country lower case", edit: func(c *customers.NewCustomer) { c.Address.Country = "us" }, wantField: "customer.address.country"},
		{name: "country alpha-3", edit: func(c *customers.NewCustomer) { c.Address.Country = "USA" }, wantField: "customer.address.country"},
		{name: "six lines", edit: func(c *customers.NewCustomer) { c.Address.Lines = []string{"a", "b", "c", "d", "e", "f"} }, wantField: "customer.address.lines"},
		{name: "line too long", edit: func(c *customers.NewCustomer) { c.Address.Lines = []string{strings.Repeat("a", 201)} }, wantField: "customer.address.lines"},
		{name: "empty line", edit: func(c *customers.NewCustomer) { c.Address.Lines = []string{"a", " "} }, wantField: "customer.address.lines"},
		{name: "city too long", edit: func(c *customers.NewCustomer) { c.Address.City = strings.Repeat("c", 101) }, wantField: "customer.address.city"},
		{name: "postal code too long", edit: func(c *customers.NewCustomer) { c.Address.PostalCode = strings.Repeat("1", 33) }, wantField: "customer.address.postal_code"},
		{name: "residency lower case", edit: func(c *customers.NewCustomer) { c.ResidencyCountry = "de" }, wantField: "customer.residency_country"},
		{name: "reseller upper case", edit: func(c *customers.NewCustomer) { c.ResellerID = "EDU" }, wantField: "customer.reseller_id"},
		{name: "reseller leading dash", edit: func(c *customers.NewCustomer) { c.ResellerID = "-edu" }, wantField: "customer.reseller_id"},
		{name: "reseller too long", edit: func(c *customers.NewCustomer) { c.ResellerID = strings.Repeat("r", 65) }, wantField: "customer.reseller_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := validInput()
			tt.edit(&in)
			got, err := customers.ValidateNewCustomer(in)
			field, _ := apperr.Field(err)
			if field != tt.wantField {
				t.Fatalf("ValidateNewCustomer error field = %q (%v), want %q", field, err, tt.wantField)
			}
			if err == nil && tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestValidationMessagesHoldNoPersonalData(t *testing.T) {
	t.Parallel()
	in := validInput()
	in.Contact.Email = "jane.doe.private@@example"
	_, err := customers.ValidateNewCustomer(in)
	if err == nil || strings.Contains(err.Error(), "jane") {
		t.Fatalf("error %v: want an error that does not echo the email", err)
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("stores a normalised customer with its flow list", func(t *testing.T) {
		t.Parallel()
		svc, fs := setup(t)
		var stored customers.Customer
		var gotRequestID string
		fs.create = func(_ context.Context, c customers.Customer, requestID string) (customers.Customer, error) {
			stored, gotRequestID = c, requestID
			return c, nil
		}
		in := validInput()
		in.MarketingConsent = true
		got, err := svc.Create(ctx, storefront, in, "req-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := uuid.Parse(got.ID); err != nil {
			t.Errorf("id %q is not a uuid", got.ID)
		}
		want := customers.Customer{
			ID: got.ID, OrgName: in.OrgName, Contact: in.Contact, Address: in.Address,
			ResidencyCountry: "US", MarketingConsent: true,
			AllowedSubprocessors: []string{"aws_us", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce"},
			Version:              1, CreateBy: "storefront-us",
			CreateTime: testNow.Truncate(time.Microsecond), UpdateTime: testNow.Truncate(time.Microsecond),
		}
		if diff := cmp.Diff(want, stored); diff != "" {
			t.Errorf("stored customer (-want +got):\n%s", diff)
		}
		if gotRequestID != "req-1" || got.ETag() != "1" {
			t.Errorf("request id %q, etag %q; want req-1, 1", gotRequestID, got.ETag())
		}
	})

	t.Run("invalid input writes nothing", func(t *testing.T) {
		t.Parallel()
		svc, _ := setup(t) // any store call fails with errUnexpected
		in := validInput()
		in.Address.Country = "usa"
		_, err := svc.Create(ctx, sales, in, "")
		if f, _ := apperr.Field(err); f != "customer.address.country" {
			t.Fatalf("err = %v, want invalid customer.address.country", err)
		}
		for _, id := range []string{strings.Repeat("r", 129), "tab\there"} {
			_, err := svc.Create(ctx, sales, validInput(), id)
			if f, _ := apperr.Field(err); f != "request_id" {
				t.Errorf("request id %q: err = %v, want invalid request_id", id, err)
			}
		}
	})
}

func TestRecordVisibility(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	finance := auth.Identity{Subject: "fin", Roles: []auth.Role{auth.RoleFinance}}
	supervisor := auth.Identity{Subject: "sup", Roles: []auth.Role{auth.RoleSupervisor}}
	privacy := auth.Identity{Subject: "dpo", Roles: []auth.Role{auth.RolePrivacyOfficer}}
	otherStorefront := auth.Identity{Subject: "storefront-ca", Roles: []auth.Role{auth.RoleStorefront}}
	noSubject := auth.Identity{Roles: []auth.Role{auth.RoleStorefront}}

	tests := []struct {
		name       string
		who        auth.Identity
		createBy   string
		wantRead   error
		wantUpdate error
	}{
		{"storefront own", storefront, "storefront-us", nil, nil},
		{"storefront other's", otherStorefront, "storefront-us", apperr.ErrNotFound, apperr.ErrNotFound},
		{"storefront without subject", noSubject, "", apperr.ErrNotFound, apperr.ErrNotFound},
		{"storefront sales-made", storefront, "sam", apperr.ErrNotFound, apperr.ErrNotFound},
		{"sales any", sales, "storefront-us", nil, nil},
		{"admin any", admin, "storefront-us", nil, nil},
		{"agent reads, may not change", agent, "storefront-us", nil, apperr.ErrPermission},
		{"finance reads", finance, "storefront-us", nil, apperr.ErrPermission},
		{"supervisor reads", supervisor, "sam", nil, apperr.ErrPermission},
		{"privacy officer reads", privacy, "sam", nil, apperr.ErrPermission},
		{"no roles", auth.Identity{Subject: "storefront-us"}, "storefront-us", apperr.ErrNotFound, apperr.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, fs := setup(t)
			cur := existing(tt.createBy)
			fs.get = func(context.Context, string) (customers.Customer, error) { return cur, nil }
			fs.update = memUpdate(cur)

			_, err := svc.Get(ctx, tt.who, cur.ID)
			if !errors.Is(err, tt.wantRead) || (tt.wantRead == nil && err != nil) {
				t.Errorf("Get: err = %v, want %v", err, tt.wantRead)
			}
			_, err = svc.Update(ctx, tt.who, customers.Update{
				ID: cur.ID, Mask: []string{"marketing_consent"}, Values: customers.NewCustomer{MarketingConsent: true},
			})
			if !errors.Is(err, tt.wantUpdate) || (tt.wantUpdate == nil && err != nil) {
				t.Errorf("Update: err = %v, want %v", err, tt.wantUpdate)
			}
		})
	}
}

func TestListRestrictsStorefront(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		who  auth.Identity
		want customers.Filter
	}{
		{storefront, customers.Filter{Query: "school", CreateBy: "storefront-us", OnlyCreateBy: true}},
		{sales, customers.Filter{Query: "school"}},
		{agent, customers.Filter{Query: "school"}},
		{admin, customers.Filter{Query: "school"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.who.Roles[0]), func(t *testing.T) {
			t.Parallel()
			svc, fs := setup(t)
			var got customers.Filter
			fs.list = func(_ context.Context, f customers.Filter, _ *paging.Cursor, _ int) ([]customers.Customer, error) {
				got = f
				return nil, nil
			}
			if _, err := svc.List(ctx, tt.who, "school", 0, ""); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, fs := setup(t)
	all := make([]customers.Customer, 5)
	for i := range all {
		all[i] = existing("sam")
		all[i].CreateTime = testNow.Add(-time.Duration(i) * time.Minute)
	}
	var gotLimits []int
	fs.list = func(_ context.Context, _ customers.Filter, after *paging.Cursor, limit int) ([]customers.Customer, error) {
		gotLimits = append(gotLimits, limit)
		start := 0
		if after != nil {
			for i, c := range all {
				if c.ID == after.ID {
					start = i + 1
				}
			}
		}
		return all[start:min(start+limit, len(all))], nil
	}
	var ids []string
	token := ""
	for range 10 {
		p, err := svc.List(ctx, sales, "", 2, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Customers {
			ids = append(ids, c.ID)
		}
		if token = p.NextPageToken; token == "" {
			break
		}
	}
	var want []string
	for _, c := range all {
		want = append(want, c.ID)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 3, 3}, gotLimits); diff != "" {
		t.Errorf("store limits (-want +got):\n%s", diff)
	}

	// A token is bound to its query, and a forged one never reaches the store.
	first, err := svc.List(ctx, sales, "", 2, "")
	if err != nil {
		t.Fatal(err)
	}
	forged := paging.Encode(paging.Cursor{Time: testNow, ID: "1' OR 1=1"}, customers.Filter{})
	for _, tc := range []struct {
		query, token string
	}{
		{"other", first.NextPageToken},
		{"", "garbage!"},
		{"", forged},
	} {
		if _, err := svc.List(ctx, sales, tc.query, 2, tc.token); !isInvalid(err, "page_token") {
			t.Errorf("List(%q, %q): err = %v, want invalid page_token", tc.query, tc.token, err)
		}
	}
	if _, err := svc.List(ctx, sales, "", -1, ""); !isInvalid(err, "page_size") {
		t.Errorf("negative page size: err = %v, want invalid page_size", err)
	}
	if _, err := svc.List(ctx, sales, strings.Repeat("q", 201), 0, ""); !isInvalid(err, "query") {
		t.Errorf("long query: err = %v, want invalid query", err)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("sub-path masks change only their field", func(t *testing.T) {
		t.Parallel()
		svc, fs := setup(t)
		cur := existing("sam")
		fs.update = memUpdate(cur)
		got, err := svc.Update(ctx, sales, customers.Update{
			ID: cur.ID, ETag: "3",
			Mask: []string{"contact.phone", "address.city", "marketing_consent"},
			Values: customers.NewCustomer{
				OrgName: "ignored: not in the mask",
				Contact: customers.Contact{Phone: "+1 555 0100", Title: "ignored"},
				Address: customers.Address{City: "Shelbyville", Country: "ZZ"},
				// Marketing consent for a US customer opens HubSpot and Gainsight.
				MarketingConsent: true,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := cur
		want.Contact.Phone = "+1 555 0100"
		want.Address.City = "Shelbyville"
		want.MarketingConsent = true
		want.AllowedSubprocessors = []string{"aws_us", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce"}
		want.Version = 4
		want.UpdateTime = testNow.Truncate(time.Microsecond)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("updated customer (-want +got):\n%s", diff)
		}
	})

	t.Run("whole sub-message mask replaces it", func(t *testing.T) {
		t.Parallel()
		svc, fs := setup(t)
		cur := existing("sam")
		fs.update = memUpdate(cur)
		got, err := svc.Update(ctx, sales, customers.Update{
			ID: cur.ID, Mask: []string{"contact"},
			Values: customers.NewCustomer{Contact: customers.Contact{Title: "Head of IT"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(customers.Contact{Title: "Head of IT"}, got.Contact); diff != "" {
			t.Errorf("contact (-want +got):\n%s", diff)
		}
	})

	t.Run("a defaulted residency follows the address country", func(t *testing.T) {
		t.Parallel()
		svc, fs := setup(t)
		cur := existing("sam") // residency US == address US
		fs.update = memUpdate(cur)
		got, err := svc.Update(ctx, sales, customers.Update{
			ID: cur.ID, Mask: []string{"address.country"}, Values: customers.NewCustomer{Address: customers.Address{Country: "DE"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.ResidencyCountry != "DE" || got.Address.Country != "DE" {
			t.Errorf("residency %q, country %q; want DE, DE", got.ResidencyCountry, got.Address.Country)
		}

		explicit := existing("sam")
		explicit.ResidencyCountry = "IE"
		fs.update = memUpdate(explicit)
		got, err = svc.Update(ctx, sales, customers.Update{
			ID: cur.ID, Mask: []string{"address.country"}, Values: customers.NewCustomer{Address: customers.Address{Country: "DE"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.ResidencyCountry != "IE" {
			t.Errorf("explicit residency = %q, want IE kept", got.ResidencyCountry)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		cur := existing("sam")
		tests := []struct {
			name      string
			u         customers.Update
			wantField string
			wantErr   error
		}{
			{name: "empty mask", u: customers.Update{ID: cur.ID}, wantField: "update_mask"},
			{name: "output-only etag", u: customers.Update{ID: cur.ID, Mask: []string{"etag"}}, wantField: "update_mask"},
			{name: "output-only list", u: customers.Update{ID: cur.ID, Mask: []string{"org_name", "allowed_subprocessors"}}, wantField: "update_mask"},
			{name: "output-only create_by", u: customers.Update{ID: cur.ID, Mask: []string{"create_by"}}, wantField: "update_mask"},
			{name: "unknown path", u: customers.Update{ID: cur.ID, Mask: []string{"contact.fax"}}, wantField: "update_mask"},
			{name: "bad id", u: customers.Update{ID: "42", Mask: []string{"org_name"}}, wantField: "customer.id"},
			{name: "malformed etag", u: customers.Update{ID: cur.ID, ETag: `"3"`, Mask: []string{"org_name"}}, wantField: "customer.etag"},
			{name: "invalid value", u: customers.Update{ID: cur.ID, Mask: []string{"org_name"}}, wantField: "customer.org_name"},
			{name: "stale etag", u: customers.Update{ID: cur.ID, ETag: "2", Mask: []string{"reseller_id"}}, wantErr: apperr.ErrStaleEtag},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				svc, fs := setup(t)
				fs.update = func(_ context.Context, _ string, apply func(customers.Customer) (customers.Customer, error)) (customers.Customer, error) {
					// A refused update must fail inside apply, before anything is written.
					return apply(cur)
				}
				_, err := svc.Update(ctx, sales, tt.u)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("err = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if !isInvalid(err, tt.wantField) {
					t.Fatalf("err = %v, want invalid %s", err, tt.wantField)
				}
			})
		}
	})
}

func TestGetRejectsMalformedID(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	for _, id := range []string{"", "abc", "{" + uuid.NewString() + "}"} {
		if _, err := svc.Get(context.Background(), admin, id); !isInvalid(err, "id") {
			t.Errorf("Get(%q): err = %v, want invalid id", id, err)
		}
	}
}

func isInvalid(err error, field string) bool {
	f, ok := apperr.Field(err)
	return ok && f == field
}

func FuzzValidateNewCustomer(f *testing.F) {
	f.Add("Acme BV", "", "Buyer", "info@acme.example", "+31 20 123 4567", "Damrak 1", "Amsterdam", "1012 LG", "NL", "", "edu-partners-nl")
	f.Add("", "Jane", "", "x", "12", "", "", "", "us", "usa", "-")
	f.Add("\xff", "\x00", "\u202e", "a@b", "((((()))))", strings.Repeat("l", 300), "", "", "ZZ", "ZZ", "a")
	f.Fuzz(func(t *testing.T, org, name, title, email, phone, line, city, postal, country, residency, reseller string) {
		in := customers.NewCustomer{
			OrgName:          org,
			Contact:          customers.Contact{Name: name, Title: title, Email: email, Phone: phone},
			Address:          customers.Address{Lines: []string{line}, City: city, PostalCode: postal, Country: country},
			ResidencyCountry: residency,
			ResellerID:       reseller,
		}
		got, err := customers.ValidateNewCustomer(in)
		if err != nil {
			var ie *apperr.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v is not an *apperr.InvalidError", err, err)
			}
			return
		}
		// Whatever passes must be storable: the database's own checks agree with ours.
		if len(got.Address.Country) != 2 || len(got.ResidencyCountry) != 2 || got.OrgName == "" {
			t.Fatalf("accepted input the schema refuses: %+v", got)
		}
		// Validation is idempotent: a stored customer re-validates unchanged on update.
		again, err := customers.ValidateNewCustomer(got)
		if err != nil {
			t.Fatalf("re-validating accepted input: %v", err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("re-validation changed input (-first +second):\n%s", diff)
		}
	})
}
