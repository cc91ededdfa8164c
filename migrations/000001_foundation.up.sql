-- Foundation: envelope-encryption keys, idempotency, customers, tickets.
-- Personal data lives only in *_ct columns (AES-256-GCM under the customer's data key named by
-- dek_id); equality lookups use *_hmac columns and search uses blind tokens, never plaintext.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- data_keys holds each customer's data-encryption keys, wrapped by the master key.
-- purpose 'personal' protects what erasure destroys; 'retained' protects what the law keeps.
-- Crypto-shredding sets wrapped_key to NULL and destroy_time.
CREATE TABLE data_keys (
    id            uuid PRIMARY KEY,
    customer_id   uuid        NOT NULL,
    purpose       text        NOT NULL CHECK (purpose IN ('personal', 'retained')),
    master_key_id text        NOT NULL,
    wrapped_key   bytea,
    create_time   timestamptz NOT NULL DEFAULT now(),
    destroy_time  timestamptz,
    CHECK ((wrapped_key IS NULL) = (destroy_time IS NOT NULL))
);
CREATE UNIQUE INDEX data_keys_customer_purpose ON data_keys (customer_id, purpose);

-- idempotency_keys remembers create requests by (scope, key) so a retry returns the first result.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    resource_id  uuid        NOT NULL,
    create_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

CREATE TABLE customers (
    id                    uuid PRIMARY KEY,
    -- org_name is an organisation's name, not a natural person's: plaintext so finance and
    -- sales can search it (DOMAIN.md: a customer is not a natural person by default).
    org_name              text        NOT NULL,
    contact_name_ct       bytea,
    contact_title_ct      bytea,
    contact_email_ct      bytea,
    contact_email_hmac    bytea,
    contact_phone_ct      bytea,
    may_contact           boolean     NOT NULL DEFAULT false,
    personal_dek_id       uuid        NOT NULL,
    -- The address is kept under the retained key: invoices must keep it after erasure.
    address_ct            bytea,
    retained_dek_id       uuid        NOT NULL,
    address_country       text        NOT NULL CHECK (address_country ~ '^[A-Z]{2}$'),
    residency_country     text        NOT NULL CHECK (residency_country ~ '^[A-Z]{2}$'),
    marketing_consent     boolean     NOT NULL DEFAULT false,
    reseller_id           text        NOT NULL DEFAULT '',
    allowed_subprocessors text[]      NOT NULL,
    version               bigint      NOT NULL DEFAULT 1,
    create_by             text        NOT NULL,
    create_time           timestamptz NOT NULL,
    update_time           timestamptz NOT NULL,
    erase_time            timestamptz
);
CREATE INDEX customers_list ON customers (create_time DESC, id DESC);
CREATE INDEX customers_org_name_trgm ON customers USING gin (lower(org_name) gin_trgm_ops);
CREATE INDEX customers_create_by ON customers (create_by, create_time DESC, id DESC);
CREATE INDEX customers_email_hmac ON customers (contact_email_hmac);

CREATE TABLE tickets (
    id                      uuid PRIMARY KEY,
    customer_id             uuid        NOT NULL REFERENCES customers (id),
    channel                 text        NOT NULL CHECK (channel IN ('phone', 'email', 'chat', 'field_form', 'error_report')),
    subject_ct              bytea,
    description_ct          bytea,
    priority                text        NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status                  text        NOT NULL CHECK (status IN ('new', 'open', 'pending', 'on_hold', 'solved', 'closed')),
    contact_name_ct         bytea,
    contact_title_ct        bytea,
    contact_email_ct        bytea,
    contact_email_hmac      bytea,
    contact_phone_ct        bytea,
    may_contact             boolean     NOT NULL DEFAULT false,
    dek_id                  uuid        NOT NULL,
    call_sid                text        NOT NULL DEFAULT '',
    recording_opt_out       boolean     NOT NULL DEFAULT false,
    assignee                text        NOT NULL DEFAULT '',
    tags                    text[]      NOT NULL DEFAULT '{}',
    allowed_subprocessors   text[]      NOT NULL,
    -- search holds keyed hashes of the words of subject, description and comments (blind
    -- tokens): full-text search without plaintext at rest.
    search                  tsvector    NOT NULL DEFAULT ''::tsvector,
    -- comment_search holds the comments' blind tokens alone, so that editing the subject or
    -- description can rebuild search without decrypting every comment.
    comment_search          tsvector    NOT NULL DEFAULT ''::tsvector,
    version                 bigint      NOT NULL DEFAULT 1,
    create_by               text        NOT NULL,
    create_time             timestamptz NOT NULL,
    update_time             timestamptz NOT NULL,
    first_response_due_time timestamptz NOT NULL,
    resolution_due_time     timestamptz NOT NULL,
    first_response_time     timestamptz,
    erase_time              timestamptz
);
CREATE INDEX tickets_list ON tickets (create_time DESC, id DESC);
CREATE INDEX tickets_customer ON tickets (customer_id, create_time DESC, id DESC);
CREATE INDEX tickets_status ON tickets (status, create_time DESC, id DESC);
CREATE INDEX tickets_assignee ON tickets (assignee, create_time DESC, id DESC) WHERE assignee <> '';
CREATE INDEX tickets_call_sid ON tickets (call_sid) WHERE call_sid <> '';
CREATE INDEX tickets_search ON tickets USING gin (search);

CREATE TABLE ticket_comments (
    id          uuid PRIMARY KEY,
    ticket_id   uuid        NOT NULL REFERENCES tickets (id),
    author      text        NOT NULL,
    body_ct     bytea,
    dek_id      uuid        NOT NULL,
    internal    boolean     NOT NULL,
    create_time timestamptz NOT NULL
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, create_time, id);

-- ticket_events is the append-only history. It names what changed, never the values.
CREATE TABLE ticket_events (
    id             uuid PRIMARY KEY,
    ticket_id      uuid        NOT NULL REFERENCES tickets (id),
    actor          text        NOT NULL,
    type           text        NOT NULL,
    changed_fields text[]      NOT NULL DEFAULT '{}',
    from_status    text        NOT NULL DEFAULT '',
    to_status      text        NOT NULL DEFAULT '',
    create_time    timestamptz NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, create_time, id);
