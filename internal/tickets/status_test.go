package tickets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/tickets"
)

var allStatuses = []tickets.Status{
	tickets.StatusNew, tickets.StatusOpen, tickets.StatusPending,
	tickets.StatusOnHold, tickets.StatusSolved, tickets.StatusClosed,
}

func TestCheckTransition(t *testing.T) {
	t.Parallel()
	allowed := map[[2]tickets.Status]bool{
		{tickets.StatusNew, tickets.StatusOpen}:      true,
		{tickets.StatusOpen, tickets.StatusPending}:  true,
		{tickets.StatusOpen, tickets.StatusOnHold}:   true,
		{tickets.StatusOpen, tickets.StatusSolved}:   true,
		{tickets.StatusPending, tickets.StatusOpen}:  true,
		{tickets.StatusOnHold, tickets.StatusOpen}:   true,
		{tickets.StatusSolved, tickets.StatusOpen}:   true,
		{tickets.StatusSolved, tickets.StatusClosed}: true,
	}
	// Every pair, so that a transition added by mistake fails as surely as one removed.
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			t.Run(string(from)+"_to_"+string(to), func(t *testing.T) {
				t.Parallel()
				err := tickets.CheckTransition(from, to)
				if allowed[[2]tickets.Status{from, to}] {
					if err != nil {
						t.Fatalf("CheckTransition(%s, %s) = %v, want nil", from, to, err)
					}
					return
				}
				var pe *apperr.PreconditionError
				if !errors.As(err, &pe) {
					t.Fatalf("CheckTransition(%s, %s) = %v, want a PreconditionError", from, to, err)
				}
				want := string(from) + " to " + string(to)
				if from == tickets.StatusClosed {
					want = "closed"
				}
				if !strings.Contains(pe.Rule, want) {
					t.Errorf("rule %q does not name %q", pe.Rule, want)
				}
			})
		}
	}
}
