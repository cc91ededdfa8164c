package recording

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/validate"
)

// Actors of changes that no signed-in user makes.
const (
	ActorCaller     = "caller"
	ActorCarrier    = "twilio"
	ActorRetention  = "retention"
	ActorReconciler = "reconciliation"
)

// maxReasonLen bounds DeleteRecording's reason.
const maxReasonLen = 500

// Config holds the recording rules that operators tune.
type Config struct {
	// DeclineDigit is the key a caller presses to decline recording.
	DeclineDigit string
	// Retention is how long audio is kept (DOMAIN.md: 90 days by default).
	Retention time.Duration
	// URLTTL is how long a download link stays valid.
	URLTTL time.Duration
	// SweepEvery and ReconcileEvery pace the background jobs.
	SweepEvery     time.Duration
	ReconcileEvery time.Duration
	// Batch bounds how many recordings one sweep handles per step.
	Batch int
}

// DefaultConfig is the configuration the service runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{
		DeclineDigit: "9", Retention: 90 * 24 * time.Hour, URLTTL: 5 * time.Minute,
		SweepEvery: time.Minute, ReconcileEvery: 15 * time.Minute, Batch: 100,
	}
}

// Service applies the recording rules. Every change to a recording is first committed to the
// Store and then carried out at the carrier and the object store, so a failure leaves work
// that the sweeper retries rather than a copy that nobody remembers.
type Service struct {
	store   Store
	carrier Carrier
	objects Objects
	tickets TicketOptOut
	signer  *URLSigner
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
}

// NewService returns a Service. Zero fields of cfg take DefaultConfig's values.
func NewService(store Store, carrier Carrier, objects Objects, tickets TicketOptOut, signer *URLSigner, cfg Config, logger *slog.Logger, now func() time.Time) *Service {
	def := DefaultConfig()
	if cfg.DeclineDigit == "" {
		cfg.DeclineDigit = def.DeclineDigit
	}
	if cfg.Retention <= 0 {
		cfg.Retention = def.Retention
	}
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = def.URLTTL
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = def.SweepEvery
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = def.ReconcileEvery
	}
	if cfg.Batch <= 0 {
		cfg.Batch = def.Batch
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, carrier: carrier, objects: objects, tickets: tickets, signer: signer, cfg: cfg, log: logger, now: now}
}

// DeclineDigit is the key that declines recording, for the call's announcement.
func (s *Service) DeclineDigit() string { return s.cfg.DeclineDigit }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// IncomingCall records a call Twilio announced and reports whether it is opted out already.
// Errors: *apperr.InvalidError (callSID).
func (s *Service) IncomingCall(ctx context.Context, callSID string) (Call, error) {
	if !ValidCallSID(callSID) {
		return Call{}, apperr.Invalid("CallSid", "is not a Twilio call sid")
	}
	c, err := s.store.EnsureCall(ctx, callSID, s.clock())
	if err != nil {
		return Call{}, fmt.Errorf("record call: %w", err)
	}
	return c, nil
}

// CallerChoice applies the digits the caller pressed after the announcement: the decline digit
// opts the call out; anything else, or nothing, starts recording unless the call is opted out.
// Recording starts only here, through the carrier's API. Errors: *apperr.InvalidError.
func (s *Service) CallerChoice(ctx context.Context, callSID, digits string) (declined bool, err error) {
	if !ValidCallSID(callSID) {
		return false, apperr.Invalid("CallSid", "is not a Twilio call sid")
	}
	if digits == s.cfg.DeclineDigit {
		return true, s.CallerOptOut(ctx, callSID)
	}
	return false, s.startRecording(ctx, callSID)
}

func (s *Service) startRecording(ctx context.Context, callSID string) error {
	// A refused flow is an error like any other here: the call goes on, unrecorded.
	c, err := s.store.CallToRecord(ctx, callSID, s.clock())
	if err != nil {
		return fmt.Errorf("record call: %w", err)
	}
	if c.OptOut {
		return nil
	}
	sid, err := s.carrier.StartRecording(ctx, callSID)
	if err != nil {
		// The call goes on unrecorded: a lost recording is acceptable, a leaked one is not.
		return fmt.Errorf("start recording: %w", err)
	}
	rec, err := s.store.AddRecording(ctx, Recording{ID: newID(), CallSID: callSID, RecordingSID: sid}, s.clock())
	if err != nil {
		return fmt.Errorf("add recording: %w", err)
	}
	// The caller declined between our check and the carrier's answer: undo at once.
	return s.purge(ctx, rec)
}

