-- tix on PostgreSQL, schema version 1: HOLD, RELEASE, SWEEP (expiry) and EVENT_CREATE, the rules
-- of src/store/sqlite/holds.c. A seat is taken only by the conditional write `UPDATE seats SET
-- status = 'held' ... WHERE status = 'available'`; when it changes nothing because the seat's
-- holder has lapsed but has not been swept yet, the lapsed hold is expired first (in the same
-- transaction, with its HoldExpired row and its change) and the take is tried once more.

-- End live hold p_seq as 'released', 'expired' or 'booked' (the conditional UPDATE: NULL when it
-- was no longer live, nothing changed). Released and expired free its seats, with the outbox row
-- and the change; booked only ends the hold (its seats are sold by the caller).
CREATE FUNCTION tix_end_hold(p_seq bigint, p_status text, p_now bigint) RETURNS holds
LANGUAGE plpgsql AS $$
DECLARE
    v_hold holds;
BEGIN
    UPDATE holds SET status = p_status, ended_at_ms = p_now
        WHERE seq = p_seq AND status IN ('active', 'checkout')
        RETURNING * INTO v_hold;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF p_status = 'booked' THEN
        RETURN v_hold;
    END IF;
    PERFORM tix_seat_ids(v_hold.seat_ids, 'hold ' || v_hold.id);
    UPDATE seats SET status = 'available', hold_seq = NULL
        WHERE hold_seq = p_seq AND status <> 'available';
    PERFORM tix_outbox(CASE p_status WHEN 'expired' THEN 'HoldExpired' ELSE 'HoldReleased' END,
                       v_hold.event_id, v_hold.id, p_now, tix_json_hold(v_hold, p_now));
    PERFORM tix_feed_add(p_status, v_hold.event_id, '', v_hold.seq, 0, v_hold.seat_ids, p_now);
    RETURN v_hold;
END $$;

