package recordingtwilio_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingdb"
	"github.com/lumio/contactcentre/internal/recording/recordingstore"
	"github.com/lumio/contactcentre/internal/recording/recordingtwilio"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
	// publicURL is what Twilio signs; requests reach the test server under another host, so a
	// handler that used the Host header would reject every signature.
	publicURL = "https://support.example.test"
)

// fakeTwilio speaks the Twilio REST shapes the adapter uses and records what it was asked.
type fakeTwilio struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	recs        map[string]*fakeRec
	asked       []string
	failDeletes int
}

type fakeRec struct {
	callSID string
	status  string
	audio   []byte
}

func newFakeTwilio(t *testing.T) *fakeTwilio {
	t.Helper()
	f := &fakeTwilio{t: t, recs: map[string]*fakeRec{}}
	mux := http.NewServeMux()
	prefix := "/2010-04-01/Accounts/{ac}"
	mux.HandleFunc("POST "+prefix+"/Calls/{call}/Recordings.json", f.create)
	mux.HandleFunc("POST "+prefix+"/Calls/{call}/Recordings/{file}", f.update)
	mux.HandleFunc("GET "+prefix+"/Recordings.json", f.list)
	mux.HandleFunc("GET "+prefix+"/Recordings/{file}", f.fetch)
	mux.HandleFunc("DELETE "+prefix+"/Recordings/{file}", f.remove)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != accountSID || pass != authToken || r.PathValue("ac") != "" && r.PathValue("ac") != accountSID {
			restError(w, http.StatusUnauthorized, 20003)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func restError(w http.ResponseWriter, status, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(map[string]any{"code": code, "message": http.StatusText(status), "status": status}); err != nil {
		panic(err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(err)
	}
}

func (f *fakeTwilio) note(format string, args ...any) {
	f.asked = append(f.asked, fmt.Sprintf(format, args...))
}

func newSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (f *fakeTwilio) create(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := r.PathValue("call")
	_ = r.ParseForm()
	if r.PostForm.Get("RecordingStatusCallback") != publicURL+"/twilio/recording-status" {
		f.t.Errorf("RecordingStatusCallback = %q", r.PostForm.Get("RecordingStatusCallback"))
	}
	sid := newSID("RE")
	f.recs[sid] = &fakeRec{callSID: call, status: "in-progress"}
	f.note("create %s", call)
	writeJSON(w, http.StatusCreated, map[string]any{"sid": sid, "call_sid": call, "account_sid": accountSID, "status": "in-progress"})
}

func (f *fakeTwilio) update(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := strings.TrimSuffix(r.PathValue("file"), ".json")
	_ = r.ParseForm()
	f.note("update %s %s", sid, r.PostForm.Get("Status"))
	rec, ok := f.recs[sid]
	if !ok || rec.status != "in-progress" {
		restError(w, http.StatusNotFound, 20404)
		return
	}
	rec.status = r.PostForm.Get("Status")
	writeJSON(w, http.StatusOK, map[string]any{"sid": sid, "call_sid": rec.callSID, "status": rec.status})
}

func (f *fakeTwilio) fetch(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	file := r.PathValue("file")
	sid, ext, _ := strings.Cut(file, ".")
	f.note("fetch %s.%s", sid, ext)
	rec, ok := f.recs[sid]
	if !ok {
		restError(w, http.StatusNotFound, 20404)
		return
	}
	if ext == "mp3" {
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(rec.audio)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sid": sid, "call_sid": rec.callSID, "status": rec.status})
}

func (f *fakeTwilio) remove(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := strings.TrimSuffix(r.PathValue("file"), ".json")
	f.note("delete %s", sid)
	if f.failDeletes > 0 {
		f.failDeletes--
		restError(w, http.StatusInternalServerError, 20500)
		return
	}
	if _, ok := f.recs[sid]; !ok {
		restError(w, http.StatusNotFound, 20404)
		return
	}
	delete(f.recs, sid)
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeTwilio) list(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("list")
	out := []map[string]any{}
	for sid, rec := range f.recs {
		out = append(out, map[string]any{"sid": sid, "call_sid": rec.callSID, "status": rec.status, "account_sid": accountSID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"recordings": out, "page": 0, "page_size": 100})
}

// finish ends a recording at the fake as Twilio would, with audio, and returns the callback.
func (f *fakeTwilio) finish(sid string, audio []byte) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.recs[sid]
	if !ok {
		f.t.Fatalf("fake twilio: no recording %s", sid)
	}
	rec.status, rec.audio = "completed", audio
	return callbackForm(rec.callSID, sid, "completed")
}

// hold puts a finished recording at the fake that we never heard of.
func (f *fakeTwilio) hold(callSID string, audio []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := newSID("RE")
	f.recs[sid] = &fakeRec{callSID: callSID, status: "completed", audio: audio}
	return sid
}

func (f *fakeTwilio) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

func (f *fakeTwilio) count(prefix string) int {
	n := 0
	for _, a := range f.log() {
		if strings.HasPrefix(a, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeTwilio) holds(sid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.recs[sid]
	return ok
}

// onlyRecording returns the sid of the one recording the fake created.
func (f *fakeTwilio) onlyRecording(t *testing.T) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.recs) != 1 {
		t.Fatalf("fake twilio holds %d recordings, want 1", len(f.recs))
	}
	for sid := range f.recs {
		return sid
	}
	return ""
}

// recordingOf returns the sid of the recording the fake holds for callSID.
func (f *fakeTwilio) recordingOf(t *testing.T, callSID string) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for sid, r := range f.recs {
		if r.callSID == callSID {
			return sid
		}
	}
	t.Fatalf("fake twilio holds no recording of %s", callSID)
	return ""
}

func callbackForm(callSID, recordingSID, status string) url.Values {
	return url.Values{
		"AccountSid": {accountSID}, "CallSid": {callSID}, "RecordingSid": {recordingSID},
		"RecordingStatus": {status}, "RecordingDuration": {"42"}, "RecordingChannels": {"1"},
		"RecordingSource": {"StartCallRecordingAPI"},
		"RecordingUrl":    {"https://api.twilio.com/2010-04-01/Accounts/" + accountSID + "/Recordings/" + recordingSID},
	}
}

// sign computes X-Twilio-Signature as Twilio documents it: HMAC-SHA1 over the URL followed by
// the POST fields sorted by name, each name then value, base64-encoded.
func sign(fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(form.Get(k))
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// clock is the service's controllable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one test's whole recording stack: real PostgreSQL, the real twilio-go client against
// the fake, the filesystem store, the real tickets service and our HTTP handlers.
type env struct {
	pool     *pgxpool.Pool
	svc      *recording.Service
	tickets  *tickets.Service
	twilio   *fakeTwilio
	web      *httptest.Server
	dir      string
	clock    *clock
	customer string
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	customer := uuid.NewString()
	pk, err := keyringdb.Ensure(ctx, pool, kr, customer, keyringdb.Personal)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO customers (id, org_name, personal_dek_id, retained_dek_id,
		address_country, residency_country, allowed_subprocessors, create_by, create_time, update_time)
		VALUES ($1, 'Lakeside College', $2, $2, 'CA', 'CA', '{}', 'sales-1', now(), now())`, customer, pk.ID)
	if err != nil {
		t.Fatal(err)
	}
	policy := dataflow.NewPolicy(dataflow.DefaultNorthAmerica)
	clk := &clock{t: time.Now().UTC()}
	ts := tickets.NewService(ticketsdb.New(pool, kr), policy, tickets.DefaultSLA(), clk.now)

	fake := newFakeTwilio(t)
	cfg := recordingtwilio.Config{AccountSID: accountSID, AuthToken: authToken, APIBaseURL: fake.srv.URL, PublicURL: publicURL}
	carrier, err := recordingtwilio.NewCarrier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	objects, err := recordingstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	linkKey := make([]byte, 32)
	_, _ = rand.Read(linkKey)
	signer, err := recording.NewURLSigner(publicURL, linkKey)
	if err != nil {
		t.Fatal(err)
	}
	optOut := recording.TicketOptOutFunc(func(ctx context.Context, actor, id string, v bool) error {
		_, err := ts.SetRecordingOptOut(ctx, actor, id, v)
		return err
	})
	svc := recording.NewService(recordingdb.New(pool, kr, policy), carrier, objects, optOut, signer,
		recording.Config{}, nil, clk.now)
	mux := http.NewServeMux()
	recordingtwilio.NewHandler(svc, cfg, nil).Register(mux)
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	return &env{pool: pool, svc: svc, tickets: ts, twilio: fake, web: web, dir: dir, clock: clk, customer: customer}
}

// phoneTicket opens a phone ticket for a new call and returns the ticket id and call sid.
func (e *env) phoneTicket(t *testing.T) (ticketID, callSID string) {
	t.Helper()
	callSID = newSID("CA")
	tk, err := e.tickets.CreateTicket(context.Background(), "agent-ann", tickets.NewTicket{
		CustomerID: e.customer, Channel: tickets.ChannelPhone, Subject: "Projector keeps rebooting",
		Contact: tickets.Contact{Title: "Head of IT"}, CallSID: callSID,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return tk.ID, callSID
}

// post sends a webhook with the given signature ("" sends none).
func (e *env) post(t *testing.T, path string, form url.Values, sig string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.web.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	res, err := e.web.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

// signed sends a webhook signed as Twilio signs it, and fails unless it gets want.
func (e *env) signed(t *testing.T, path string, form url.Values, want int) *http.Response {
	t.Helper()
	res := e.post(t, path, form, sign(publicURL+path, form))
	if res.StatusCode != want {
		t.Fatalf("POST %s: status %d, want %d", path, res.StatusCode, want)
	}
	return res
}

// answer plays a call up to the caller's choice: the voice webhook, then the gather with digits.
func (e *env) answer(t *testing.T, callSID, digits string) {
	t.Helper()
	e.signed(t, "/twilio/voice", url.Values{"AccountSid": {accountSID}, "CallSid": {callSID}, "From": {"+15555550100"}}, http.StatusOK)
	form := url.Values{"AccountSid": {accountSID}, "CallSid": {callSID}}
	if digits != "" {
		form.Set("Digits", digits)
	}
	e.signed(t, "/twilio/gather", form, http.StatusOK)
}

type row struct {
	Status      string
	CarrierHeld bool
	ObjectKey   string
}

func (e *env) recordingRow(t *testing.T, sid string) row {
	t.Helper()
	var r row
	err := e.pool.QueryRow(context.Background(), `SELECT status, carrier_held, object_key FROM recordings WHERE recording_sid = $1`, sid).
		Scan(&r.Status, &r.CarrierHeld, &r.ObjectKey)
	if err != nil {
		t.Fatalf("recording %s: %v", sid, err)
	}
	return r
}

func (e *env) countRows(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// objects lists the files of the object store.
func (e *env) objects(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		out = append(out, en.Name())
	}
	return out
}
