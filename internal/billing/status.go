package billing

import "github.com/lumio/contactcentre/internal/apperr"

// Status is where an order is in its life.
type Status string

// Order statuses.
const (
	StatusPendingPayment Status = "pending_payment"
	StatusPaid           Status = "paid"
	StatusFulfilled      Status = "fulfilled"
	StatusCancelled      Status = "cancelled"
	StatusRefunded       Status = "refunded"
)

// transitions is the status machine: PENDING_PAYMENT → PAID → FULFILLED, PENDING_PAYMENT →
// CANCELLED, and PAID or FULFILLED → REFUNDED once the order is fully refunded (a partial
// refund leaves the status alone; the payments code decides "fully"). CANCELLED and REFUNDED
// are final.
var transitions = map[Status][]Status{
	StatusPendingPayment: {StatusPaid, StatusCancelled},
	StatusPaid:           {StatusFulfilled, StatusRefunded},
	StatusFulfilled:      {StatusRefunded},
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusPendingPayment, StatusPaid, StatusFulfilled, StatusCancelled, StatusRefunded:
		return true
	}
	return false
}

// InitialStatus is the status an order of channel starts in: a storefront order waits for its
// card payment; a reseller order is invoiced to and paid through the reseller, so it is
// recorded as paid.
func InitialStatus(c Channel) Status {
	if c == ChannelStorefront {
		return StatusPendingPayment
	}
	return StatusPaid
}

// Transition checks that an order may move from one status to another. It returns nil or an
// *apperr.PreconditionError naming both statuses; staying in the same status is not a
// transition and is refused too, so that callers cannot record a change that did not happen.
func Transition(from, to Status) error {
	for _, next := range transitions[from] {
		if next == to {
			return nil
		}
	}
	return apperr.Precondition("an order cannot go from %s to %s", statusName(from), statusName(to))
}

// statusName keeps an unknown value (possibly client-chosen text) out of error messages.
func statusName(s Status) string {
	if s.Valid() {
		return string(s)
	}
	return "an unknown status"
}
