/* buyer: one virtual buyer's walk through a flash sale, a state machine over one transfer.
 *
 *   SEAT_MAP  GET /events/{id}/seats?status=available; sample up to K x 4 available seats
 *   HOLD      POST /events/{id}/holds with 1..K of them; on 409 seat_unavailable replace the
 *             taken seats with other sampled ones, at most 3 times
 *   CHECKOUT  POST /holds/{id}/checkout (payment token, email, Idempotency-Key)
 *   BOOKING   GET /bookings/{id} every 100 ms until confirmed, payment_failed or cancelled
 *
 * Every POST carries an Idempotency-Key, so a POST retried after no answer (or after 409
 * idempotency_key_in_flight, or 503) can never make a second hold or booking. A buyer has at
 * most one request in flight or one timer pending, never both; every loop and every wait it
 * has is bounded by the limits in internal.h. */
#include "loadtest/responses.h"
#include "loadtest/session.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const buyer__step_names[LOADTEST_STEPS] = {"seat map", "hold", "checkout",
                                                              "booking"};

static void buyer__send(loadtest_buyer *b);
static void buyer__on_done(loadtest_transfer *t);

/* Move to `step`, keeping the count of buyers reading a seat map (they hold big buffers). */
static void buyer__enter(loadtest_buyer *b, loadtest_step step)
{
    loadtest_session *s = b->session;
    if (b->step == LOADTEST_STEP_SEAT_MAP && step != LOADTEST_STEP_SEAT_MAP) {
        assert(s->seat_map_active > 0);
        s->seat_map_active--;
        loadtest_transfer_trim(&b->transfer);
    }
    b->step = step;
    b->retries = 0;
}

static void buyer__finish(loadtest_buyer *b, loadtest_outcome outcome)
{
    loadtest_session *s = b->session;
    assert(b->active && !b->transfer.in_flight);
    if (b->step == LOADTEST_STEP_SEAT_MAP) buyer__enter(b, LOADTEST_STEP_HOLD);
    b->active = false;
    s->stats.outcomes[outcome]++;
    s->stats.buyers_done++;
    assert(s->active > 0 && s->free_count < s->config->concurrency);
    s->active--;
    s->free_slots[s->free_count++] = b->slot;
}

/* Send the current step's request again after delay_ms. */
static void buyer__sleep(loadtest_buyer *b, int64_t delay_ms)
{
    loadtest_session *s = b->session;
    if (loadtest_timers_add(&s->timers, loadtest_now_us() + delay_ms * 1000, b) != 0) {
        assert(!"a buyer has at most one timer and the heap has room for all of them");
        buyer__finish(b, LOADTEST_OUTCOME_ERROR);
    }
}

/* The request may succeed if tried again (no answer, 503, key in flight): wait as the server
 * asks (bounded) and retry, or give up after LOADTEST_RETRIES_MAX retries. */
static void buyer__retry_later(loadtest_buyer *b)
{
    const loadtest_transfer *t = &b->transfer;
    if (b->retries >= LOADTEST_RETRIES_MAX) {
        if (b->step == LOADTEST_STEP_CHECKOUT && t->status == 0)
            loadtest_session_track_lost(b->session, b->number);
        buyer__finish(b, LOADTEST_OUTCOME_ERROR);
        return;
    }
    b->retries++;
    int64_t delay_ms = LOADTEST_RETRY_DELAY_MS;
    if (t->retry_after_s > 0) delay_ms = (int64_t)t->retry_after_s * 1000;
    if (delay_ms > LOADTEST_RETRY_AFTER_MS_MAX) delay_ms = LOADTEST_RETRY_AFTER_MS_MAX;
    buyer__sleep(b, delay_ms);
}

/* Keep polling the booking, unless it has been pending too long. */
static void buyer__poll_again(loadtest_buyer *b)
{
    int64_t waited_us = loadtest_now_us() - b->poll_started_us;
    if (waited_us >= (int64_t)LOADTEST_POLL_DURATION_MS_MAX * 1000) {
        buyer__finish(b, LOADTEST_OUTCOME_PENDING);
        return;
    }
    buyer__sleep(b, LOADTEST_POLL_INTERVAL_MS);
}

/* Sample the available seats of the map into the candidates (reservoir sampling, then a
 * Fisher-Yates shuffle so the seats are tried in random order). Returns 0 or -1 (bad map). */
