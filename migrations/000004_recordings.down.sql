DROP TABLE IF EXISTS recording_events;
DROP TABLE IF EXISTS recording_callbacks;
DROP TABLE IF EXISTS recordings;
DROP TABLE IF EXISTS calls;
