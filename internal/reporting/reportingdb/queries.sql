-- name: ExportBatch :many
-- One batch of the export: the lines strictly after the keyset (after_time, after_id,
-- after_line), in keyset order. The inner query takes the cursor's own order (possibly fully
-- read already) and at most batch_size orders after it (order_limit = batch_size + 1),
-- walking orders_report in index order, so each batch costs the same wherever it is in the
-- range. Every order yields at least one
-- row (the LEFT JOIN gives a line-less order a NULL line, which the store skips), so a batch
-- has batch_size rows unless the range is exhausted.
SELECT o.id, o.customer_id, o.channel, o.reseller_id, o.stripe_entity, o.country, o.currency,
       o.status, o.create_time, l.line_number, l.sku, l.description, l.quantity,
       l.unit_price_minor, l.vat_rate_bp, l.net_minor, l.vat_minor
FROM (
    SELECT * FROM orders
    WHERE orders.create_time >= @start_time AND orders.create_time < @end_time
      AND (orders.create_time, orders.id) >= (@after_time::timestamptz, @after_id::uuid)
    ORDER BY orders.create_time, orders.id
    LIMIT @order_limit
) o
LEFT JOIN order_lines l ON l.order_id = o.id
WHERE (o.create_time, o.id, coalesce(l.line_number, 0)) > (@after_time::timestamptz, @after_id::uuid, @after_line::integer)
ORDER BY o.create_time, o.id, l.line_number
LIMIT @batch_size;