-- Expire hold p_seq if it is live and lapsed at p_now (locking it first: its state is decided
-- on a current row). True when this call ended it.
CREATE FUNCTION tix_expire_hold(p_seq bigint, p_now bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_hold holds;
BEGIN
    SELECT * INTO v_hold FROM holds WHERE seq = p_seq FOR UPDATE;
    IF NOT FOUND OR v_hold.status NOT IN ('active', 'checkout') OR v_hold.expires_at_ms > p_now
    THEN
        RETURN false;
    END IF;
    v_hold := tix_end_hold(p_seq, 'expired', p_now);
    RETURN v_hold.seq IS NOT NULL;
END $$;

-- Take seat p_seat_id of p_event_id for hold p_seq, freeing it first when its holder lapsed.
CREATE FUNCTION tix_take_seat(p_event_id text, p_seat_id text, p_seq bigint, p_now bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_holder holds;
BEGIN
    SELECT h.* INTO v_holder FROM seats s JOIN holds h ON h.seq = s.hold_seq
        WHERE s.event_id = p_event_id AND s.seat_id = p_seat_id AND s.status = 'held';
    IF v_holder.seq IS NULL OR v_holder.seq = p_seq THEN
        RETURN false;
    END IF;
    -- whether the holder lapsed is decided on a hold that reads whole
    PERFORM tix_seat_ids(v_holder.seat_ids, 'hold ' || v_holder.id);
    IF v_holder.expires_at_ms > p_now THEN
        RETURN false;
    END IF;
    -- another node may end the lapsed holder first: the seat is free all the same
    PERFORM tix_expire_hold(v_holder.seq, p_now);
    UPDATE seats SET status = 'held', hold_seq = p_seq
        WHERE event_id = p_event_id AND seat_id = p_seat_id AND status = 'available';
    RETURN FOUND;
END $$;

-- HOLD (store/store.h). p_seats: the seat ids, p_seat_ids the same as the JSON array kept in the
-- hold. o_taken: on 'seat_unavailable', the positions (0-based) of the seats that were taken.
CREATE FUNCTION tix_hold(p_key text, p_hash text, p_now bigint, p_user_seats_max integer,
                         p_id text, p_event_id text, p_user_id text, p_seats text[],
                         p_seat_ids text,
                         OUT o_rc text, OUT o_idem_status integer, OUT o_idem_body bytea,
                         OUT o_seq bigint, OUT o_expires_at_ms bigint, OUT o_taken integer[])
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer := cardinality(p_seats);
    v_ttl_s integer;
    v_max integer;
    v_held bigint;
    v_got text[];
    v_hold holds;
BEGIN
    SELECT * INTO o_rc, o_idem_status, o_idem_body FROM tix_idem_begin(p_key, p_hash, p_now);
    IF o_rc <> 'ok' THEN RETURN; END IF; -- the key was answered before
    SELECT hold_ttl_s, max_seats_per_hold INTO v_ttl_s, v_max FROM events WHERE id = p_event_id;
    IF NOT FOUND THEN
        o_rc := 'event_not_found';
        RETURN;
    END IF;
    IF v_count > v_max THEN
        o_rc := 'too_many_seats';
        RETURN;
    END IF;
    o_expires_at_ms := p_now + v_ttl_s * 1000::bigint;
    IF p_user_seats_max > 0 THEN
        -- decided here, in order with the buyer's other holds on every node
        PERFORM pg_advisory_xact_lock(hashtext(p_event_id), hashtext(p_user_id));
        SELECT coalesce(sum(json_array_length(seat_ids::json)), 0) INTO v_held FROM holds
            WHERE event_id = p_event_id AND user_id = p_user_id
              AND status IN ('active', 'checkout') AND expires_at_ms > p_now;
        IF v_held + v_count > p_user_seats_max THEN
            o_rc := 'user_limit';
            RETURN;
        END IF;
    END IF;
    INSERT INTO holds (id, event_id, user_id, status, seat_ids, created_at_ms, expires_at_ms)
        VALUES (p_id, p_event_id, p_user_id, 'active', p_seat_ids, p_now, o_expires_at_ms)
        RETURNING * INTO v_hold;
    o_seq := v_hold.seq;
    -- the conditional write; a seat another transaction is changing right now (its row locked)
    -- is not waited for: that transaction has not committed, so the seat is not available as
    -- of this one (a conflict), and two batches taking seats in opposite orders never deadlock
    WITH free AS (
        SELECT seat_id FROM seats
        WHERE event_id = p_event_id AND seat_id = ANY (p_seats) AND status = 'available'
        FOR UPDATE SKIP LOCKED),
    taken AS (
        UPDATE seats s SET status = 'held', hold_seq = o_seq FROM free
        WHERE s.event_id = p_event_id AND s.seat_id = free.seat_id
        RETURNING s.seat_id)
    SELECT coalesce(array_agg(seat_id), '{}') INTO v_got FROM taken;
    IF cardinality(v_got) < v_count THEN
        o_taken := '{}';
        FOR i IN 1 .. v_count LOOP
            IF p_seats[i] = ANY (v_got) AND p_seats[i] <> ALL (p_seats[1:i - 1]) THEN
                CONTINUE;
            END IF;
            IF NOT tix_take_seat(p_event_id, p_seats[i], o_seq, p_now) THEN
                o_taken := o_taken || (i - 1);
            END IF;
        END LOOP;
        IF cardinality(o_taken) > 0 THEN -- refused: undo (the lapsed holds expired stand)
            UPDATE seats SET status = 'available', hold_seq = NULL
                WHERE hold_seq = o_seq AND status <> 'available';
            DELETE FROM holds WHERE seq = o_seq;
            o_rc := 'seat_unavailable';
            RETURN;
        END IF;
        o_taken := NULL;
    END IF;
    PERFORM tix_outbox('HoldCreated', p_event_id, p_id, p_now, tix_json_hold(v_hold, p_now));
    PERFORM tix_feed_add('held', p_event_id, '', o_seq, o_expires_at_ms, p_seat_ids, p_now);
    o_rc := 'ok';
END $$;

-- The hold p_id for a command that needs it active and, with an actor, the actor's own: o_rc
-- 'ok', 'hold_not_found', 'forbidden' or 'hold_not_active' (a lapsed hold is not active, even
-- before the sweep ends it).
CREATE FUNCTION tix_active_hold(p_id text, p_actor text, p_now bigint,
                                OUT o_rc text, OUT o_hold holds)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO o_hold FROM holds WHERE id = p_id;
    IF NOT FOUND THEN
        o_rc := 'hold_not_found';
    ELSIF p_actor <> '' AND o_hold.user_id <> p_actor THEN
        o_rc := 'forbidden';
    ELSIF o_hold.status <> 'active' OR o_hold.expires_at_ms <= p_now THEN
        o_rc := 'hold_not_active';
    ELSE
        o_rc := 'ok';
    END IF;
    IF o_hold.seq IS NOT NULL THEN
        PERFORM tix_seat_ids(o_hold.seat_ids, 'hold ' || p_id);
    END IF;
END $$;

-- RELEASE: o_hold is the hold as ended (or as it was, when refused).
CREATE FUNCTION tix_release(p_key text, p_hash text, p_now bigint, p_id text, p_actor text,
                            OUT o_rc text, OUT o_idem_status integer, OUT o_idem_body bytea,
                            OUT o_hold holds)
LANGUAGE plpgsql AS $$
DECLARE
    v_active record;
    v_ended holds;
BEGIN
    SELECT * INTO o_rc, o_idem_status, o_idem_body FROM tix_idem_begin(p_key, p_hash, p_now);
    IF o_rc <> 'ok' THEN RETURN; END IF; -- the key was answered before
    v_active := tix_active_hold(p_id, p_actor, p_now);
    o_rc := v_active.o_rc;
    o_hold := v_active.o_hold;
    IF o_rc <> 'ok' THEN
        RETURN;
    END IF;
    v_ended := tix_end_hold(o_hold.seq, 'released', p_now);
    IF v_ended.seq IS NULL THEN -- another node ended it first
        o_rc := 'hold_not_active';
    ELSE
        o_hold := v_ended;
    END IF;
END $$;

-- SWEEP: expire up to p_holds_max lapsed holds (skipping those another node is ending), forget
-- idempotency keys older than p_idempotency_ttl_s, trim the feed to its last p_feed_retain
-- changes (the newest is never trimmed: seqs never restart).
CREATE FUNCTION tix_sweep(p_now bigint, p_holds_max integer, p_idempotency_ttl_s bigint,
                          p_feed_retain bigint, p_trim_max integer,
                          OUT o_rc text, OUT o_expired integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_head bigint;
BEGIN
    o_expired := 0;
    FOR v_seq IN
        SELECT seq FROM holds
        WHERE status IN ('active', 'checkout') AND expires_at_ms <= p_now
        ORDER BY expires_at_ms LIMIT p_holds_max FOR UPDATE SKIP LOCKED
    LOOP
        IF tix_expire_hold(v_seq, p_now) THEN
            o_expired := o_expired + 1;
        END IF;
    END LOOP;
    DELETE FROM idempotency WHERE key IN (
        SELECT key FROM idempotency WHERE created_at_ms < p_now - p_idempotency_ttl_s * 1000
        LIMIT p_trim_max FOR UPDATE SKIP LOCKED);
    SELECT seq INTO v_head FROM feed_head;
    IF v_head > greatest(p_feed_retain, 1) THEN
        DELETE FROM feed WHERE seq IN (
            SELECT seq FROM feed WHERE seq <= v_head - greatest(p_feed_retain, 1)
            ORDER BY seq LIMIT p_trim_max FOR UPDATE SKIP LOCKED);
    END IF;
    o_rc := 'ok';
END $$;

-- EVENT_CREATE. p_sections: a JSON array of {"name","price_cents","seats_per_row","rows":[..]}
-- in section order; seat ids are row label + number, as the embedded store makes them.
CREATE FUNCTION tix_event_create(p_key text, p_hash text, p_now bigint, p_events_max integer,
                                 p_id text, p_name text, p_venue text, p_starts_at_ms bigint,
                                 p_hold_ttl_s integer, p_max_seats_per_hold integer,
                                 p_sections json, p_seats_total bigint,
                                 OUT o_rc text, OUT o_idem_status integer, OUT o_idem_body bytea)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO o_rc, o_idem_status, o_idem_body FROM tix_idem_begin(p_key, p_hash, p_now);
    IF o_rc <> 'ok' THEN RETURN; END IF; -- the key was answered before
    PERFORM pg_advisory_xact_lock(hashtext('tix.events'), 0); -- the count is decided in order
    IF (SELECT count(*) FROM events) >= p_events_max THEN
        o_rc := 'too_many_events';
        RETURN;
    END IF;
    INSERT INTO events (id, name, venue, starts_at_ms, hold_ttl_s, max_seats_per_hold,
                        created_at_ms)
        VALUES (p_id, p_name, p_venue, p_starts_at_ms, p_hold_ttl_s, p_max_seats_per_hold, p_now)
        ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        o_rc := 'event_exists';
        RETURN;
    END IF;
    INSERT INTO sections (event_id, idx, name, price_cents, seats_per_row, rows)
        SELECT p_id, s.ord - 1, s.v ->> 'name', (s.v ->> 'price_cents')::bigint,
               (s.v ->> 'seats_per_row')::integer, (s.v -> 'rows')::text
        FROM json_array_elements(p_sections) WITH ORDINALITY AS s (v, ord);
    INSERT INTO seats (event_id, seat_id, section_idx, row_label, number)
        SELECT p_id, r.label || n, s.ord - 1, r.label, n
        FROM json_array_elements(p_sections) WITH ORDINALITY AS s (v, ord),
             json_array_elements_text(s.v -> 'rows') AS r (label),
             generate_series(1, (s.v ->> 'seats_per_row')::integer) AS n;
    PERFORM tix_outbox('EventCreated', p_id, p_id, p_now,
                       '{"name":' || tix_json_str(p_name) || ',"seats_total":' || p_seats_total
                       || '}');
    PERFORM tix_feed_add('event_created', p_id, '', 0, 0, '[]', p_now);
    o_rc := 'ok';
END $$;
