package recordingtwilio_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/recording"
)

// node is a parsed TwiML element: tests compare structure, since twiml's attribute order is
// random.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func walk(n node, fn func(node)) {
	fn(n)
	for _, c := range n.Nodes {
		walk(c, fn)
	}
}

func parseTwiML(t *testing.T, res *http.Response) node {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("Content-Type = %q", ct)
	}
	body, _ := io.ReadAll(res.Body)
	var doc node
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("TwiML %q: %v", body, err)
	}
	return doc
}

// verbs lists the element names of a TwiML document, depth first.
func verbs(doc node) []string {
	var out []string
	walk(doc, func(n node) { out = append(out, n.XMLName.Local) })
	return out
}

func TestVoiceAnswersTwiMLThatStartsNoRecording(t *testing.T) {
	t.Parallel()
	e := setup(t)
	callSID := newSID("CA")
	doc := parseTwiML(t, e.signed(t, "/twilio/voice", url.Values{"AccountSid": {accountSID}, "CallSid": {callSID}}, http.StatusOK))
	if diff := cmp.Diff([]string{"Response", "Gather", "Say", "Enqueue"}, verbs(doc)); diff != "" {
		t.Errorf("verbs (-want +got):\n%s", diff)
	}
	walk(doc, func(n node) {
		for _, a := range n.Attrs {
			if strings.Contains(strings.ToLower(a.Name.Local), "record") {
				t.Errorf("<%s> has recording attribute %s=%q", n.XMLName.Local, a.Name.Local, a.Value)
			}
		}
		if n.XMLName.Local == "Gather" {
			if got := n.attr("action"); got != publicURL+"/twilio/gather" {
				t.Errorf("Gather action = %q", got)
			}
			if n.attr("numDigits") != "1" || n.attr("actionOnEmptyResult") != "true" {
				t.Errorf("Gather attributes = %v", n.Attrs)
			}
		}
		if n.XMLName.Local == "Say" && !strings.Contains(n.Text, "press 9") {
			t.Errorf("announcement %q does not say how to decline", n.Text)
		}
	})
	if got := e.twilio.log(); len(got) != 0 {
		t.Errorf("twilio was asked %v, want nothing", got)
	}
	if n := e.countRows(t, `SELECT count(*) FROM calls WHERE call_sid = $1 AND NOT opt_out`, callSID); n != 1 {
		t.Errorf("calls recorded = %d, want 1", n)
	}
}

func TestOptOutBeforeAnyRecording(t *testing.T) {
	t.Parallel()
	t.Run("caller presses the decline digit", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		ticketID, callSID := e.phoneTicket(t)
		e.answer(t, callSID, "9")
		// Whatever Twilio sends next for this call, nothing may start a recording.
		e.answer(t, callSID, "")
		if n := e.twilio.count("create"); n != 0 {
			t.Errorf("twilio saw %d recording creates, want 0 (%v)", n, e.twilio.log())
		}
		tk, err := e.tickets.GetTicket(context.Background(), ticketID)
		if err != nil {
			t.Fatal(err)
		}
		if !tk.RecordingOptOut || slices.Contains(tk.AllowedSubprocessors, "callminer") {
			t.Errorf("ticket opt-out = %v, flows = %v; want opted out without callminer", tk.RecordingOptOut, tk.AllowedSubprocessors)
		}
		if n := e.countRows(t, `SELECT count(*) FROM calls WHERE call_sid = $1 AND opt_out AND opt_out_by = 'caller' AND ticket_synced`, callSID); n != 1 {
			t.Errorf("opted-out call rows = %d, want 1", n)
		}
	})
	t.Run("agent opts out before the caller's choice", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		ticketID, callSID := e.phoneTicket(t)
		n, err := e.svc.SetRecordingOptOut(context.Background(), "agent-ann", ticketID, true)
		if err != nil || n != 0 {
			t.Fatalf("SetRecordingOptOut = %d, %v; want 0 deleted", n, err)
		}
		e.answer(t, callSID, "")
		if n := e.twilio.count("create"); n != 0 {
			t.Errorf("twilio saw %d recording creates, want 0", n)
		}
	})
}

