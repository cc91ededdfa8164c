// Package customersdb stores customers in PostgreSQL. Contact details are sealed with the
// customer's personal data key (erasure destroys it); the address is sealed with the retained
// data key, because invoices must keep it after erasure. Organisation name and countries stay
// plaintext: an organisation's name and a country alone are not personal data, and search,
// policy and reports need them. The sqlc-generated queries live in internal/dbsqlc: sqlc always
// emits a New() of its own, which would clash with this package's New.
package customersdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/customers"
	"github.com/lumio/contactcentre/internal/customers/customersdb/internal/dbsqlc"
	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/paging"
	"github.com/lumio/contactcentre/internal/postgres"
)

// createScope is the idempotency-key scope of CreateCustomer request ids.
const createScope = "customers.create"

// FactsHook runs inside a customer update's transaction when the update changed the customer's
// flow-policy facts (residency, marketing consent, reseller), so that the customer's other
// records can recompute their allowed_subprocessors atomically with the change (DOMAIN.md:
// "the lists of the affected records are recomputed at once"). An error rolls everything back.
type FactsHook func(ctx context.Context, tx pgx.Tx, before, after customers.Customer) error

// Store implements customers.Store.
type Store struct {
	pool  *pgxpool.Pool
	kr    *keyring.Keyring
	q     *dbsqlc.Queries
	hooks []FactsHook
}

var _ customers.Store = (*Store)(nil)

// New returns a Store on pool that seals personal data with keys from kr.
func New(pool *pgxpool.Pool, kr *keyring.Keyring) *Store {
	return &Store{pool: pool, kr: kr, q: dbsqlc.New()}
}

// OnFactsChange adds hooks that Update runs in its transaction when a customer's facts change.
// Call it while wiring, before the store serves requests.
//
// TODO(orders): no other record's list depends on customer facts yet (tickets depend only on
// channel and opt-out). When billing lands, cmd/ordersvc registers the hook that recomputes the
// customer's orders (and their payments) here.
func (s *Store) OnFactsChange(hooks ...FactsHook) *Store {
	s.hooks = append(s.hooks, hooks...)
	return s
}

