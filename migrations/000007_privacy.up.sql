-- Erasure requests (issue 8, DOMAIN.md rule 6): erase what may go now, hold what the law keeps
-- with a date and a basis, purge it then, and keep a receipt that names records, kinds, dates,
-- bases and processors only, never the erased values.

-- erasure_requests: at most one per customer (erasing twice returns the first receipt). step is
-- the last step committed, so any replica can resume a RUNNING erasure after lease_until.
CREATE TABLE erasure_requests (
    id            uuid PRIMARY KEY,
    customer_id   uuid        NOT NULL REFERENCES customers (id),
    -- reason is the officer's note for the regulator; the API forbids personal data in it.
    reason        text        NOT NULL DEFAULT '',
    requested_by  text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('running', 'holding', 'complete')),
    step          integer     NOT NULL DEFAULT 0 CHECK (step >= 0),
    -- hold is decided once (at the customer step): NULL means nothing is held.
    hold_decided  boolean     NOT NULL DEFAULT false,
    retain_until  timestamptz,
    lease_until   timestamptz NOT NULL,
    create_time   timestamptz NOT NULL,
    update_time   timestamptz NOT NULL,
    complete_time timestamptz,
    CHECK ((status = 'complete') = (complete_time IS NOT NULL)),
    CHECK (status <> 'holding' OR retain_until IS NOT NULL)
);
CREATE UNIQUE INDEX erasure_requests_customer ON erasure_requests (customer_id);
CREATE INDEX erasure_requests_resume ON erasure_requests (lease_until) WHERE status = 'running';
CREATE INDEX erasure_requests_purge ON erasure_requests (retain_until) WHERE status = 'holding';

-- erasure_items is the receipt's body: a record whose personal data is gone ('erased') or that
-- is kept under legal retention ('held', with its date and basis). A record may be both (the
-- customer: contact erased, invoicing facts held).
CREATE TABLE erasure_items (
    erasure_id   uuid        NOT NULL REFERENCES erasure_requests (id),
    disposition  text        NOT NULL CHECK (disposition IN ('erased', 'held')),
    record_id    uuid        NOT NULL,
    kind         text        NOT NULL,
    retain_until timestamptz,
    basis        text        NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL,
    PRIMARY KEY (erasure_id, disposition, record_id),
    CHECK ((disposition = 'held') = (retain_until IS NOT NULL))
);

-- erasure_notices names the deletion requests an erasure sent through the outbox (one per
-- record and processor that had received it); their status is read from outbox_deliveries.
CREATE TABLE erasure_notices (
    erasure_id      uuid        NOT NULL REFERENCES erasure_requests (id),
    record_id       uuid        NOT NULL,
    subprocessor_id text        NOT NULL,
    create_time     timestamptz NOT NULL,
    PRIMARY KEY (erasure_id, record_id, subprocessor_id)
);
