package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/country"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/paging"
	"github.com/lumio/contactcentre/internal/validate"
)

// errNoCustomer is the one answer for a customer that does not exist and for one the caller may
// not order for, so that a storefront cannot probe which customer ids exist. It is
// INVALID_ARGUMENT naming the field (as for tickets), not NOT_FOUND: the request's subject is
// the new order, and the fault is in one of its fields.
var errNoCustomer = apperr.Invalid("order.customer_id", "does not name a customer you may order for")

// Service applies the order rules on top of a Store.
type Service struct {
	store     Store
	policy    dataflow.Policy
	retention RetentionPolicy
	now       func() time.Time
}

// NewService returns a Service. policy decides flow lists and holds the storefront country set;
// retention dates orders; now is injectable so that tests control time.
func NewService(store Store, policy dataflow.Policy, retention RetentionPolicy, now func() time.Time) *Service {
	return &Service{store: store, policy: policy, retention: retention, now: now}
}

// Create validates and prices in, applies the customer-dependent rules in the store's
// transaction and records the order. requestID makes the call idempotent (empty means none).
// The server alone sets the totals, status, Stripe entity, flow list and dates.
//
// Errors: *apperr.InvalidError naming the field (including order.customer_id for a customer
// that does not exist or that a storefront caller did not create, and for a customer whose
// residency is not an assigned country code); apperr.ErrPermission when the caller's role may
// not create orders of that channel; *apperr.PreconditionError when a storefront order is for a
// customer outside the storefront countries, or the customer was erased;
// apperr.ErrAlreadyExists when requestID was used for a different request; apperr.ErrUnavailable.
func (s *Service) Create(ctx context.Context, who auth.Identity, in NewOrder, requestID string) (Order, error) {
	if err := validate.RequestID("request_id", requestID); err != nil {
		return Order{}, err
	}
	in, err := ValidateNewOrder(in)
	if err != nil {
		return Order{}, err
	}
	if err := checkCreate(who, in.Channel); err != nil {
		return Order{}, fmt.Errorf("create %s order: %w", in.Channel, err)
	}
	priced, err := Price(in.Lines)
	if err != nil {
		return Order{}, err
	}
	now := s.timestamp()
	req := CreateRequest{
		OrderID:    uuid.Must(uuid.NewV7()).String(),
		CustomerID: in.CustomerID,
		RequestID:  requestID,
		CreateBy:   who.Subject,
		Input:      in,
	}
	out, err := s.store.Create(ctx, req, func(f CustomerFacts) (Order, error) {
		return s.build(who, req.OrderID, in, priced, f, now)
	})
	if err != nil {
		return Order{}, fmt.Errorf("create order: %w", err)
	}
	return out, nil
}

// build applies the rules that depend on the customer. It is pure: the store calls it with
// facts read under lock, and its error aborts the transaction.
func (s *Service) build(who auth.Identity, id string, in NewOrder, p Priced, f CustomerFacts, now time.Time) (Order, error) {
	if !f.Exists || !mayOrderFor(who, in.Channel, f) {
		return Order{}, errNoCustomer
	}
	if f.Erased {
		return Order{}, apperr.Precondition("the customer's data was erased: no new orders can be recorded for it")
	}
	o := Order{
		ID:          id,
		CustomerID:  in.CustomerID,
		Channel:     in.Channel,
		ResellerID:  in.ResellerID,
		Currency:    in.Currency,
		Lines:       p.Lines,
		ShipTo:      in.ShipTo,
		Status:      InitialStatus(in.Channel),
		NetMinor:    p.NetMinor,
		VATMinor:    p.VATMinor,
		GrossMinor:  p.GrossMinor,
		Country:     f.AddressCountry,
		Version:     1,
		CreateBy:    who.Subject,
		CreateTime:  now,
		UpdateTime:  now,
		RetainUntil: s.retention.RetainUntil(now, f.AddressCountry),
	}
	if in.Channel == ChannelStorefront {
		// DOMAIN.md rule 5: the storefront sells to North American buyers only, judged by where
		// the customer is (its address), not by where the goods are shipped.
		if !s.policy.InNorthAmerica(f.AddressCountry) {
			return Order{}, apperr.Precondition("the storefront sells only to customers in its countries (North America); " +
				"customers elsewhere buy through their regional reseller")
		}
		entity, err := country.StripeEntityFor(f.ResidencyCountry)
		if errors.Is(err, country.ErrUnassigned) {
			return Order{}, apperr.Invalid("order.customer_id", "names a customer whose residency country is not an assigned ISO 3166-1 code; correct the customer first")
		} else if err != nil {
			return Order{}, err
		}
		o.StripeEntity = entity
	}
	o.AllowedSubprocessors = s.Flows(o, f)
	return o, nil
}

