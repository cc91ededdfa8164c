-- name: LockCustomerFacts :one
-- FOR SHARE: the customer's facts cannot change (nor the customer be erased) until the order
-- that was decided from them commits; concurrent orders of one customer do not block each other.
SELECT address_country, residency_country, marketing_consent, reseller_id, create_by,
       (erase_time IS NOT NULL)::boolean AS erased
FROM customers
WHERE id = $1
FOR SHARE;

-- name: InsertOrder :exec
INSERT INTO orders (
    id, customer_id, channel, reseller_id, currency, status, net_minor, vat_minor, gross_minor,
    stripe_entity, country, ship_to_ct, dek_id, allowed_subprocessors, version, create_by,
    create_time, update_time, retain_until
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19
);

-- name: InsertOrderLines :exec
-- One statement for all lines: arrays in, unnest out.
INSERT INTO order_lines (
    order_id, line_number, sku, description, quantity, unit_price_minor, vat_rate_bp, net_minor, vat_minor
)
SELECT sqlc.arg('order_id')::uuid,
       unnest(sqlc.arg('line_numbers')::integer[]),
       unnest(sqlc.arg('skus')::text[]),
       unnest(sqlc.arg('descriptions')::text[]),
       unnest(sqlc.arg('quantities')::bigint[]),
       unnest(sqlc.arg('unit_prices_minor')::bigint[]),
       unnest(sqlc.arg('vat_rates_bp')::integer[]),
       unnest(sqlc.arg('nets_minor')::bigint[]),
       unnest(sqlc.arg('vats_minor')::bigint[]);

-- name: GetOrder :one
-- Reads join data_keys so that one round trip returns the ship_to ciphertext and the wrapped
-- retained key that opens it.
SELECT sqlc.embed(o), k.master_key_id, k.wrapped_key
FROM orders o
JOIN data_keys k ON k.id = o.dek_id
WHERE o.id = $1;

-- name: ListOrders :many
-- The scope condition is the caller's record-level visibility (billing.Visibility).
SELECT sqlc.embed(o), k.master_key_id, k.wrapped_key
FROM orders o
JOIN data_keys k ON k.id = o.dek_id
WHERE (sqlc.arg('see_all')::boolean
       OR (sqlc.arg('see_reseller')::boolean AND o.channel = 'reseller')
       OR (sqlc.arg('see_create_by')::text <> '' AND o.create_by = sqlc.arg('see_create_by')))
  AND (sqlc.narg('customer_id')::uuid IS NULL OR o.customer_id = sqlc.narg('customer_id'))
  AND (sqlc.narg('reseller_id')::text IS NULL OR o.reseller_id = sqlc.narg('reseller_id'))
  AND (sqlc.narg('channel')::text IS NULL OR o.channel = sqlc.narg('channel'))
  AND (sqlc.narg('start_time')::timestamptz IS NULL OR o.create_time >= sqlc.narg('start_time'))
  AND (sqlc.narg('end_time')::timestamptz IS NULL OR o.create_time < sqlc.narg('end_time'))
  AND (sqlc.narg('after_time')::timestamptz IS NULL
       OR (o.create_time, o.id) < (sqlc.narg('after_time'), sqlc.narg('after_id')::uuid))
ORDER BY o.create_time DESC, o.id DESC
LIMIT sqlc.arg('row_limit');

-- name: ListOrderLines :many
SELECT order_id, line_number, sku, description, quantity, unit_price_minor, vat_rate_bp, net_minor, vat_minor
FROM order_lines
WHERE order_id = ANY(sqlc.arg('order_ids')::uuid[])
ORDER BY order_id, line_number;

-- name: LockCustomerOrderFlows :many
SELECT id, channel, stripe_entity, allowed_subprocessors
FROM orders
WHERE customer_id = $1
ORDER BY id
FOR UPDATE;

-- name: SetOrderFlows :exec
UPDATE orders SET
    allowed_subprocessors = sqlc.arg('allowed_subprocessors'),
    update_time           = sqlc.arg('update_time'),
    version               = version + 1
WHERE id = sqlc.arg('id');

-- name: LockOrderForPayment :one
-- FOR UPDATE OF o: payments of one order are decided one at a time (the one-live-payment rule),
-- and the order's status cannot change under the decision.
SELECT o.id, o.customer_id, o.channel, o.status, o.stripe_entity, o.currency, o.gross_minor, o.create_by,
       c.residency_country, (c.erase_time IS NOT NULL)::boolean AS erased,
       EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status <> 'canceled')::boolean AS has_live_payment
FROM orders o
JOIN customers c ON c.id = o.customer_id
WHERE o.id = $1
FOR UPDATE OF o;

-- name: InsertPayment :exec
INSERT INTO payments (
    id, order_id, customer_id, stripe_entity, dek_id, amount_minor, currency, status,
    allowed_subprocessors, version, create_by, create_time, update_time
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
);

