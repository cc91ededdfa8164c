package recordingtwilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lumio/contactcentre/internal/recording"
)

// metricsStore answers the webhooks' store calls, or fails them all. Other methods are not
// reached by these tests (the embedded nil interface would panic).
type metricsStore struct {
	recording.Store
	fail bool
}

var errMetricsStore = errors.New("database unavailable")

func (s *metricsStore) EnsureCall(_ context.Context, sid string, _ time.Time) (recording.Call, error) {
	if s.fail {
		return recording.Call{}, errMetricsStore
	}
	return recording.Call{SID: sid}, nil
}

func (s *metricsStore) OptOutCall(_ context.Context, sid, _ string, _ time.Time) (recording.Call, []recording.Recording, error) {
	if s.fail {
		return recording.Call{}, nil, errMetricsStore
	}
	return recording.Call{SID: sid}, nil, nil
}

func (s *metricsStore) ApplyCallback(context.Context, recording.Callback, string, time.Time) (recording.Recording, bool, error) {
	if s.fail {
		return recording.Recording{}, false, errMetricsStore
	}
	return recording.Recording{}, false, nil
}

const (
	metricsAccount = "AC0123456789abcdef0123456789abcdef"
	metricsToken   = "0123456789abcdef0123456789abcdef"
	metricsPublic  = "https://support.example.test"
	metricsCall    = "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	metricsRec     = "REbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestWebhookMetrics(t *testing.T) {
	t.Parallel()
	store := &metricsStore{}
	svc := recording.NewService(store, nil, nil, nil, nil, recording.Config{}, nil, time.Now)
	reg := prometheus.NewPedanticRegistry()
	mux := http.NewServeMux()
	NewHandler(svc, Config{AccountSID: metricsAccount, AuthToken: metricsToken, PublicURL: metricsPublic}, nil).
		WithMetrics(NewWebhookMetrics(reg)).Register(mux)
	post := func(path string, form url.Values, sign bool) int {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sign {
			req.Header.Set("X-Twilio-Signature", metricsSign(metricsPublic+path, form))
		} else {
			req.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}
	call := url.Values{"AccountSid": {metricsAccount}, "CallSid": {metricsCall}, "From": {"+15555550100"}}
	declined := url.Values{"AccountSid": {metricsAccount}, "CallSid": {metricsCall}, "Digits": {"9"}}
	status := url.Values{"AccountSid": {metricsAccount}, "CallSid": {metricsCall}, "RecordingSid": {metricsRec},
		"RecordingStatus": {"completed"}, "RecordingDuration": {"5"}}
	otherAccount := maps.Clone(status)
	otherAccount.Set("AccountSid", "ACffffffffffffffffffffffffffffffff")

	steps := []struct {
		name     string
		path     string
		form     url.Values
		sign     bool
		failing  bool
		code     int
		endpoint string
		outcome  string
	}{
		{"voice", VoicePath, call, true, false, http.StatusOK, VoicePath, MetricOK},
		{"voice unsigned", VoicePath, call, false, false, http.StatusForbidden, VoicePath, MetricForbidden},
		{"voice bad sid", VoicePath, url.Values{"CallSid": {"not-a-sid"}}, true, false, http.StatusBadRequest, VoicePath, MetricBadRequest},
		{"voice store down", VoicePath, call, true, true, http.StatusServiceUnavailable, VoicePath, MetricError},
		{"gather decline", GatherPath, declined, true, false, http.StatusOK, GatherPath, MetricOK},
		// The caller is queued whatever happens, so the answer is 200; the failure still counts.
		{"gather store down", GatherPath, declined, true, true, http.StatusOK, GatherPath, MetricError},
		{"status", RecordingStatusPath, status, true, false, http.StatusNoContent, RecordingStatusPath, MetricOK},
		{"status other account", RecordingStatusPath, otherAccount, true, false, http.StatusBadRequest, RecordingStatusPath, MetricBadRequest},
		{"status unsigned", RecordingStatusPath, status, false, false, http.StatusForbidden, RecordingStatusPath, MetricForbidden},
		{"status store down", RecordingStatusPath, status, true, true, http.StatusServiceUnavailable, RecordingStatusPath, MetricError},
	}
	want := map[[2]string]float64{}
	for _, s := range steps {
		store.fail = s.failing
		before := metricsCount(t, reg, s.endpoint, s.outcome)
		if code := post(s.path, s.form, s.sign); code != s.code {
			t.Fatalf("%s: status %d, want %d", s.name, code, s.code)
		}
		if got := metricsCount(t, reg, s.endpoint, s.outcome); got != before+1 {
			t.Errorf("%s: %s %s counter %v -> %v, want +1", s.name, s.endpoint, s.outcome, before, got)
		}
		want[[2]string{s.endpoint, s.outcome}]++
	}

	// Nothing else moved, and no label carries a sid or anything outside its fixed set.
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var key [2]string
			for _, l := range m.GetLabel() {
				switch {
				case l.GetName() == "endpoint" && slices.Contains(MetricEndpoints, l.GetValue()):
					key[0] = l.GetValue()
				case l.GetName() == "outcome" && slices.Contains(MetricOutcomes, l.GetValue()):
					key[1] = l.GetValue()
				default:
					t.Errorf("%s: label %s=%q is outside its fixed set", f.GetName(), l.GetName(), l.GetValue())
				}
				for _, sid := range []string{metricsAccount, metricsCall, metricsRec, "+1555"} {
					if strings.Contains(l.GetValue(), sid) {
						t.Errorf("%s: label %s=%q carries %s", f.GetName(), l.GetName(), l.GetValue(), sid)
					}
				}
			}
			if got := m.GetCounter().GetValue(); got != want[key] {
				t.Errorf("webhook_requests_total%v = %v, want %v", key, got, want[key])
			}
		}
	}
}

func TestWebhookMetricsOptional(t *testing.T) {
	t.Parallel()
	if m := NewWebhookMetrics(nil); m != nil {
		t.Fatalf("NewWebhookMetrics(nil) = %v, want nil", m)
	}
	mux := http.NewServeMux()
	NewHandler(nil, Config{AuthToken: metricsToken, PublicURL: metricsPublic}, nil).WithMetrics(nil).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, VoicePath, nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("unsigned POST = %d", rec.Code)
	}
	// The Stripe endpoints register the same metric; both on one registry share it.
	reg := prometheus.NewRegistry()
	NewWebhookMetrics(reg)
	NewWebhookMetrics(reg)
}

// metricsSign signs a form POST as Twilio does: HMAC-SHA1 over the URL and the sorted fields.
func metricsSign(fullURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range slices.Sorted(maps.Keys(form)) {
		b.WriteString(k + form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(metricsToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// metricsCount reads one series of webhook_requests_total. (prometheus/testutil needs a module
// this repository does not require.)
func metricsCount(t *testing.T, reg prometheus.Gatherer, endpoint, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			has := func(name, value string) bool {
				return slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == name && l.GetValue() == value })
			}
			if f.GetName() == "webhook_requests_total" && has("endpoint", endpoint) && has("outcome", outcome) {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series webhook_requests_total{%s,%s}", endpoint, outcome)
	return 0
}