// Flows returns the sorted flow list of order o of a customer with facts c. It is the one rule
// for an order's list: at creation and whenever the customer's facts change (the store's
// RecomputeFlows takes it as its argument).
func (s *Service) Flows(o Order, c CustomerFacts) []string {
	return s.policy.Decide(Facts(o, c)).Allowed
}

// Facts are the flow-policy facts of an order of a customer: the order's channel and Stripe
// entity with the customer's residency, consent and reseller. Whoever recomputes an order's
// list after a customer change must use this function too.
func Facts(o Order, c CustomerFacts) dataflow.Facts {
	return dataflow.Facts{
		Kind:             dataflow.KindOrder,
		ResidencyCountry: c.ResidencyCountry,
		MarketingConsent: c.MarketingConsent,
		HasReseller:      c.ResellerID != "",
		OrderChannel:     string(o.Channel),
		StripeEntity:     o.StripeEntity,
	}
}

// Get returns the order if the caller may see it.
//
// Errors: *apperr.InvalidError ("id") for a malformed id; apperr.ErrNotFound when it does not
// exist or the caller may not see it (so that existence is not leaked); apperr.ErrUnavailable.
func (s *Service) Get(ctx context.Context, who auth.Identity, id string) (Order, error) {
	id, err := validate.ID("id", id)
	if err != nil {
		return Order{}, err
	}
	o, err := s.store.Get(ctx, id)
	if err != nil {
		return Order{}, fmt.Errorf("get order %s: %w", id, err)
	}
	if !visibility(who).Sees(o) {
		return Order{}, fmt.Errorf("get order %s: %w", id, apperr.ErrNotFound)
	}
	return o, nil
}

// List returns one page of the orders the caller may see that match r, newest first.
// r.PageToken must come from a previous call with the same filters (and the same caller scope).
//
// Errors: *apperr.InvalidError naming customer_id, reseller_id, channel, end_time (a range
// that is empty or inverted), page_size or page_token; apperr.ErrUnavailable.
func (s *Service) List(ctx context.Context, who auth.Identity, r ListRequest) (Page, error) {
	if err := ValidateListRequest(r); err != nil {
		return Page{}, err
	}
	size, err := paging.Size(r.PageSize)
	if err != nil {
		return Page{}, err
	}
	f := Filter{
		CustomerID: r.CustomerID,
		ResellerID: r.ResellerID,
		Channel:    r.Channel,
		Start:      r.Start.UTC(),
		End:        r.End.UTC(),
		Scope:      visibility(who),
	}
	cur, ok, err := paging.Decode(r.PageToken, f)
	if err != nil {
		return Page{}, err
	}
	// Tokens are opaque but not signed: a forged id must not reach the uuid cast in SQL.
	if ok {
		if _, err := validate.ID("page_token", cur.ID); err != nil {
			return Page{}, apperr.Invalid("page_token", "is not a token this service issued")
		}
	}
	if f.Scope.none() {
		return Page{}, nil
	}
	var after *paging.Cursor
	if ok {
		after = &cur
	}
	// One extra row says whether another page exists without a count query.
	rows, err := s.store.List(ctx, f, after, size+1)
	if err != nil {
		return Page{}, fmt.Errorf("list orders: %w", err)
	}
	var p Page
	if len(rows) > size {
		rows = rows[:size]
		last := rows[len(rows)-1]
		p.NextPageToken = paging.Encode(paging.Cursor{Time: last.CreateTime, ID: last.ID}, f)
	}
	p.Orders = rows
	return p, nil
}

// timestamp is now in UTC at PostgreSQL's precision, so that what Create returns equals what a
// later Get reads back.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
