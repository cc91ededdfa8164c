package recordingtwilio

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/recording"
)

// Webhook paths, relative to the public URL Twilio calls.
const (
	VoicePath           = "/twilio/voice"
	GatherPath          = "/twilio/gather"
	RecordingStatusPath = "/twilio/recording-status"
)

// maxFormBytes bounds a webhook's body; Twilio's forms are a few hundred bytes.
const maxFormBytes = 64 << 10

// queueName is the Twilio queue agents answer from.
const queueName = "support"

// Handler serves Twilio's webhooks and signed audio downloads.
type Handler struct {
	svc       *recording.Service
	validator client.RequestValidator
	accountID string
	publicURL string
	log       *slog.Logger
	metrics   *WebhookMetrics
}

// NewHandler returns the HTTP handlers for svc, checking Twilio's signatures with cfg.AuthToken
// against cfg.PublicURL (never the request's Host header, which the client chooses).
func NewHandler(svc *recording.Service, cfg Config, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		svc: svc, validator: client.NewRequestValidator(cfg.AuthToken), accountID: cfg.AccountSID,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"), log: logger,
	}
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+VoicePath, h.observed(VoicePath, h.voice))
	mux.HandleFunc("POST "+GatherPath, h.observed(GatherPath, h.gather))
	mux.HandleFunc("POST "+RecordingStatusPath, h.observed(RecordingStatusPath, h.recordingStatus))
	mux.HandleFunc("GET /recordings/{id}/audio", h.audio)
}

// verified reads the form and checks its signature. It answers the request itself (and returns
// false) when either fails: 403 for a missing or wrong signature, before anything changes.
func (h *Handler) verified(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, false
	}
	if !VerifySignature(h.validator, h.publicURL, r.URL, r.PostForm, sig) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, false
	}
	return r.PostForm, true
}

// VerifySignature checks Twilio's signature of a POST to path (with its query) under
// publicURL. The validator compares in constant time.
func VerifySignature(v client.RequestValidator, publicURL string, u *url.URL, form url.Values, sig string) bool {
	full := publicURL + u.EscapedPath()
	if u.RawQuery != "" {
		full += "?" + u.RawQuery
	}
	params := make(map[string]string, len(form))
	for k, vs := range form {
		if len(vs) != 1 {
			// Twilio never repeats a field; a repeat is someone else's form.
			return false
		}
		params[k] = vs[0]
	}
	return v.Validate(full, params, sig)
}

func (h *Handler) voice(w http.ResponseWriter, r *http.Request) {
	form, ok := h.verified(w, r)
	if !ok {
		return
	}
	callSID, err := recording.ParseCallSID(form)
	if err != nil {
		h.badRequest(w, err)
		return
	}
	call, err := h.svc.IncomingCall(r.Context(), callSID)
	if err != nil {
		h.log.ErrorContext(r.Context(), "incoming call", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	var verbs []twiml.Element
	if call.OptOut {
		verbs = append(verbs, twiml.VoiceSay{Message: "Recording is off for this call."})
	} else {
		// Recording is started later through the REST API, and only if the caller lets the
		// gather pass; this TwiML starts none.
		verbs = append(verbs, twiml.VoiceGather{
			Input: "dtmf", NumDigits: "1", Timeout: "6", Method: http.MethodPost,
			Action: h.publicURL + GatherPath, ActionOnEmptyResult: "true",
			InnerElements: []twiml.Element{twiml.VoiceSay{
				Message: "This call may be recorded for quality and training. To decline recording, press " + h.svc.DeclineDigit() + " now.",
			}},
		})
	}
	// Reached only if the gather does not hand over: the caller is queued, unrecorded.
	verbs = append(verbs, twiml.VoiceEnqueue{Name: queueName})
	h.twiml(w, r, verbs)
}

func (h *Handler) gather(w http.ResponseWriter, r *http.Request) {
	form, ok := h.verified(w, r)
	if !ok {
		return
	}
	callSID, err := recording.ParseCallSID(form)
	if err != nil {
		h.badRequest(w, err)
		return
	}
	declined, err := h.svc.CallerChoice(r.Context(), callSID, form.Get("Digits"))
	if err != nil {
		// The caller is still queued: failing to record is safe, failing the call is not.
		h.log.ErrorContext(r.Context(), "caller recording choice", "err", err)
		markFailed(w)
	}
	var verbs []twiml.Element
	if declined {
		verbs = append(verbs, twiml.VoiceSay{Message: "Recording is off for this call."})
	}
	verbs = append(verbs, twiml.VoiceEnqueue{Name: queueName})
	h.twiml(w, r, verbs)
}

func (h *Handler) recordingStatus(w http.ResponseWriter, r *http.Request) {
	form, ok := h.verified(w, r)
	if !ok {
		return
	}
	cb, err := recording.ParseCallback(form)
	if err != nil {
		h.badRequest(w, err)
		return
	}
	if cb.AccountSID != h.accountID {
		h.badRequest(w, apperr.Invalid("AccountSid", "is not this service's account"))
		return
	}
	if err := h.svc.HandleCallback(r.Context(), cb); err != nil {
		h.log.ErrorContext(r.Context(), "recording status callback", "err", err)
		// Twilio retries a failed callback; the claim was rolled back with the effect.
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) audio(w http.ResponseWriter, r *http.Request) {
	id, err := recording.ParseID("id", r.PathValue("id"))
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	audio, err := h.svc.Audio(r.Context(), id, q.Get("expires"), q.Get("sig"))
	switch {
	case errors.Is(err, recording.ErrBadLink):
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	case errors.Is(err, apperr.ErrNotFound):
		http.Error(w, "not found", http.StatusNotFound)
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "recording audio", "recording_id", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.mp3"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(audio) //nolint:gosec // G705: audio bytes served as an attachment with nosniff, never rendered as HTML
}

func (h *Handler) twiml(w http.ResponseWriter, r *http.Request, verbs []twiml.Element) {
	doc, err := twiml.Voice(verbs)
	if err != nil {
		h.log.ErrorContext(r.Context(), "render twiml", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(doc))
}

func (h *Handler) badRequest(w http.ResponseWriter, err error) {
	if f, ok := apperr.Field(err); ok {
		http.Error(w, "invalid "+f, http.StatusBadRequest)
		return
	}
	http.Error(w, "bad request", http.StatusBadRequest)
}