// CallerOptOut records that the caller declined recording on this call: recordings of the call
// are stopped and deleted, and the call's ticket (if any) is opted out. Errors:
// *apperr.InvalidError.
func (s *Service) CallerOptOut(ctx context.Context, callSID string) error {
	if !ValidCallSID(callSID) {
		return apperr.Invalid("CallSid", "is not a Twilio call sid")
	}
	c, recs, err := s.store.OptOutCall(ctx, callSID, ActorCaller, s.clock())
	if err != nil {
		return fmt.Errorf("opt out call: %w", err)
	}
	if c.TicketID != "" {
		s.syncTicket(ctx, c)
	}
	s.purgeAll(ctx, recs)
	return nil
}

// syncTicket carries a call's opt-out to its ticket; on failure the sweeper tries again.
func (s *Service) syncTicket(ctx context.Context, c Call) {
	if err := s.tickets.SetRecordingOptOut(ctx, ActorCaller, c.TicketID, true); err != nil {
		s.log.ErrorContext(ctx, "opt out ticket of call", "ticket_id", c.TicketID, "err", err)
		return
	}
	if err := s.store.MarkSynced(ctx, c.SID); err != nil {
		s.log.ErrorContext(ctx, "mark call opt-out synced", "ticket_id", c.TicketID, "err", err)
	}
}

// SetRecordingOptOut records an agent's report of the caller's choice for a ticket. Opting out
// stops and deletes every recording of the ticket's call (everywhere; failures are retried in
// the background), sets the ticket's opt-out and flows, and returns how many recordings were
// deleted. Opting back in allows recording of later calls only. Errors:
// apperr.ErrUnauthenticated, *apperr.InvalidError (ticket_id), apperr.ErrNotFound.
func (s *Service) SetRecordingOptOut(ctx context.Context, actor, ticketID string, optOut bool) (int, error) {
	if actor == "" {
		return 0, apperr.ErrUnauthenticated
	}
	id, err := validate.ID("ticket_id", ticketID)
	if err != nil {
		return 0, err
	}
	if !optOut {
		if err := s.tickets.SetRecordingOptOut(ctx, actor, id, false); err != nil {
			return 0, fmt.Errorf("opt ticket %s back in: %w", id, err)
		}
		return 0, nil
	}
	// Our side first: if the ticket update then fails, no audio is kept and a retry is cheap.
	callSID, recs, err := s.store.OptOutTicket(ctx, id, actor, s.clock())
	if err != nil {
		return 0, fmt.Errorf("opt out recordings of ticket %s: %w", id, err)
	}
	if err := s.tickets.SetRecordingOptOut(ctx, actor, id, true); err != nil {
		return 0, fmt.Errorf("opt out ticket %s: %w", id, err)
	}
	if callSID != "" {
		if err := s.store.MarkSynced(ctx, callSID); err != nil {
			s.log.ErrorContext(ctx, "mark call opt-out synced", "ticket_id", id, "err", err)
		}
	}
	s.purgeAll(ctx, recs)
	return len(recs), nil
}

// HandleCallback applies a recording status callback once. A finished recording of an opted-out
// call is deleted at the carrier and nothing is kept; otherwise it is copied, verified, deleted
// at the carrier and only then marked stored. Copy and purge failures are retried by the
// sweeper, so they do not fail the callback. Errors: *apperr.InvalidError.
func (s *Service) HandleCallback(ctx context.Context, cb Callback) error {
	if !ValidRecordingSID(cb.RecordingSID) || !ValidCallSID(cb.CallSID) {
		return apperr.Invalid("RecordingSid", "is not a Twilio recording sid")
	}
	rec, applied, err := s.store.ApplyCallback(ctx, cb, newID(), s.clock())
	if err != nil {
		return fmt.Errorf("apply recording callback: %w", err)
	}
	if !applied {
		return nil
	}
	s.advance(ctx, rec)
	return nil
}

// advance moves a recording one step towards stored or deleted; failures are recorded as due
// work and logged.
func (s *Service) advance(ctx context.Context, rec Recording) {
	var err error
	switch rec.Status {
	case StatusCompleted, StatusCopied:
		err = s.ingest(ctx, rec.ID)
	case StatusDeleting:
		err = s.purge(ctx, rec)
	}
	if err != nil {
		s.log.WarnContext(ctx, "recording work failed; will retry", "recording_id", rec.ID, "err", err)
	}
}

