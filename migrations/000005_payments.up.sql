-- Payments: storefront card payments through the order's Stripe entity. Card data never reaches
-- us: a payment holds Stripe object ids, amounts and statuses only. The PaymentIntent's
-- client_secret (a credential that lets the card form confirm the payment) is sealed under the
-- customer's retained data key with an AAD bound to the payment id, handed only to the
-- storefront that created the payment, and dropped once the payment can no longer be confirmed.

CREATE TABLE payments (
    id                    uuid PRIMARY KEY,
    order_id              uuid        NOT NULL REFERENCES orders (id),
    customer_id           uuid        NOT NULL REFERENCES customers (id),
    -- Copied from the order, which decided it from the customer's residency at creation.
    stripe_entity         text        NOT NULL CHECK (stripe_entity IN ('stripe_us', 'stripe_ie')),
    -- '' until Stripe answered the create call (the row is written before the call).
    payment_intent_id     text        NOT NULL DEFAULT '' CHECK (payment_intent_id ~ '^(pi_[A-Za-z0-9_]+)?$'),
    client_secret_ct      bytea,
    dek_id                uuid        NOT NULL,
    amount_minor          bigint      NOT NULL CHECK (amount_minor > 0),
    currency              text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status                text        NOT NULL CHECK (status IN ('requires_payment', 'processing', 'succeeded',
                                          'failed', 'canceled', 'partially_refunded', 'refunded')),
    -- The creation time of the Stripe event that set status (NULL: set by us at creation);
    -- used to order events of equal rank (billing.PaymentStatus.Rank).
    status_event_time     timestamptz,
    refunded_minor        bigint      NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
    allowed_subprocessors text[]      NOT NULL,
    version               bigint      NOT NULL DEFAULT 1,
    create_by             text        NOT NULL,
    create_time           timestamptz NOT NULL,
    update_time           timestamptz NOT NULL
);
CREATE UNIQUE INDEX payments_intent ON payments (stripe_entity, payment_intent_id) WHERE payment_intent_id <> '';
-- At most one payment per order that can still take money: a second PaymentIntent for the same
-- order could charge the buyer twice. A canceled payment frees the order for a new one.
CREATE UNIQUE INDEX payments_one_live ON payments (order_id) WHERE status <> 'canceled';
CREATE INDEX payments_customer ON payments (customer_id);

-- payment_refunds: refunds we asked for (idempotency through idempotency_keys, the row written
-- before the Stripe call) and refunds Stripe told us about (charge.refunded), one row per Stripe
-- refund id. A pending row without a Stripe id reserves its amount, so concurrent refunds can
-- never add up to more than was captured.
CREATE TABLE payment_refunds (
    id               uuid PRIMARY KEY,
    payment_id       uuid        NOT NULL REFERENCES payments (id),
    stripe_refund_id text        NOT NULL DEFAULT '' CHECK (stripe_refund_id ~ '^(re_[A-Za-z0-9_]+|pyr_[A-Za-z0-9_]+)?$'),
    amount_minor     bigint      NOT NULL CHECK (amount_minor > 0),
    currency         text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- The caller who asked for it; 'stripe' for a refund made outside this service.
    create_by        text        NOT NULL,
    create_time      timestamptz NOT NULL,
    update_time      timestamptz NOT NULL
);
CREATE UNIQUE INDEX payment_refunds_stripe ON payment_refunds (stripe_refund_id) WHERE stripe_refund_id <> '';
CREATE INDEX payment_refunds_payment ON payment_refunds (payment_id);

-- stripe_events: every verified webhook event, inserted in the transaction that applies it, so
-- an event is applied at most once however often Stripe delivers it.
CREATE TABLE stripe_events (
    event_id      text PRIMARY KEY CHECK (event_id ~ '^evt_[A-Za-z0-9_]+$'),
    stripe_entity text        NOT NULL CHECK (stripe_entity IN ('stripe_us', 'stripe_ie')),
    type          text        NOT NULL,
    payment_id    uuid,
    outcome       text        NOT NULL,
    event_time    timestamptz NOT NULL,
    receive_time  timestamptz NOT NULL
);

-- Payments and refunds are financial records: kept as long as their order.
CREATE FUNCTION payments_refuse_early_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    oid uuid;
BEGIN
    IF TG_TABLE_NAME = 'payments' THEN
        oid := OLD.order_id;
    ELSE
        SELECT order_id INTO oid FROM payments WHERE id = OLD.payment_id;
    END IF;
    IF EXISTS (SELECT 1 FROM orders WHERE id = oid AND retain_until > now()) THEN
        RAISE EXCEPTION 'payments of order % must be retained', oid
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER payments_retain BEFORE DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_refuse_early_delete();
CREATE TRIGGER payment_refunds_retain BEFORE DELETE ON payment_refunds
    FOR EACH ROW EXECUTE FUNCTION payments_refuse_early_delete();
