// Package billingdb stores orders in PostgreSQL. The delivery address (ship_to) is sealed with
// the customer's retained data key: invoices must keep it after erasure, until retain_until,
// when a database trigger stops refusing the order's deletion. Lines, amounts and countries
// stay plaintext for finance. The customer facts an order is decided from are read from the
// customers table in the order's own transaction (this package owns that one query; billing
// never imports the customers domain). Orders and payments pass through the dataflow gateway:
// each is tracked in the flow ledger in the transaction that writes it, a new order's
// deliveries are queued in its create transaction, and every Stripe API call is first checked
// against the payment's ledger entry under the payment's row lock. The sqlc-generated queries
// live in internal/dbsqlc: sqlc always emits a New() of its own, which would clash with this
// package's New.
package billingdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/billing/billingdb/internal/dbsqlc"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/paging"
	"github.com/lumio/contactcentre/internal/postgres"
)

// createScope is the idempotency-key scope of CreateOrder request ids.
const createScope = "orders.create"

// Store implements billing.Store.
type Store struct {
	pool *pgxpool.Pool
	kr   *keyring.Keyring
	q    *dbsqlc.Queries
}

var _ billing.Store = (*Store)(nil)

// New returns a Store on pool that seals delivery addresses with keys from kr.
func New(pool *pgxpool.Pool, kr *keyring.Keyring) *Store {
	return &Store{pool: pool, kr: kr, q: dbsqlc.New()}
}

// Create implements billing.Store. The idempotency key is claimed first, so that a concurrent
// retry waits on it and then replays; the customer's row is then held FOR SHARE, so that its
// facts (residency, consent, erasure) cannot change between the decision and the commit.
func (s *Store) Create(ctx context.Context, req billing.CreateRequest, build func(billing.CustomerFacts) (billing.Order, error)) (billing.Order, error) {
	var out billing.Order
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if req.RequestID != "" {
			first, replay, err := postgres.ClaimIdempotencyKey(ctx, tx, createScope, req.RequestID, s.requestHash(req), req.OrderID)
			if err != nil {
				return err
			}
			if replay {
				out, err = s.get(ctx, tx, first)
				return err
			}
		}
		facts, err := s.lockFacts(ctx, tx, req.CustomerID)
		if err != nil {
			return err
		}
		o, err := build(facts)
		if err != nil {
			return err
		}
		rk, err := keyringdb.Ensure(ctx, tx, s.kr, o.CustomerID, keyringdb.Retained)
		if err != nil {
			return fmt.Errorf("retained data key: %w", err)
		}
		shipTo, err := sealAddress(rk, o.ID, o.ShipTo)
		if err != nil {
			return err
		}
		err = s.q.InsertOrder(ctx, tx, dbsqlc.InsertOrderParams{
			ID:                   o.ID,
			CustomerID:           o.CustomerID,
			Channel:              string(o.Channel),
			ResellerID:           o.ResellerID,
			Currency:             o.Currency,
			Status:               string(o.Status),
			NetMinor:             o.NetMinor,
			VatMinor:             o.VATMinor,
			GrossMinor:           o.GrossMinor,
			StripeEntity:         o.StripeEntity,
			Country:              o.Country,
			ShipToCt:             shipTo,
			DekID:                rk.ID,
			AllowedSubprocessors: nonNil(o.AllowedSubprocessors),
			Version:              o.Version,
			CreateBy:             o.CreateBy,
			CreateTime:           o.CreateTime,
			UpdateTime:           o.UpdateTime,
			RetainUntil:          o.RetainUntil,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("insert order: %w", err))
		}
		if err := s.q.InsertOrderLines(ctx, tx, linesParams(o)); err != nil {
			return postgres.Interpret(fmt.Errorf("insert order lines: %w", err))
		}
		if err := dataflowdb.Track(ctx, tx, flowRecord(o, facts)); err != nil {
			return fmt.Errorf("track order: %w", err)
		}
		if err := s.enqueueOrder(ctx, tx, o); err != nil {
			return err
		}
		out = o
		return nil
	})
	return out, err
}

