-- name: LockFlowRecord :one
-- Track locks the ledger entry for the rest of the business transaction: a dispatcher checking
-- this record's list at send time waits for, or skips, the change until it commits.
SELECT allowed_subprocessors FROM flow_records WHERE record_id = $1 FOR UPDATE;

-- name: UpsertFlowRecord :exec
INSERT INTO flow_records (record_id, kind, customer_id, facts, allowed_subprocessors, update_time)
VALUES (@record_id, @kind, @customer_id, @facts, @allowed_subprocessors, now())
ON CONFLICT (record_id) DO UPDATE SET
    kind = excluded.kind,
    customer_id = excluded.customer_id,
    facts = excluded.facts,
    allowed_subprocessors = excluded.allowed_subprocessors,
    update_time = excluded.update_time;

-- name: CancelPending :many
UPDATE outbox_deliveries
SET status = 'cancelled', payload_ct = NULL, update_time = now()
WHERE record_id = @record_id AND kind = 'record' AND status = 'pending'
  AND subprocessor_id = ANY (@subprocessors::text[])
RETURNING id, subprocessor_id;

-- name: DeliveredTo :many
SELECT DISTINCT subprocessor_id FROM outbox_deliveries
WHERE record_id = @record_id AND kind = 'record' AND status = 'delivered'
  AND subprocessor_id = ANY (@subprocessors::text[])
ORDER BY subprocessor_id;

-- name: AllowedForEnqueue :one
SELECT allowed_subprocessors FROM flow_records WHERE record_id = $1 FOR SHARE;

-- name: InsertDeliveries :exec
INSERT INTO outbox_deliveries (id, record_id, subprocessor_id, kind, status, next_attempt_time, dek_id, payload_ct)
SELECT unnest(@ids::uuid[]), @record_id, unnest(@subprocessors::text[]), @kind, unnest(@statuses::text[]),
       now(), sqlc.narg(dek_id), unnest(@payloads::bytea[]);

-- name: InsertAudit :exec
INSERT INTO flow_audit (record_id, subprocessor_id, delivery_id, action, reason)
SELECT unnest(@record_ids::uuid[]), unnest(@subprocessors::text[]), unnest(@delivery_ids::uuid[]),
       unnest(@actions::text[]), unnest(@reasons::text[]);

-- name: ClaimDeliveries :many
-- SKIP LOCKED lets many dispatchers claim side by side; bumping attempts and pushing
-- next_attempt_time to the lease's end hides the rows from other claims once this short
-- transaction commits, and brings them back if this dispatcher dies.
WITH due AS (
    SELECT d.id FROM outbox_deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_time <= @now
    ORDER BY d.next_attempt_time
    LIMIT @max_rows
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE outbox_deliveries o
    SET attempts = o.attempts + 1, next_attempt_time = @lease_until, update_time = @now
    FROM due WHERE o.id = due.id
    RETURNING o.id, o.record_id, o.subprocessor_id, o.kind, o.attempts, o.dek_id, o.payload_ct, o.create_time
)
SELECT c.id, c.record_id, c.subprocessor_id, c.kind, c.attempts, c.dek_id, c.payload_ct, c.create_time,
       coalesce(f.kind, '')::text AS record_kind,
       coalesce(k.master_key_id, '')::text AS dek_master_key_id, k.wrapped_key AS dek_wrapped_key
FROM claimed c
LEFT JOIN flow_records f ON f.record_id = c.record_id
LEFT JOIN data_keys k ON k.id = c.dek_id;

-- name: LockRecordsForSend :many
-- FOR SHARE holds each list stable until the batch is settled; SKIP LOCKED passes over records
-- whose facts are changing right now (their deliveries are released and retried), so a
-- dispatcher never waits on, or deadlocks with, a business transaction.
SELECT record_id, allowed_subprocessors FROM flow_records
WHERE record_id = ANY (@record_ids::uuid[])
ORDER BY record_id
FOR SHARE SKIP LOCKED;

-- name: LockPendingDeliveries :many
-- This waits rather than skips: the only other holders are a claim's brief statement and, after
-- a lease ran out, another dispatcher's settle (ordered by id, so two settles cannot deadlock).
-- Skipping would mistake a briefly locked pending row for a settled one and strand it.
SELECT id FROM outbox_deliveries
WHERE id = ANY (@ids::uuid[]) AND status = 'pending'
ORDER BY id
FOR UPDATE;

-- name: SettleDeliveries :exec
-- A settled copy is not kept: the payload goes once the delivery is delivered, refused or
-- cancelled. A dead delivery keeps it so that an operator can requeue it.
UPDATE outbox_deliveries o
SET status = u.status,
    next_attempt_time = u.next_attempt_time,
    last_error = u.last_error,
    payload_ct = CASE WHEN u.status IN ('delivered', 'refused', 'cancelled') THEN NULL ELSE o.payload_ct END,
    update_time = @now
FROM (SELECT unnest(@ids::uuid[]) AS id, unnest(@statuses::text[]) AS status,
             unnest(@next_attempt_times::timestamptz[]) AS next_attempt_time,
             unnest(@last_errors::text[]) AS last_error) AS u
WHERE o.id = u.id AND o.status = 'pending';

-- name: ReleaseDeliveries :exec
UPDATE outbox_deliveries
SET attempts = greatest(attempts - 1, 0), next_attempt_time = @now, update_time = @now
WHERE id = ANY (@ids::uuid[]) AND status = 'pending';

-- name: GetFlowRecord :one
SELECT f.record_id, f.kind, f.customer_id, f.facts, f.allowed_subprocessors, f.update_time,
       coalesce(c.facts ->> 'residency_country', '')::text AS customer_residency
FROM flow_records f
LEFT JOIN flow_records c ON c.record_id = f.customer_id AND c.kind = 'customer'
WHERE f.record_id = $1;

-- name: FlowRecordExists :one
SELECT EXISTS (SELECT 1 FROM flow_records WHERE record_id = $1);

-- name: ListDeliveries :many
SELECT id, record_id, subprocessor_id, kind, status, attempts, next_attempt_time, last_error,
       create_time, update_time
FROM outbox_deliveries
WHERE record_id = $1
ORDER BY create_time, id;

-- name: InsertCallRefusal :exec
-- A refused direct call (an API call to the processor, not an outbox delivery) has no delivery.
INSERT INTO flow_audit (record_id, subprocessor_id, action, reason)
VALUES (@record_id, @subprocessor_id, 'refused', @reason);
