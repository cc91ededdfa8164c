package dataflowsink

import (
	"context"
	"log/slog"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// Log is the development sink: it logs that a delivery would be sent, with ids and the payload's
// size only, never the payload, and always succeeds.
type Log struct{ log *slog.Logger }

// NewLog returns a log sink writing to logger (nil discards).
func NewLog(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{log: logger}
}

// Deliver implements dataflow.Sink.
func (l *Log) Deliver(ctx context.Context, m dataflow.Message) error {
	l.log.InfoContext(ctx, "outbox delivery (log sink)",
		"delivery_id", m.DeliveryID, "record_id", m.RecordID, "record_kind", string(m.RecordKind),
		"kind", string(m.Kind), "subprocessor", m.Subprocessor, "attempt", m.Attempt,
		"payload_bytes", len(m.Payload))
	return nil
}
