-- Calls and recordings. Every change of a recording goes through LockRecording* first, so the
-- service's steps (copy, release, purge) and opt-outs never interleave on one recording.

-- name: UpsertCall :exec
INSERT INTO calls (call_sid, create_time, update_time) VALUES (@call_sid, @now, @now)
ON CONFLICT (call_sid) DO NOTHING;

-- name: LockCall :one
-- Locks the call: starting a recording, copying one and opting out serialise on it. The
-- ticket's opt-out counts too; the earliest ticket naming the call is its ticket.
SELECT c.call_sid, c.opt_out,
       coalesce((SELECT bool_or(t.recording_opt_out) FROM tickets t WHERE t.call_sid = c.call_sid), false)::boolean AS ticket_opt_out,
       coalesce((SELECT t.id::text FROM tickets t WHERE t.call_sid = c.call_sid ORDER BY t.create_time, t.id LIMIT 1), '')::text AS ticket_id
FROM calls c
WHERE c.call_sid = @call_sid
FOR UPDATE;

-- name: GetCall :one
SELECT c.call_sid, c.opt_out,
       coalesce((SELECT bool_or(t.recording_opt_out) FROM tickets t WHERE t.call_sid = c.call_sid), false)::boolean AS ticket_opt_out,
       coalesce((SELECT t.id::text FROM tickets t WHERE t.call_sid = c.call_sid ORDER BY t.create_time, t.id LIMIT 1), '')::text AS ticket_id
FROM calls c
WHERE c.call_sid = @call_sid;

-- name: OptOutCall :exec
-- The first opt-out's actor and time are kept: they are the proof of when the caller declined.
UPDATE calls SET
    opt_out = true,
    opt_out_by = CASE WHEN opt_out THEN opt_out_by ELSE @actor::text END,
    opt_out_time = coalesce(opt_out_time, @now),
    ticket_synced = false,
    update_time = @now
WHERE call_sid = @call_sid;

-- name: MarkSynced :exec
UPDATE calls SET ticket_synced = true WHERE call_sid = @call_sid;

-- name: UnsyncedOptOuts :many
SELECT c.call_sid, t.id AS ticket_id
FROM calls c JOIN tickets t ON t.call_sid = c.call_sid
WHERE c.opt_out AND NOT c.ticket_synced
ORDER BY c.call_sid, t.id
LIMIT @max_rows;

-- name: TicketRef :one
SELECT id, customer_id, call_sid FROM tickets WHERE id = @id;

-- name: TicketForCall :one
SELECT id, customer_id FROM tickets WHERE call_sid = @call_sid ORDER BY create_time, id LIMIT 1;

-- name: InsertRecording :one
INSERT INTO recordings (
    id, call_sid, recording_sid, status, duration_seconds, allowed_subprocessors, carrier_held,
    stop_pending, delete_reason, delete_by, next_attempt_time, create_time, update_time, delete_time
) VALUES (
    @id, @call_sid, @recording_sid, @status, @duration_seconds, @allowed_subprocessors::text[],
    @carrier_held, @stop_pending, @delete_reason, @delete_by, @next_attempt_time, @create_time,
    @update_time, @delete_time
)
RETURNING *;

-- name: ClaimCallback :execrows
-- A replay (or a concurrent duplicate, which waits on the primary key) claims nothing.
INSERT INTO recording_callbacks (recording_sid, status, receive_time) VALUES (@recording_sid, @status, @now)
ON CONFLICT (recording_sid, status) DO NOTHING;

-- name: LockRecording :one
SELECT * FROM recordings WHERE id = @id FOR UPDATE;

-- name: LockRecordingBySID :one
SELECT * FROM recordings WHERE recording_sid = @recording_sid FOR UPDATE;

-- name: GetRecording :one
SELECT * FROM recordings WHERE id = @id;

-- name: GetRecordingBySID :one
SELECT * FROM recordings WHERE recording_sid = @recording_sid;

-- name: LockCallRecordings :many
-- The recordings an opt-out must delete, locked in a fixed order.
SELECT * FROM recordings
WHERE call_sid = @call_sid AND status NOT IN ('deleting', 'deleted')
ORDER BY id
FOR UPDATE;

-- name: UpdateRecording :one
UPDATE recordings SET
    status = @status, duration_seconds = @duration_seconds,
    allowed_subprocessors = @allowed_subprocessors::text[], carrier_held = @carrier_held,
    stop_pending = @stop_pending, object_key = @object_key, dek_id = @dek_id,
    size_bytes = @size_bytes, sha256 = @sha256, delete_reason = @delete_reason,
    delete_by = @delete_by, attempts = @attempts, next_attempt_time = @next_attempt_time,
    last_error = @last_error, update_time = @update_time, store_time = @store_time,
    delete_time = @delete_time
WHERE id = @id
RETURNING *;

-- name: WorkFailed :exec
UPDATE recordings SET attempts = attempts + 1, last_error = @last_error, next_attempt_time = @next_attempt_time
WHERE id = @id AND status IN ('completed', 'copied', 'deleting');

-- name: DueWork :many
SELECT * FROM recordings
WHERE status IN ('completed', 'copied', 'deleting') AND next_attempt_time <= @now
ORDER BY next_attempt_time, id
LIMIT @max_rows;

-- name: ExpiredIDs :many
SELECT id FROM recordings
WHERE status NOT IN ('deleting', 'deleted') AND create_time < @cutoff
ORDER BY create_time, id
LIMIT @max_rows;

-- name: ListByTicket :many
SELECT r.* FROM recordings r
JOIN tickets t ON t.call_sid = r.call_sid
WHERE t.id = @ticket_id AND t.call_sid <> ''
ORDER BY r.create_time, r.id;

-- name: StoredAudio :one
SELECT r.id, r.object_key, dk.id AS dek_id, dk.master_key_id, dk.wrapped_key
FROM recordings r JOIN data_keys dk ON dk.id = r.dek_id
WHERE r.id = @id AND r.status = 'stored';

-- name: InsertRecordingEvent :exec
INSERT INTO recording_events (id, recording_id, actor, type, reason, create_time)
VALUES (@id, @recording_id, @actor, @type, @reason, @create_time);

-- name: InsertTicketEvent :exec
-- The ticket's history names what changed (its recordings), never the values.
INSERT INTO ticket_events (id, ticket_id, actor, type, changed_fields, create_time)
VALUES (@id, @ticket_id, @actor, @type, @changed_fields::text[], @create_time);
