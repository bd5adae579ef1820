-- tix on PostgreSQL, schema version 1: CHECKOUT, PAYMENT, REFUND and CANCEL, the rules of
-- src/store/sqlite/bookings.c that keep money and seats together. Every transition is a
-- conditional write on the booking's current status; a command that decides on a booking locks
-- its row first (and then its hold's), so that two nodes deciding on the same booking take
-- turns, and a result delivered twice changes nothing the second time.

-- Move booking b from its status to p_to (payment and refund ids set when not NULL); NULL when
-- another writer moved it first.
CREATE FUNCTION tix_booking_move(b bookings, p_to text, p_payment_id text, p_refund_id text,
                                 p_now bigint) RETURNS bookings
LANGUAGE plpgsql AS $$
DECLARE
    v_moved bookings;
BEGIN
    UPDATE bookings SET status = p_to, payment_id = coalesce(p_payment_id, payment_id),
                        refund_id = coalesce(p_refund_id, refund_id), updated_at_ms = p_now
        WHERE seq = b.seq AND status = b.status
        RETURNING * INTO v_moved;
    RETURN v_moved;
END $$;

-- Booking p_id, locked, with its seat_ids checked; NULL when there is none.
CREATE FUNCTION tix_booking_lock(p_id text) RETURNS bookings
LANGUAGE plpgsql AS $$
DECLARE
    v_booking bookings;
BEGIN
    SELECT * INTO v_booking FROM bookings WHERE id = p_id FOR UPDATE;
    IF FOUND THEN
        PERFORM tix_seat_ids(v_booking.seat_ids, 'booking ' || p_id);
    END IF;
    RETURN v_booking;
END $$;

-- Outbox rows of booking b, one per type, in order.
CREATE FUNCTION tix_booking_rows(b bookings, p_now bigint, VARIADIC p_types text[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_type text;
BEGIN
    FOREACH v_type IN ARRAY p_types LOOP
        PERFORM tix_outbox(v_type, b.event_id, b.id, p_now, tix_json_booking(b));
    END LOOP;
END $$;

-- CHECKOUT: freeze the active hold p_hold_id for its payment (first: a hold another node ended
-- meanwhile refuses the command before anything is written), price the booking from the store
-- and open it, with CheckoutStarted.
CREATE FUNCTION tix_checkout(p_key text, p_hash text, p_now bigint, p_checkout_timeout_s bigint,
                             p_hold_id text, p_actor text, p_booking_id text,
                             p_payment_token text, p_email text,
                             OUT o_rc text, OUT o_idem_status integer, OUT o_idem_body bytea,
                             OUT o_booking bookings)
LANGUAGE plpgsql AS $$
DECLARE
    v_active record;
    v_hold holds;
    v_deadline bigint := p_now + p_checkout_timeout_s * 1000;
    v_seats bigint;
    v_amount bigint;
BEGIN
    SELECT * INTO o_rc, o_idem_status, o_idem_body FROM tix_idem_begin(p_key, p_hash, p_now);
    IF o_rc <> 'ok' THEN RETURN; END IF; -- the key was answered before
    v_active := tix_active_hold(p_hold_id, p_actor, p_now);
    o_rc := v_active.o_rc;
    v_hold := v_active.o_hold;
    IF o_rc <> 'ok' THEN
        RETURN;
    END IF;
    UPDATE holds SET status = 'checkout', expires_at_ms = v_deadline
        WHERE seq = v_hold.seq AND status = 'active';
    IF NOT FOUND THEN
        o_rc := 'hold_not_active';
        RETURN;
    END IF;
    -- every seat of the hold is held by it and priced by its section (never a free booking)
    SELECT count(*), coalesce(sum(c.price_cents), 0) INTO v_seats, v_amount
        FROM seats s JOIN sections c ON c.event_id = s.event_id AND c.idx = s.section_idx
        WHERE s.hold_seq = v_hold.seq AND s.status = 'held';
    IF v_seats <> cardinality(tix_seat_ids(v_hold.seat_ids, 'hold ' || v_hold.id)) THEN
        RAISE EXCEPTION 'tix: hold % lists % seats but holds % priced ones', v_hold.id,
            cardinality(tix_seat_ids(v_hold.seat_ids, 'hold ' || v_hold.id)), v_seats
            USING ERRCODE = 'TX001';
    END IF;
    INSERT INTO bookings (id, hold_seq, hold_id, event_id, user_id, email, status, amount_cents,
                          payment_token, created_at_ms, updated_at_ms, checkout_deadline_ms,
                          seat_ids)
        VALUES (p_booking_id, v_hold.seq, v_hold.id, v_hold.event_id, v_hold.user_id, p_email,
                'pending_payment', v_amount, p_payment_token, p_now, p_now, v_deadline,
                v_hold.seat_ids)
        RETURNING * INTO o_booking;
    PERFORM tix_feed_add('checkout', v_hold.event_id, '', v_hold.seq, v_deadline,
                         v_hold.seat_ids, p_now);
    PERFORM tix_booking_rows(o_booking, p_now, 'CheckoutStarted');
    o_rc := 'ok';
END $$;

-- Free the seats of booking b's hold if the hold still has them (in checkout).
CREATE FUNCTION tix_booking_release_hold(b bookings, p_now bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_hold holds;
BEGIN
    SELECT * INTO v_hold FROM holds WHERE seq = b.hold_seq FOR UPDATE;
    IF FOUND AND v_hold.status = 'checkout' THEN
        PERFORM tix_end_hold(v_hold.seq, 'released', p_now);
    END IF;
END $$;

-- Sell the seats of booking b: in place while its hold still has them (the hold ends booked),
-- else by taking them again if every one is still free (all or none). True when sold.
CREATE FUNCTION tix_booking_sell(b bookings, p_now bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_hold holds;
    v_seats text[];
    v_taken integer;
BEGIN
    SELECT * INTO v_hold FROM holds WHERE seq = b.hold_seq FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    v_seats := tix_seat_ids(v_hold.seat_ids, 'hold ' || v_hold.id);
    IF v_hold.status <> 'checkout' THEN -- let go meanwhile: take the seats again, all or none
        UPDATE seats SET status = 'held', hold_seq = v_hold.seq
            WHERE event_id = v_hold.event_id AND seat_id = ANY (v_seats) AND status = 'available';
        GET DIAGNOSTICS v_taken = ROW_COUNT;
        IF v_taken <> cardinality(v_seats) THEN
            UPDATE seats SET status = 'available', hold_seq = NULL
                WHERE hold_seq = v_hold.seq AND status <> 'available';
            RETURN false;
        END IF;
    ELSE
        PERFORM tix_end_hold(v_hold.seq, 'booked', p_now);
    END IF;
    UPDATE seats SET status = 'sold' WHERE hold_seq = v_hold.seq AND status = 'held';
    PERFORM tix_feed_add('sold', v_hold.event_id, '', v_hold.seq, 0, v_hold.seat_ids, p_now);
    RETURN true;
END $$;

-- Mark the delivery a payment or refund outcome answers delivered (p_seq 0: none).
CREATE FUNCTION tix_delivered(p_seq bigint, p_now bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE deliveries SET status = 'delivered', last_error = '', updated_at_ms = p_now,
                          lease_owner = '', lease_until_ms = 0
    WHERE seq = p_seq AND p_seq <> 0 AND status = 'pending'
$$;

-- PAYMENT: the provider's answer to a charge. Applying it twice changes nothing the second time.
CREATE FUNCTION tix_payment(p_now bigint, p_booking_id text, p_ok boolean, p_payment_id text,
                            p_delivery_seq bigint, OUT o_rc text)
LANGUAGE plpgsql AS $$
DECLARE
    v_booking bookings := tix_booking_lock(p_booking_id);
    v_moved bookings;
    v_sold boolean;
BEGIN
    IF v_booking.seq IS NULL THEN
        NULL;
    ELSIF NOT p_ok THEN -- declined: the booking fails and its seats are free at once
        IF v_booking.status = 'pending_payment' THEN
            v_moved := tix_booking_move(v_booking, 'payment_failed', NULL, NULL, p_now);
            PERFORM tix_booking_release_hold(v_moved, p_now);
            PERFORM tix_booking_rows(v_moved, p_now, 'PaymentFailed');
        END IF;
    ELSIF v_booking.status = 'pending_payment' THEN
        v_sold := tix_booking_sell(v_booking, p_now);
        v_moved := tix_booking_move(v_booking, CASE WHEN v_sold THEN 'confirmed' ELSE 'cancelled'
                                               END, p_payment_id, NULL, p_now);
        IF v_sold THEN
            PERFORM tix_booking_rows(v_moved, p_now, 'PaymentSucceeded', 'BookingConfirmed');
        ELSE -- paid after its seats were taken: never money without a seat
            RAISE WARNING 'tix: booking % paid after its seats were taken: refunding', v_moved.id;
            PERFORM tix_booking_rows(v_moved, p_now, 'PaymentSucceeded', 'BookingCancelled',
                                     'RefundRequested');
        END IF;
    ELSIF v_booking.status = 'cancelled' AND v_booking.payment_id = '' THEN
        -- cancelled while the charge was in flight: give it back
        v_moved := tix_booking_move(v_booking, 'cancelled', p_payment_id, NULL, p_now);
        PERFORM tix_booking_rows(v_moved, p_now, 'PaymentSucceeded', 'RefundRequested');
    END IF; -- confirmed, payment_failed: already decided, a repeated result
    PERFORM tix_delivered(p_delivery_seq, p_now);
    o_rc := 'ok';
END $$;

-- REFUND: the provider's answer to a refund (always a success).
CREATE FUNCTION tix_refund(p_now bigint, p_booking_id text, p_refund_id text,
                           p_delivery_seq bigint, OUT o_rc text)
LANGUAGE plpgsql AS $$
DECLARE
    v_booking bookings := tix_booking_lock(p_booking_id);
    v_moved bookings;
BEGIN
    o_rc := 'ok';
    IF v_booking.seq IS NOT NULL AND v_booking.refund_id = '' THEN
        v_moved := tix_booking_move(v_booking, v_booking.status, NULL, p_refund_id, p_now);
        PERFORM tix_booking_rows(v_moved, p_now, 'RefundSucceeded');
    END IF;
    PERFORM tix_delivered(p_delivery_seq, p_now);
END $$;

-- CANCEL: a pending or confirmed booking; its seats are free at once, money taken is refunded.
CREATE FUNCTION tix_cancel(p_key text, p_hash text, p_now bigint, p_id text, p_actor text,
                           OUT o_rc text, OUT o_idem_status integer, OUT o_idem_body bytea,
                           OUT o_booking bookings)
LANGUAGE plpgsql AS $$
DECLARE
    v_was text;
BEGIN
    SELECT * INTO o_rc, o_idem_status, o_idem_body FROM tix_idem_begin(p_key, p_hash, p_now);
    IF o_rc <> 'ok' THEN RETURN; END IF; -- the key was answered before
    o_booking := tix_booking_lock(p_id);
    v_was := o_booking.status;
    IF o_booking.seq IS NULL THEN
        o_rc := 'booking_not_found';
        RETURN;
    ELSIF p_actor <> '' AND o_booking.user_id <> p_actor THEN
        o_rc := 'forbidden';
        RETURN;
    ELSIF v_was NOT IN ('pending_payment', 'confirmed') THEN
        o_rc := 'booking_not_cancellable';
        RETURN;
    END IF;
    o_booking := tix_booking_move(o_booking, 'cancelled', NULL, NULL, p_now);
    IF v_was = 'pending_payment' THEN
        PERFORM tix_booking_release_hold(o_booking, p_now);
    ELSE -- sold: free them, with the change (the hold stays booked)
        UPDATE seats SET status = 'available', hold_seq = NULL
            WHERE hold_seq = o_booking.hold_seq AND status <> 'available';
        PERFORM tix_feed_add('freed', o_booking.event_id, '', o_booking.hold_seq, 0,
                             o_booking.seat_ids, p_now);
    END IF;
    PERFORM tix_booking_rows(o_booking, p_now, 'BookingCancelled');
    IF v_was = 'confirmed' AND o_booking.payment_id <> '' THEN
        PERFORM tix_booking_rows(o_booking, p_now, 'RefundRequested');
    END IF;
    o_rc := 'ok';
END $$;
