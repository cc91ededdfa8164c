-- Ticket reads fetch the wrapped data key in the same query (one round trip per read).

-- name: LiveCustomerForShare :one
-- Locks the customer against a concurrent erasure while its ticket is created.
SELECT id FROM customers WHERE id = @id AND erase_time IS NULL FOR SHARE;

-- name: InsertTicket :exec
INSERT INTO tickets (
    id, customer_id, channel, subject_ct, description_ct, priority, status,
    contact_name_ct, contact_title_ct, contact_email_ct, contact_email_hmac, contact_phone_ct,
    may_contact, dek_id, call_sid, recording_opt_out, assignee, tags, allowed_subprocessors,
    search, version, create_by, create_time, update_time, first_response_due_time,
    resolution_due_time, first_response_time
) VALUES (
    @id, @customer_id, @channel, @subject_ct, @description_ct, @priority, @status,
    @contact_name_ct, @contact_title_ct, @contact_email_ct, @contact_email_hmac, @contact_phone_ct,
    @may_contact, @dek_id, @call_sid, @recording_opt_out, @assignee, @tags::text[], @allowed_subprocessors::text[],
    to_tsvector('simple', array_to_string(@search_tokens::text[], ' ')), @version, @create_by,
    @create_time, @update_time, @first_response_due_time, @resolution_due_time, @first_response_time
);

-- name: GetTicket :one
SELECT t.id, t.customer_id, t.channel, t.subject_ct, t.description_ct, t.priority, t.status,
       t.contact_name_ct, t.contact_title_ct, t.contact_email_ct, t.contact_phone_ct, t.may_contact,
       t.dek_id, t.call_sid, t.recording_opt_out, t.assignee, t.tags, t.allowed_subprocessors,
       t.version, t.create_by, t.create_time, t.update_time, t.first_response_due_time,
       t.resolution_due_time, t.first_response_time, t.erase_time,
       dk.master_key_id AS dek_master_key_id, dk.wrapped_key AS dek_wrapped_key
FROM tickets t JOIN data_keys dk ON dk.id = t.dek_id
WHERE t.id = @id;

-- name: GetTicketForUpdate :one
-- Locks only the ticket row: the customer's data key stays free for its other tickets.
SELECT t.id, t.customer_id, t.channel, t.subject_ct, t.description_ct, t.priority, t.status,
       t.contact_name_ct, t.contact_title_ct, t.contact_email_ct, t.contact_phone_ct, t.may_contact,
       t.dek_id, t.call_sid, t.recording_opt_out, t.assignee, t.tags, t.allowed_subprocessors,
       t.version, t.create_by, t.create_time, t.update_time, t.first_response_due_time,
       t.resolution_due_time, t.first_response_time, t.erase_time,
       dk.master_key_id AS dek_master_key_id, dk.wrapped_key AS dek_wrapped_key
FROM tickets t JOIN data_keys dk ON dk.id = t.dek_id
WHERE t.id = @id
FOR UPDATE OF t;

-- name: ListTickets :many
-- Keyset paging on (create_time, id), newest first; NULL filters match everything.
SELECT t.id, t.customer_id, t.channel, t.subject_ct, t.description_ct, t.priority, t.status,
       t.contact_name_ct, t.contact_title_ct, t.contact_email_ct, t.contact_phone_ct, t.may_contact,
       t.dek_id, t.call_sid, t.recording_opt_out, t.assignee, t.tags, t.allowed_subprocessors,
       t.version, t.create_by, t.create_time, t.update_time, t.first_response_due_time,
       t.resolution_due_time, t.first_response_time, t.erase_time,
       dk.master_key_id AS dek_master_key_id, dk.wrapped_key AS dek_wrapped_key
FROM tickets t JOIN data_keys dk ON dk.id = t.dek_id
WHERE (sqlc.narg('customer_id')::uuid IS NULL OR t.customer_id = sqlc.narg('customer_id')::uuid)
  AND (sqlc.narg('status')::text IS NULL OR t.status = sqlc.narg('status')::text)
  AND (sqlc.narg('channel')::text IS NULL OR t.channel = sqlc.narg('channel')::text)
  AND (sqlc.narg('assignee')::text IS NULL OR t.assignee = sqlc.narg('assignee')::text)
  AND (sqlc.narg('query_tokens')::text[] IS NULL
       OR t.search @@ plainto_tsquery('simple', array_to_string(sqlc.narg('query_tokens')::text[], ' ')))
  AND (sqlc.narg('after_time')::timestamptz IS NULL
       OR (t.create_time, t.id) < (sqlc.narg('after_time')::timestamptz, sqlc.narg('after_id')::uuid))
