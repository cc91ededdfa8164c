-- Erasure is cross-cutting by nature: these queries read and change every domain's tables for
-- one customer. Each step runs in one transaction with the erasure's row locked and its step
-- counter advanced in the same commit, and each statement is safe to run twice.

-- name: LockCustomer :one
-- FOR UPDATE waits for the ticket, order and payment creates that share-lock the customer, and
-- makes the ones after the commit see erase_time and refuse.
SELECT id, address_country FROM customers WHERE id = @id FOR UPDATE;

-- name: ErasureByCustomer :one
SELECT * FROM erasure_requests WHERE customer_id = @customer_id;

-- name: InsertErasure :exec
INSERT INTO erasure_requests (id, customer_id, reason, requested_by, status, lease_until, create_time, update_time)
VALUES (@id, @customer_id, @reason, @requested_by, 'running', @lease_until, @now, @now);

-- name: MarkCustomerErased :exec
UPDATE customers SET erase_time = coalesce(erase_time, @now), update_time = @now, version = version + 1
WHERE id = @id AND erase_time IS NULL;

-- name: GetErasure :one
SELECT * FROM erasure_requests WHERE id = @id;

-- name: LockErasure :one
SELECT * FROM erasure_requests WHERE id = @id FOR UPDATE;

-- name: AdvanceStep :exec
UPDATE erasure_requests SET step = @step, lease_until = @lease_until, update_time = @now
WHERE id = @id AND step < @step;

-- name: InsertErased :exec
INSERT INTO erasure_items (erasure_id, disposition, record_id, kind, create_time)
SELECT @erasure_id, 'erased', unnest(@record_ids::uuid[]), unnest(@kinds::text[]), @now
ON CONFLICT DO NOTHING;

-- name: UpsertHeld :exec
-- A later retain_until (an extended order) replaces the earlier one; a basis never changes.
INSERT INTO erasure_items (erasure_id, disposition, record_id, kind, retain_until, basis, create_time)
SELECT @erasure_id, 'held', unnest(@record_ids::uuid[]), unnest(@kinds::text[]),
       unnest(@retain_untils::timestamptz[]), unnest(@bases::text[]), @now
ON CONFLICT (erasure_id, disposition, record_id) DO UPDATE SET retain_until = excluded.retain_until
WHERE erasure_items.retain_until < excluded.retain_until;

-- name: ListItems :many
SELECT disposition, record_id, kind, retain_until, basis FROM erasure_items
WHERE erasure_id = @erasure_id
ORDER BY disposition, kind, record_id;

-- name: NoticeStatuses :many
-- The status of the deletion request an erasure sent; a delivered one wins over a later
-- duplicate still pending (the processor has been told).
SELECT n.record_id, n.subprocessor_id,
       coalesce((SELECT d.status FROM outbox_deliveries d
                 WHERE d.record_id = n.record_id AND d.subprocessor_id = n.subprocessor_id AND d.kind = 'deletion'
                 ORDER BY (d.status = 'delivered') DESC, d.create_time DESC LIMIT 1), 'pending')::text AS status
FROM erasure_notices n
WHERE n.erasure_id = @erasure_id
ORDER BY n.subprocessor_id, n.record_id;

