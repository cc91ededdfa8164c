package billing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/paging"
)

// fakeStore is a billing.Store of func fields; a nil field fails the test when called.
type fakeStore struct {
	t      *testing.T
	create func(ctx context.Context, req billing.CreateRequest, build func(billing.CustomerFacts) (billing.Order, error)) (billing.Order, error)
	get    func(ctx context.Context, id string) (billing.Order, error)
	list   func(ctx context.Context, f billing.Filter, after *paging.Cursor, limit int) ([]billing.Order, error)
}

func (s *fakeStore) Create(ctx context.Context, req billing.CreateRequest, build func(billing.CustomerFacts) (billing.Order, error)) (billing.Order, error) {
	if s.create == nil {
		s.t.Fatal("unexpected Store.Create")
	}
	return s.create(ctx, req, build)
}

func (s *fakeStore) Get(ctx context.Context, id string) (billing.Order, error) {
	if s.get == nil {
		s.t.Fatal("unexpected Store.Get")
	}
	return s.get(ctx, id)
}

func (s *fakeStore) List(ctx context.Context, f billing.Filter, after *paging.Cursor, limit int) ([]billing.Order, error) {
	if s.list == nil {
		s.t.Fatal("unexpected Store.List")
	}
	return s.list(ctx, f, after, limit)
}

var (
	now        = time.Date(2026, time.March, 14, 15, 9, 26, 535897000, time.UTC)
	sales      = auth.Identity{Subject: "sam", Roles: []auth.Role{auth.RoleSales}}
	storefront = auth.Identity{Subject: "shop", Roles: []auth.Role{auth.RoleStorefront}}
	admin      = auth.Identity{Subject: "root", Roles: []auth.Role{auth.RoleAdmin}}
	agent      = auth.Identity{Subject: "ann", Roles: []auth.Role{auth.RoleAgent}}
	finance    = auth.Identity{Subject: "fin", Roles: []auth.Role{auth.RoleFinance}}
)

// factsStore returns a store whose Create calls build with facts, as the real store does
// inside its transaction, and records whether it was called.
func factsStore(t *testing.T, facts billing.CustomerFacts) (*fakeStore, *bool) {
	called := false
	return &fakeStore{t: t, create: func(_ context.Context, _ billing.CreateRequest, build func(billing.CustomerFacts) (billing.Order, error)) (billing.Order, error) {
		called = true
		return build(facts)
	}}, &called
}

func newService(store billing.Store) *billing.Service {
	retention := billing.DefaultRetention()
	retention.Overrides = map[string]int{"DE": 10}
	return billing.NewService(store, dataflow.NewPolicy(dataflow.DefaultNorthAmerica), retention, func() time.Time { return now })
}

func usCustomer() billing.CustomerFacts {
	return billing.CustomerFacts{Exists: true, AddressCountry: "US", ResidencyCountry: "US", CreateBy: "shop"}
}

func storefrontOrder() billing.NewOrder {
	return billing.NewOrder{
		CustomerID: customerID,
		Channel:    billing.ChannelStorefront,
		Currency:   "USD",
		Lines:      []billing.NewLine{{SKU: "LUM-TEACHER-1Y", Quantity: 25, UnitPriceMinor: 9900}},
	}
}

