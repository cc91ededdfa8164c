package recording_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/recording"
)

const (
	callSID = "CA0123456789abcdef0123456789abcdef"
	recSID  = "RE0123456789abcdef0123456789abcdef"
	account = "AC0123456789abcdef0123456789abcdef"
)

func TestParseCallback(t *testing.T) {
	t.Parallel()
	valid := func() url.Values {
		return url.Values{"AccountSid": {account}, "CallSid": {callSID}, "RecordingSid": {recSID},
			"RecordingStatus": {"completed"}, "RecordingDuration": {"42"}, "RecordingUrl": {"http://169.254.169.254/"}}
	}
	got, err := recording.ParseCallback(valid())
	if err != nil {
		t.Fatal(err)
	}
	want := recording.Callback{AccountSID: account, CallSID: callSID, RecordingSID: recSID, Status: "completed", DurationSeconds: 42}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("callback (-want +got):\n%s", diff)
	}
	cases := []struct{ field, value string }{
		{"AccountSid", "AC123"},
		{"CallSid", "CA0123456789ABCDEF0123456789ABCDEF"},
		{"RecordingSid", "RE../../../etc/passwd000000000000000"},
		{"RecordingStatus", "stored"},
		{"RecordingDuration", "-1"},
		{"RecordingDuration", "1e9"},
	}
	for _, c := range cases {
		f := valid()
		f.Set(c.field, c.value)
		_, err := recording.ParseCallback(f)
		if field, ok := apperr.Field(err); !ok || field != c.field {
			t.Errorf("%s=%q: err %v, want invalid %s", c.field, c.value, err, c.field)
		}
	}
}

func FuzzParseCallback(f *testing.F) {
	f.Add(account, callSID, recSID, "completed", "42")
	f.Add("", "", "", "", "")
	f.Add(account, callSID, recSID, "absent", "99999999999999999999")
	f.Fuzz(func(t *testing.T, acct, call, rec, status, dur string) {
		cb, err := recording.ParseCallback(url.Values{"AccountSid": {acct}, "CallSid": {call},
			"RecordingSid": {rec}, "RecordingStatus": {status}, "RecordingDuration": {dur}})
		var invalid *apperr.InvalidError
		if err != nil && !errors.As(err, &invalid) {
			t.Fatalf("error %T, want *apperr.InvalidError", err)
		}
		if err == nil && (!recording.ValidCallSID(cb.CallSID) || !recording.ValidRecordingSID(cb.RecordingSID)) {
			t.Fatalf("accepted %+v", cb)
		}
	})
}

func TestURLSigner(t *testing.T) {
	t.Parallel()
	s, err := recording.NewURLSigner("https://support.example.test/", []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	id := "01930000-0000-7000-8000-000000000001"
	link, err := url.Parse(s.Sign(id, now.Add(5*time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if link.Path != "/recordings/"+id+"/audio" || link.Host != "support.example.test" {
		t.Errorf("link = %s", link)
	}
	exp, sig := link.Query().Get("expires"), link.Query().Get("sig")
	if err := s.Verify(id, exp, sig, now); err != nil {
		t.Errorf("fresh link: %v", err)
	}
	bad := []struct {
		name         string
		id, exp, sig string
		at           time.Time
	}{
		{"expired", id, exp, sig, now.Add(6 * time.Minute)},
		{"other recording", "01930000-0000-7000-8000-000000000002", exp, sig, now},
		{"extended expiry", id, exp + "0", sig, now},
		{"no signature", id, exp, "", now},
		{"not a number", id, "soon", sig, now},
	}
	for _, b := range bad {
		if err := s.Verify(b.id, b.exp, b.sig, b.at); !errors.Is(err, recording.ErrBadLink) {
			t.Errorf("%s: err %v, want ErrBadLink", b.name, err)
		}
	}
	if _, err := recording.NewURLSigner("https://x", []byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}