func TestOptOutMidCall(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	ticketID, callSID := e.phoneTicket(t)
	e.answer(t, callSID, "")
	sid := e.twilio.onlyRecording(t)
	if got := e.recordingRow(t, sid); got.Status != "recording" {
		t.Fatalf("recording status = %q, want recording", got.Status)
	}

	n, err := e.svc.SetRecordingOptOut(ctx, "agent-ann", ticketID, true)
	if err != nil || n != 1 {
		t.Fatalf("SetRecordingOptOut = %d, %v; want 1 deleted", n, err)
	}
	want := []string{"create " + callSID, "update " + sid + " stopped", "delete " + sid}
	if diff := cmp.Diff(want, e.twilio.log()); diff != "" {
		t.Errorf("twilio asked (-want +got):\n%s", diff)
	}
	if got := e.recordingRow(t, sid); got != (row{Status: "deleted"}) {
		t.Errorf("recording = %+v, want deleted everywhere", got)
	}
	tk, err := e.tickets.GetTicket(ctx, ticketID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"aws_us", "blue_ocean", "microsoft", "twilio"}, tk.AllowedSubprocessors); diff != "" || !tk.RecordingOptOut {
		t.Errorf("ticket flows (-want +got):\n%s (opt-out %v)", diff, tk.RecordingOptOut)
	}
	// Opting back in allows later calls only: this call stays unrecorded.
	if _, err := e.svc.SetRecordingOptOut(ctx, "agent-ann", ticketID, false); err != nil {
		t.Fatal(err)
	}
	e.answer(t, callSID, "")
	if n := e.twilio.count("create"); n != 1 {
		t.Errorf("creates after opting back in = %d, want 1 (the first)", n)
	}
	if len(e.objects(t)) != 0 {
		t.Errorf("object store holds %v, want nothing", e.objects(t))
	}
}

func TestOptOutDeletesStoredAudio(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	ticketID, callSID := e.phoneTicket(t)
	e.answer(t, callSID, "")
	sid := e.twilio.onlyRecording(t)
	e.signed(t, "/twilio/recording-status", e.twilio.finish(sid, []byte("RIFF pretend mp3 audio")), http.StatusNoContent)
	if got := e.recordingRow(t, sid); got.Status != "stored" || got.CarrierHeld || len(e.objects(t)) != 1 {
		t.Fatalf("recording = %+v, objects %v; want stored in our store only", got, e.objects(t))
	}
	if n := e.countRows(t, `SELECT count(*) FROM outbox_deliveries d JOIN recordings r ON r.id = d.record_id
		WHERE r.recording_sid = $1 AND d.subprocessor_id = 'callminer' AND d.status = 'pending'`, sid); n != 1 {
		t.Fatalf("queued callminer deliveries = %d, want 1", n)
	}

	n, err := e.svc.SetRecordingOptOut(ctx, "agent-ann", ticketID, true)
	if err != nil || n != 1 {
		t.Fatalf("SetRecordingOptOut = %d, %v; want 1 deleted", n, err)
	}
	if got := e.recordingRow(t, sid); got != (row{Status: "deleted"}) || len(e.objects(t)) != 0 {
		t.Errorf("recording = %+v, objects %v; want deleted everywhere", got, e.objects(t))
	}
	if n := e.countRows(t, `SELECT count(*) FROM outbox_deliveries d JOIN recordings r ON r.id = d.record_id
		WHERE r.recording_sid = $1 AND d.subprocessor_id = 'callminer' AND d.status = 'cancelled'`, sid); n != 1 {
		t.Errorf("cancelled callminer deliveries = %d, want 1", n)
	}
}

func TestCallbackAfterOptOut(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ticketID, callSID := e.phoneTicket(t)
	if _, err := e.svc.SetRecordingOptOut(context.Background(), "agent-ann", ticketID, true); err != nil {
		t.Fatal(err)
	}
	// A recording someone started anyway (or whose stop crossed the opt-out).
	sid := e.twilio.hold(callSID, []byte("audio that must not be kept"))
	e.signed(t, "/twilio/recording-status", callbackForm(callSID, sid, "completed"), http.StatusNoContent)

	if diff := cmp.Diff([]string{"delete " + sid}, e.twilio.log()); diff != "" {
		t.Errorf("twilio asked (-want +got):\n%s", diff)
	}
	if e.twilio.holds(sid) {
		t.Error("twilio still holds the recording")
	}
	if got := e.recordingRow(t, sid); got != (row{Status: "deleted"}) || len(e.objects(t)) != 0 {
		t.Errorf("recording = %+v, objects %v; want deleted, nothing stored", got, e.objects(t))
	}
	if n := e.countRows(t, `SELECT count(*) FROM outbox_deliveries d JOIN recordings r ON r.id = d.record_id WHERE r.recording_sid = $1`, sid); n != 0 {
		t.Errorf("deliveries of the recording = %d, want 0", n)
	}
}

