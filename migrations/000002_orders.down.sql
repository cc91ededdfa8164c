-- Dropping the tables is a schema rollback, not a deletion of orders: it is refused by nothing
-- here, so run it only on a database whose orders may go (development, tests).
DROP TABLE IF EXISTS order_lines;
DROP TABLE IF EXISTS orders;
DROP FUNCTION IF EXISTS orders_refuse_truncate();
DROP FUNCTION IF EXISTS order_lines_refuse_change();
DROP FUNCTION IF EXISTS orders_refuse_earlier_retention();
DROP FUNCTION IF EXISTS orders_refuse_early_delete();