static int buyer__read_seat_map(loadtest_buyer *b)
{
    cJSON *root = loadtest_response_parse(&b->transfer);
    const cJSON *seats = root ? cJSON_GetObjectItemCaseSensitive(root, "seats") : NULL;
    if (!cJSON_IsArray(seats)) {
        loadtest_json_free(root);
        return -1;
    }
    uint32_t cap = b->session->candidates_max, seen = 0;
    const cJSON *seat;
    cJSON_ArrayForEach(seat, seats)
    {
        const char *id = loadtest_json_string(seat, "id");
        const char *status = loadtest_json_string(seat, "status");
        if (!id || !status || strcmp(status, "available") != 0) continue;
        size_t len = strlen(id);
        if (len == 0 || len >= TIX_SEAT_ID_LEN_MAX || seen == UINT32_MAX) continue;
        uint32_t slot = seen < cap ? seen : loadtest_prng_below(&b->prng, seen + 1);
        if (slot < cap) memcpy(b->candidates[slot], id, len + 1);
        seen++;
    }
    loadtest_json_free(root);
    b->candidate_count = seen < cap ? seen : cap;
    for (uint32_t i = b->candidate_count; i > 1; i--) {
        uint32_t j = loadtest_prng_below(&b->prng, i);
        char tmp[TIX_SEAT_ID_LEN_MAX];
        memcpy(tmp, b->candidates[i - 1], sizeof(tmp));
        memcpy(b->candidates[i - 1], b->candidates[j], sizeof(tmp));
        memcpy(b->candidates[j], tmp, sizeof(tmp));
    }
    b->candidate_next = 0;
    return 0;
}

/* Fill the hold's seats up to `wanted` with candidates not tried yet. Returns whether there
 * were enough. */
static bool buyer__choose_seats(loadtest_buyer *b)
{
    while (b->chosen_count < b->wanted && b->candidate_next < b->candidate_count)
        memcpy(b->chosen[b->chosen_count++], b->candidates[b->candidate_next++],
               TIX_SEAT_ID_LEN_MAX);
    return b->chosen_count == b->wanted;
}

/* Drop from the chosen seats those a 409 names as taken (all of them if it names none). */
static void buyer__drop_taken_seats(loadtest_buyer *b, const cJSON *root)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *taken = cJSON_GetObjectItemCaseSensitive(error, "seat_ids");
    uint32_t before = b->chosen_count;
    const cJSON *item;
    cJSON_ArrayForEach(item, taken)
    {
        if (!cJSON_IsString(item)) continue;
        for (uint32_t i = 0; i < b->chosen_count; i++) {
            if (strcmp(b->chosen[i], item->valuestring) != 0) continue;
            memcpy(b->chosen[i], b->chosen[--b->chosen_count], TIX_SEAT_ID_LEN_MAX);
            break;
        }
    }
    if (b->chosen_count == before) b->chosen_count = 0;
}

static void buyer__on_seat_map(loadtest_buyer *b)
{
    loadtest_session *s = b->session;
    if (b->transfer.status != 200 || buyer__read_seat_map(b) != 0) {
        loadtest_stats_error(&s->stats, b->transfer.status, "seat map: unexpected answer");
        buyer__finish(b, LOADTEST_OUTCOME_ERROR);
        return;
    }
    if (b->candidate_count == 0) {
        buyer__finish(b, LOADTEST_OUTCOME_NO_SEATS);
        return;
    }
    if (b->wanted > b->candidate_count) b->wanted = b->candidate_count;
    buyer__enter(b, LOADTEST_STEP_HOLD);
    b->chosen_count = 0;
    bool enough = buyer__choose_seats(b);
    assert(enough);
    (void)enough;
    buyer__send(b);
}

static void buyer__on_hold_conflict(loadtest_buyer *b, const cJSON *root)
{
    b->session->stats.hold_conflicts++;
    b->hold_attempts++;
    buyer__drop_taken_seats(b, root);
    if (b->hold_attempts >= LOADTEST_HOLD_ATTEMPTS_MAX || !buyer__choose_seats(b)) {
        buyer__finish(b, LOADTEST_OUTCOME_CONFLICTS);
        return;
    }
    b->retries = 0;
    buyer__send(b);
}

