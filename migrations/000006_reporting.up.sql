-- Reporting: indexes for finance's range aggregates and exports. No rollup tables: every report
-- is computed from the order lines themselves, so a late refund or a late payment can never
-- leave a stale total behind (see docs/reporting.md).

-- Range scans by create_time in ascending order (reports, and the export's keyset on
-- (create_time, id)); INCLUDE makes the orders side of a report an index-only scan.
CREATE INDEX orders_report ON orders (create_time, id)
    INCLUDE (status, channel, country, reseller_id, stripe_entity, currency, customer_id);

-- Refunds that count, per payment, without visiting the table.
CREATE INDEX payment_refunds_succeeded ON payment_refunds (payment_id)
    INCLUDE (amount_minor) WHERE status = 'succeeded';