func TestCreateResellerOrder(t *testing.T) {
	t.Parallel()
	store, _ := factsStore(t, billing.CustomerFacts{Exists: true, AddressCountry: "NL", ResidencyCountry: "NL", MarketingConsent: true, ResellerID: "edu-partners-nl", CreateBy: "sam"})
	var gotReq billing.CreateRequest
	inner := store.create
	store.create = func(ctx context.Context, req billing.CreateRequest, build func(billing.CustomerFacts) (billing.Order, error)) (billing.Order, error) {
		gotReq = req
		return inner(ctx, req, build)
	}
	got, err := newService(store).Create(context.Background(), sales, resellerOrder(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	want := billing.Order{
		ID:         got.ID,
		CustomerID: customerID,
		Channel:    billing.ChannelReseller,
		ResellerID: "edu-partners-nl",
		Currency:   "EUR",
		Lines: []billing.Line{{SKU: "LUM-STUDENT-1Y", Description: "Leerlinglicentie", Quantity: 120, UnitPriceMinor: 1250,
			VATRateBP: 2100, NetMinor: 150000, VATMinor: 31500}},
		ShipTo:               resellerOrder().ShipTo,
		Status:               billing.StatusPaid,
		NetMinor:             150000,
		VATMinor:             31500,
		GrossMinor:           181500,
		Country:              "NL",
		AllowedSubprocessors: []string{"aws_us", "hubspot", "microsoft", "mixpanel", "reseller", "salesforce"},
		Version:              1,
		CreateBy:             "sam",
		CreateTime:           now.Truncate(time.Microsecond),
		UpdateTime:           now.Truncate(time.Microsecond),
		RetainUntil:          time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if gotReq.OrderID != got.ID || gotReq.RequestID != "r1" || gotReq.CreateBy != "sam" || gotReq.CustomerID != customerID {
		t.Errorf("create request %+v", gotReq)
	}
}

func TestCreateStorefrontOrders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		facts      billing.CustomerFacts
		wantEntity string
		wantFlows  []string
		wantRetain int
	}{
		{
			"US customer pays Stripe US",
			usCustomer(),
			"stripe_us",
			[]string{"aws_us", "bigcommerce", "microsoft", "mixpanel", "salesforce", "stripe_us"},
			2034,
		},
		{
			"CA customer with consent adds HubSpot and Gainsight",
			billing.CustomerFacts{Exists: true, AddressCountry: "CA", ResidencyCountry: "CA", MarketingConsent: true, CreateBy: "shop"},
			"stripe_us",
			[]string{"aws_us", "bigcommerce", "gainsight", "hubspot", "microsoft", "mixpanel", "salesforce", "stripe_us"},
			2034,
		},
		{
			// The gate looks at the address; the Stripe entity at residency (DOMAIN.md rule 4).
			"US-addressed customer resident in Ireland pays Stripe Europe",
			billing.CustomerFacts{Exists: true, AddressCountry: "US", ResidencyCountry: "IE", CreateBy: "shop"},
			"stripe_ie",
			[]string{"aws_us", "bigcommerce", "microsoft", "mixpanel", "salesforce", "stripe_ie"},
			2034,
		},
		{
			"customer with a reseller keeps the reseller flow on storefront orders",
			billing.CustomerFacts{Exists: true, AddressCountry: "US", ResidencyCountry: "US", ResellerID: "edu-us", CreateBy: "shop"},
			"stripe_us",
			[]string{"aws_us", "bigcommerce", "microsoft", "mixpanel", "reseller", "salesforce", "stripe_us"},
			2034,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, _ := factsStore(t, tc.facts)
			got, err := newService(store).Create(context.Background(), storefront, storefrontOrder(), "")
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != billing.StatusPendingPayment || got.StripeEntity != tc.wantEntity || got.ResellerID != "" {
				t.Errorf("status %q entity %q reseller %q", got.Status, got.StripeEntity, got.ResellerID)
			}
			if diff := cmp.Diff(tc.wantFlows, got.AllowedSubprocessors); diff != "" {
				t.Errorf("allowed_subprocessors (-want +got):\n%s", diff)
			}
			if got.RetainUntil.Year() != tc.wantRetain || got.Country != tc.facts.AddressCountry {
				t.Errorf("retain_until %v, country %q", got.RetainUntil, got.Country)
			}
			if got.NetMinor != 247500 || got.VATMinor != 0 || got.GrossMinor != 247500 {
				t.Errorf("totals %d/%d/%d", got.NetMinor, got.VATMinor, got.GrossMinor)
			}
		})
	}
}