-- name: EraseTickets :many
-- Keeps the skeleton that counts and reports need (channel, dates, status, priority, SLA,
-- assignee, agents' tags, flow list); clears every personal column, the keyed email hash and the
-- blind search tokens.
UPDATE tickets SET
    subject_ct = NULL, description_ct = NULL, contact_name_ct = NULL, contact_title_ct = NULL,
    contact_email_ct = NULL, contact_email_hmac = NULL, contact_phone_ct = NULL,
    search = ''::tsvector, comment_search = ''::tsvector,
    erase_time = coalesce(erase_time, @now),
    version = version + 1, update_time = @now
WHERE customer_id = @customer_id
RETURNING id;

-- name: EraseComments :many
UPDATE ticket_comments SET body_ct = NULL
WHERE ticket_id IN (SELECT id FROM tickets WHERE customer_id = @customer_id)
RETURNING id;

-- name: DeleteIdempotencyKeys :exec
-- The keys of erased creates hold keyed hashes of the personal input: they go with it. A retry
-- of such a create is refused anyway (the customer is erased).
DELETE FROM idempotency_keys WHERE resource_id = ANY (@resource_ids::uuid[]);

-- name: LockCustomerCalls :many
-- Calls first, then recordings: recordingdb's lock order, so the sweeper and this never deadlock.
SELECT c.call_sid FROM calls c
WHERE c.call_sid IN (SELECT t.call_sid FROM tickets t WHERE t.customer_id = @customer_id AND t.call_sid <> '')
ORDER BY c.call_sid
FOR UPDATE OF c;

-- name: MarkRecordingsDeleting :many
-- supportsvc's sweeper picks up deleting recordings whose next_attempt_time is due and deletes
-- the audio at Twilio (stopping a live recording first) and in the object store.
UPDATE recordings r SET
    status = 'deleting',
    stop_pending = r.stop_pending OR r.status = 'recording',
    delete_reason = 'customer_erased', delete_by = @actor::text, delete_time = @now,
    next_attempt_time = @now, attempts = 0, last_error = '', update_time = @now
WHERE r.call_sid = ANY (@call_sids::text[]) AND r.status NOT IN ('deleting', 'deleted')
RETURNING r.id;

-- name: InsertRecordingEvents :exec
INSERT INTO recording_events (id, recording_id, actor, type, reason, create_time)
SELECT gen_random_uuid(), unnest(@recording_ids::uuid[]), @actor::text, 'delete_requested', 'customer_erased', @now;

-- name: CustomerRecordings :many
SELECT id FROM recordings WHERE call_sid = ANY (@call_sids::text[]) ORDER BY id;

-- name: EraseCustomerContact :exec
UPDATE customers SET
    contact_name_ct = NULL, contact_title_ct = NULL, contact_email_ct = NULL,
    contact_email_hmac = NULL, contact_phone_ct = NULL, may_contact = false,
    erase_time = coalesce(erase_time, @now), version = version + 1, update_time = @now
WHERE id = @id;

-- name: DecideHold :exec
UPDATE erasure_requests SET hold_decided = true, retain_until = sqlc.narg(retain_until), update_time = @now
WHERE id = @id;

-- name: CustomerKeyIDs :many
SELECT id, purpose FROM data_keys WHERE customer_id = @customer_id ORDER BY purpose;

-- name: ReduceCustomer :exec
-- What the law no longer requires: the invoicing address (sealed under the retained key) and the
-- organisation's name, which for a sole trader is a person's name.
UPDATE customers SET address_ct = NULL, org_name = '', version = version + 1, update_time = @now
WHERE id = @id;

-- name: ClearShipTo :many
-- An order's ship_to may go once its own retention ended; the order and its amounts stay for
-- reporting (the retention triggers refuse deleting them, and we do not try).
UPDATE orders SET ship_to_ct = NULL, version = version + 1, update_time = @now
WHERE customer_id = @customer_id AND ship_to_ct IS NOT NULL AND retain_until <= @cutoff
RETURNING id;

-- name: ClearClientSecrets :exec
UPDATE payments p SET client_secret_ct = NULL, update_time = @now
FROM orders o
WHERE o.id = p.order_id AND p.customer_id = @customer_id AND p.client_secret_ct IS NOT NULL
  AND o.retain_until <= @cutoff;

-- name: LockCustomerFlowRecords :many
-- Locks the customer's ledger entries like dataflowdb.Track does: a dispatcher settling a send
-- of one of them commits first (and its delivery is then seen as delivered) or waits for this.
SELECT record_id FROM flow_records WHERE customer_id = @customer_id ORDER BY record_id FOR UPDATE;

-- name: CancelQueued :many
UPDATE outbox_deliveries d SET status = 'cancelled', payload_ct = NULL, update_time = now()
FROM flow_records f
WHERE f.record_id = d.record_id AND f.customer_id = @customer_id AND f.kind = ANY (@kinds::text[])
  AND d.kind = 'record' AND d.status = 'pending'
RETURNING d.id, d.record_id, d.subprocessor_id;

-- name: InsertAudit :exec
INSERT INTO flow_audit (record_id, subprocessor_id, delivery_id, action, reason)
SELECT unnest(@record_ids::uuid[]), unnest(@subprocessors::text[]), unnest(@delivery_ids::uuid[]), @action::text, @reason::text;

-- name: PurgePayloads :exec
-- Dead deliveries keep their sealed payload for an operator's requeue; an erased customer's go.
UPDATE outbox_deliveries d SET payload_ct = NULL, update_time = now()
FROM flow_records f
WHERE f.record_id = d.record_id AND f.customer_id = @customer_id AND d.payload_ct IS NOT NULL;

-- name: DeliveredCopies :many
-- Who received which of the customer's records of these kinds, and whether a deletion request
-- is already on its way or delivered (then none is sent again).
SELECT d.record_id, d.subprocessor_id,
       EXISTS (SELECT 1 FROM outbox_deliveries x
               WHERE x.record_id = d.record_id AND x.subprocessor_id = d.subprocessor_id
                 AND x.kind = 'deletion' AND x.status IN ('pending', 'delivered'))::boolean AS asked
FROM outbox_deliveries d
JOIN flow_records f ON f.record_id = d.record_id
WHERE f.customer_id = @customer_id AND f.kind = ANY (@kinds::text[])
  AND d.kind = 'record' AND d.status = 'delivered'
GROUP BY d.record_id, d.subprocessor_id
ORDER BY d.record_id, d.subprocessor_id;

-- name: InsertNotices :exec
INSERT INTO erasure_notices (erasure_id, record_id, subprocessor_id, create_time)
SELECT @erasure_id, unnest(@record_ids::uuid[]), unnest(@subprocessors::text[]), @now
ON CONFLICT DO NOTHING;

-- name: HeldOrders :many
SELECT id, country, retain_until FROM orders
WHERE customer_id = @customer_id AND retain_until > @now
ORDER BY id;

-- name: HeldPayments :many
SELECT p.id, o.country, o.retain_until FROM payments p JOIN orders o ON o.id = p.order_id
WHERE p.customer_id = @customer_id AND o.retain_until > @now
ORDER BY p.id;

-- name: HeldRefunds :many
SELECT r.id, o.country, o.retain_until FROM payment_refunds r
JOIN payments p ON p.id = r.payment_id JOIN orders o ON o.id = p.order_id
WHERE p.customer_id = @customer_id AND o.retain_until > @now
ORDER BY r.id;

-- name: SetStatus :exec
UPDATE erasure_requests SET status = @status, retain_until = sqlc.narg(retain_until),
    complete_time = sqlc.narg(complete_time), update_time = @now
WHERE id = @id;

-- name: ClaimStale :many
UPDATE erasure_requests SET lease_until = @lease_until
WHERE id IN (SELECT e.id FROM erasure_requests e
             WHERE e.status = 'running' AND e.lease_until <= @now
             ORDER BY e.lease_until LIMIT @max_rows FOR UPDATE SKIP LOCKED)
RETURNING id;

-- name: ClaimDuePurge :one
SELECT * FROM erasure_requests
WHERE status = 'holding' AND retain_until <= @now
ORDER BY retain_until, id
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: ExtendHeld :exec
UPDATE erasure_items i SET retain_until = o.retain_until
FROM orders o
WHERE i.erasure_id = @erasure_id AND i.disposition = 'held' AND i.retain_until < o.retain_until
  AND (i.record_id = o.id
       OR i.record_id IN (SELECT p.id FROM payments p WHERE p.order_id = o.id)
       OR i.record_id IN (SELECT r.id FROM payment_refunds r JOIN payments p ON p.id = r.payment_id WHERE p.order_id = o.id));

-- name: ExtendHeldCustomer :exec
UPDATE erasure_items SET retain_until = @retain_until
WHERE erasure_id = @erasure_id AND disposition = 'held' AND kind = 'customer' AND retain_until < @retain_until;
