-- tix on PostgreSQL, schema version 4: an event's bookings by status and time.
--
-- GET /admin/events/{id}/stats counts an event's bookings by status and sums the last hour's
-- sales (r_event_stats in src/store/pg/reads.c): without an index on the event they scanned
-- every booking of every event, at every refresh of the organiser's page. Kept up by checkouts
-- and payment outcomes only (holds never touch bookings). Built inside the migration's
-- transaction: writes to bookings wait for it (seconds for millions of rows), nothing else.
CREATE INDEX bookings_by_event ON bookings (event_id, status, updated_at_ms);
