package dataflowsink

import (
	"context"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// Pseudonymised wraps the sink of a processor that may receive pseudonymised data only: every
// message passes through dataflow.Pseudonymise (an allow-list of fields, identifiers replaced by
// hash) before inner sees it, and the record id is replaced too. Enforcing it here, at the last
// step, holds whatever a domain enqueued. hash must be keyed (HMAC).
func Pseudonymised(inner dataflow.Sink, hash func(string) string) dataflow.Sink {
	return dataflow.SinkFunc(func(ctx context.Context, m dataflow.Message) error {
		out := m
		out.RecordID = hash(m.RecordID)
		if m.Kind == dataflow.DeliveryRecord {
			p, err := dataflow.Pseudonymise(m.Payload, hash)
			if err != nil {
				return dataflow.Permanent(err)
			}
			out.Payload = p
		} else {
			out.Payload = nil
		}
		return inner.Deliver(ctx, out)
	})
}
