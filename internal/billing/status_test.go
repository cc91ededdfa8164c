package billing_test

import (
	"errors"
	"testing"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/billing"
)

// TestTransitionTable checks every (from, to) pair of known statuses plus unknown ones against
// the machine: PENDING_PAYMENT → PAID → FULFILLED, PENDING_PAYMENT → CANCELLED, PAID or
// FULFILLED → REFUNDED.
func TestTransitionTable(t *testing.T) {
	t.Parallel()
	all := []billing.Status{
		billing.StatusPendingPayment, billing.StatusPaid, billing.StatusFulfilled,
		billing.StatusCancelled, billing.StatusRefunded, "", "shipped",
	}
	allowed := map[[2]billing.Status]bool{
		{billing.StatusPendingPayment, billing.StatusPaid}:      true,
		{billing.StatusPendingPayment, billing.StatusCancelled}: true,
		{billing.StatusPaid, billing.StatusFulfilled}:           true,
		{billing.StatusPaid, billing.StatusRefunded}:            true,
		{billing.StatusFulfilled, billing.StatusRefunded}:       true,
	}
	for _, from := range all {
		for _, to := range all {
			err := billing.Transition(from, to)
			want := allowed[[2]billing.Status{from, to}]
			if want && err != nil {
				t.Errorf("Transition(%q, %q) = %v, want allowed", from, to, err)
			}
			var pre *apperr.PreconditionError
			if !want && !errors.As(err, &pre) {
				t.Errorf("Transition(%q, %q) = %v, want a PreconditionError", from, to, err)
			}
		}
	}
}

func TestTransitionMessageHidesUnknownValues(t *testing.T) {
	t.Parallel()
	err := billing.Transition("paid", "<script>")
	if err == nil || err.Error() != "an order cannot go from paid to an unknown status" {
		t.Errorf("Transition: %v", err)
	}
}

func TestInitialStatus(t *testing.T) {
	t.Parallel()
	if got := billing.InitialStatus(billing.ChannelStorefront); got != billing.StatusPendingPayment {
		t.Errorf("storefront starts %q, want pending_payment", got)
	}
	if got := billing.InitialStatus(billing.ChannelReseller); got != billing.StatusPaid {
		t.Errorf("reseller starts %q, want paid", got)
	}
	for _, s := range []billing.Status{billing.StatusPendingPayment, billing.StatusPaid, billing.StatusFulfilled, billing.StatusCancelled, billing.StatusRefunded} {
		if !s.Valid() {
			t.Errorf("%q is not valid", s)
		}
	}
	if billing.Status("PAID").Valid() {
		t.Error(`"PAID" is valid`)
	}
}