static void buyer__on_hold(loadtest_buyer *b)
{
    loadtest_session *s = b->session;
    cJSON *root = loadtest_response_parse(&b->transfer);
    long status = b->transfer.status;
    const char *code = root ? loadtest_json_error_code(root) : "";
    if (status == 201 && root && loadtest_json_copy_id(root, "id", b->hold_id) == 0) {
        s->stats.holds_created++;
        s->stats.holds_per_s[loadtest_stats_second(&s->stats, loadtest_now_us())]++;
        buyer__enter(b, LOADTEST_STEP_CHECKOUT);
        buyer__send(b);
    } else if (status == 409 && strcmp(code, "seat_unavailable") == 0) {
        buyer__on_hold_conflict(b, root);
    } else if (status == 409 && strcmp(code, "idempotency_key_in_flight") == 0) {
        buyer__retry_later(b);
    } else {
        loadtest_stats_error(&s->stats, status, "hold: %s", code[0] ? code : "unexpected answer");
        buyer__finish(b, LOADTEST_OUTCOME_ERROR);
    }
    loadtest_json_free(root);
}

static void buyer__on_checkout(loadtest_buyer *b)
{
    loadtest_session *s = b->session;
    cJSON *root = loadtest_response_parse(&b->transfer);
    long status = b->transfer.status;
    const char *code = root ? loadtest_json_error_code(root) : "";
    if (status == 202 && root &&
        (loadtest_json_copy_id(root, "booking_id", b->booking_id) == 0 ||
         loadtest_json_copy_id(root, "id", b->booking_id) == 0)) {
        b->booking_index =
            loadtest_session_track_booking(s, b->booking_id, (uint8_t)b->chosen_count);
        buyer__enter(b, LOADTEST_STEP_BOOKING);
        b->poll_started_us = loadtest_now_us();
        buyer__sleep(b, LOADTEST_POLL_INTERVAL_MS);
    } else if (status == 409 && strcmp(code, "idempotency_key_in_flight") == 0) {
        buyer__retry_later(b);
    } else {
        loadtest_stats_error(&s->stats, status, "checkout: %s",
                             code[0] ? code : "unexpected answer");
        buyer__finish(b, LOADTEST_OUTCOME_ERROR);
    }
    loadtest_json_free(root);
}

static void buyer__on_booking(loadtest_buyer *b)
{
    loadtest_session *s = b->session;
    cJSON *root = loadtest_response_parse(&b->transfer);
    booking_status status = BOOKING_PENDING_PAYMENT;
    bool ok = b->transfer.status == 200 && root &&
              model_booking_status_parse(loadtest_json_string(root, "status"), &status) == 0;
    loadtest_json_free(root);
    if (!ok) {
        loadtest_stats_error(&s->stats, b->transfer.status, "booking: unexpected answer");
        buyer__poll_again(b);
        return;
    }
    if (b->booking_index != UINT64_MAX) s->bookings[b->booking_index].status = (uint8_t)status;
    if (status == BOOKING_PENDING_PAYMENT) {
        buyer__poll_again(b);
        return;
    }
    int64_t now_us = loadtest_now_us();
    loadtest_histogram_record(&s->stats.latency[LOADTEST_STEP_BOOKING],
                              now_us - b->poll_started_us);
    if (status == BOOKING_CONFIRMED) {
        s->stats.seats_confirmed += b->chosen_count;
        s->stats.confirmed_per_s[loadtest_stats_second(&s->stats, now_us)]++;
        buyer__finish(b, LOADTEST_OUTCOME_CONFIRMED);
    } else {
        buyer__finish(b, status == BOOKING_PAYMENT_FAILED ? LOADTEST_OUTCOME_PAYMENT_FAILED
                                                          : LOADTEST_OUTCOME_CANCELLED);
    }
}

static void buyer__on_done(loadtest_transfer *t)
{
    loadtest_buyer *b = t->owner;
    loadtest_session *s = b->session;
    assert(b->active && t == &b->transfer);
    const char *step = buyer__step_names[b->step];
    if (t->status != 0 && b->step != LOADTEST_STEP_BOOKING)
        loadtest_histogram_record(&s->stats.latency[b->step], t->latency_us);
    if (t->status == 0 || t->status == 503) {
        if (t->status == 0)
            loadtest_stats_error(&s->stats, 0, "%s: %s%s", step, t->curl_error,
                                 t->response_too_large ? " (response too large)" : "");
        else
            loadtest_stats_error(&s->stats, 503, "%s: 503 from the server", step);
        if (t->response_too_large)
            buyer__finish(b, LOADTEST_OUTCOME_ERROR);
        else if (b->step == LOADTEST_STEP_BOOKING)
            buyer__poll_again(b);
        else
            buyer__retry_later(b);
        return;
    }
    switch (b->step) {
    case LOADTEST_STEP_SEAT_MAP:
        buyer__on_seat_map(b);
        break;
    case LOADTEST_STEP_HOLD:
        buyer__on_hold(b);
        break;
    case LOADTEST_STEP_CHECKOUT:
        buyer__on_checkout(b);
        break;
    case LOADTEST_STEP_BOOKING:
        buyer__on_booking(b);
        break;
    default:
        assert(!"unknown step");
        buyer__finish(b, LOADTEST_OUTCOME_ERROR);
    }
}

