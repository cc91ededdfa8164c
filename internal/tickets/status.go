package tickets

import (
	"slices"

	"github.com/lumio/contactcentre/internal/apperr"
)

// transitions is the status machine: the statuses each status may move to. CLOSED is final.
var transitions = map[Status][]Status{
	StatusNew:     {StatusOpen},
	StatusOpen:    {StatusPending, StatusOnHold, StatusSolved},
	StatusPending: {StatusOpen},
	StatusOnHold:  {StatusOpen},
	StatusSolved:  {StatusOpen, StatusClosed},
	StatusClosed:  nil,
}

// CheckTransition reports whether a ticket may move from one status to another. It returns a
// *apperr.PreconditionError naming the transition when it may not.
func CheckTransition(from, to Status) error {
	if from == StatusClosed {
		return errClosed
	}
	if !slices.Contains(transitions[from], to) {
		return apperr.Precondition("ticket status cannot change from %s to %s", from, to)
	}
	return nil
}

var errClosed = apperr.Precondition("ticket is closed: a closed ticket cannot change")

func (s Status) valid() bool {
	_, ok := transitions[s]
	return ok
}