// ingest copies a completed recording into the store, deletes it at the carrier and marks it
// stored, in that order; each step is committed so that a retry resumes where this stopped.
func (s *Service) ingest(ctx context.Context, id string) error {
	rec, err := s.store.Copy(ctx, id, s.clock(), s.copyAudio)
	if err != nil {
		return s.failed(ctx, id, rec.Attempts, fmt.Errorf("copy: %w", err))
	}
	switch rec.Status {
	case StatusDeleting:
		return s.purge(ctx, rec)
	case StatusCopied:
		if err := s.carrier.DeleteRecording(ctx, rec.RecordingSID); err != nil && !errors.Is(err, ErrCarrierNotFound) {
			return s.failed(ctx, id, rec.Attempts, fmt.Errorf("delete at carrier: %w", err))
		}
		rec, err = s.store.CarrierReleased(ctx, id, s.clock())
		if err != nil {
			return fmt.Errorf("mark stored: %w", err)
		}
		// An opt-out that came while we copied leaves the store's copy to delete.
		return s.purge(ctx, rec)
	}
	return nil
}

func audioAAD(id string) string { return keyring.AAD("recordings", "audio", id) }

// copyAudio fetches the audio by sid, seals it with the customer's key, stores it and reads it
// back: the copy counts only once its size and checksum match what the carrier sent.
func (s *Service) copyAudio(ctx context.Context, rec Recording, key Sealer) (Object, error) {
	audio, err := s.carrier.FetchMedia(ctx, rec.RecordingSID)
	if err != nil {
		return Object{}, fmt.Errorf("fetch media: %w", err)
	}
	if len(audio) == 0 {
		return Object{}, errors.New("fetch media: empty audio")
	}
	sum := sha256.Sum256(audio)
	obj := Object{Key: rec.ID, SizeBytes: int64(len(audio)), SHA256: sum[:]}
	if err := s.objects.Put(ctx, obj.Key, key.Seal(string(audio), audioAAD(rec.ID))); err != nil {
		return Object{}, fmt.Errorf("put audio: %w", err)
	}
	if err := s.verify(ctx, obj, key, rec.ID); err != nil {
		if derr := s.objects.Delete(ctx, obj.Key); derr != nil {
			err = errors.Join(err, derr)
		}
		return Object{}, err
	}
	return obj, nil
}

func (s *Service) verify(ctx context.Context, obj Object, key Sealer, id string) error {
	back, err := s.objects.Get(ctx, obj.Key)
	if err != nil {
		return fmt.Errorf("read back audio: %w", err)
	}
	plain, err := key.Open(back, audioAAD(id))
	if err != nil {
		return fmt.Errorf("open stored audio: %w", err)
	}
	sum := sha256.Sum256([]byte(plain))
	if int64(len(plain)) != obj.SizeBytes || !bytes.Equal(sum[:], obj.SHA256) {
		return errors.New("stored audio does not match the carrier's: size or checksum differs")
	}
	return nil
}

// purge deletes a deleting recording's copies: at the carrier (stopping it first if it may be
// active) and in the store. Each success is committed; a failure is scheduled for retry.
func (s *Service) purge(ctx context.Context, rec Recording) error {
	if rec.Status != StatusDeleting {
		return nil
	}
	var err error
	if rec.CarrierHeld {
		if rec.StopPending {
			// Twilio refuses to delete an active recording. A stop that fails because the
			// recording already ended is fine; any other failure shows in the delete below.
			if serr := s.carrier.StopRecording(ctx, rec.CallSID, rec.RecordingSID); serr != nil && !errors.Is(serr, ErrCarrierNotFound) {
				s.log.DebugContext(ctx, "stop recording", "recording_id", rec.ID, "err", serr)
			}
		}
		if derr := s.carrier.DeleteRecording(ctx, rec.RecordingSID); derr != nil && !errors.Is(derr, ErrCarrierNotFound) {
			return s.failed(ctx, rec.ID, rec.Attempts, fmt.Errorf("delete at carrier: %w", derr))
		}
		if rec, err = s.store.CarrierReleased(ctx, rec.ID, s.clock()); err != nil {
			return fmt.Errorf("mark deleted at carrier: %w", err)
		}
	}
	if rec.ObjectKey != "" {
		if derr := s.objects.Delete(ctx, rec.ObjectKey); derr != nil {
			return s.failed(ctx, rec.ID, rec.Attempts, fmt.Errorf("delete from store: %w", derr))
		}
		if _, err := s.store.ObjectDeleted(ctx, rec.ID, s.clock()); err != nil {
			return fmt.Errorf("mark deleted from store: %w", err)
		}
	}
	return nil
}