/* Body of the hold request: the user and the chosen seats. */
static void buyer__hold_body(loadtest_buyer *b, buf *body)
{
    buf_reset(body);
    buf_append_str(body, "{\"user_id\":");
    buf_append_json_str(body, b->user_id);
    buf_append_str(body, ",\"seat_ids\":[");
    for (uint32_t i = 0; i < b->chosen_count; i++) {
        if (i) buf_append_char(body, ',');
        buf_append_json_str(body, b->chosen[i]);
    }
    buf_append_str(body, "]}");
}

static void buyer__checkout_body(loadtest_buyer *b, buf *body)
{
    buf_reset(body);
    buf_append_str(body, "{\"payment_token\":");
    buf_append_json_str(body, b->session->config->payment_token);
    buf_appendf(body, ",\"email\":\"%s@loadtest.invalid\"}", b->user_id);
}

static void buyer__send(loadtest_buyer *b)
{
    loadtest_session *s = b->session;
    loadtest_transfer *t = &b->transfer;
    char path[256];
    int rc = -1;
    switch (b->step) {
    case LOADTEST_STEP_SEAT_MAP:
        snprintf(path, sizeof(path), "%s/seats?status=available", s->event_path);
        rc = loadtest_transfer_get(t, path, LOADTEST_SEAT_MAP_BYTES_MAX, buyer__on_done);
        break;
    case LOADTEST_STEP_HOLD:
        snprintf(path, sizeof(path), "%s/holds", s->event_path);
        snprintf(b->key, sizeof(b->key), "%s-hold-%u", b->user_id, b->hold_attempts);
        buyer__hold_body(b, &t->request);
        rc = loadtest_transfer_post(t, path, b->key, LOADTEST_RESPONSE_BYTES_MAX, buyer__on_done);
        break;
    case LOADTEST_STEP_CHECKOUT:
        snprintf(path, sizeof(path), "/holds/%s/checkout", b->hold_id);
        snprintf(b->key, sizeof(b->key), "%s-checkout", b->user_id);
        buyer__checkout_body(b, &t->request);
        rc = loadtest_transfer_post(t, path, b->key, LOADTEST_RESPONSE_BYTES_MAX, buyer__on_done);
        break;
    case LOADTEST_STEP_BOOKING:
        snprintf(path, sizeof(path), "/bookings/%s", b->booking_id);
        rc = loadtest_transfer_get(t, path, LOADTEST_RESPONSE_BYTES_MAX, buyer__on_done);
        break;
    default:
        assert(!"unknown step");
    }
    if (rc != 0) {
        loadtest_stats_error(&s->stats, 0, "%s: %s", buyer__step_names[b->step], t->curl_error);
        buyer__finish(b, LOADTEST_OUTCOME_ERROR);
    }
}

void loadtest_buyer_start(loadtest_session *s, uint64_t number)
{
    assert(s->free_count > 0 && s->active < s->config->concurrency);
    loadtest_buyer *b = &s->buyers[s->free_slots[--s->free_count]];
    assert(!b->active && !b->transfer.in_flight);
    b->number = number;
    b->prng = loadtest_prng_seed(s->config->seed, number);
    snprintf(b->user_id, sizeof(b->user_id), "lt-%s-%llu", s->run_id, (unsigned long long)number);
    b->wanted = 1 + loadtest_prng_below(&b->prng, s->seats_per_buyer);
    b->candidate_count = b->candidate_next = b->chosen_count = 0;
    b->hold_attempts = b->retries = 0;
    b->hold_id[0] = b->booking_id[0] = '\0';
    b->booking_index = UINT64_MAX;
    b->active = true;
    b->step = LOADTEST_STEP_SEAT_MAP;
    s->active++;
    s->seat_map_active++;
    s->stats.buyers_started++;
    buyer__send(b);
}

void loadtest_buyer_wake(loadtest_buyer *b)
{
    assert(b->active && !b->transfer.in_flight);
    buyer__send(b);
}

void loadtest_buyer_abort(loadtest_buyer *b)
{
    assert(b->active);
    loadtest_transfer_cancel(&b->transfer);
    buyer__finish(b, LOADTEST_OUTCOME_ABORTED);
}
