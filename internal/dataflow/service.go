package dataflow

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
)

// Ledger is the flow ledger and the outbox as DataFlowService reads them.
type Ledger interface {
	// Record returns the ledger entry of a record: apperr.ErrNotFound if there is none.
	Record(ctx context.Context, id string) (Record, error)
	// Deliveries lists a record's deliveries, oldest first: apperr.ErrNotFound if the record
	// is not in the ledger.
	Deliveries(ctx context.Context, recordID string) ([]Delivery, error)
}

// Service answers, per record, where it may flow and what was sent.
type Service struct {
	ledger Ledger
	policy Policy
}

// NewService returns a Service over ledger, explaining with policy.
func NewService(ledger Ledger, policy Policy) *Service {
	return &Service{ledger: ledger, policy: policy}
}

// Explanation is the answer of ExplainFlow.
type Explanation struct {
	// Allowed is whether the record's stored list (the one the gateway enforces) names the
	// processor.
	Allowed bool
	Reason  string
	// TransferBasis is the safeguard of the transfer for the record's customer.
	TransferBasis string
}

// ExplainFlow says whether record recordID may flow to processor subprocessorID and why, from
// the policy applied to the facts stored in the ledger. Errors: *apperr.InvalidError (record_id
// not an id, subprocessor_id not in the registry), apperr.ErrNotFound (no such record).
func (s *Service) ExplainFlow(ctx context.Context, recordID, subprocessorID string) (Explanation, error) {
	id, err := parseID("record_id", recordID)
	if err != nil {
		return Explanation{}, err
	}
	if subprocessorID == "" {
		return Explanation{}, apperr.Invalid("subprocessor_id", "is required")
	}
	proc, ok := Lookup(subprocessorID)
	if !ok {
		return Explanation{}, apperr.Invalid("subprocessor_id", "is not a registered subprocessor")
	}
	rec, err := s.ledger.Record(ctx, id)
	if err != nil {
		return Explanation{}, fmt.Errorf("explain flow of %s: %w", id, err)
	}
	d := s.policy.Decide(rec.Facts)
	e := Explanation{Allowed: rec.Allows(proc.ID), Reason: d.Reasons[proc.ID], TransferBasis: transferBasis(proc, rec)}
	if d.Allows(proc.ID) != e.Allowed {
		// The stored list is what the gateway enforces; it differs only when the policy's
		// configuration changed after the record's last change, and is recomputed at its next.
		e.Reason += "; the stored list, computed under an earlier policy configuration, says otherwise and is what the gateway enforces"
	}
	return e, nil
}

// ListDeliveries lists the outbound deliveries of record recordID. Errors: *apperr.InvalidError
// (record_id), apperr.ErrNotFound.
func (s *Service) ListDeliveries(ctx context.Context, recordID string) ([]Delivery, error) {
	id, err := parseID("record_id", recordID)
	if err != nil {
		return nil, err
	}
	ds, err := s.ledger.Deliveries(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", id, err)
	}
	return ds, nil
}

func parseID(field, v string) (string, error) {
	if v == "" {
		return "", apperr.Invalid(field, "is required")
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return "", apperr.Invalid(field, "is not a valid id")
	}
	return id.String(), nil
}

// eea is the EU 27 plus Iceland, Liechtenstein and Norway: where the GDPR's transfer rules
// apply to the customer's data.
var eea = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true,
	"FI": true, "FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true,
	"LT": true, "LU": true, "MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true,
	"SI": true, "ES": true, "SE": true, "IS": true, "LI": true, "NO": true,
}

// InEEA reports whether country (ISO alpha-2) is in the EU/EEA.
func InEEA(country string) bool { return eea[strings.ToUpper(country)] }

// transferBasis is the registry's basis for EU/EEA customers; for a customer known to reside
// outside the EU/EEA it says that the EU transfer rules do not apply, and still names the basis.
func transferBasis(p Subprocessor, rec Record) string {
	residency := rec.Facts.ResidencyCountry
	if residency == "" {
		residency = rec.CustomerResidency
	}
	if residency == "" || InEEA(residency) {
		return p.TransferBasis
	}
	return fmt.Sprintf("none needed under EU rules: the customer resides in %s, outside the EU/EEA (for EU/EEA customers: %s)", residency, p.TransferBasis)
}