ORDER BY t.create_time DESC, t.id DESC
LIMIT @max_rows;

-- name: StatusHistory :many
SELECT from_status, to_status, create_time FROM ticket_events
WHERE ticket_id = @ticket_id AND type = 'status_changed'
ORDER BY create_time, id;

-- name: UpdateTicket :execrows
-- search is rebuilt from the new subject and description plus the comments' tokens.
UPDATE tickets SET
    subject_ct = @subject_ct, description_ct = @description_ct, priority = @priority,
    status = @status, contact_name_ct = @contact_name_ct, contact_title_ct = @contact_title_ct,
    contact_email_ct = @contact_email_ct, contact_email_hmac = @contact_email_hmac,
    contact_phone_ct = @contact_phone_ct, may_contact = @may_contact, call_sid = @call_sid,
    recording_opt_out = @recording_opt_out, assignee = @assignee, tags = @tags::text[],
    allowed_subprocessors = @allowed_subprocessors::text[],
    search = CASE WHEN sqlc.narg('search_tokens')::text[] IS NULL THEN search
                  ELSE to_tsvector('simple', array_to_string(sqlc.narg('search_tokens')::text[], ' ')) || comment_search END,
    version = @version, update_time = @update_time,
    first_response_due_time = @first_response_due_time, resolution_due_time = @resolution_due_time
WHERE id = @id AND version = @prev_version;

-- name: InsertEvent :exec
INSERT INTO ticket_events (id, ticket_id, actor, type, changed_fields, from_status, to_status, create_time)
VALUES (@id, @ticket_id, @actor, @type, @changed_fields::text[], @from_status, @to_status, @create_time);

-- name: InsertComment :exec
INSERT INTO ticket_comments (id, ticket_id, author, body_ct, dek_id, internal, create_time)
VALUES (@id, @ticket_id, @author, @body_ct, @dek_id, @internal, @create_time);

-- name: AddCommentToTicket :execrows
UPDATE tickets SET
    comment_search = comment_search || to_tsvector('simple', array_to_string(@tokens::text[], ' ')),
    search = search || to_tsvector('simple', array_to_string(@tokens::text[], ' ')),
    first_response_time = @first_response_time, version = @version, update_time = @update_time
WHERE id = @id AND version = @prev_version;

-- name: GetComment :one
SELECT c.id, c.ticket_id, c.author, c.body_ct, c.dek_id, c.internal, c.create_time,
       dk.master_key_id AS dek_master_key_id, dk.wrapped_key AS dek_wrapped_key
FROM ticket_comments c JOIN data_keys dk ON dk.id = c.dek_id
WHERE c.id = @id;

-- name: ListComments :many
SELECT c.id, c.ticket_id, c.author, c.body_ct, c.dek_id, c.internal, c.create_time,
       dk.master_key_id AS dek_master_key_id, dk.wrapped_key AS dek_wrapped_key
FROM ticket_comments c JOIN data_keys dk ON dk.id = c.dek_id
WHERE c.ticket_id = @ticket_id
  AND (sqlc.narg('after_time')::timestamptz IS NULL
       OR (c.create_time, c.id) > (sqlc.narg('after_time')::timestamptz, sqlc.narg('after_id')::uuid))
ORDER BY c.create_time, c.id
LIMIT @max_rows;

-- name: ListEvents :many
SELECT id, ticket_id, actor, type, changed_fields, from_status, to_status, create_time
FROM ticket_events
WHERE ticket_id = @ticket_id
  AND (sqlc.narg('after_time')::timestamptz IS NULL
       OR (create_time, id) > (sqlc.narg('after_time')::timestamptz, sqlc.narg('after_id')::uuid))
ORDER BY create_time, id
LIMIT @max_rows;

-- name: TicketExists :one
SELECT EXISTS (SELECT 1 FROM tickets WHERE id = @id);