-- name: GetPayment :one
SELECT sqlc.embed(p), k.master_key_id, k.wrapped_key
FROM payments p
JOIN data_keys k ON k.id = p.dek_id
WHERE p.id = $1;

-- name: LockPayment :one
SELECT sqlc.embed(p), k.master_key_id, k.wrapped_key
FROM payments p
JOIN data_keys k ON k.id = p.dek_id
WHERE p.id = $1
FOR UPDATE OF p;

-- name: FindPaymentByIntent :one
SELECT id FROM payments WHERE stripe_entity = $1 AND payment_intent_id = $2;

-- name: FindPaymentByID :one
-- For an event that overtook the storing of its PaymentIntent id: our id from the intent's
-- metadata, accepted only for the entity that signed the event and a matching or empty intent.
SELECT id FROM payments
WHERE id = sqlc.arg('id') AND stripe_entity = sqlc.arg('stripe_entity')
  AND payment_intent_id IN ('', sqlc.arg('payment_intent_id')::text);

-- name: SetPaymentIntent :exec
UPDATE payments SET
    payment_intent_id = sqlc.arg('payment_intent_id'),
    client_secret_ct  = sqlc.arg('client_secret_ct'),
    update_time       = sqlc.arg('update_time'),
    version           = version + 1
WHERE id = sqlc.arg('id');

-- name: SetPaymentState :exec
-- The client secret is dropped as soon as the buyer can no longer pay with it.
UPDATE payments SET
    status            = sqlc.arg('status'),
    status_event_time = sqlc.narg('status_event_time'),
    refunded_minor    = sqlc.arg('refunded_minor'),
    payment_intent_id = CASE WHEN payment_intent_id = '' THEN sqlc.arg('payment_intent_id')::text ELSE payment_intent_id END,
    client_secret_ct  = CASE WHEN sqlc.arg('keep_secret')::boolean THEN client_secret_ct END,
    update_time       = sqlc.arg('update_time'),
    version           = version + 1
WHERE id = sqlc.arg('id');

-- name: LockOrderStatus :one
SELECT status FROM orders WHERE id = $1 FOR UPDATE;

-- name: SetOrderStatus :exec
UPDATE orders SET
    status      = sqlc.arg('status'),
    update_time = sqlc.arg('update_time'),
    version     = version + 1
WHERE id = sqlc.arg('id');

-- name: InsertRefund :exec
INSERT INTO payment_refunds (
    id, payment_id, stripe_refund_id, amount_minor, currency, status, create_by, create_time, update_time
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9
);

-- name: GetRefund :one
SELECT * FROM payment_refunds WHERE id = $1;

-- name: LockRefund :one
SELECT * FROM payment_refunds WHERE id = $1 FOR UPDATE;

-- name: SumRefunds :one
-- reserved counts every refund that is not failed (including those Stripe has not answered);
-- accepted counts those Stripe accepted.
SELECT coalesce(sum(amount_minor) FILTER (WHERE status <> 'failed'), 0)::bigint AS reserved,
       coalesce(sum(amount_minor) FILTER (WHERE status <> 'failed' AND stripe_refund_id <> ''), 0)::bigint AS accepted
FROM payment_refunds
WHERE payment_id = $1;

-- name: SetRefundResult :exec
UPDATE payment_refunds SET
    stripe_refund_id = sqlc.arg('stripe_refund_id'),
    status           = sqlc.arg('status'),
    update_time      = sqlc.arg('update_time')
WHERE id = sqlc.arg('id');

-- name: UpsertStripeRefund :exec
-- A refund Stripe reports: new ones (made outside this service) are inserted; known ones move
-- forward only (pending → succeeded or failed), so a stale report cannot undo a newer one.
INSERT INTO payment_refunds (
    id, payment_id, stripe_refund_id, amount_minor, currency, status, create_by, create_time, update_time
) VALUES (
    $1, $2, $3, $4, $5, $6, 'stripe', $7, $7
)
ON CONFLICT (stripe_refund_id) WHERE stripe_refund_id <> '' DO UPDATE SET
    status      = EXCLUDED.status,
    update_time = EXCLUDED.update_time
WHERE payment_refunds.status = 'pending' AND EXCLUDED.status <> 'pending';

-- name: InsertStripeEvent :execrows
INSERT INTO stripe_events (event_id, stripe_entity, type, outcome, event_time, receive_time)
VALUES ($1, $2, $3, 'pending', $4, $5)
ON CONFLICT (event_id) DO NOTHING;

-- name: SetStripeEventOutcome :exec
UPDATE stripe_events SET outcome = sqlc.arg('outcome'), payment_id = sqlc.narg('payment_id')
WHERE event_id = sqlc.arg('event_id');