func TestStorefrontGate(t *testing.T) {
	t.Parallel()
	for _, ctry := range []string{"DE", "IE", "GB", "MX", "NL", "JP"} {
		store, _ := factsStore(t, billing.CustomerFacts{Exists: true, AddressCountry: ctry, ResidencyCountry: ctry, CreateBy: "shop"})
		_, err := newService(store).Create(context.Background(), storefront, storefrontOrder(), "")
		var pre *apperr.PreconditionError
		if !errors.As(err, &pre) || !strings.Contains(pre.Rule, "regional reseller") {
			t.Errorf("%s: %v; want a precondition pointing to a regional reseller", ctry, err)
		}
	}
	// The set is configuration: with Mexico added, a Mexican customer may buy.
	store, _ := factsStore(t, billing.CustomerFacts{Exists: true, AddressCountry: "MX", ResidencyCountry: "MX", CreateBy: "shop"})
	svc := billing.NewService(store, dataflow.NewPolicy([]string{"US", "CA", "MX"}), billing.DefaultRetention(), func() time.Time { return now })
	if _, err := svc.Create(context.Background(), storefront, storefrontOrder(), ""); err != nil {
		t.Errorf("MX in a configured set: %v", err)
	}
	// The gate is for the storefront only: the same German customer may buy via a reseller.
	store, _ = factsStore(t, billing.CustomerFacts{Exists: true, AddressCountry: "DE", ResidencyCountry: "DE", CreateBy: "sam"})
	got, err := newService(store).Create(context.Background(), sales, resellerOrder(), "")
	if err != nil || got.RetainUntil.Year() != 2037 {
		t.Errorf("DE reseller order: retain_until %v, %v; want the DE override (10 years)", got.RetainUntil, err)
	}
}

func TestCreateRoleRules(t *testing.T) {
	t.Parallel()
	both := auth.Identity{Subject: "shop", Roles: []auth.Role{auth.RoleStorefront, auth.RoleSales}}
	for _, tc := range []struct {
		name    string
		who     auth.Identity
		channel billing.Channel
		wantErr error
	}{
		{"sales creates reseller orders", sales, billing.ChannelReseller, nil},
		{"sales may not create storefront orders", sales, billing.ChannelStorefront, apperr.ErrPermission},
		{"storefront creates storefront orders", storefront, billing.ChannelStorefront, nil},
		{"storefront may not create reseller orders", storefront, billing.ChannelReseller, apperr.ErrPermission},
		{"admin creates reseller orders", admin, billing.ChannelReseller, nil},
		{"admin creates storefront orders", admin, billing.ChannelStorefront, nil},
		{"agent creates nothing", agent, billing.ChannelReseller, apperr.ErrPermission},
		{"finance creates nothing", finance, billing.ChannelStorefront, apperr.ErrPermission},
		{"sales+storefront creates both", both, billing.ChannelReseller, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, called := factsStore(t, usCustomer())
			in := storefrontOrder()
			if tc.channel == billing.ChannelReseller {
				in = resellerOrder()
			}
			_, err := newService(store).Create(context.Background(), tc.who, in, "")
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Create: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil && *called {
				t.Error("the store was called for a refused create")
			}
		})
	}
}