// flowRecord is an order's entry in the flow ledger: the facts its list was decided from, by
// the domain's one function for them.
func flowRecord(o billing.Order, c billing.CustomerFacts) dataflow.Record {
	return dataflow.Record{
		ID: o.ID, Kind: dataflow.KindOrder, CustomerID: o.CustomerID,
		Facts: billing.Facts(o, c), Allowed: nonNil(o.AllowedSubprocessors),
	}
}

// enqueueOrder queues a new order to the processors it is pushed to. The payloads are sealed
// with the customer's personal data key, not the retained one that seals ship_to here: a queued
// copy is not the financial record, and erasure must make it unreadable at once.
func (s *Store) enqueueOrder(ctx context.Context, tx pgx.Tx, o billing.Order) error {
	pushes, err := billing.OrderPushes(o)
	if err != nil || len(pushes) == 0 {
		return err
	}
	pk, err := keyringdb.Ensure(ctx, tx, s.kr, o.CustomerID, keyringdb.Personal)
	if err != nil {
		return fmt.Errorf("personal data key: %w", err)
	}
	for _, p := range pushes {
		if err := dataflowdb.Enqueue(ctx, tx, pk, o.ID, p.Processors, p.Payload); err != nil {
			return fmt.Errorf("queue order: %w", err)
		}
	}
	return nil
}

// lockFacts reads the customer's facts FOR SHARE; a missing customer is a fact too (Exists
// false), for the domain to turn into the right error.
func (s *Store) lockFacts(ctx context.Context, tx pgx.Tx, customerID string) (billing.CustomerFacts, error) {
	row, err := s.q.LockCustomerFacts(ctx, tx, customerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.CustomerFacts{}, nil
	}
	if err != nil {
		return billing.CustomerFacts{}, postgres.Interpret(fmt.Errorf("lock customer: %w", err))
	}
	return billing.CustomerFacts{
		Exists:           true,
		AddressCountry:   row.AddressCountry,
		ResidencyCountry: row.ResidencyCountry,
		MarketingConsent: row.MarketingConsent,
		ResellerID:       row.ResellerID,
		CreateBy:         row.CreateBy,
		Erased:           row.Erased,
	}, nil
}

// RecomputeFlows recomputes the allowed_subprocessors of every order of customerID from the
// customer's current facts, inside tx: the transaction that changed those facts, so that the
// change and its consequences commit together (DOMAIN.md: "the lists of the affected records
// are recomputed at once"). flows is the domain's rule (billing.Service.Flows). Only orders
// whose list changed are written (version + 1, update_time at), but every order's ledger entry
// is tracked with the new facts: where the list shrank, Track cancels the deliveries queued to
// the processors no longer allowed and asks those that already hold the order to delete it.
// The Stripe entity is not revisited: it was decided when the order was made, and its payment
// follows it. It returns how many orders changed.
func (s *Store) RecomputeFlows(ctx context.Context, tx pgx.Tx, customerID string, at time.Time,
	flows func(billing.Order, billing.CustomerFacts) []string,
) (int, error) {
	facts, err := s.lockFacts(ctx, tx, customerID)
	if err != nil || !facts.Exists {
		return 0, err
	}
	rows, err := s.q.LockCustomerOrderFlows(ctx, tx, customerID)
	if err != nil {
		return 0, postgres.Interpret(fmt.Errorf("lock orders of customer: %w", err))
	}
	changed := 0
	for _, r := range rows {
		o := billing.Order{ID: r.ID, CustomerID: customerID, Channel: billing.Channel(r.Channel), StripeEntity: r.StripeEntity}
		next := nonNil(flows(o, facts))
		o.AllowedSubprocessors = next
		if err := dataflowdb.Track(ctx, tx, flowRecord(o, facts)); err != nil {
			return 0, fmt.Errorf("track order %s: %w", r.ID, err)
		}
		if slices.Equal(next, r.AllowedSubprocessors) {
			continue
		}
		if err := s.q.SetOrderFlows(ctx, tx, dbsqlc.SetOrderFlowsParams{AllowedSubprocessors: next, UpdateTime: at, ID: r.ID}); err != nil {
			return 0, postgres.Interpret(fmt.Errorf("update flows of order %s: %w", r.ID, err))
		}
		changed++
	}
	return changed, nil
}

