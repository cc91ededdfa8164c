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