// TestCreateCustomerRules: a storefront may order only for customers it created, and a
// customer it did not create looks exactly like one that does not exist.
func TestCreateCustomerRules(t *testing.T) {
	t.Parallel()
	missing := billing.CustomerFacts{}
	other := usCustomer()
	other.CreateBy = "another-shop"
	erased := usCustomer()
	erased.Erased = true
	kosovo := usCustomer()
	kosovo.ResidencyCountry = "XK"

	run := func(who auth.Identity, f billing.CustomerFacts, in billing.NewOrder) error {
		store, _ := factsStore(t, f)
		_, err := newService(store).Create(context.Background(), who, in, "")
		return err
	}
	errMissing := run(storefront, missing, storefrontOrder())
	if f, _ := apperr.Field(errMissing); f != "order.customer_id" {
		t.Fatalf("missing customer: %v", errMissing)
	}
	errOther := run(storefront, other, storefrontOrder())
	if errOther == nil || errOther.Error() != errMissing.Error() {
		t.Errorf("another storefront's customer: %v; want the same error as a missing one (%v)", errOther, errMissing)
	}
	if err := run(admin, other, storefrontOrder()); err != nil {
		t.Errorf("admin orders for any customer: %v", err)
	}
	if err := run(sales, other, resellerOrder()); err != nil {
		t.Errorf("sales orders for any customer: %v", err)
	}
	var pre *apperr.PreconditionError
	if err := run(storefront, erased, storefrontOrder()); !errors.As(err, &pre) {
		t.Errorf("erased customer: %v; want a precondition", err)
	}
	if err := run(storefront, kosovo, storefrontOrder()); err == nil {
		t.Error("a residency that is not an assigned code was accepted")
	} else if f, _ := apperr.Field(err); f != "order.customer_id" {
		t.Errorf("unassigned residency: %v; want order.customer_id", err)
	}
	// A reseller order does not need a Stripe entity, so an odd residency does not block it.
	if err := run(sales, kosovo, resellerOrder()); err != nil {
		t.Errorf("reseller order for an XK resident: %v", err)
	}
}

func TestCreateRefusesBadInputBeforeTheStore(t *testing.T) {
	t.Parallel()
	svc := newService(&fakeStore{t: t})
	bad := resellerOrder()
	bad.Lines[0].Quantity = 0
	if _, err := svc.Create(context.Background(), sales, bad, ""); err == nil {
		t.Error("invalid order accepted")
	}
	over := resellerOrder()
	over.Lines[0].Quantity, over.Lines[0].UnitPriceMinor = 1<<40, 1<<40
	if f, _ := apperr.Field(func() error { _, err := svc.Create(context.Background(), sales, over, ""); return err }()); f != "order.lines[0].unit_price_minor" {
		t.Error("overflowing order not refused as invalid")
	}
	if _, err := svc.Create(context.Background(), sales, resellerOrder(), strings.Repeat("r", 129)); err == nil {
		t.Error("overlong request id accepted")
	}
	if _, err := svc.Create(context.Background(), sales, resellerOrder(), "a\nb"); err == nil {
		t.Error("unprintable request id accepted")
	}
}

func TestGetVisibility(t *testing.T) {
	t.Parallel()
	reseller := billing.Order{ID: customerID, Channel: billing.ChannelReseller, CreateBy: "sam"}
	ownShop := billing.Order{ID: customerID, Channel: billing.ChannelStorefront, CreateBy: "shop"}
	otherShop := billing.Order{ID: customerID, Channel: billing.ChannelStorefront, CreateBy: "other-shop"}
	privacy := auth.Identity{Subject: "po", Roles: []auth.Role{auth.RolePrivacyOfficer}}
	supervisor := auth.Identity{Subject: "sv", Roles: []auth.Role{auth.RoleSupervisor}}
	for _, tc := range []struct {
		who   auth.Identity
		order billing.Order
		sees  bool
	}{
		{storefront, ownShop, true},
		{storefront, otherShop, false},
		{storefront, reseller, false},
		{sales, reseller, true},
		{sales, ownShop, false},
		{finance, otherShop, true},
		{agent, reseller, true},
		{supervisor, ownShop, true},
		{privacy, otherShop, true},
		{admin, otherShop, true},
		{auth.Identity{Roles: []auth.Role{auth.RoleStorefront}}, billing.Order{ID: customerID, Channel: billing.ChannelStorefront}, false},
	} {
		store := &fakeStore{t: t, get: func(context.Context, string) (billing.Order, error) { return tc.order, nil }}
		_, err := newService(store).Get(context.Background(), tc.who, customerID)
		if tc.sees && err != nil {
			t.Errorf("%v reading %s order by %s: %v", tc.who.Roles, tc.order.Channel, tc.order.CreateBy, err)
		}
		if !tc.sees && !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("%v reading %s order by %s: %v, want not found", tc.who.Roles, tc.order.Channel, tc.order.CreateBy, err)
		}
	}
	if _, err := newService(&fakeStore{t: t}).Get(context.Background(), admin, "nope"); err == nil {
		t.Error("malformed id accepted")
	}
}

