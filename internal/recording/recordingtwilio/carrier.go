// Package recordingtwilio connects recordings to Twilio: the REST adapter (twilio-go) that
// starts, stops, fetches, lists and deletes recordings, and the HTTP handlers of Twilio's
// webhooks and of signed audio downloads.
package recordingtwilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/lumio/contactcentre/internal/recording"
)

// DefaultAPIBaseURL is Twilio's REST API.
const DefaultAPIBaseURL = "https://api.twilio.com"

// maxMediaBytes bounds one recording's audio (MP3 at 32 kbit/s: about 24 hours).
const maxMediaBytes = 400 << 20

// Config is the Twilio account and where webhooks reach us.
type Config struct {
	AccountSID string
	AuthToken  string
	// APIBaseURL replaces https://api.twilio.com (tests point it at a local server).
	APIBaseURL string
	// PublicURL is supportsvc's base URL as Twilio calls it (SUPPORTSVC_PUBLIC_URL).
	PublicURL string
}

// Carrier implements recording.Carrier with twilio-go.
type Carrier struct {
	api       *openapi.ApiService
	media     *http.Client
	base      *url.URL
	accountID string
	authToken string
	callback  string
}

var _ recording.Carrier = (*Carrier)(nil)

// NewCarrier returns a Carrier for cfg. twilio-go has no base-URL setting, so requests it sends
// to *.twilio.com are rewritten to cfg.APIBaseURL when that is not Twilio's own.
func NewCarrier(cfg Config) (*Carrier, error) {
	if cfg.APIBaseURL == "" {
		cfg.APIBaseURL = DefaultAPIBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.APIBaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, errors.New("recordingtwilio: TWILIO_API_BASE_URL must be an http(s) URL")
	}
	transport := http.DefaultTransport
	if base.String() != DefaultAPIBaseURL {
		transport = rewriter{base: base, next: http.DefaultTransport}
	}
	rest := &client.Client{
		Credentials: client.NewCredentials(cfg.AccountSID, cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport: transport,
			Timeout:   30 * time.Second,
			// A REST answer is never a redirect we should follow with our credentials.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	rest.SetAccountSid(cfg.AccountSID)
	return &Carrier{
		api:       openapi.NewApiServiceWithClient(rest),
		media:     &http.Client{Timeout: 10 * time.Minute, CheckRedirect: mediaRedirect(base)},
		base:      base,
		accountID: cfg.AccountSID,
		authToken: cfg.AuthToken,
		callback:  strings.TrimRight(cfg.PublicURL, "/") + RecordingStatusPath,
	}, nil
}

// rewriter sends Twilio API requests to another base URL.
type rewriter struct {
	base *url.URL
	next http.RoundTripper
}

func (r rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != "twilio.com" && !strings.HasSuffix(req.URL.Host, ".twilio.com") {
		return r.next.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = r.base.Scheme, r.base.Host, ""
	out.URL.Path = r.base.Path + req.URL.Path
	return r.next.RoundTrip(out)
}

// mediaRedirect lets a media download follow Twilio's redirect to its own media hosts only:
// the media URL is built by us, and where it leads must stay Twilio's.
func mediaRedirect(base *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		h := req.URL.Hostname()
		twilioHost := req.URL.Scheme == "https" && (strings.HasSuffix(h, ".twilio.com") || strings.HasSuffix(h, ".twiliocdn.com"))
		if len(via) > 3 || !(twilioHost || req.URL.Host == base.Host) {
			return errors.New("recordingtwilio: media redirect outside Twilio refused")
		}
		return nil
	}
}

// carrierErr maps Twilio's 404 to recording.ErrCarrierNotFound.
func carrierErr(op string, err error) error {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) && rest.Status == http.StatusNotFound {
		return fmt.Errorf("%s: %w", op, recording.ErrCarrierNotFound)
	}
	if errors.As(err, &rest) {
		// Twilio's own code and message; never a caller's data.
		return fmt.Errorf("%s: twilio %d (code %d): %s", op, rest.Status, rest.Code, rest.Message)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// StartRecording implements recording.Carrier. Status callbacks come back to our public URL.
func (c *Carrier) StartRecording(_ context.Context, callSID string) (string, error) {
	if !recording.ValidCallSID(callSID) {
		return "", errors.New("start recording: invalid call sid")
	}
	p := (&openapi.CreateCallRecordingParams{}).
		SetRecordingStatusCallback(c.callback).
		SetRecordingStatusCallbackMethod(http.MethodPost).
		SetRecordingStatusCallbackEvent([]string{"in-progress", "completed", "absent"})
	res, err := c.api.CreateCallRecording(callSID, p)
	if err != nil {
		return "", carrierErr("start recording", err)
	}
	if res.Sid == nil || !recording.ValidRecordingSID(*res.Sid) {
		return "", errors.New("start recording: twilio answered without a recording sid")
	}
	return *res.Sid, nil
}

// StopRecording implements recording.Carrier.
func (c *Carrier) StopRecording(_ context.Context, callSID, recordingSID string) error {
	if !recording.ValidCallSID(callSID) || !recording.ValidRecordingSID(recordingSID) {
		return errors.New("stop recording: invalid sid")
	}
	_, err := c.api.UpdateCallRecording(callSID, recordingSID, (&openapi.UpdateCallRecordingParams{}).SetStatus("stopped"))
	if err != nil {
		return carrierErr("stop recording", err)
	}
	return nil
}

// DeleteRecording implements recording.Carrier.
func (c *Carrier) DeleteRecording(_ context.Context, recordingSID string) error {
	if !recording.ValidRecordingSID(recordingSID) {
		return errors.New("delete recording: invalid sid")
	}
	if err := c.api.DeleteRecording(recordingSID, nil); err != nil {
		return carrierErr("delete recording", err)
	}
	return nil
}

// MediaURL is where a recording's audio is fetched: always built from the configured API base
// and a validated sid, never taken from a callback's RecordingUrl (which would let a forged or
// replayed request make us fetch any URL).
func (c *Carrier) MediaURL(recordingSID string) string {
	return c.base.String() + "/2010-04-01/Accounts/" + c.accountID + "/Recordings/" + recordingSID + ".mp3"
}

// FetchMedia implements recording.Carrier.
func (c *Carrier) FetchMedia(ctx context.Context, recordingSID string) ([]byte, error) {
	if !recording.ValidRecordingSID(recordingSID) {
		return nil, errors.New("fetch media: invalid sid")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.MediaURL(recordingSID), http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("fetch media: %w", err)
	}
	req.SetBasicAuth(c.accountID, c.authToken)
	res, err := c.media.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch media: %w", err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("fetch media: %w", recording.ErrCarrierNotFound)
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetch media: twilio status %d", res.StatusCode)
	}
	audio, err := io.ReadAll(io.LimitReader(res.Body, maxMediaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch media: %w", err)
	}
	if len(audio) > maxMediaBytes {
		return nil, errors.New("fetch media: audio larger than the limit")
	}
	if res.ContentLength >= 0 && res.ContentLength != int64(len(audio)) {
		return nil, fmt.Errorf("fetch media: got %d bytes of %d", len(audio), res.ContentLength)
	}
	return audio, nil
}

// ListRecordings implements recording.Carrier.
func (c *Carrier) ListRecordings(_ context.Context) ([]recording.CarrierRecording, error) {
	list, err := c.api.ListRecording((&openapi.ListRecordingParams{}).SetPageSize(100))
	if err != nil {
		return nil, carrierErr("list recordings", err)
	}
	out := make([]recording.CarrierRecording, 0, len(list))
	for _, r := range list {
		cr := recording.CarrierRecording{RecordingSID: deref(r.Sid), CallSID: deref(r.CallSid), Status: deref(r.Status)}
		if t, err := time.Parse(time.RFC1123Z, deref(r.DateCreated)); err == nil {
			cr.CreateTime = t.UTC()
		}
		out = append(out, cr)
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
