-- The outbox gateway (DOMAIN.md rule 1): the flow ledger of every record's allowed list, the
-- outbound deliveries the dispatcher sends, and the audit trail of what the gateway refused,
-- cancelled or asked processors to delete.

-- flow_records holds one row per record of any kind (ids are unique across kinds), written by
-- the record's own store in the same transaction as the record. The dispatcher reads the list
-- here at send time.
CREATE TABLE flow_records (
    record_id             uuid PRIMARY KEY,
    kind                  text        NOT NULL CHECK (kind IN ('ticket', 'recording', 'customer', 'order', 'payment')),
    customer_id           uuid        NOT NULL,
    -- facts are the policy's inputs (channel, opt-out, residency, consent...): no personal data.
    facts                 jsonb       NOT NULL,
    allowed_subprocessors text[]      NOT NULL,
    update_time           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_records_customer ON flow_records (customer_id);

-- outbox_deliveries: one row per record and processor to send to. id is the stable delivery id
-- receivers dedupe on. payload_ct is sealed with the customer's personal data key (dek_id), so
-- erasure makes queued copies unreadable too; it is dropped once the delivery is settled.
CREATE TABLE outbox_deliveries (
    id                uuid PRIMARY KEY,
    record_id         uuid        NOT NULL REFERENCES flow_records (record_id),
    subprocessor_id   text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('record', 'deletion')),
    status            text        NOT NULL CHECK (status IN ('pending', 'delivered', 'refused', 'cancelled', 'dead')),
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_time timestamptz NOT NULL,
    -- last_error never holds personal data: sinks report status codes and error kinds only.
    last_error        text        NOT NULL DEFAULT '',
    dek_id            uuid,
    payload_ct        bytea,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now()
);
-- The claim scans only pending rows, in due order; settled rows leave the index.
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (next_attempt_time) WHERE status = 'pending';
CREATE INDEX outbox_deliveries_record ON outbox_deliveries (record_id, subprocessor_id);

-- flow_audit is append-only; reason names a rule, never a value.
CREATE TABLE flow_audit (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    record_id       uuid        NOT NULL,
    subprocessor_id text        NOT NULL,
    delivery_id     uuid,
    action          text        NOT NULL CHECK (action IN ('refused', 'cancelled', 'deletion_requested', 'dead')),
    reason          text        NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_audit_record ON flow_audit (record_id, create_time);