func TestCallbackReplayedFiveTimes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, callSID := e.phoneTicket(t)
	e.answer(t, callSID, "")
	sid := e.twilio.onlyRecording(t)
	form := e.twilio.finish(sid, []byte("five times the same callback"))
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { e.signed(t, "/twilio/recording-status", form, http.StatusNoContent) })
	}
	wg.Wait()
	if n := e.countRows(t, `SELECT count(*) FROM recordings WHERE recording_sid = $1`, sid); n != 1 {
		t.Errorf("recordings = %d, want 1", n)
	}
	if got := e.recordingRow(t, sid); got.Status != "stored" {
		t.Errorf("status = %q, want stored", got.Status)
	}
	if f, d := e.twilio.count("fetch "+sid+".mp3"), e.twilio.count("delete "+sid); f != 1 || d != 1 {
		t.Errorf("media fetches = %d, deletes = %d; want 1 each", f, d)
	}
	if n := e.countRows(t, `SELECT count(*) FROM outbox_deliveries d JOIN recordings r ON r.id = d.record_id WHERE r.recording_sid = $1`, sid); n != 1 {
		t.Errorf("deliveries = %d, want 1", n)
	}
	if len(e.objects(t)) != 1 {
		t.Errorf("objects = %v, want one", e.objects(t))
	}
}

func TestForgedOrMissingSignature(t *testing.T) {
	t.Parallel()
	e := setup(t)
	callSID := newSID("CA")
	voice := url.Values{"AccountSid": {accountSID}, "CallSid": {callSID}}
	cb := callbackForm(callSID, newSID("RE"), "completed")
	tampered := url.Values{"AccountSid": {accountSID}, "CallSid": {newSID("CA")}}
	cases := []struct {
		name string
		path string
		form url.Values
		sig  string
	}{
		{"voice without signature", "/twilio/voice", voice, ""},
		{"voice with garbage", "/twilio/voice", voice, "bm90IGEgc2lnbmF0dXJl"},
		{"voice signed for the request's host", "/twilio/voice", voice, sign(e.web.URL+"/twilio/voice", voice)},
		{"voice signed for another path", "/twilio/voice", voice, sign(publicURL+"/twilio/gather", voice)},
		{"voice with fields changed after signing", "/twilio/voice", tampered, sign(publicURL+"/twilio/voice", voice)},
		{"gather without signature", "/twilio/gather", url.Values{"CallSid": {callSID}, "Digits": {"1"}}, ""},
		{"callback without signature", "/twilio/recording-status", cb, ""},
		{"callback signed with another token", "/twilio/recording-status", cb, "c2lnbmVkIHdpdGggYW5vdGhlciB0b2tlbg=="},
	}
	for _, c := range cases {
		if res := e.post(t, c.path, c.form, c.sig); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, res.StatusCode)
		}
	}
	for _, table := range []string{"calls", "recordings", "recording_callbacks", "recording_events"} {
		if n := e.countRows(t, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("%s has %d rows, want 0", table, n)
		}
	}
	if got := e.twilio.log(); len(got) != 0 {
		t.Errorf("twilio was asked %v, want nothing", got)
	}
}

func TestRecordingURLIsNeverFetched(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var hits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("not the caller's audio"))
	}))
	t.Cleanup(evil.Close)
	_, callSID := e.phoneTicket(t)
	e.answer(t, callSID, "")
	sid := e.twilio.onlyRecording(t)
	form := e.twilio.finish(sid, []byte("the real audio"))
	form.Set("RecordingUrl", evil.URL+"/steal")
	e.signed(t, "/twilio/recording-status", form, http.StatusNoContent)
	if n := hits.Load(); n != 0 {
		t.Errorf("RecordingUrl fetched %d times", n)
	}
	if n := e.twilio.count("fetch " + sid + ".mp3"); n != 1 {
		t.Errorf("media fetched from the API %d times, want 1", n)
	}
	// The stored audio is the carrier's, read back through a supervisor's signed link.
	rec, dl, err := e.svc.GetRecording(context.Background(), auth.Identity{Subject: "sup", Roles: []auth.Role{auth.RoleSupervisor}}, recordingID(t, e, sid))
	if err != nil || dl == nil || rec.Status != recording.StatusStored {
		t.Fatalf("GetRecording = %+v, %v, %v", rec, dl, err)
	}
	u, _ := url.Parse(dl.URL)
	res, err := e.web.Client().Get(e.web.URL + u.Path + "?" + u.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != "the real audio" {
		t.Errorf("download = %d %q", res.StatusCode, body)
	}
	bad, err := e.web.Client().Get(e.web.URL + u.Path + "?expires=" + u.Query().Get("expires") + "&sig=00")
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusForbidden {
		t.Errorf("forged link: status %d, want 403", bad.StatusCode)
	}
}

