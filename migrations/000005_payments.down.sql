DROP TRIGGER IF EXISTS payment_refunds_retain ON payment_refunds;
DROP TRIGGER IF EXISTS payments_retain ON payments;
DROP FUNCTION IF EXISTS payments_refuse_early_delete();
DROP TABLE IF EXISTS stripe_events;
DROP TABLE IF EXISTS payment_refunds;
DROP TABLE IF EXISTS payments;
