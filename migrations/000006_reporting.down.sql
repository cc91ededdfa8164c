DROP INDEX IF EXISTS payment_refunds_succeeded;
DROP INDEX IF EXISTS orders_report;