func recordingID(t *testing.T, e *env, sid string) string {
	t.Helper()
	var id string
	if err := e.pool.QueryRow(context.Background(), `SELECT id::text FROM recordings WHERE recording_sid = $1`, sid).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestFailedDeletesAreRetriedUntilDone(t *testing.T) {
	t.Parallel()
	t.Run("after copying", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		_, callSID := e.phoneTicket(t)
		e.answer(t, callSID, "")
		sid := e.twilio.onlyRecording(t)
		e.twilio.failDeletes = 3
		e.signed(t, "/twilio/recording-status", e.twilio.finish(sid, []byte("audio")), http.StatusNoContent)
		if got := e.recordingRow(t, sid); got.Status != "copied" || !got.CarrierHeld {
			t.Fatalf("after a failed delete: %+v, want copied and still at twilio", got)
		}
		e.sweepUntil(t, sid, "stored")
		if d, f := e.twilio.count("delete "+sid), e.twilio.count("fetch "+sid+".mp3"); d != 4 || f != 1 {
			t.Errorf("deletes = %d (want 4), media fetches = %d (want 1)", d, f)
		}
		if e.twilio.holds(sid) {
			t.Error("twilio still holds the recording")
		}
	})
	t.Run("after an opt-out", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		ticketID, callSID := e.phoneTicket(t)
		e.answer(t, callSID, "")
		sid := e.twilio.onlyRecording(t)
		e.twilio.failDeletes = 2
		if n, err := e.svc.SetRecordingOptOut(context.Background(), "agent-ann", ticketID, true); err != nil || n != 1 {
			t.Fatalf("SetRecordingOptOut = %d, %v", n, err)
		}
		if got := e.recordingRow(t, sid); got.Status != "deleting" || !got.CarrierHeld {
			t.Fatalf("after a failed delete: %+v, want deleting and still at twilio", got)
		}
		e.sweepUntil(t, sid, "deleted")
		if e.twilio.holds(sid) || e.twilio.count("delete "+sid) != 3 {
			t.Errorf("twilio holds = %v, deletes = %d (want gone after 3)", e.twilio.holds(sid), e.twilio.count("delete "+sid))
		}
		var attempts int
		var lastError string
		_ = e.pool.QueryRow(context.Background(), `SELECT attempts, last_error FROM recordings WHERE recording_sid = $1`, sid).Scan(&attempts, &lastError)
		if attempts != 0 || lastError != "" {
			t.Errorf("attempts = %d, last_error = %q after success; want reset", attempts, lastError)
		}
	})
}

