-- Orders: reseller and storefront purchases. Amounts are bigint minor units of the order's
-- ISO 4217 currency, computed by the server (billing.Price); no floating point anywhere.
-- Only ship_to is personal data: it is sealed under the customer's RETAINED data key, because
-- invoices must keep it after erasure, until retain_until. SKUs and descriptions are product
-- text, in plaintext for finance reports.

CREATE TABLE orders (
    id                    uuid PRIMARY KEY,
    customer_id           uuid        NOT NULL REFERENCES customers (id),
    channel               text        NOT NULL CHECK (channel IN ('reseller', 'storefront')),
    reseller_id           text        NOT NULL DEFAULT '',
    currency              text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status                text        NOT NULL CHECK (status IN ('pending_payment', 'paid', 'fulfilled', 'cancelled', 'refunded')),
    net_minor             bigint      NOT NULL CHECK (net_minor >= 0),
    vat_minor             bigint      NOT NULL CHECK (vat_minor >= 0),
    gross_minor           bigint      NOT NULL,
    -- Decided once, at creation, from the customer's residency; '' for reseller orders.
    stripe_entity         text        NOT NULL DEFAULT '' CHECK (stripe_entity IN ('', 'stripe_us', 'stripe_ie')),
    -- The customer's address country when the order was made (retention and reports).
    country               text        NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    ship_to_ct            bytea,
    dek_id                uuid        NOT NULL,
    allowed_subprocessors text[]      NOT NULL,
    version               bigint      NOT NULL DEFAULT 1,
    create_by             text        NOT NULL,
    create_time           timestamptz NOT NULL,
    update_time           timestamptz NOT NULL,
    retain_until          timestamptz NOT NULL,
    CHECK (gross_minor = net_minor + vat_minor),
    CHECK ((channel = 'reseller') = (reseller_id <> '')),
    CHECK ((channel = 'storefront') = (stripe_entity <> '')),
    CHECK (retain_until > create_time)
);
CREATE INDEX orders_list ON orders (create_time DESC, id DESC);
CREATE INDEX orders_customer ON orders (customer_id, create_time DESC, id DESC);
CREATE INDEX orders_reseller ON orders (reseller_id, create_time DESC, id DESC) WHERE reseller_id <> '';
CREATE INDEX orders_create_by ON orders (create_by, create_time DESC, id DESC);

-- order_lines is kept narrow (no surrogate id, no timestamps): finance aggregates millions of
-- rows. The primary key's leading column is the (order_id) index.
CREATE TABLE order_lines (
    order_id         uuid    NOT NULL REFERENCES orders (id),
    line_number      integer NOT NULL CHECK (line_number BETWEEN 1 AND 500),
    sku              text    NOT NULL CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$' AND length(sku) <= 64),
    description      text    NOT NULL DEFAULT '',
    quantity         bigint  NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint  NOT NULL CHECK (unit_price_minor >= 0),
    vat_rate_bp      integer NOT NULL CHECK (vat_rate_bp BETWEEN 0 AND 10000),
    net_minor        bigint  NOT NULL CHECK (net_minor = quantity * unit_price_minor),
    vat_minor        bigint  NOT NULL CHECK (vat_minor >= 0 AND vat_minor <= net_minor),
    PRIMARY KEY (order_id, line_number)
);

-- Retention is enforced by the database, not only by the absence of a delete RPC: no role, job
-- or console session can remove an order (or its lines) before retain_until, nor move
-- retain_until earlier to get round that. Lines never change once written.
CREATE FUNCTION orders_refuse_early_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.retain_until > now() THEN
        RAISE EXCEPTION 'order % must be retained until %', OLD.id, OLD.retain_until
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER orders_retain_delete BEFORE DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_refuse_early_delete();

CREATE FUNCTION orders_refuse_earlier_retention() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order % retain_until cannot move earlier', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER orders_retain_update BEFORE UPDATE OF retain_until ON orders
    FOR EACH ROW WHEN (NEW.retain_until < OLD.retain_until)
    EXECUTE FUNCTION orders_refuse_earlier_retention();

CREATE FUNCTION order_lines_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'order lines are immutable' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM orders WHERE id = OLD.order_id AND retain_until > now()) THEN
        RAISE EXCEPTION 'lines of order % must be retained', OLD.order_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER order_lines_retain BEFORE UPDATE OR DELETE ON order_lines
    FOR EACH ROW EXECUTE FUNCTION order_lines_refuse_change();

-- TRUNCATE skips row triggers: refuse it while any order is still retained.
CREATE FUNCTION orders_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM orders WHERE retain_until > now()) THEN
        RAISE EXCEPTION 'orders under retention cannot be truncated'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_retain_truncate BEFORE TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION orders_refuse_truncate();
CREATE TRIGGER order_lines_retain_truncate BEFORE TRUNCATE ON order_lines
    FOR EACH STATEMENT EXECUTE FUNCTION orders_refuse_truncate();