func (s *Service) purgeAll(ctx context.Context, recs []Recording) {
	for _, r := range recs {
		if err := s.purge(ctx, r); err != nil {
			s.log.WarnContext(ctx, "recording purge failed; will retry", "recording_id", r.ID, "err", err)
		}
	}
}

// failed schedules the next attempt with exponential backoff (1 minute to 1 hour) and returns
// cause. The work is never dropped: only success ends it.
func (s *Service) failed(ctx context.Context, id string, attempts int32, cause error) error {
	if errors.Is(cause, ErrAwaitingTicket) {
		attempts = 6 // an unlinked call waits about an hour, not a minute
	}
	delay := time.Minute << min(attempts, 6)
	if err := s.store.WorkFailed(ctx, id, cause.Error(), s.clock().Add(min(delay, time.Hour))); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// Sweep runs the background duties once: retention, retries of copies and purges, and opt-outs
// that still have to reach their tickets.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.clock()
	expired, err := s.store.Expire(ctx, now.Add(-s.cfg.Retention), now, s.cfg.Batch)
	if err != nil {
		return fmt.Errorf("expire recordings: %w", err)
	}
	s.purgeAll(ctx, expired)
	due, err := s.store.DueWork(ctx, now, s.cfg.Batch)
	if err != nil {
		return fmt.Errorf("list due recording work: %w", err)
	}
	for _, r := range due {
		s.advance(ctx, r)
	}
	calls, err := s.store.UnsyncedOptOuts(ctx, s.cfg.Batch)
	if err != nil {
		return fmt.Errorf("list unsynced opt-outs: %w", err)
	}
	for _, c := range calls {
		s.syncTicket(ctx, c)
	}
	return nil
}

// Reconcile lists what the carrier still holds and deletes what it should not: recordings of
// opted-out calls and recordings we already stored or deleted. Finished recordings whose
// callback was lost are handled as if it had arrived.
func (s *Service) Reconcile(ctx context.Context) error {
	held, err := s.carrier.ListRecordings(ctx)
	if err != nil {
		return fmt.Errorf("list carrier recordings: %w", err)
	}
	var errs []error
	for _, h := range held {
		if !ValidRecordingSID(h.RecordingSID) || !ValidCallSID(h.CallSID) {
			continue
		}
		if err := s.reconcile(ctx, h); err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s: %w", h.RecordingSID, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) reconcile(ctx context.Context, h CarrierRecording) error {
	rec, err := s.store.ByRecordingSID(ctx, h.RecordingSID)
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return err
	}
	if err == nil {
		switch rec.Status {
		case StatusStored, StatusDeleted:
			// We hold it or it must be gone: the carrier's copy is a leak.
			if err := s.carrier.DeleteRecording(ctx, h.RecordingSID); err != nil && !errors.Is(err, ErrCarrierNotFound) {
				return err
			}
			return nil
		case StatusDeleting, StatusCompleted, StatusCopied:
			s.advance(ctx, rec)
			return nil
		}
	}
	// Unknown to us, or still recording by our books: replay what the carrier says as a
	// callback. Its claim makes a late real callback a no-op.
	status := h.Status
	switch status {
	case CallbackCompleted, CallbackAbsent, CallbackFailed, CallbackInProgress:
	case "processing", "paused", "stopped":
		status = CallbackInProgress
	default:
		return nil
	}
	if status == CallbackInProgress {
		// An active recording is only our business if its call is opted out.
		optOut, _, err := s.store.CallOptedOut(ctx, h.CallSID)
		if err != nil || !optOut {
			return err
		}
	}
	return s.HandleCallback(ctx, Callback{CallSID: h.CallSID, RecordingSID: h.RecordingSID, Status: status})
}

// RunSweeper runs Sweep every Config.SweepEvery until ctx is done. It returns nil on shutdown;
// a failed sweep is logged and tried again next time.
func (s *Service) RunSweeper(ctx context.Context) error {
	return s.every(ctx, s.cfg.SweepEvery, "recording sweep", s.Sweep)
}

// RunReconciler runs Reconcile every Config.ReconcileEvery until ctx is done.
func (s *Service) RunReconciler(ctx context.Context) error {
	return s.every(ctx, s.cfg.ReconcileEvery, "recording reconciliation", s.Reconcile)
}