// sweepUntil runs the sweeper with the clock moving on until the recording reaches status.
func (e *env) sweepUntil(t *testing.T, sid, status string) {
	t.Helper()
	for range 10 {
		if e.recordingRow(t, sid).Status == status {
			return
		}
		// Not due yet: a sweep before the backoff ends must change nothing.
		before := e.twilio.count("delete")
		if err := e.svc.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if e.twilio.count("delete") != before {
			t.Fatalf("sweep retried before the backoff ended")
		}
		e.clock.advance(time.Hour)
		if err := e.svc.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("recording %s is %q, want %q", sid, e.recordingRow(t, sid).Status, status)
}

func TestRetentionSweeper(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, oldCall := e.phoneTicket(t)
	e.answer(t, oldCall, "")
	oldSID := e.twilio.onlyRecording(t)
	e.signed(t, "/twilio/recording-status", e.twilio.finish(oldSID, []byte("old audio")), http.StatusNoContent)

	e.clock.advance(60 * 24 * time.Hour)
	_, newCall := e.phoneTicket(t)
	e.answer(t, newCall, "")
	newSID := e.twilio.recordingOf(t, newCall)
	e.signed(t, "/twilio/recording-status", e.twilio.finish(newSID, []byte("new audio")), http.StatusNoContent)

	e.clock.advance(31 * 24 * time.Hour) // the old one is 91 days old, the new one 31
	if err := e.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.recordingRow(t, oldSID); got != (row{Status: "deleted"}) {
		t.Errorf("old recording = %+v, want deleted", got)
	}
	if got := e.recordingRow(t, newSID); got.Status != "stored" {
		t.Errorf("new recording = %+v, want stored", got)
	}
	if objs := e.objects(t); len(objs) != 1 || objs[0] != recordingID(t, e, newSID)+".audio" {
		t.Errorf("objects = %v, want only the new recording's", objs)
	}
	if n := e.countRows(t, `SELECT count(*) FROM recording_events ev JOIN recordings r ON r.id = ev.recording_id
		WHERE r.recording_sid = $1 AND ev.type = 'deleted' AND ev.reason = 'retention' AND ev.actor = 'retention'`, oldSID); n != 1 {
		t.Errorf("retention deletion events = %d, want 1", n)
	}
}

func TestReconciliationDeletesLeaks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	// A stored recording whose deletion at Twilio we believe done, but Twilio kept a copy.
	_, storedCall := e.phoneTicket(t)
	e.answer(t, storedCall, "")
	storedSID := e.twilio.onlyRecording(t)
	e.signed(t, "/twilio/recording-status", e.twilio.finish(storedSID, []byte("kept")), http.StatusNoContent)
	e.twilio.mu.Lock()
	e.twilio.recs[storedSID] = &fakeRec{callSID: storedCall, status: "completed"}
	e.twilio.mu.Unlock()
	// A recording of an opted-out call whose callback was lost.
	optedTicket, optedCall := e.phoneTicket(t)
	if _, err := e.svc.SetRecordingOptOut(ctx, "agent-ann", optedTicket, true); err != nil {
		t.Fatal(err)
	}
	lostSID := e.twilio.hold(optedCall, []byte("never to be kept"))

	if err := e.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if e.twilio.holds(storedSID) || e.twilio.holds(lostSID) {
		t.Errorf("twilio still holds stored=%v opted-out=%v", e.twilio.holds(storedSID), e.twilio.holds(lostSID))
	}
	if got := e.recordingRow(t, lostSID); got != (row{Status: "deleted"}) {
		t.Errorf("lost recording = %+v, want deleted", got)
	}
	if n := e.twilio.count("fetch " + lostSID); n != 0 {
		t.Errorf("opted-out audio fetched %d times", n)
	}
	if got := e.recordingRow(t, storedSID); got.Status != "stored" {
		t.Errorf("stored recording = %+v, want still stored", got)
	}
}

func TestDeleteRecordingLeavesTicketEvent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ticketID, callSID := e.phoneTicket(t)
	e.answer(t, callSID, "")
	sid := e.twilio.onlyRecording(t)
	e.signed(t, "/twilio/recording-status", e.twilio.finish(sid, []byte("audio")), http.StatusNoContent)
	officer := auth.Identity{Subject: "privacy-pia", Roles: []auth.Role{auth.RolePrivacyOfficer}}
	rec, err := e.svc.DeleteRecording(context.Background(), officer, recordingID(t, e, sid), "erasure request")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != recording.StatusDeleted || rec.DeleteTime == nil || len(e.objects(t)) != 0 {
		t.Errorf("deleted = %+v, objects %v", rec, e.objects(t))
	}
	if n := e.countRows(t, `SELECT count(*) FROM ticket_events WHERE ticket_id = $1 AND type = 'recording_deleted'
		AND actor = 'privacy-pia' AND changed_fields = '{recordings}'`, ticketID); n != 1 {
		t.Errorf("ticket events = %d, want 1", n)
	}
	// Deleting again changes nothing and adds no event.
	if _, err := e.svc.DeleteRecording(context.Background(), officer, rec.ID, ""); err != nil {
		t.Fatal(err)
	}
	if n := e.countRows(t, `SELECT count(*) FROM ticket_events WHERE ticket_id = $1 AND type = 'recording_deleted'`, ticketID); n != 1 {
		t.Errorf("ticket events after a repeat = %d, want 1", n)
	}
}
