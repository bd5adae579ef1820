-- tix on PostgreSQL, schema version 3: a claim picks its deliveries once.
--
-- tix_claim chose the deliveries to lease with `UPDATE ... WHERE seq IN (SELECT ... LIMIT p_max
-- FOR UPDATE SKIP LOCKED)`. PostgreSQL may run such a subquery more than once (as the inner
-- side of a nested-loop semi-join, rescanned for each row of the outer table), and under SKIP
-- LOCKED each run may pick other rows, so one claim could lease more than p_max deliveries.
-- Seen with generic plans (plan_cache_mode = force_generic_plan on the writer's session): the
-- writer refused the answer as unreadable ('claimed deliveries cannot be read') and failed the
-- batch. PostgreSQL switches a function's statements to their generic plan by itself after a
-- few calls when it looks no dearer, so this could happen in any long run. Now the choice is a
-- MATERIALIZED common table expression: computed exactly once, then joined.
CREATE OR REPLACE FUNCTION tix_claim(p_now bigint, p_node text, p_lease_until_ms bigint,
                                     p_max integer, p_max_attempts integer)
RETURNS TABLE (o_seq bigint, o_subscriber_id text, o_status text, o_attempts integer,
               o_next_attempt_ms bigint, o_updated_at_ms bigint, o_last_error text,
               o_outbox_seq bigint, o_outbox_id text, o_type text, o_event_id text,
               o_aggregate_id text, o_time_ms bigint, o_data text)
LANGUAGE plpgsql AS $$
BEGIN
    -- never an attempt past max_attempts, even when the last one was lost in a crash
    WITH exhausted AS MATERIALIZED (
        SELECT seq FROM deliveries
        WHERE status = 'pending' AND attempts >= p_max_attempts AND lease_until_ms <= p_now
        FOR UPDATE SKIP LOCKED)
    UPDATE deliveries SET status = 'dead', updated_at_ms = p_now, lease_owner = '',
        lease_until_ms = 0,
        last_error = 'attempts exhausted (the last attempt was lost: its worker stopped before '
                     || 'reporting; last error: ' || last_error || ')'
    FROM exhausted WHERE deliveries.seq = exhausted.seq;
    RETURN QUERY
        WITH picked AS MATERIALIZED (
            SELECT d.seq FROM deliveries d
            WHERE d.status = 'pending' AND d.next_attempt_ms <= p_now
              AND d.lease_until_ms <= p_now
              AND NOT EXISTS (SELECT 1 FROM deliveries e
                              WHERE e.status = 'pending'
                                AND e.subscriber_id = d.subscriber_id
                                AND e.aggregate_id = d.aggregate_id
                                AND e.outbox_seq < d.outbox_seq)
            ORDER BY d.outbox_seq LIMIT p_max
            FOR UPDATE OF d SKIP LOCKED),
        claimed AS (
            UPDATE deliveries SET lease_owner = p_node, lease_until_ms = p_lease_until_ms,
                                  attempts = attempts + 1, updated_at_ms = p_now
            FROM picked WHERE deliveries.seq = picked.seq
            RETURNING deliveries.*)
        SELECT c.seq, c.subscriber_id, c.status, c.attempts, c.next_attempt_ms, c.updated_at_ms,
               c.last_error, o.seq, o.id, o.type, o.event_id, o.aggregate_id, o.time_ms, o.data
        FROM claimed c JOIN outbox o ON o.seq = c.outbox_seq
        ORDER BY o.seq, c.seq;
END $$;
