package recordingtwilio_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// dropTwilio removes the carrier from a ticket's list in the flow ledger only, as a fact change
// would: the call-time check must read the ledger, not the ticket's row.
func (e *env) dropTwilio(t *testing.T, ticketID string) {
	t.Helper()
	tag, err := e.pool.Exec(context.Background(), `UPDATE flow_records
		SET allowed_subprocessors = array_remove(allowed_subprocessors, 'twilio') WHERE record_id = $1`, ticketID)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("drop twilio from ticket %s: %v (%d rows)", ticketID, err, tag.RowsAffected())
	}
}

// refusals returns the processors of a record's audited refusals of direct calls.
func (e *env) refusals(t *testing.T, recordID string) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT subprocessor_id FROM flow_audit
		WHERE record_id = $1 AND action = 'refused' AND delivery_id IS NULL ORDER BY create_time`, recordID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStartRecordingRefusedOffTheList(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ticketID, callSID := e.phoneTicket(t)
	e.dropTwilio(t, ticketID)
	// The caller lets the gather pass: the call goes on, unrecorded.
	e.answer(t, callSID, "")
	if n := e.twilio.count("create"); n != 0 {
		t.Errorf("twilio saw %d recording creates, want 0 (%v)", n, e.twilio.log())
	}
	if n := e.countRows(t, `SELECT count(*) FROM recordings WHERE call_sid = $1`, callSID); n != 0 {
		t.Errorf("recordings of the call = %d, want 0", n)
	}
	if diff := cmp.Diff([]string{"twilio"}, e.refusals(t, ticketID)); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}

func TestFetchMediaRefusedOffTheList(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ticketID, callSID := e.phoneTicket(t)
	e.answer(t, callSID, "")
	sid := e.twilio.onlyRecording(t)
	e.dropTwilio(t, ticketID)

	e.signed(t, "/twilio/recording-status", e.twilio.finish(sid, []byte("RIFF pretend mp3 audio")), http.StatusNoContent)
	if n := e.twilio.count("fetch"); n != 0 {
		t.Errorf("twilio saw %d fetches, want 0 (%v)", n, e.twilio.log())
	}
	if got := e.recordingRow(t, sid); got != (row{Status: "completed", CarrierHeld: true}) || len(e.objects(t)) != 0 {
		t.Errorf("recording = %+v, objects %v; want completed, left at twilio, nothing copied", got, e.objects(t))
	}
	if diff := cmp.Diff([]string{"twilio"}, e.refusals(t, ticketID)); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}

	// The refused work stays due: once the list allows the carrier again, the sweeper copies.
	if _, err := e.pool.Exec(context.Background(), `UPDATE flow_records
		SET allowed_subprocessors = array_append(allowed_subprocessors, 'twilio') WHERE record_id = $1`, ticketID); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(2 * time.Hour)
	if err := e.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.recordingRow(t, sid); got.Status != "stored" || e.twilio.count("fetch "+sid+".mp3") != 1 {
		t.Errorf("after the list was restored: %+v, %d media fetches; want stored after one", got, e.twilio.count("fetch "+sid+".mp3"))
	}
}