// Get implements billing.Store.
func (s *Store) Get(ctx context.Context, id string) (billing.Order, error) {
	return s.get(ctx, s.pool, id)
}

func (s *Store) get(ctx context.Context, db postgres.DBTX, id string) (billing.Order, error) {
	row, err := s.q.GetOrder(ctx, db, id)
	if err != nil {
		return billing.Order{}, postgres.Interpret(fmt.Errorf("read order: %w", err))
	}
	orders, err := s.withLines(ctx, db, []keyedRow{keyedRow(row)})
	if err != nil {
		return billing.Order{}, err
	}
	return orders[0], nil
}

// List implements billing.Store.
func (s *Store) List(ctx context.Context, f billing.Filter, after *paging.Cursor, limit int) ([]billing.Order, error) {
	p := dbsqlc.ListOrdersParams{
		SeeAll:      f.Scope.All,
		SeeReseller: f.Scope.ResellerOrders,
		SeeCreateBy: f.Scope.CreateBy,
		ResellerID:  pgtype.Text{String: f.ResellerID, Valid: f.ResellerID != ""},
		Channel:     pgtype.Text{String: string(f.Channel), Valid: f.Channel != ""},
		RowLimit:    int32(min(limit, paging.MaxSize+1)),
	}
	if f.CustomerID != "" {
		p.CustomerID = &f.CustomerID
	}
	if !f.Start.IsZero() {
		p.StartTime = &f.Start
	}
	if !f.End.IsZero() {
		p.EndTime = &f.End
	}
	if after != nil {
		p.AfterTime, p.AfterID = &after.Time, &after.ID
	}
	rows, err := s.q.ListOrders(ctx, s.pool, p)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("list orders: %w", err))
	}
	keyed := make([]keyedRow, 0, len(rows))
	for _, r := range rows {
		keyed = append(keyed, keyedRow(r))
	}
	return s.withLines(ctx, s.pool, keyed)
}

// keyedRow is the common shape of the read queries: the order row plus its wrapped data key.
type keyedRow struct {
	Order       dbsqlc.Order
	MasterKeyID string
	WrappedKey  []byte
}

// withLines converts rows to orders and attaches their lines, read in one query for the page.
func (s *Store) withLines(ctx context.Context, db postgres.DBTX, rows []keyedRow) ([]billing.Order, error) {
	if len(rows) == 0 {
		return []billing.Order{}, nil
	}
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.Order.ID)
	}
	lineRows, err := s.q.ListOrderLines(ctx, db, ids)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("read order lines: %w", err))
	}
	lines := map[string][]billing.Line{}
	for _, l := range lineRows {
		lines[l.OrderID] = append(lines[l.OrderID], billing.Line{
			SKU:            l.Sku,
			Description:    l.Description,
			Quantity:       l.Quantity,
			UnitPriceMinor: l.UnitPriceMinor,
			VATRateBP:      l.VatRateBp,
			NetMinor:       l.NetMinor,
			VATMinor:       l.VatMinor,
		})
	}
	out := make([]billing.Order, 0, len(rows))
	for _, r := range rows {
		o, err := s.toDomain(r)
		if err != nil {
			return nil, err
		}
		o.Lines = lines[o.ID]
		out = append(out, o)
	}
	return out, nil
}

