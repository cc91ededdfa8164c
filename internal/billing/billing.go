// Package billing holds orders: reseller and storefront purchases, their server-computed totals,
// status machine, retention dates and flow lists, and which caller may create and see which
// order. Payments, Stripe and webhooks build on these types. It imports neither gRPC nor the
// database nor the customers domain: the customer facts an order needs arrive as values.
package billing

import (
	"context"
	"strconv"
	"time"

	"github.com/lumio/contactcentre/internal/paging"
)

// Channel is how an order was placed.
type Channel string

// Order channels, spelled as the dataflow policy spells them.
const (
	ChannelReseller   Channel = "reseller"
	ChannelStorefront Channel = "storefront"
)

// Line is one product line of an order as stored, with its server-computed amounts.
type Line struct {
	SKU            string
	Description    string
	Quantity       int64
	UnitPriceMinor int64
	VATRateBP      int32
	NetMinor       int64
	VATMinor       int64
}

// Address is a delivery address. Country is ISO 3166-1 alpha-2, upper case.
type Address struct {
	Lines      []string `json:"lines,omitempty"`
	City       string   `json:"city,omitempty"`
	PostalCode string   `json:"postal_code,omitempty"`
	Region     string   `json:"region,omitempty"`
	Country    string   `json:"country,omitempty"`
}

// IsZero reports whether no field of the address is set.
func (a Address) IsZero() bool {
	return len(a.Lines) == 0 && a.City == "" && a.PostalCode == "" && a.Region == "" && a.Country == ""
}

// Order is a purchase as stored.
type Order struct {
	ID         string
	CustomerID string
	Channel    Channel
	// ResellerID is set for reseller orders and empty for storefront orders.
	ResellerID string
	Currency   string
	Lines      []Line
	// ShipTo is optional (licences are delivered digitally) and sealed under the customer's
	// retained data key: invoices keep it after erasure, until RetainUntil.
	ShipTo     Address
	Status     Status
	NetMinor   int64
	VATMinor   int64
	GrossMinor int64
	// StripeEntity is decided at creation for storefront orders from the customer's residency
	// (country.StripeEntityFor) and is empty for reseller orders. Payments use it as is.
	StripeEntity string
	// Country is the customer's address country when the order was made: the key of the
	// retention override and of revenue reports, fixed even if the customer moves later.
	Country string
	// AllowedSubprocessors is computed by dataflow.Policy; sorted.
	AllowedSubprocessors []string
	// Version grows by one on every change; its decimal form is the etag.
	Version     int64
	CreateBy    string
	CreateTime  time.Time
	UpdateTime  time.Time
	RetainUntil time.Time
}

// ETag is the order's version rendered for AIP-154.
func (o Order) ETag() string { return strconv.FormatInt(o.Version, 10) }

// NewLine is a line as the client sends it: amounts are computed by the server.
type NewLine struct {
	SKU            string `json:"sku"`
	Description    string `json:"description,omitempty"`
	Quantity       int64  `json:"quantity"`
	UnitPriceMinor int64  `json:"unit_price_minor"`
	VATRateBP      int32  `json:"vat_rate_bp"`
}

// NewOrder is the input of Create: only what a client may choose. Status, totals, Stripe
// entity, flow list and dates have no field here, so a client cannot set them.
type NewOrder struct {
	CustomerID string    `json:"customer_id"`
	Channel    Channel   `json:"channel"`
	ResellerID string    `json:"reseller_id,omitempty"`
	Currency   string    `json:"currency"`
	Lines      []NewLine `json:"lines"`
	ShipTo     Address   `json:"ship_to"`
}

// CustomerFacts are what an order needs to know about its customer, read by the store in the
// order's own transaction (and locked against concurrent change until it commits).
type CustomerFacts struct {
	// Exists is false when no customer has the order's customer_id.
	Exists           bool
	AddressCountry   string
	ResidencyCountry string
	MarketingConsent bool
	ResellerID       string
	CreateBy         string
	Erased           bool
}

// CreateRequest is what the store needs to create an order idempotently.
type CreateRequest struct {
	// OrderID is the id the new order gets if this request creates one.
	OrderID    string
	CustomerID string
	// RequestID makes the create idempotent; empty means no idempotency.
	RequestID string
	// CreateBy and Input identify the request: a retry must repeat both exactly.
	CreateBy string
	Input    NewOrder
}

// Visibility is the record-level read scope of a caller, carried into list queries. An order is
// visible if All, or if ResellerOrders and it is a reseller order, or if CreateBy is not empty
// and the order was created by CreateBy.
type Visibility struct {
	All            bool   `json:"all,omitempty"`
	ResellerOrders bool   `json:"reseller,omitempty"`
	CreateBy       string `json:"create_by,omitempty"`
}

// Filter selects orders to list. Zero fields do not filter.
type Filter struct {
	CustomerID string  `json:"customer_id,omitempty"`
	ResellerID string  `json:"reseller_id,omitempty"`
	Channel    Channel `json:"channel,omitempty"`
	// Start and End bound create_time to [Start, End); zero means unbounded.
	Start time.Time  `json:"start"`
	End   time.Time  `json:"end"`
	Scope Visibility `json:"scope"`
}

// ListRequest is the input of List.
type ListRequest struct {
	CustomerID string
	ResellerID string
	Channel    Channel
	Start, End time.Time
	PageSize   int32
	PageToken  string
}

// Page is one page of a list.
type Page struct {
	Orders        []Order
	NextPageToken string
}

// Store persists orders. Implementations seal ShipTo at rest.
type Store interface {
	// Create runs one transaction: it claims req.RequestID (a retry returns the order the
	// first request created without calling build; the same id with a different request is
	// apperr.ErrAlreadyExists), reads the customer's facts locked against change, passes them
	// to build and inserts the order build returns with its lines. An error from build is
	// returned unchanged and nothing is written. Concurrent creates with one request id yield
	// one order.
	Create(ctx context.Context, req CreateRequest, build func(CustomerFacts) (Order, error)) (Order, error)
	// Get returns the order with its lines, or apperr.ErrNotFound.
	Get(ctx context.Context, id string) (Order, error)
	// List returns up to limit orders matching f with their lines, newest first (create_time,
	// then id, descending), strictly after the cursor when after is not nil.
	List(ctx context.Context, f Filter, after *paging.Cursor, limit int) ([]Order, error)
}
