package recordingtwilio_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingtwilio"
)

// FuzzWebhookForm feeds arbitrary bodies and signatures to the webhook path: signature checks
// and form validation must never panic, must accept only what Twilio's algorithm signed, and
// must reject bad fields with an *apperr.InvalidError.
func FuzzWebhookForm(f *testing.F) {
	good := callbackForm("CA0123456789abcdef0123456789abcdef", "RE0123456789abcdef0123456789abcdef", "completed")
	f.Add(good.Encode(), sign(publicURL+"/twilio/recording-status", good))
	f.Add("RecordingSid=../../etc&RecordingStatus=completed", "")
	f.Add("a=1&a=2", "xyz")
	f.Add("%zz", "=")
	f.Add(strings.Repeat("RecordingDuration=99999999999999&", 20), "bm9wZQ==")
	v := client.NewRequestValidator(authToken)
	u, _ := url.Parse("/twilio/recording-status")
	f.Fuzz(func(t *testing.T, body, sig string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		ok := recordingtwilio.VerifySignature(v, publicURL, u, form, sig)
		if ok && sig != sign(publicURL+"/twilio/recording-status", form) {
			t.Fatalf("accepted a signature Twilio's algorithm did not make: %q", sig)
		}
		cb, err := recording.ParseCallback(form)
		var invalid *apperr.InvalidError
		if err != nil && !errors.As(err, &invalid) {
			t.Fatalf("ParseCallback error %T %v, want *apperr.InvalidError", err, err)
		}
		if err == nil && (!recording.ValidRecordingSID(cb.RecordingSID) || !recording.ValidCallSID(cb.CallSID) || cb.DurationSeconds < 0) {
			t.Fatalf("ParseCallback accepted %+v", cb)
		}
	})
}

// FuzzUnsignedWebhooks posts arbitrary bodies without a valid signature: every answer is 403.
func FuzzUnsignedWebhooks(f *testing.F) {
	f.Add("CallSid=CA0123456789abcdef0123456789abcdef", "sig")
	f.Add("", "")
	h := recordingtwilio.NewHandler(nil, recordingtwilio.Config{AccountSID: accountSID, AuthToken: authToken, PublicURL: publicURL}, nil)
	mux := http.NewServeMux()
	h.Register(mux)
	f.Fuzz(func(t *testing.T, body, sig string) {
		for _, path := range []string{"/twilio/voice", "/twilio/gather", "/twilio/recording-status"} {
			form, err := url.ParseQuery(body)
			if err == nil && sig == sign(publicURL+path, form) {
				continue
			}
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if sig != "" {
				req.Header.Set("X-Twilio-Signature", sig)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden {
				t.Fatalf("%s: status %d, want 403", path, rec.Code)
			}
		}
	})
}