// toDomain opens a row. A destroyed key (the retained data was purged) yields an empty ship_to
// rather than an error: the order's financial facts outlive the address.
func (s *Store) toDomain(r keyedRow) (billing.Order, error) {
	row := r.Order
	o := billing.Order{
		ID:                   row.ID,
		CustomerID:           row.CustomerID,
		Channel:              billing.Channel(row.Channel),
		ResellerID:           row.ResellerID,
		Currency:             row.Currency,
		Status:               billing.Status(row.Status),
		NetMinor:             row.NetMinor,
		VATMinor:             row.VatMinor,
		GrossMinor:           row.GrossMinor,
		StripeEntity:         row.StripeEntity,
		Country:              row.Country,
		AllowedSubprocessors: row.AllowedSubprocessors,
		Version:              row.Version,
		CreateBy:             row.CreateBy,
		CreateTime:           row.CreateTime.UTC(),
		UpdateTime:           row.UpdateTime.UTC(),
		RetainUntil:          row.RetainUntil.UTC(),
	}
	dk, err := s.kr.Unwrap(row.DekID, r.MasterKeyID, r.WrappedKey)
	if errors.Is(err, keyring.ErrKeyDestroyed) {
		return o, nil
	}
	if err != nil {
		return billing.Order{}, err
	}
	doc, err := dk.Open(row.ShipToCt, shipToAAD(row.ID))
	if err != nil {
		return billing.Order{}, fmt.Errorf("order %s ship_to: %w", row.ID, err)
	}
	if doc != "" {
		if err := json.Unmarshal([]byte(doc), &o.ShipTo); err != nil {
			return billing.Order{}, fmt.Errorf("order %s ship_to: %w", row.ID, err)
		}
	}
	return o, nil
}

func shipToAAD(orderID string) string { return keyring.AAD("orders", "ship_to", orderID) }

// sealAddress encrypts a delivery address; no address is stored as NULL.
func sealAddress(dk *keyring.DataKey, orderID string, a billing.Address) ([]byte, error) {
	if a.IsZero() {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode ship_to: %w", err)
	}
	return dk.Seal(string(b), shipToAAD(orderID)), nil
}

func linesParams(o billing.Order) dbsqlc.InsertOrderLinesParams {
	n := len(o.Lines)
	p := dbsqlc.InsertOrderLinesParams{
		OrderID:         o.ID,
		LineNumbers:     make([]int32, 0, n),
		Skus:            make([]string, 0, n),
		Descriptions:    make([]string, 0, n),
		Quantities:      make([]int64, 0, n),
		UnitPricesMinor: make([]int64, 0, n),
		VatRatesBp:      make([]int32, 0, n),
		NetsMinor:       make([]int64, 0, n),
		VatsMinor:       make([]int64, 0, n),
	}
	for i, l := range o.Lines {
		p.LineNumbers = append(p.LineNumbers, int32(i+1))
		p.Skus = append(p.Skus, l.SKU)
		p.Descriptions = append(p.Descriptions, l.Description)
		p.Quantities = append(p.Quantities, l.Quantity)
		p.UnitPricesMinor = append(p.UnitPricesMinor, l.UnitPriceMinor)
		p.VatRatesBp = append(p.VatRatesBp, l.VATRateBP)
		p.NetsMinor = append(p.NetsMinor, l.NetMinor)
		p.VatsMinor = append(p.VatsMinor, l.VATMinor)
	}
	return p
}

// requestHash fingerprints a create request for idempotency. It covers the caller (so that one
// caller's request id never returns another caller's order) and is keyed, because the input
// holds a delivery address that a plain hash in idempotency_keys would expose to guessing.
func (s *Store) requestHash(req billing.CreateRequest) []byte {
	b, err := json.Marshal(struct {
		CreateBy string           `json:"create_by"`
		Input    billing.NewOrder `json:"input"`
	}{req.CreateBy, req.Input})
	if err != nil {
		panic("billingdb: encode request: " + err.Error())
	}
	sum := sha256.Sum256(b)
	// Index lower-cases its input; hex keeps the digest, and so the case of the input, intact.
	return s.kr.Index(createScope, hex.EncodeToString(sum[:]))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
