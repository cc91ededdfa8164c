DROP TABLE IF EXISTS flow_audit;
DROP TABLE IF EXISTS outbox_deliveries;
DROP TABLE IF EXISTS flow_records;
