-- pgbench baseline for CreateTicket: the same statements per transaction that
-- ticketsdb.Store.Create runs (idempotency key, customer lock, data-key read, ticket row with
-- its ciphertexts and blind search tokens, the creation event, the flow-ledger entry and the
-- outbox rows to the three push targets of a phone ticket), with the same row sizes.
-- scripts/bench.sh replaces @CUSTOMER@ with the bench customer's id.
\set r random(1, 9223372036854775806)
\set n random(1, 1000000000)
BEGIN;
INSERT INTO idempotency_keys (scope, key, request_hash, resource_id)
  VALUES ('tickets.create', 'pgb-' || :r, decode(repeat('ab', 32), 'hex'), md5(:r::text)::uuid)
  ON CONFLICT (scope, key) DO NOTHING;
SELECT id FROM customers WHERE id = '@CUSTOMER@' AND erase_time IS NULL FOR SHARE;
SELECT id::text, master_key_id, wrapped_key FROM data_keys WHERE customer_id = '@CUSTOMER@' AND purpose = 'personal';
INSERT INTO tickets (id, customer_id, channel, subject_ct, description_ct, priority, status,
    contact_name_ct, contact_title_ct, contact_email_ct, contact_email_hmac, contact_phone_ct,
    may_contact, dek_id, call_sid, recording_opt_out, assignee, tags, allowed_subprocessors,
    search, version, create_by, create_time, update_time, first_response_due_time,
    resolution_due_time, first_response_time)
  SELECT md5(:r::text)::uuid, '@CUSTOMER@', 'phone', decode(repeat('c1', 63), 'hex'), decode(repeat('c2', 107), 'hex'),
    'high', 'new', NULL, decode(repeat('c3', 44), 'hex'), NULL, NULL, decode(repeat('c4', 39), 'hex'),
    false, (SELECT id FROM data_keys WHERE customer_id = '@CUSTOMER@' AND purpose = 'personal'), '', false, '', '{}',
    '{aws_us,blue_ocean,callminer,microsoft,twilio}',
    to_tsvector('simple', 't' || md5(:n::text) || ' t' || md5((:n + 1)::text) || ' t' || md5((:n + 2)::text) || ' t' || md5((:n + 3)::text)
      || ' t' || md5((:n + 4)::text) || ' t' || md5((:n + 5)::text) || ' t' || md5((:n + 6)::text) || ' t' || md5((:n + 7)::text)
      || ' t' || md5((:n + 8)::text) || ' t' || md5((:n + 9)::text) || ' t' || md5((:n + 10)::text) || ' t' || md5((:n + 11)::text)),
    1, 'bench', now(), now(), now() + interval '4 hours', now() + interval '24 hours', NULL;
INSERT INTO ticket_events (id, ticket_id, actor, type, changed_fields, from_status, to_status, create_time)
  VALUES (gen_random_uuid(), md5(:r::text)::uuid, 'bench', 'created', '{}', '', 'new', now());
SELECT allowed_subprocessors FROM flow_records WHERE record_id = md5(:r::text)::uuid FOR UPDATE;
INSERT INTO flow_records (record_id, kind, customer_id, facts, allowed_subprocessors, update_time)
  VALUES (md5(:r::text)::uuid, 'ticket', '@CUSTOMER@',
    '{"kind":"ticket","ticket_channel":"phone","recording_opt_out":false}',
    '{aws_us,blue_ocean,callminer,microsoft,twilio}', now())
  ON CONFLICT (record_id) DO UPDATE SET allowed_subprocessors = excluded.allowed_subprocessors, update_time = excluded.update_time;
SELECT allowed_subprocessors FROM flow_records WHERE record_id = md5(:r::text)::uuid FOR SHARE;
INSERT INTO outbox_deliveries (id, record_id, subprocessor_id, kind, status, next_attempt_time, dek_id, payload_ct)
  SELECT gen_random_uuid(), md5(:r::text)::uuid, p, 'record', 'pending', now(),
    (SELECT id FROM data_keys WHERE customer_id = '@CUSTOMER@' AND purpose = 'personal'), decode(repeat('d5', 420), 'hex')
  FROM unnest('{blue_ocean,callminer,microsoft}'::text[]) AS p;
COMMIT;
