DROP TABLE IF EXISTS erasure_notices;
DROP TABLE IF EXISTS erasure_items;
DROP TABLE IF EXISTS erasure_requests;
