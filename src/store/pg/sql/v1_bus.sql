-- tix on PostgreSQL, schema version 1: the event bus, the rules of src/store/sqlite/bus.c:
-- SUBSCRIBER_ADD, CLAIM (leases carrying the node's id), DELIVERY outcomes, REDRIVE of dead
-- letters and RECLAIM of a restarted node's own leases. The fan-out of outbox rows is
-- tix_outbox (v1_common.sql). Every node claims: a delivery another node is claiming is skipped
-- (SKIP LOCKED), never claimed twice.

-- SUBSCRIBER_ADD: the subscriber and its routing patterns; subscribers_version moves (what a
-- node that caches routes compares), and the feed says it.
CREATE FUNCTION tix_subscriber_add(p_key text, p_hash text, p_now bigint, p_id text,
                                   p_kind text, p_url text, p_secret text, p_patterns text[],
                                   OUT o_rc text, OUT o_idem_status integer,
                                   OUT o_idem_body bytea)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO o_rc, o_idem_status, o_idem_body FROM tix_idem_begin(p_key, p_hash, p_now);
    IF o_rc <> 'ok' THEN RETURN; END IF; -- the key was answered before
    INSERT INTO subscribers (id, kind, url, secret, created_at_ms)
        VALUES (p_id, p_kind, p_url, p_secret, p_now);
    INSERT INTO subscriber_patterns (subscriber_id, pattern)
        SELECT p_id, p FROM unnest(p_patterns) AS p ON CONFLICT DO NOTHING;
    UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'subscribers_version';
    PERFORM tix_feed_add('subscriber_added', '', p_id, 0, 0, '[]', p_now);
    o_rc := 'ok';
END $$;

-- CLAIM: lease up to p_max due deliveries to node p_node until p_lease_until_ms, each with one
-- more attempt; oldest event first, never one whose subscriber has an older pending delivery
-- for the same aggregate. Deliveries that used every attempt and whose last one was lost are
-- dead-lettered first. One row per delivery claimed, with its outbox row.
CREATE FUNCTION tix_claim(p_now bigint, p_node text, p_lease_until_ms bigint, p_max integer,
                          p_max_attempts integer)
RETURNS TABLE (o_seq bigint, o_subscriber_id text, o_status text, o_attempts integer,
               o_next_attempt_ms bigint, o_updated_at_ms bigint, o_last_error text,
               o_outbox_seq bigint, o_outbox_id text, o_type text, o_event_id text,
               o_aggregate_id text, o_time_ms bigint, o_data text)
LANGUAGE plpgsql AS $$
BEGIN
    -- never an attempt past max_attempts, even when the last one was lost in a crash
    UPDATE deliveries SET status = 'dead', updated_at_ms = p_now, lease_owner = '',
        lease_until_ms = 0,
        last_error = 'attempts exhausted (the last attempt was lost: its worker stopped before '
                     || 'reporting; last error: ' || last_error || ')'
    WHERE seq IN (SELECT seq FROM deliveries
                  WHERE status = 'pending' AND attempts >= p_max_attempts
                    AND lease_until_ms <= p_now
                  FOR UPDATE SKIP LOCKED);
    RETURN QUERY
        WITH claimed AS (
            UPDATE deliveries SET lease_owner = p_node, lease_until_ms = p_lease_until_ms,
                                  attempts = attempts + 1, updated_at_ms = p_now
            WHERE seq IN (
                SELECT d.seq FROM deliveries d
                WHERE d.status = 'pending' AND d.next_attempt_ms <= p_now
                  AND d.lease_until_ms <= p_now
                  AND NOT EXISTS (SELECT 1 FROM deliveries e
                                  WHERE e.status = 'pending'
                                    AND e.subscriber_id = d.subscriber_id
                                    AND e.aggregate_id = d.aggregate_id
                                    AND e.outbox_seq < d.outbox_seq)
                ORDER BY d.outbox_seq LIMIT p_max
                FOR UPDATE OF d SKIP LOCKED)
            RETURNING *)
        SELECT c.seq, c.subscriber_id, c.status, c.attempts, c.next_attempt_ms, c.updated_at_ms,
               c.last_error, o.seq, o.id, o.type, o.event_id, o.aggregate_id, o.time_ms, o.data
        FROM claimed c JOIN outbox o ON o.seq = c.outbox_seq
        ORDER BY o.seq, c.seq;
END $$;

-- DELIVERY: a delivery's outcome: 'delivered', 'retry' (at p_next_attempt_ms) or 'dead'.
CREATE FUNCTION tix_delivery(p_now bigint, p_seq bigint, p_outcome text,
                             p_next_attempt_ms bigint, p_error text, OUT o_rc text)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_outcome = 'retry' THEN
        UPDATE deliveries SET next_attempt_ms = p_next_attempt_ms, last_error = p_error,
                              updated_at_ms = p_now, lease_owner = '', lease_until_ms = 0
            WHERE seq = p_seq AND status = 'pending';
    ELSE
        UPDATE deliveries SET status = p_outcome, last_error = p_error, updated_at_ms = p_now,
                              lease_owner = '', lease_until_ms = 0
            WHERE seq = p_seq AND status = 'pending';
    END IF;
    o_rc := 'ok';
END $$;

-- REDRIVE: dead letter p_seq back to pending, with its attempts again ('not_found' when there
-- is no such dead letter).
CREATE FUNCTION tix_redrive(p_key text, p_hash text, p_now bigint, p_seq bigint,
                            OUT o_rc text, OUT o_idem_status integer, OUT o_idem_body bytea)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO o_rc, o_idem_status, o_idem_body FROM tix_idem_begin(p_key, p_hash, p_now);
    IF o_rc <> 'ok' THEN RETURN; END IF; -- the key was answered before
    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_ms = p_now,
                          updated_at_ms = p_now, lease_owner = '', lease_until_ms = 0
        WHERE seq = p_seq AND status = 'dead';
    IF NOT FOUND THEN
        o_rc := 'not_found';
        RETURN;
    END IF;
    PERFORM set_config('tix.woke', '1', true);
    o_rc := 'ok';
END $$;

-- RECLAIM: node p_node restarted: its leases are free at once. o_count: how many.
CREATE FUNCTION tix_reclaim(p_now bigint, p_node text, OUT o_rc text, OUT o_count integer)
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries SET lease_until_ms = 0, updated_at_ms = p_now
        WHERE status = 'pending' AND lease_owner = p_node AND lease_until_ms > p_now;
    GET DIAGNOSTICS o_count = ROW_COUNT;
    IF o_count > 0 THEN
        PERFORM set_config('tix.woke', '1', true);
    END IF;
    o_rc := 'ok';
END $$;

-- A response kept for an idempotency key, with no change of state (the RESPONSE command): the
-- key is decided like any other's.
CREATE FUNCTION tix_response(p_key text, p_hash text, p_now bigint,
                             OUT o_rc text, OUT o_idem_status integer, OUT o_idem_body bytea)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO o_rc, o_idem_status, o_idem_body FROM tix_idem_begin(p_key, p_hash, p_now);
END $$;
