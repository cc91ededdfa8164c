// Package dataflowsink holds the outbox's sinks: a signed webhook for processors with an
// endpoint, a log sink for development, and the pseudonymising wrapper that is the only way data
// reaches a processor of pseudonymised data (mixpanel).
package dataflowsink

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// Webhook headers. The signature is the hex HMAC-SHA256, under the processor's secret, of the
// timestamp header's value, a ".", and the raw body: a receiver checks it and the timestamp's
// freshness before it parses anything, and dedupes on the delivery id.
const (
	HeaderDeliveryID = "X-Delivery-Id"
	HeaderTimestamp  = "X-Timestamp"
	HeaderSignature  = "X-Signature"
)

// Envelope is the JSON body a webhook receives.
type Envelope struct {
	DeliveryID   string `json:"delivery_id"`
	RecordID     string `json:"record_id"`
	RecordKind   string `json:"record_kind"`
	Kind         string `json:"kind"`
	Subprocessor string `json:"subprocessor"`
	Attempt      int    `json:"attempt"`
	// Payload is the record as the processor needs it; absent for deletion requests.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Webhook POSTs each delivery as a signed JSON Envelope.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

// NewWebhook returns a sink posting to url, signing with secret. A nil client gets one with a
// 10-second timeout; a webhook without a timeout would hold a whole batch's locks hostage.
func NewWebhook(url string, secret []byte, client *http.Client) *Webhook {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Webhook{url: url, secret: secret, client: client, now: time.Now}
}

// Sign returns the hex signature of body sent at timestamp (Unix seconds, decimal).
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify for a wrong, missing or stale signature.
var ErrBadSignature = errors.New("webhook signature is not valid")

// Verify checks a received webhook's signature and that its timestamp is within tolerance of
// now. Receivers (and tests) use it.
func Verify(secret []byte, timestamp string, body []byte, signature string, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrBadSignature
	}
	want := Sign(secret, timestamp, body)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// Deliver implements dataflow.Sink. Any 2xx is success. 408, 429 and 5xx are retried; any
// other status is permanent (the receiver rejects this delivery as it is). Error messages name
// the status or the failure's kind only: never the body, which could echo personal data.
func (w *Webhook) Deliver(ctx context.Context, m dataflow.Message) error {
	body, err := json.Marshal(Envelope{
		DeliveryID: m.DeliveryID, RecordID: m.RecordID, RecordKind: string(m.RecordKind),
		Kind: string(m.Kind), Subprocessor: m.Subprocessor, Attempt: m.Attempt, Payload: m.Payload,
	})
	if err != nil {
		return dataflow.Permanent(errors.New("webhook: payload is not valid JSON"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return dataflow.Permanent(errors.New("webhook: invalid endpoint URL"))
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderDeliveryID, m.DeliveryID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused; the content itself is ignored.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("webhook: HTTP %d", c)
	default:
		return dataflow.Permanent(fmt.Errorf("webhook: HTTP %d", c))
	}
}

// transportError describes a failed request by kind: url.Error's text holds the URL, which may
// carry a token.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("webhook: %w", ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("webhook: timeout")
	}
	return errors.New("webhook: connection failed")
}
