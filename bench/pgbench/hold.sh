#!/usr/bin/env bash
# bench/pgbench/hold.sh HOLDS_PER_TRANSACTION [EVENT_ID]: print a pgbench script (for
# `pgbench -M prepared -f -`) that runs, for HOLDS_PER_TRANSACTION holds per transaction, the
# statements a tix hold runs on PostgreSQL (tix_hold in src/store/pg/sql/v1_holds.sql, and the
# end of a batch, tix_feed_flush in v1_common.sql), as plain SQL sent by the client:
#   per hold: the event's TTL and seat cap; the buyer's advisory lock and the seats they hold
#   (--max-seats-per-user, on by default); INSERT the hold; the conditional UPDATE of the seat
#   (`... WHERE status = 'available'`, FOR UPDATE SKIP LOCKED as tix does); INSERT the outbox
#   row (HoldCreated, a 254-byte JSON body as tix writes); the outbox row's routing to
#   subscribers (INSERT INTO deliveries ... SELECT: no subscriber takes HoldCreated, as in tix);
#   per transaction: take the feed's counter (UPDATE feed_head) and INSERT one feed row per hold.
# What tix does beyond this is its own bookkeeping (the temporary tables that carry the feed
# rows and outbox types to the end of the batch, building the ids and JSON in PL/pgSQL): that
# is tix's cost, and this script leaves it out on purpose.
# With more than one hold, the statements go in one pipeline (\startpipeline): one round trip
# per transaction, as tix's writer sends a batch.
#
# Variables (pgbench -D): span (seats per client), n (the first seat of each client's span),
# now (ms since the epoch). Client k takes seats k * span + n, k * span + n + 1, ... of
# EVENT_ID (default pgbench-arena: 100 rows AA, AB, ..., DV of 10,000 seats; seat i is row
# i / 10000, number i % 10000 + 1): no two holds of a run ask for the same seat.
set -euo pipefail
holds=${1:?usage: hold.sh HOLDS_PER_TRANSACTION [EVENT_ID]}
event=${2:-pgbench-arena}
[[ $holds =~ ^[1-9][0-9]*$ ]] || { echo "hold.sh: HOLDS_PER_TRANSACTION must be >= 1" >&2; exit 2; }
ttl_ms=86400000
body='{"id":"0000000000000000000000000000abcd","hold_id":"0000000000000000000000000000abcd",'
body+='"event_id":"pgbench-arena","user_id":"pgb123456","seat_ids":["AA1234"],"status":"active",'
body+='"created_at":"2026-12-04T17:05:49.858Z","expires_at":"2026-12-05T17:05:49.858Z"}'

[ "$holds" -gt 1 ] && printf '%s\n' '\startpipeline'
echo 'BEGIN ISOLATION LEVEL READ COMMITTED;'
for ((h = 0; h < holds; h++)); do
    cat <<SQL
\\set i :client_id * :span + :n
\\set n :n + 1
\\set r :i / 10000
\\set num :i % 10000 + 1
SELECT hold_ttl_s, max_seats_per_hold FROM events WHERE id = '$event';
SELECT pg_advisory_xact_lock(hashtext('$event'), hashtext('pgb' || :i));
SELECT coalesce(sum(json_array_length(seat_ids::json)), 0) FROM holds WHERE event_id = '$event' AND user_id = 'pgb' || :i AND status IN ('active', 'checkout') AND expires_at_ms > :now::bigint;
INSERT INTO holds (id, event_id, user_id, status, seat_ids, created_at_ms, expires_at_ms) VALUES (lpad(to_hex(:now::bigint), 12, '0') || lpad(to_hex(:i::bigint), 20, '0'), '$event', 'pgb' || :i, 'active', '["' || chr(65 + :r / 26) || chr(65 + :r % 26) || :num || '"]', :now::bigint, :now::bigint + $ttl_ms) RETURNING *;
WITH free AS (SELECT seat_id FROM seats WHERE event_id = '$event' AND seat_id = ANY (ARRAY[chr(65 + :r / 26) || chr(65 + :r % 26) || :num]) AND status = 'available' FOR UPDATE SKIP LOCKED), taken AS (UPDATE seats s SET status = 'held', hold_seq = currval('holds_seq_seq') FROM free WHERE s.event_id = '$event' AND s.seat_id = free.seat_id RETURNING s.seat_id) SELECT coalesce(array_agg(seat_id), '{}') FROM taken;
INSERT INTO outbox (id, type, event_id, aggregate_id, time_ms, data) VALUES (lpad(to_hex(:now::bigint), 12, '0') || lpad(to_hex(:i::bigint), 20, 'f'), 'HoldCreated', '$event', lpad(to_hex(:now::bigint), 12, '0') || lpad(to_hex(:i::bigint), 20, '0'), :now::bigint, '$body') RETURNING seq;
INSERT INTO deliveries (outbox_seq, subscriber_id, aggregate_id, status, next_attempt_ms, updated_at_ms) SELECT DISTINCT currval('outbox_seq_seq'), p.subscriber_id, lpad(to_hex(:now::bigint), 12, '0') || lpad(to_hex(:i::bigint), 20, '0'), 'pending', :now::bigint, :now::bigint FROM subscriber_patterns p WHERE 'HoldCreated' LIKE p.like_pattern;
SQL
done
echo "UPDATE feed_head SET seq = seq + $holds RETURNING seq - $holds;"
echo "INSERT INTO feed (seq, time_ms, kind, event_id, ref, hold_seq, expires_ms, seat_ids) SELECT h.seq - $holds + g, :now::bigint, 'held', '$event', '', currval('holds_seq_seq') - $holds + g, :now::bigint + $ttl_ms, '[\"AA1234\"]' FROM feed_head h, generate_series(1, $holds) g RETURNING seq;"
echo 'COMMIT;'
[ "$holds" -gt 1 ] && printf '%s\n' '\endpipeline'
exit 0