func (s *Service) every(ctx context.Context, d time.Duration, name string, fn func(context.Context) error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, name+" failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ListRecordings returns the recordings of a ticket's call, oldest first. Errors:
// *apperr.InvalidError (ticket_id), apperr.ErrNotFound (no such ticket).
func (s *Service) ListRecordings(ctx context.Context, ticketID string) ([]Recording, error) {
	id, err := validate.ID("ticket_id", ticketID)
	if err != nil {
		return nil, err
	}
	recs, err := s.store.ListByTicket(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list recordings of ticket %s: %w", id, err)
	}
	return recs, nil
}

// GetRecording returns one recording, and for supervisors and admins a short-lived download
// link when the audio is stored. Errors: *apperr.InvalidError (id), apperr.ErrNotFound.
func (s *Service) GetRecording(ctx context.Context, who auth.Identity, id string) (Recording, *Download, error) {
	id, err := validate.ID("id", id)
	if err != nil {
		return Recording{}, nil, err
	}
	rec, err := s.store.Recording(ctx, id)
	if err != nil {
		return Recording{}, nil, fmt.Errorf("get recording %s: %w", id, err)
	}
	if rec.Status != StatusStored || s.signer == nil || !(who.Has(auth.RoleSupervisor) || who.IsAdmin()) {
		return rec, nil, nil
	}
	exp := s.clock().Add(s.cfg.URLTTL).Truncate(time.Second)
	return rec, &Download{URL: s.signer.Sign(rec.ID, exp), ExpireTime: exp}, nil
}

// DeleteRecording deletes a recording's audio everywhere at a supervisor's, privacy officer's
// or admin's request, keeps the record as deleted and leaves an event on the ticket. Deleting
// a deleted recording returns it unchanged. Errors: apperr.ErrPermission (other roles),
// *apperr.InvalidError (id, reason), apperr.ErrNotFound.
func (s *Service) DeleteRecording(ctx context.Context, who auth.Identity, id, reason string) (Recording, error) {
	if who.Subject == "" {
		return Recording{}, apperr.ErrUnauthenticated
	}
	if !(who.Has(auth.RoleSupervisor) || who.Has(auth.RolePrivacyOfficer) || who.IsAdmin()) {
		return Recording{}, apperr.ErrPermission
	}
	id, err := validate.ID("id", id)
	if err != nil {
		return Recording{}, err
	}
	if len(reason) > maxReasonLen {
		return Recording{}, apperr.Invalid("reason", "must be at most %d characters", maxReasonLen)
	}
	rec, err := s.store.Delete(ctx, id, who.Subject, reason, s.clock())
	if err != nil {
		return Recording{}, fmt.Errorf("delete recording %s: %w", id, err)
	}
	if err := s.purge(ctx, rec); err != nil {
		// Marked deleting and scheduled: for the caller the recording is deleted.
		s.log.WarnContext(ctx, "recording purge failed; will retry", "recording_id", id, "err", err)
	}
	if rec, err = s.store.Recording(ctx, id); err != nil {
		return Recording{}, fmt.Errorf("read deleted recording %s: %w", id, err)
	}
	return rec, nil
}

// Audio returns a stored recording's audio for a signed download link. Errors: ErrBadLink,
// apperr.ErrNotFound (no such stored recording, or its customer's key was destroyed).
func (s *Service) Audio(ctx context.Context, id, expires, sig string) ([]byte, error) {
	if s.signer == nil {
		return nil, ErrBadLink
	}
	if err := s.signer.Verify(id, expires, sig, s.now()); err != nil {
		return nil, err
	}
	rec, key, err := s.store.Audio(ctx, id)
	if errors.Is(err, keyring.ErrKeyDestroyed) {
		return nil, fmt.Errorf("audio of recording %s: %w", id, apperr.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("audio of recording %s: %w", id, err)
	}
	sealed, err := s.objects.Get(ctx, rec.ObjectKey)
	if errors.Is(err, ErrObjectNotFound) {
		return nil, fmt.Errorf("audio of recording %s: %w", id, apperr.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("audio of recording %s: %w", id, err)
	}
	plain, err := key.Open(sealed, audioAAD(rec.ID))
	if err != nil {
		return nil, fmt.Errorf("open audio of recording %s: %w", id, err)
	}
	return []byte(plain), nil
}
