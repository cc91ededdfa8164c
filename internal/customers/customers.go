// Package customers holds the buying organisations (school districts, schools, companies) that
// tickets and orders point at: their rules, validation, record-level visibility and flow lists.
package customers

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/paging"
	"github.com/lumio/contactcentre/internal/validate"
)

// Contact is the buyer's contact at the organisation. DOMAIN.md: a customer is not a natural
// person by default, so every field is optional; a title alone and a role alias are enough.
type Contact struct {
	Name       string `json:"name,omitempty"`
	Title      string `json:"title,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	MayContact bool   `json:"may_contact,omitempty"`
}

// Address is a postal address. Country is ISO 3166-1 alpha-2, upper case.
type Address struct {
	Lines      []string `json:"lines,omitempty"`
	City       string   `json:"city,omitempty"`
	PostalCode string   `json:"postal_code,omitempty"`
	Region     string   `json:"region,omitempty"`
	Country    string   `json:"country,omitempty"`
}

// Customer is a buying organisation as stored.
type Customer struct {
	ID               string
	OrgName          string
	Contact          Contact
	Address          Address
	ResidencyCountry string
	MarketingConsent bool
	ResellerID       string
	// AllowedSubprocessors is computed by dataflow.Policy from the facts above; sorted.
	AllowedSubprocessors []string
	// Version grows by one on every update; its decimal form is the etag.
	Version    int64
	CreateBy   string
	CreateTime time.Time
	UpdateTime time.Time
}

// ETag is the customer's version rendered for AIP-154.
func (c Customer) ETag() string { return strconv.FormatInt(c.Version, 10) }

// NewCustomer is the input of Create, and the values an update takes its masked fields from.
type NewCustomer struct {
	OrgName          string  `json:"org_name"`
	Contact          Contact `json:"contact"`
	Address          Address `json:"address"`
	ResidencyCountry string  `json:"residency_country,omitempty"`
	MarketingConsent bool    `json:"marketing_consent,omitempty"`
	ResellerID       string  `json:"reseller_id,omitempty"`
}

// Update changes the fields of customer ID named in Mask to their values in Values.
type Update struct {
	ID string
	// ETag, when not empty, must equal the current etag (AIP-154); empty is unconditional.
	ETag   string
	Mask   []string
	Values NewCustomer
}

// Filter selects customers to list.
type Filter struct {
	// Query is a case-insensitive substring of the organisation name.
	Query string `json:"q,omitempty"`
	// CreateBy, when set, restricts the list to customers that subject created. It is how the
	// storefront's record-level rule reaches the query; Only distinguishes "" from unset.
	CreateBy     string `json:"cb,omitempty"`
	OnlyCreateBy bool   `json:"ocb,omitempty"`
}

// Page is one page of a list.
type Page struct {
	Customers     []Customer
	NextPageToken string
}

// Store persists customers. Implementations encrypt personal data at rest.
type Store interface {
	// Create inserts c. With a requestID it is idempotent: a retry returns the customer the
	// first request created; the same requestID with a different request is
	// apperr.ErrAlreadyExists. Concurrent creates with one requestID yield one row.
	Create(ctx context.Context, c Customer, requestID string) (Customer, error)
	// Get returns the customer or apperr.ErrNotFound.
	Get(ctx context.Context, id string) (Customer, error)
	// List returns up to limit customers matching f, newest first, strictly after the cursor
	// when after is not nil.
	List(ctx context.Context, f Filter, after *paging.Cursor, limit int) ([]Customer, error)
	// Update locks the customer, passes it to apply and stores what apply returns (version
	// incremented, update time set by apply), all in one transaction. An error from apply is
	// returned unchanged and nothing is written. apperr.ErrNotFound if there is no customer.
	Update(ctx context.Context, id string, apply func(current Customer) (Customer, error)) (Customer, error)
}

// Service applies the customer rules on top of a Store.
type Service struct {
	store  Store
	policy dataflow.Policy
	now    func() time.Time
}

// NewService returns a Service. now is injectable so that tests control time.
func NewService(store Store, policy dataflow.Policy, now func() time.Time) *Service {
	return &Service{store: store, policy: policy, now: now}
}

// Create validates nc and stores a new customer created by the caller. requestID makes the call
// idempotent (empty means none).
//
// Errors: *apperr.InvalidError naming the field; apperr.ErrAlreadyExists when requestID was used
// for a different request (including by another caller); apperr.ErrUnavailable.
func (s *Service) Create(ctx context.Context, who auth.Identity, nc NewCustomer, requestID string) (Customer, error) {
	if err := validate.RequestID("request_id", requestID); err != nil {
		return Customer{}, err
	}
	nc, err := ValidateNewCustomer(nc)
	if err != nil {
		return Customer{}, err
	}
	now := s.timestamp()
	c := Customer{
		ID:         uuid.Must(uuid.NewV7()).String(),
		Version:    1,
		CreateBy:   who.Subject,
		CreateTime: now,
		UpdateTime: now,
	}
	c = s.assign(c, nc)
	out, err := s.store.Create(ctx, c, requestID)
	if err != nil {
		return Customer{}, fmt.Errorf("create customer: %w", err)
	}
	return out, nil
}

// Get returns the customer if the caller may see it.
//
// Errors: *apperr.InvalidError ("id") for a malformed id; apperr.ErrNotFound when it does not
// exist or the caller may not see it (so existence is not leaked); apperr.ErrUnavailable.
func (s *Service) Get(ctx context.Context, who auth.Identity, id string) (Customer, error) {
	if err := validateID("id", id); err != nil {
		return Customer{}, err
	}
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return Customer{}, fmt.Errorf("get customer %s: %w", id, err)
	}
	if !canRead(who, c) {
		return Customer{}, fmt.Errorf("get customer %s: %w", id, apperr.ErrNotFound)
	}
	return c, nil
}

// List returns one page of the customers the caller may see, newest first. pageToken must come
// from a previous call with the same query.
//
// Errors: *apperr.InvalidError naming query, page_size or page_token; apperr.ErrUnavailable.
func (s *Service) List(ctx context.Context, who auth.Identity, query string, pageSize int32, pageToken string) (Page, error) {
	if err := validate.Text("query", query, maxQueryLen, false); err != nil {
		return Page{}, err
	}
	size, err := paging.Size(pageSize)
	if err != nil {
		return Page{}, err
	}
	f := Filter{Query: query}
	if !readsAll(who) {
		f.CreateBy, f.OnlyCreateBy = who.Subject, true
	}
	cur, ok, err := paging.Decode(pageToken, f)
	if err != nil {
		return Page{}, err
	}
	// Tokens are opaque but not signed: a forged id must not reach the uuid cast in SQL.
	if ok && validateID("page_token", cur.ID) != nil {
		return Page{}, apperr.Invalid("page_token", "is not a token this service issued")
	}
	var after *paging.Cursor
	if ok {
		after = &cur
	}
	// One extra row says whether another page exists without a count query.
	rows, err := s.store.List(ctx, f, after, size+1)
	if err != nil {
		return Page{}, fmt.Errorf("list customers: %w", err)
	}
	var p Page
	if len(rows) > size {
		rows = rows[:size]
		last := rows[len(rows)-1]
		p.NextPageToken = paging.Encode(paging.Cursor{Time: last.CreateTime, ID: last.ID}, f)
	}
	p.Customers = rows
	return p, nil
}

// Update changes the masked fields of a customer the caller may change and recomputes its flow
// list in the same transaction.
//
// Errors: *apperr.InvalidError naming update_mask, customer.etag or the bad field;
// apperr.ErrNotFound when the customer does not exist or the caller may not see it;
// apperr.ErrPermission when the caller may see but not change it; apperr.ErrStaleEtag when the
// etag is not current; *apperr.PreconditionError when the store refuses (e.g. erased data);
// apperr.ErrUnavailable.
func (s *Service) Update(ctx context.Context, who auth.Identity, u Update) (Customer, error) {
	if err := validateID("customer.id", u.ID); err != nil {
		return Customer{}, err
	}
	mask, err := parseMask(u.Mask)
	if err != nil {
		return Customer{}, err
	}
	var want int64
	if u.ETag != "" {
		if want, err = strconv.ParseInt(u.ETag, 10, 64); err != nil || want < 1 {
			return Customer{}, apperr.Invalid("customer.etag", "is not an etag this service issued")
		}
	}
	out, err := s.store.Update(ctx, u.ID, func(cur Customer) (Customer, error) {
		if err := checkWrite(who, cur); err != nil {
			return Customer{}, err
		}
		if u.ETag != "" && want != cur.Version {
			return Customer{}, apperr.ErrStaleEtag
		}
		next, err := ValidateNewCustomer(mask.apply(current(cur), u.Values))
		if err != nil {
			return Customer{}, err
		}
		cur = s.assign(cur, next)
		cur.UpdateTime = s.timestamp()
		return cur, nil
	})
	if err != nil {
		return Customer{}, fmt.Errorf("update customer %s: %w", u.ID, err)
	}
	return out, nil
}

// assign copies validated input onto c and recomputes the flow list from the new facts: the
// only place a customer's list is made, on create and on every update.
func (s *Service) assign(c Customer, nc NewCustomer) Customer {
	c.OrgName = nc.OrgName
	c.Contact = nc.Contact
	c.Address = nc.Address
	c.ResidencyCountry = nc.ResidencyCountry
	c.MarketingConsent = nc.MarketingConsent
	c.ResellerID = nc.ResellerID
	c.AllowedSubprocessors = s.policy.Decide(Facts(c)).Allowed
	return c
}

// Facts are the flow-policy facts of a customer. Stores use them to tell whether an update
// changed what the customer's other records may flow to.
func Facts(c Customer) dataflow.Facts {
	return dataflow.Facts{
		Kind:             dataflow.KindCustomer,
		ResidencyCountry: c.ResidencyCountry,
		MarketingConsent: c.MarketingConsent,
		HasReseller:      c.ResellerID != "",
	}
}

// timestamp is now in UTC at PostgreSQL's precision, so that what Create returns equals what a
// later Get reads back.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func current(c Customer) NewCustomer {
	return NewCustomer{
		OrgName:          c.OrgName,
		Contact:          c.Contact,
		Address:          c.Address,
		ResidencyCountry: c.ResidencyCountry,
		MarketingConsent: c.MarketingConsent,
		ResellerID:       c.ResellerID,
	}
}