// Create implements customers.Store. Both data keys are created in the same transaction as the
// row, so a customer never exists without the keys that open it.
func (s *Store) Create(ctx context.Context, c customers.Customer, requestID string) (customers.Customer, error) {
	var out customers.Customer
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if requestID != "" {
			first, replay, err := postgres.ClaimIdempotencyKey(ctx, tx, createScope, requestID, s.requestHash(c), c.ID)
			if err != nil {
				return err
			}
			if replay {
				row, err := s.q.GetCustomer(ctx, tx, first)
				if err != nil {
					return postgres.Interpret(fmt.Errorf("read first customer: %w", err))
				}
				out, _, err = s.toDomain(keyedRow(row))
				return err
			}
		}
		pk, err := keyringdb.Ensure(ctx, tx, s.kr, c.ID, keyringdb.Personal)
		if err != nil {
			return fmt.Errorf("personal data key: %w", err)
		}
		rk, err := keyringdb.Ensure(ctx, tx, s.kr, c.ID, keyringdb.Retained)
		if err != nil {
			return fmt.Errorf("retained data key: %w", err)
		}
		ct, err := s.seal(c, dataKeys{personal: pk, retained: rk})
		if err != nil {
			return err
		}
		err = s.q.InsertCustomer(ctx, tx, dbsqlc.InsertCustomerParams{
			ID:                   c.ID,
			OrgName:              c.OrgName,
			ContactNameCt:        ct.name,
			ContactTitleCt:       ct.title,
			ContactEmailCt:       ct.email,
			ContactEmailHmac:     ct.emailHMAC,
			ContactPhoneCt:       ct.phone,
			MayContact:           c.Contact.MayContact,
			PersonalDekID:        pk.ID,
			AddressCt:            ct.address,
			RetainedDekID:        rk.ID,
			AddressCountry:       c.Address.Country,
			ResidencyCountry:     c.ResidencyCountry,
			MarketingConsent:     c.MarketingConsent,
			ResellerID:           c.ResellerID,
			AllowedSubprocessors: nonNil(c.AllowedSubprocessors),
			Version:              c.Version,
			CreateBy:             c.CreateBy,
			CreateTime:           c.CreateTime,
			UpdateTime:           c.UpdateTime,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("insert customer: %w", err))
		}
		if err := dataflowdb.Track(ctx, tx, flowRecord(c)); err != nil {
			return err
		}
		if err := enqueueCustomer(ctx, tx, pk, c); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// flowRecord is the customer's entry in the flow ledger.
func flowRecord(c customers.Customer) dataflow.Record {
	return dataflow.Record{ID: c.ID, Kind: dataflow.KindCustomer, CustomerID: c.ID, Facts: customers.Facts(c), Allowed: c.AllowedSubprocessors}
}

// customerDoc is the customer as the CRM, the ERP and a reseller receive it.
type customerDoc struct {
	ID               string            `json:"id"`
	OrgName          string            `json:"org_name"`
	Contact          customers.Contact `json:"contact"`
	Address          customers.Address `json:"address"`
	ResidencyCountry string            `json:"residency_country"`
	MarketingConsent bool              `json:"marketing_consent"`
	ResellerID       string            `json:"reseller_id,omitempty"`
	CreateTime       string            `json:"create_time"`
}

// marketingDoc is what marketing processors need: name, email and company (DOMAIN.md).
type marketingDoc struct {
	ID      string `json:"id"`
	OrgName string `json:"org_name"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
}

// monitoringDoc holds only facts; the mixpanel sink still projects it through the
// pseudonymisation allow-list (ids hashed), whatever it holds.
type monitoringDoc struct {
	ID               string `json:"id"`
	Kind             string `json:"kind"`
	ResidencyCountry string `json:"residency_country"`
	MarketingConsent bool   `json:"marketing_consent"`
	HasReseller      bool   `json:"has_reseller"`
	CreateTime       string `json:"create_time"`
}

// enqueueCustomer queues a new customer to the processors that receive customers, each with
// only what it needs; Enqueue refuses (and audits) any the customer's list does not allow, so
// only the allowed ones are passed.
func enqueueCustomer(ctx context.Context, tx pgx.Tx, dk *keyring.DataKey, c customers.Customer) error {
	created := c.CreateTime.Format(time.RFC3339Nano)
	docs := []struct {
		targets []string
		doc     any
	}{
		{[]string{dataflow.Salesforce, dataflow.Microsoft, dataflow.Reseller}, customerDoc{
			ID: c.ID, OrgName: c.OrgName, Contact: c.Contact, Address: c.Address,
			ResidencyCountry: c.ResidencyCountry, MarketingConsent: c.MarketingConsent,
			ResellerID: c.ResellerID, CreateTime: created,
		}},
		{[]string{dataflow.HubSpot, dataflow.Gainsight}, marketingDoc{ID: c.ID, OrgName: c.OrgName, Name: c.Contact.Name, Email: c.Contact.Email}},
		{[]string{dataflow.Mixpanel}, monitoringDoc{
			ID: c.ID, Kind: string(dataflow.KindCustomer), ResidencyCountry: c.ResidencyCountry,
			MarketingConsent: c.MarketingConsent, HasReseller: c.ResellerID != "", CreateTime: created,
		}},
	}
	for _, d := range docs {
		var targets []string
		for _, p := range d.targets {
			if slices.Contains(c.AllowedSubprocessors, p) {
				targets = append(targets, p)
			}
		}
		if len(targets) == 0 {
			continue
		}
		payload, err := json.Marshal(d.doc)
		if err != nil {
			return fmt.Errorf("encode customer delivery: %w", err)
		}
		if err := dataflowdb.Enqueue(ctx, tx, dk, c.ID, targets, payload); err != nil {
			return err
		}
	}
	return nil
}

// Get implements customers.Store.
func (s *Store) Get(ctx context.Context, id string) (customers.Customer, error) {
	row, err := s.q.GetCustomer(ctx, s.pool, id)
	if err != nil {
		return customers.Customer{}, postgres.Interpret(fmt.Errorf("read customer: %w", err))
	}
	c, _, err := s.toDomain(keyedRow(row))
	return c, err
}

// List implements customers.Store.
func (s *Store) List(ctx context.Context, f customers.Filter, after *paging.Cursor, limit int) ([]customers.Customer, error) {
	createBy := pgtype.Text{String: f.CreateBy, Valid: f.OnlyCreateBy}
	var afterTime *time.Time
	var afterID *string
	if after != nil {
		afterTime, afterID = &after.Time, &after.ID
	}
	var rows []keyedRow
	if f.Query == "" {
		rs, err := s.q.ListCustomers(ctx, s.pool, dbsqlc.ListCustomersParams{
			CreateBy: createBy, AfterTime: afterTime, AfterID: afterID, RowLimit: int32(limit),
		})
		if err != nil {
			return nil, postgres.Interpret(fmt.Errorf("list customers: %w", err))
		}
		for _, r := range rs {
			rows = append(rows, keyedRow(r))
		}
	} else {
		rs, err := s.q.SearchCustomers(ctx, s.pool, dbsqlc.SearchCustomersParams{
			Needle: escapeLike(f.Query), CreateBy: createBy, AfterTime: afterTime, AfterID: afterID, RowLimit: int32(limit),
		})
		if err != nil {
			return nil, postgres.Interpret(fmt.Errorf("search customers: %w", err))
		}
		for _, r := range rs {
			rows = append(rows, keyedRow(r))
		}
	}
	out := make([]customers.Customer, 0, len(rows))
	for _, r := range rows {
		c, _, err := s.toDomain(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Update implements customers.Store. The row is locked (FOR UPDATE) for the whole
// read-modify-write, so concurrent updates serialise and the etag check in apply is exact.
func (s *Store) Update(ctx context.Context, id string, apply func(customers.Customer) (customers.Customer, error)) (customers.Customer, error) {
	var out customers.Customer
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.GetCustomerForUpdate(ctx, tx, id)
		if err != nil {
			return postgres.Interpret(fmt.Errorf("lock customer: %w", err))
		}
		before, keys, err := s.toDomain(keyedRow(row))
		if err != nil {
			return err
		}
		after, err := apply(before)
		if err != nil {
			return err
		}
		// Identity and provenance are not apply's to change.
		after.ID, after.CreateBy, after.CreateTime = before.ID, before.CreateBy, before.CreateTime
		ct, err := s.seal(after, keys)
		if err != nil {
			return err
		}
		n, err := s.q.UpdateCustomer(ctx, tx, dbsqlc.UpdateCustomerParams{
			OrgName:              after.OrgName,
			ContactNameCt:        ct.name,
			ContactTitleCt:       ct.title,
			ContactEmailCt:       ct.email,
			ContactEmailHmac:     ct.emailHMAC,
			ContactPhoneCt:       ct.phone,
			MayContact:           after.Contact.MayContact,
			AddressCt:            ct.address,
			AddressCountry:       after.Address.Country,
			ResidencyCountry:     after.ResidencyCountry,
			MarketingConsent:     after.MarketingConsent,
			ResellerID:           after.ResellerID,
			AllowedSubprocessors: nonNil(after.AllowedSubprocessors),
			UpdateTime:           after.UpdateTime,
			ID:                   id,
			Version:              before.Version,
		})
		if err != nil {
			return postgres.Interpret(fmt.Errorf("update customer: %w", err))
		}
		if n != 1 {
			// Unreachable while the row is locked; kept so a future refactor fails safe.
			return apperr.ErrStaleEtag
		}
		after.Version = before.Version + 1
		// Re-tracked on every update: when consent is withdrawn or the country corrected, Track
		// cancels what is queued to processors no longer allowed and asks holders to delete.
		if err := dataflowdb.Track(ctx, tx, flowRecord(after)); err != nil {
			return err
		}
		if customers.Facts(before) != customers.Facts(after) {
			for _, h := range s.hooks {
				if err := h(ctx, tx, before, after); err != nil {
					return fmt.Errorf("recompute records of customer: %w", err)
				}
			}
		}
		out = after
		return nil
	})
	return out, err
}

// keyedRow is the common shape of every read query: the customer row plus its two wrapped
// data keys. The generated row types convert to it directly.
type keyedRow struct {
	Customer            dbsqlc.Customer
	PersonalMasterKeyID string
	PersonalWrappedKey  []byte
	RetainedMasterKeyID string
	RetainedWrappedKey  []byte
}

// dataKeys are a customer's open data keys; nil means destroyed (the customer was erased).
type dataKeys struct {
	personal, retained *keyring.DataKey
}

// addressDoc is the sealed part of the address. The country stays outside, in plaintext.
type addressDoc struct {
	Lines      []string `json:"lines,omitempty"`
	City       string   `json:"city,omitempty"`
	PostalCode string   `json:"postal_code,omitempty"`
	Region     string   `json:"region,omitempty"`
}

func aad(column, id string) string { return keyring.AAD("customers", column, id) }

// toDomain opens a row. A destroyed key yields empty fields rather than an error: an erased
// customer still exists for its retained records, it just has no contact any more.
func (s *Store) toDomain(r keyedRow) (customers.Customer, dataKeys, error) {
	row := r.Customer
	var keys dataKeys
	var err error
	if keys.personal, err = s.unwrap(row.PersonalDekID, r.PersonalMasterKeyID, r.PersonalWrappedKey); err != nil {
		return customers.Customer{}, dataKeys{}, err
	}
	if keys.retained, err = s.unwrap(row.RetainedDekID, r.RetainedMasterKeyID, r.RetainedWrappedKey); err != nil {
		return customers.Customer{}, dataKeys{}, err
	}
	c := customers.Customer{
		ID:                   row.ID,
		OrgName:              row.OrgName,
		Address:              customers.Address{Country: row.AddressCountry},
		ResidencyCountry:     row.ResidencyCountry,
		MarketingConsent:     row.MarketingConsent,
		ResellerID:           row.ResellerID,
		AllowedSubprocessors: row.AllowedSubprocessors,
		Version:              row.Version,
		CreateBy:             row.CreateBy,
		CreateTime:           row.CreateTime.UTC(),
		UpdateTime:           row.UpdateTime.UTC(),
	}
	c.Contact.MayContact = row.MayContact
	if pk := keys.personal; pk != nil {
		for _, f := range []struct {
			column string
			ct     []byte
			dst    *string
		}{
			{"contact_name_ct", row.ContactNameCt, &c.Contact.Name},
			{"contact_title_ct", row.ContactTitleCt, &c.Contact.Title},
			{"contact_email_ct", row.ContactEmailCt, &c.Contact.Email},
			{"contact_phone_ct", row.ContactPhoneCt, &c.Contact.Phone},
		} {
			if *f.dst, err = pk.Open(f.ct, aad(f.column, row.ID)); err != nil {
				return customers.Customer{}, dataKeys{}, fmt.Errorf("customer %s %s: %w", row.ID, f.column, err)
			}
		}
	}
	if rk := keys.retained; rk != nil {
		doc, err := rk.Open(row.AddressCt, aad("address_ct", row.ID))
		if err != nil {
			return customers.Customer{}, dataKeys{}, fmt.Errorf("customer %s address_ct: %w", row.ID, err)
		}
		if doc != "" {
			var a addressDoc
			if err := json.Unmarshal([]byte(doc), &a); err != nil {
				return customers.Customer{}, dataKeys{}, fmt.Errorf("customer %s address_ct: %w", row.ID, err)
			}
			c.Address.Lines, c.Address.City, c.Address.PostalCode, c.Address.Region = a.Lines, a.City, a.PostalCode, a.Region
		}
	}
	return c, keys, nil
}

func (s *Store) unwrap(id, masterKeyID string, wrapped []byte) (*keyring.DataKey, error) {
	dk, err := s.kr.Unwrap(id, masterKeyID, wrapped)
	if errors.Is(err, keyring.ErrKeyDestroyed) {
		return nil, nil
	}
	return dk, err
}

type sealedColumns struct {
	name, title, email, emailHMAC, phone, address []byte
}

// seal encrypts c's personal columns. Without a key (destroyed by erasure) only empty values
// can be stored: refusing is better than silently dropping what the caller sent.
func (s *Store) seal(c customers.Customer, keys dataKeys) (sealedColumns, error) {
	var out sealedColumns
	ct := c.Contact
	if pk := keys.personal; pk != nil {
		out.name = pk.Seal(ct.Name, aad("contact_name_ct", c.ID))
		out.title = pk.Seal(ct.Title, aad("contact_title_ct", c.ID))
		out.email = pk.Seal(ct.Email, aad("contact_email_ct", c.ID))
		out.phone = pk.Seal(ct.Phone, aad("contact_phone_ct", c.ID))
		out.emailHMAC = s.kr.Index("email", ct.Email)
	} else if ct.Name != "" || ct.Title != "" || ct.Email != "" || ct.Phone != "" {
		return sealedColumns{}, apperr.Precondition("the customer's personal data was erased: a contact can no longer be stored")
	}
	doc := addressDoc{Lines: c.Address.Lines, City: c.Address.City, PostalCode: c.Address.PostalCode, Region: c.Address.Region}
	empty := len(doc.Lines) == 0 && doc.City == "" && doc.PostalCode == "" && doc.Region == ""
	if rk := keys.retained; rk != nil {
		if !empty {
			b, err := json.Marshal(doc)
			if err != nil {
				return sealedColumns{}, fmt.Errorf("encode address: %w", err)
			}
			out.address = rk.Seal(string(b), aad("address_ct", c.ID))
		}
	} else if !empty {
		return sealedColumns{}, apperr.Precondition("the customer's retained data was purged: an address can no longer be stored")
	}
	return out, nil
}

// requestHash fingerprints a create request for idempotency. It covers the caller (so that one
// caller's request id never returns another caller's customer) and is keyed, because the input
// holds personal data that a plain hash in idempotency_keys would expose to guessing.
func (s *Store) requestHash(c customers.Customer) []byte {
	b, err := json.Marshal(struct {
		CreateBy string                `json:"create_by"`
		Input    customers.NewCustomer `json:"input"`
	}{c.CreateBy, customers.NewCustomer{
		OrgName:          c.OrgName,
		Contact:          c.Contact,
		Address:          c.Address,
		ResidencyCountry: c.ResidencyCountry,
		MarketingConsent: c.MarketingConsent,
		ResellerID:       c.ResellerID,
	}})
	if err != nil {
		panic("customersdb: encode request: " + err.Error())
	}
	sum := sha256.Sum256(b)
	// Index lower-cases its input; hex keeps the digest, and so the case of the input, intact.
	return s.kr.Index(createScope, hex.EncodeToString(sum[:]))
}

// escapeLike makes a user's query a literal LIKE operand (backslash is PostgreSQL's default
// escape character).
func escapeLike(q string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
