-- Call recordings (issue 4). Audio never lives in the database: a recording row tracks where
-- copies of the audio still exist (carrier_held at Twilio, object_key in our store) so that a
-- deletion can be retried until both are gone.

-- calls are the phone calls Twilio told us about. opt_out is the caller's choice for this call
-- and never reverts: opting a ticket back in allows recording of later calls only.
CREATE TABLE calls (
    call_sid      text        PRIMARY KEY CHECK (call_sid ~ '^CA[0-9a-f]{32}$'),
    opt_out       boolean     NOT NULL DEFAULT false,
    opt_out_by    text        NOT NULL DEFAULT '',
    opt_out_time  timestamptz,
    -- ticket_synced says the opt-out reached the ticket that names this call (a caller may
    -- decline before an agent has created the ticket).
    ticket_synced boolean     NOT NULL DEFAULT false,
    create_time   timestamptz NOT NULL,
    update_time   timestamptz NOT NULL
);
CREATE INDEX calls_unsynced ON calls (call_sid) WHERE opt_out AND NOT ticket_synced;

-- recordings: status is the lifecycle (recording -> completed -> copied -> stored, or any ->
-- deleting -> deleted). The ticket is found through tickets.call_sid, never copied here.
CREATE TABLE recordings (
    id                    uuid        PRIMARY KEY,
    call_sid              text        NOT NULL REFERENCES calls (call_sid),
    recording_sid         text        NOT NULL UNIQUE CHECK (recording_sid ~ '^RE[0-9a-f]{32}$'),
    status                text        NOT NULL CHECK (status IN ('recording', 'completed', 'copied', 'stored', 'deleting', 'deleted')),
    duration_seconds      integer     NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0),
    allowed_subprocessors text[]      NOT NULL,
    -- carrier_held: Twilio may still hold the audio; stop_pending: it may still be recording.
    -- object_key: '' when our store holds none.
    carrier_held          boolean     NOT NULL,
    stop_pending          boolean     NOT NULL DEFAULT false,
    object_key            text        NOT NULL DEFAULT '',
    dek_id                uuid,
    size_bytes            bigint      NOT NULL DEFAULT 0,
    sha256                bytea,
    delete_reason         text        NOT NULL DEFAULT '',
    delete_by             text        NOT NULL DEFAULT '',
    -- Work (copy or purge) that failed is retried from next_attempt_time; last_error never
    -- holds personal data (carrier status codes and our own messages only).
    attempts              integer     NOT NULL DEFAULT 0,
    next_attempt_time     timestamptz,
    last_error            text        NOT NULL DEFAULT '',
    create_time           timestamptz NOT NULL,
    update_time           timestamptz NOT NULL,
    store_time            timestamptz,
    delete_time           timestamptz,
    CHECK (status <> 'deleted' OR (NOT carrier_held AND object_key = ''))
);
CREATE INDEX recordings_call ON recordings (call_sid, create_time, id);
CREATE INDEX recordings_work ON recordings (next_attempt_time) WHERE status IN ('completed', 'copied', 'deleting');
CREATE INDEX recordings_retention ON recordings (create_time) WHERE status NOT IN ('deleting', 'deleted');

-- recording_callbacks makes each (RecordingSid, status) callback take effect once: the claim is
-- inserted in the transaction that applies it.
CREATE TABLE recording_callbacks (
    recording_sid text        NOT NULL,
    status        text        NOT NULL,
    receive_time  timestamptz NOT NULL,
    PRIMARY KEY (recording_sid, status)
);

-- recording_events is the audit trail of what happened to recordings (names, never audio or
-- personal data). Deletions requested through the API also leave an event on the ticket.
CREATE TABLE recording_events (
    id           uuid        PRIMARY KEY,
    recording_id uuid        NOT NULL REFERENCES recordings (id),
    actor        text        NOT NULL,
    type         text        NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL
);
CREATE INDEX recording_events_recording ON recording_events (recording_id, create_time, id);
