-- tix on PostgreSQL, schema version 1: what every command function shares (see
-- src/store/pg/internal.h for the map of the backend).
--
-- Outcomes. A command function never raises for an ordinary outcome: it returns its rc as a
-- name ('ok', 'seat_unavailable', ... see pg_store_rc_parse) and writes nothing when it refuses,
-- so one command's refusal never aborts its neighbours in the batch. It raises only when the
-- store holds what it must not (SQLSTATE TX001, or the data exception PostgreSQL raises on a
-- malformed row): the whole batch then fails as fatal and the writer runs its commands one by
-- one (src/commit/commit.c). No function uses an EXCEPTION block on the hot path: each would be
-- a subtransaction, and more than 64 of them in one transaction slow every other backend.
--
-- Concurrency. Batches run in READ COMMITTED: every seat changes only through a conditional
-- UPDATE whose WHERE is re-checked on the latest row version, and a row whose state a command
-- decides on is locked first (FOR UPDATE) where two nodes could otherwise decide on a stale
-- read (bookings, the hold of a booking). Work every node does (the sweep, claims) skips rows
-- another node has locked (SKIP LOCKED).

-- A JSON string, byte for byte as buf_append_json_string writes it (src/util/buf.c):
-- PostgreSQL's escaping, and DEL as \u007f.
CREATE FUNCTION tix_json_str(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT replace(to_json(s)::text, chr(127), '\u007f') $$;

-- An instant (ms since the epoch) as clock_format_rfc3339 writes it: 2027-06-20T00:30:00.000Z.
CREATE FUNCTION tix_rfc3339(ms bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT to_char(timestamp '1970-01-01' + (ms / 1000) * interval '1 second'
                  + (ms % 1000) * interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- The ids of a seat_ids text (a JSON array of strings); raises TX001 when it is not one: a
-- command never acts on a hold or booking whose seats it cannot read.
CREATE FUNCTION tix_seat_ids(p_ids text, p_what text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_doc json := p_ids::json;
    v_ids text[];
BEGIN
    IF json_typeof(v_doc) <> 'array'
       OR EXISTS (SELECT 1 FROM json_array_elements(v_doc) e WHERE json_typeof(e) <> 'string')
    THEN
        RAISE EXCEPTION 'tix: % has malformed seat_ids', p_what USING ERRCODE = 'TX001';
    END IF;
    SELECT array_agg(e) INTO v_ids FROM json_array_elements_text(v_doc) e;
    RETURN coalesce(v_ids, '{}');
END $$;

-- A new id as ids_sortable_hex makes them: 12 hex digits of the time (ms), 20 random ones.
CREATE FUNCTION tix_sortable_id(p_now bigint) RETURNS text
LANGUAGE sql VOLATILE AS
$$ SELECT lpad(to_hex(p_now), 12, '0') || substr(md5(gen_random_uuid()::text), 1, 20) $$;

-- The hold object as json_out_hold writes it (with its hold_id): the status it reads as at
-- p_now (a lapsed live hold is expired).
CREATE FUNCTION tix_json_hold(h holds, p_now bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_status text := h.status;
    v_ended bigint := h.ended_at_ms;
    v_json text;
BEGIN
    IF v_status = 'active' AND h.expires_at_ms <= p_now THEN
        v_status := 'expired';
        v_ended := h.expires_at_ms;
    END IF;
    v_json := '{"id":' || tix_json_str(h.id) || ',"hold_id":' || tix_json_str(h.id)
        || ',"event_id":' || tix_json_str(h.event_id) || ',"user_id":' || tix_json_str(h.user_id)
        || ',"seat_ids":' || h.seat_ids || ',"status":"' || v_status || '"'
        || ',"created_at":"' || tix_rfc3339(h.created_at_ms) || '"'
        || ',"expires_at":"' || tix_rfc3339(h.expires_at_ms) || '"';
    IF v_status = 'released' THEN
        v_json := v_json || ',"released_at":"' || tix_rfc3339(v_ended) || '"';
    ELSIF v_status = 'expired' THEN
        v_json := v_json || ',"expired_at":"' || tix_rfc3339(v_ended) || '"';
    END IF;
    RETURN v_json || '}';
END $$;

-- The booking object as json_out_booking writes it (with its booking_id).
CREATE FUNCTION tix_json_booking(b bookings) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_json text;
BEGIN
    v_json := '{"id":' || tix_json_str(b.id) || ',"booking_id":' || tix_json_str(b.id)
        || ',"hold_id":' || tix_json_str(b.hold_id) || ',"event_id":' || tix_json_str(b.event_id)
        || ',"user_id":' || tix_json_str(b.user_id);
    IF b.email <> '' THEN
        v_json := v_json || ',"email":' || tix_json_str(b.email);
    END IF;
    v_json := v_json || ',"seat_ids":' || b.seat_ids || ',"amount_cents":' || b.amount_cents
        || ',"status":"' || b.status || '"';
    IF b.payment_id <> '' THEN
        v_json := v_json || ',"payment_id":' || tix_json_str(b.payment_id);
    END IF;
    IF b.refund_id <> '' THEN
        v_json := v_json || ',"refund_id":' || tix_json_str(b.refund_id);
    END IF;
    v_json := v_json || ',"created_at":"' || tix_rfc3339(b.created_at_ms) || '"'
        || ',"updated_at":"' || tix_rfc3339(b.updated_at_ms) || '"';
    IF b.status = 'pending_payment' THEN
        v_json := v_json || ',"checkout_expires_at":"' || tix_rfc3339(b.checkout_deadline_ms)
            || '"';
    END IF;
    RETURN v_json || '}';
END $$;

-- ---- idempotency keys ----

-- Decide an idempotency key in the transaction, before its command runs (store/store.h):
-- 'ok' (new: a placeholder row is kept, locking the key against any other writer until this
-- transaction ends; the writer fills in the response with tix_idem_keep before COMMIT),
-- 'replayed' (answered before with the same request: the kept response) or 'key_reused'.
-- A key answered earlier in the same batch reads as replayed with status 0: the writer copies
-- that command's response once it is rendered (pg.c).
CREATE FUNCTION tix_idem_begin(p_key text, p_hash text, p_now bigint,
                               OUT o_rc text, OUT o_status integer, OUT o_body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    v_hash text;
BEGIN
    o_rc := 'ok';
    IF p_key IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO idempotency (key, request_hash, status, body, created_at_ms)
        VALUES (p_key, p_hash, 0, '', p_now) ON CONFLICT (key) DO NOTHING;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT i.request_hash, i.status, i.body INTO v_hash, o_status, o_body
        FROM idempotency i WHERE i.key = p_key;
    IF NOT FOUND THEN -- purged between the two statements: decide again
        SELECT * INTO o_rc, o_status, o_body FROM tix_idem_begin(p_key, p_hash, p_now);
    ELSIF v_hash <> p_hash THEN
        o_rc := 'key_reused';
        o_status := NULL;
        o_body := NULL;
    ELSE
        o_rc := 'replayed';
    END IF;
END $$;

-- ---- the outbox ----

-- Append an outbox row and fan it out, in the same transaction, to every subscriber whose
-- routing pattern matches its type. Read from the store for every row (a lookup in a table of
-- a few rows, as cheap as a cache of routes would be): a subscriber committed before the row
-- is routed, whichever node added it. Marks the transaction when deliveries became due.
CREATE FUNCTION tix_outbox(p_type text, p_event_id text, p_aggregate_id text, p_now bigint,
                           p_data text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_count integer;
BEGIN
    INSERT INTO outbox (id, type, event_id, aggregate_id, time_ms, data)
        VALUES (tix_sortable_id(p_now), p_type, p_event_id, p_aggregate_id, p_now, p_data)
        RETURNING seq INTO v_seq;
    INSERT INTO pg_temp.tix_outbox_pending (type) VALUES (p_type); -- counted by the writer
    INSERT INTO deliveries (outbox_seq, subscriber_id, aggregate_id, status, next_attempt_ms,
                            updated_at_ms)
        SELECT DISTINCT v_seq, p.subscriber_id, coalesce(p_aggregate_id, ''), 'pending', p_now,
               p_now
        FROM subscriber_patterns p WHERE p_type LIKE p.like_pattern;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        PERFORM set_config('tix.woke', '1', true);
    END IF;
END $$;

-- ---- the change feed ----

-- The changes of the running transaction wait here, in order, until tix_feed_flush gives them
-- their seqs just before COMMIT; the types of its outbox rows too, for the writer's metrics.
-- The writer connection makes them at connect (temporary tables: private to the connection,
-- nothing of them in the WAL; see src/store/pg/conn.c).
--   CREATE TEMP TABLE tix_feed_pending (ord bigserial, time_ms bigint, kind text, event_id text,
--       ref text, hold_seq bigint, expires_ms bigint, seat_ids text)
--   CREATE TEMP TABLE tix_outbox_pending (type text)

-- Append a change to the running transaction's (plpgsql: the table exists only in the
-- writer's sessions, and a plpgsql body is resolved when it runs).
CREATE FUNCTION tix_feed_add(p_kind text, p_event_id text, p_ref text, p_hold_seq bigint,
                             p_expires_ms bigint, p_seat_ids text, p_now bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.tix_feed_pending (time_ms, kind, event_id, ref, hold_seq, expires_ms,
                                          seat_ids)
    VALUES (p_now, p_kind, p_event_id, p_ref, p_hold_seq, p_expires_ms, p_seat_ids);
END $$;

-- The last statement of a batch before COMMIT. With changes waiting: take the feed's counter
-- (the row lock serialises every appending commit in seq order, from here to COMMIT), give
-- them the next seqs, write them to the feed and return them, in seq order, each with the head
-- before the batch (o_before). Without: one row, the committed head, o_seq NULL. o_woke: the
-- batch made deliveries due. o_xid: the transaction's id, NULL when it wrote nothing (what the
-- writer asks about when the connection is lost before COMMIT's answer: pg.c). o_outbox: the
-- types of the outbox rows written, with how many of each ('HoldCreated:3,HoldExpired:1').
CREATE FUNCTION tix_feed_flush()
RETURNS TABLE (o_before bigint, o_woke boolean, o_xid text, o_outbox text, o_seq bigint,
               o_time_ms bigint, o_kind text, o_event_id text, o_ref text, o_hold_seq bigint,
               o_expires_ms bigint, o_seat_ids text)
LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
    v_base bigint;
    v_woke boolean := coalesce(current_setting('tix.woke', true), '') = '1';
    v_xid text := pg_current_xact_id_if_assigned()::text;
    v_outbox text;
BEGIN
    SELECT string_agg(t.type || ':' || t.n, ',') INTO v_outbox
        FROM (SELECT type, count(*) AS n FROM pg_temp.tix_outbox_pending GROUP BY type) t;
    IF v_outbox IS NOT NULL THEN
        DELETE FROM pg_temp.tix_outbox_pending;
    END IF;
    SELECT count(*) INTO v_count FROM pg_temp.tix_feed_pending;
    IF v_count = 0 THEN
        RETURN QUERY SELECT h.seq, v_woke, v_xid, v_outbox, NULL::bigint, NULL::bigint,
                            NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::bigint,
                            NULL::text
                     FROM feed_head h;
        RETURN;
    END IF;
    UPDATE feed_head SET seq = seq + v_count RETURNING seq - v_count INTO v_base;
    RETURN QUERY
        WITH pending AS (DELETE FROM pg_temp.tix_feed_pending RETURNING *),
        written AS (
            INSERT INTO feed (seq, time_ms, kind, event_id, ref, hold_seq, expires_ms, seat_ids)
            SELECT v_base + row_number() OVER (ORDER BY p.ord), p.time_ms, p.kind, p.event_id,
                   p.ref, p.hold_seq, p.expires_ms, p.seat_ids
            FROM pending p
            RETURNING *)
        SELECT v_base, v_woke, pg_current_xact_id_if_assigned()::text, v_outbox, w.seq,
               w.time_ms, w.kind, w.event_id, w.ref, w.hold_seq, w.expires_ms, w.seat_ids
        FROM written w ORDER BY w.seq;
    -- for tix_feed_notify, after COMMIT (a session setting: kept when the transaction commits)
    PERFORM set_config('tix.notify_head', (v_base + v_count)::text, false);
END $$;

-- Sent after COMMIT, in a transaction of its own (so the hot transaction never takes the
-- notification queue's lock): tell every node's listener that the feed moved. Without a
-- synchronous commit: a notification lost in a crash is made up for by the followers' polls.
CREATE FUNCTION tix_feed_notify() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_head text := coalesce(current_setting('tix.notify_head', true), '');
BEGIN
    IF v_head = '' THEN
        RETURN;
    END IF;
    PERFORM set_config('tix.notify_head', '', false);
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_notify('tix_feed', v_head);
END $$;

-- A real, tiny write proving the store is writable: one row per node (no two nodes wait for
-- each other's pings).
CREATE FUNCTION tix_ping(p_now bigint, p_node text, OUT o_rc text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO meta (key, value) VALUES ('last_write_ms:' || p_node, p_now::text)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value;
    o_rc := 'ok';
END $$;