func TestListScopesAndPages(t *testing.T) {
	t.Parallel()
	orders := make([]billing.Order, 3)
	for i := range orders {
		orders[i] = billing.Order{ID: "0193a5c2-7d41-7c3e-9f10-2b6a1c9e4d5" + string(rune('0'+i)), CreateTime: now.Add(-time.Duration(i) * time.Minute)}
	}
	var gotFilter billing.Filter
	var gotAfter *paging.Cursor
	var gotLimit int
	store := &fakeStore{t: t, list: func(_ context.Context, f billing.Filter, after *paging.Cursor, limit int) ([]billing.Order, error) {
		gotFilter, gotAfter, gotLimit = f, after, limit
		return orders, nil
	}}
	svc := newService(store)
	req := billing.ListRequest{Channel: billing.ChannelStorefront, PageSize: 2}
	page, err := svc.List(context.Background(), storefront, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Orders) != 2 || page.NextPageToken == "" || gotLimit != 3 {
		t.Fatalf("page of %d orders, token %q, limit %d; want 2, a token, page size + 1", len(page.Orders), page.NextPageToken, gotLimit)
	}
	if diff := cmp.Diff(billing.Visibility{CreateBy: "shop"}, gotFilter.Scope); diff != "" {
		t.Errorf("storefront scope (-want +got):\n%s", diff)
	}
	req.PageToken = page.NextPageToken
	if _, err := svc.List(context.Background(), storefront, req); err != nil {
		t.Fatal(err)
	}
	if gotAfter == nil || gotAfter.ID != orders[1].ID || !gotAfter.Time.Equal(orders[1].CreateTime) {
		t.Errorf("cursor %+v, want after the page's last order", gotAfter)
	}
	// The token is bound to the filters and to the caller's scope.
	if _, err := svc.List(context.Background(), storefront, billing.ListRequest{PageSize: 2, PageToken: page.NextPageToken}); err == nil {
		t.Error("token reused with other filters")
	}
	if _, err := svc.List(context.Background(), finance, req); err == nil {
		t.Error("token reused by a caller with another scope")
	}

	for _, tc := range []struct {
		who  auth.Identity
		want billing.Visibility
	}{
		{sales, billing.Visibility{ResellerOrders: true}},
		{finance, billing.Visibility{All: true}},
		{agent, billing.Visibility{All: true}},
		{admin, billing.Visibility{All: true}},
		{auth.Identity{Subject: "x", Roles: []auth.Role{auth.RoleSales, auth.RoleStorefront}}, billing.Visibility{ResellerOrders: true, CreateBy: "x"}},
	} {
		if _, err := svc.List(context.Background(), tc.who, billing.ListRequest{}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, gotFilter.Scope); diff != "" {
			t.Errorf("%v scope (-want +got):\n%s", tc.who.Roles, diff)
		}
	}
}

func TestListRefusesBadRequests(t *testing.T) {
	t.Parallel()
	svc := newService(&fakeStore{t: t})
	for _, tc := range []struct {
		r     billing.ListRequest
		field string
	}{
		{billing.ListRequest{Start: now, End: now.Add(-time.Hour)}, "end_time"},
		{billing.ListRequest{PageSize: -1}, "page_size"},
		{billing.ListRequest{PageToken: "garbage"}, "page_token"},
		{billing.ListRequest{CustomerID: "x"}, "customer_id"},
	} {
		_, err := svc.List(context.Background(), admin, tc.r)
		if f, _ := apperr.Field(err); f != tc.field {
			t.Errorf("List(%+v) = %v, want field %s", tc.r, err, tc.field)
		}
	}
	// A caller with no reading role sees nothing, without a query.
	page, err := svc.List(context.Background(), auth.Identity{Subject: "x"}, billing.ListRequest{})
	if err != nil || len(page.Orders) != 0 {
		t.Errorf("no-role list: %+v, %v", page, err)
	}
}
