DROP TABLE IF EXISTS ticket_events;
DROP TABLE IF EXISTS ticket_comments;
DROP TABLE IF EXISTS tickets;
DROP TABLE IF EXISTS customers;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS data_keys;
