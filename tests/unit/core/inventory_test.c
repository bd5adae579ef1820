/* inventory: building the seat index from a spec, seat lookup, hold and free, lapsed holds,
 * counts, the seat map JSON, and the memory a seat costs. */
#include "../test.h"

/* Feed positions for the changes these tests apply: each one later than the last. */
static uint64_t inv_test_version;

#include "../fixtures.h"
#include "core/inventory.h"
#include "util/clock.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* The small event most tests use: 25 seats.
 *   Floor   (5000): rows A, B of 10 seats -> A1..A10 = 0..9, B1..B10 = 10..19
 *   Balcony (2500): row C of 5 seats      -> C1..C5 = 20..24 */
static inv_event *add_small_event(inventory *inv, const char *id)
{
    event_spec spec;
    fx_spec_init(&spec, id, 600, 10);
    static const char *const floor_rows[] = {"A", "B"};
    static const char *const balcony_rows[] = {"C"};
    fx_spec_add_section(&spec, "Floor", 5000, 10, floor_rows, 2);
    fx_spec_add_section(&spec, "Balcony", 2500, 5, balcony_rows, 1);
    inv_event *ev = NULL;
    if (inventory_add_event(inv, &spec, &ev) != TIX_RC_OK) {
        model_event_spec_free(&spec);
        return NULL;
    }
    return ev;
}

static int64_t find(const inv_event *ev, const char *seat_id)
{
    return inv_event_seat_find(ev, seat_id, strlen(seat_id));
}

static seat_status status_at(inv_event *ev, uint32_t index, int64_t now_ms)
{
    pthread_rwlock_rdlock(&ev->lock);
    seat_status s = inv_event_seat_status(ev, index, now_ms);
    pthread_rwlock_unlock(&ev->lock);
    return s;
}

/* The seat map at now_ms with filter, parsed. */
static cJSON *seat_map(inv_event *ev, int filter, int64_t now_ms)
{
    buf b;
    buf_init(&b, 1 << 26);
    cJSON *root = NULL;
    if (inv_event_write_seat_map(ev, filter, now_ms, 0, &b, NULL) == 0)
        root = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
    return root;
}

static double num(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(item) ? item->valuedouble : -1;
}

static const char *str(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static const cJSON *seats_of(const cJSON *map)
{
    return cJSON_GetObjectItemCaseSensitive(map, "seats");
}

TEST(inventory_add_event_indexes_every_seat_as_available)
{
    inventory *inv = inventory_create();
    event_spec spec;
    fx_spec_init(&spec, "evt-1", 600, 10);
    static const char *const rows[] = {"A", "B"};
    fx_spec_add_section(&spec, "Floor", 5000, 10, rows, 2);
    inv_event *ev = NULL;
    ASSERT_EQ_INT(inventory_add_event(inv, &spec, &ev), TIX_RC_OK);
    ASSERT_NOT_NULL(ev);
    /* the spec moved into the inventory */
    ASSERT_NULL(spec.name);
    ASSERT_NULL(spec.sections);
    ASSERT_EQ_INT(spec.section_count, 0);
    ASSERT_EQ_STR(ev->spec.id, "evt-1");
    ASSERT_EQ_STR(ev->spec.name, "Event evt-1");
    ASSERT_EQ_INT(ev->seat_count, 20);
    ASSERT_EQ_INT(ev->row_count, 2);
    inv_counts c = inv_event_counts(ev, clock_now_ms());
    ASSERT_EQ_INT(c.total, 20);
    ASSERT_EQ_INT(c.available, 20);
    ASSERT_EQ_INT(c.held, 0);
    ASSERT_EQ_INT(c.sold, 0);
    ASSERT_TRUE(inventory_find(inv, "evt-1", 5) == ev);
    inventory_destroy(inv);
}

TEST(inventory_find_matches_whole_ids_only)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "evt-1");
    ASSERT_NOT_NULL(ev);
    ASSERT_TRUE(inventory_find(inv, "evt-1", 5) == ev);
    ASSERT_TRUE(inventory_find(inv, "evt-1/seats", 5) == ev); /* a slice of a longer string */
    ASSERT_NULL(inventory_find(inv, "evt-", 4));
    ASSERT_NULL(inventory_find(inv, "evt-12", 6));
    ASSERT_NULL(inventory_find(inv, "EVT-1", 5));
    ASSERT_NULL(inventory_find(inv, "", 0));
    inventory_destroy(inv);
}

TEST(inventory_list_returns_events_in_creation_order)
{
    inventory *inv = inventory_create();
    inv_event *a = add_small_event(inv, "a"), *b = add_small_event(inv, "b"),
              *c = add_small_event(inv, "c");
    ASSERT_TRUE(a && b && c);
    inv_event *list[3] = {NULL, NULL, NULL};
    ASSERT_EQ_INT(inventory_list(inv, list, 3), 3);
    ASSERT_TRUE(list[0] == a && list[1] == b && list[2] == c);
    inv_event *two[2] = {NULL, NULL};
    ASSERT_EQ_INT(inventory_list(inv, two, 2), 3); /* how many there are, filling only max */
    ASSERT_TRUE(two[0] == a && two[1] == b);
    inventory_destroy(inv);
}

TEST(inventory_add_event_rejects_a_duplicate_id_and_leaves_the_spec_with_the_caller)
{
    inventory *inv = inventory_create();
    inv_event *first = add_small_event(inv, "dup");
    ASSERT_NOT_NULL(first);
    event_spec spec;
    fx_spec_init(&spec, "dup", 600, 10);
    static const char *const rows[] = {"Z"};
    fx_spec_add_section(&spec, "Other", 1, 3, rows, 1);
    inv_event *out = (inv_event *)&spec; /* must stay as it is */
    ASSERT_EQ_INT(inventory_add_event(inv, &spec, &out), TIX_RC_EVENT_EXISTS);
    ASSERT_TRUE(out == (inv_event *)&spec);
    ASSERT_EQ_STR(spec.name, "Event dup");
    ASSERT_EQ_INT(spec.section_count, 1);
    inv_event *list[4];
    ASSERT_EQ_INT(inventory_list(inv, list, 4), 1);
    ASSERT_TRUE(inventory_find(inv, "dup", 3) == first);
    ASSERT_EQ_INT(first->seat_count, 25);
    model_event_spec_free(&spec);
    inventory_destroy(inv);
}

TEST(inventory_add_event_refuses_a_spec_whose_seat_ids_collide)
{
    /* Row "A" seat 11 and row "A1" seat 1 would both be "A11". */
    inventory *inv = inventory_create();
    event_spec spec;
    fx_spec_init(&spec, "collide", 600, 10);
    static const char *const rows[] = {"A", "A1"};
    fx_spec_add_section(&spec, "S", 1, 11, rows, 2);
    inv_event *ev = NULL;
    ASSERT_NE_INT(inventory_add_event(inv, &spec, &ev), TIX_RC_OK);
    ASSERT_NULL(ev);
    ASSERT_EQ_STR(spec.name, "Event collide"); /* still the caller's */
    ASSERT_NULL(inventory_find(inv, "collide", 7));
    model_event_spec_free(&spec);
    inventory_destroy(inv);
}

TEST(inventory_event_without_seats_is_valid_and_empty)
{
    inventory *inv = inventory_create();
    event_spec spec;
    fx_spec_init(&spec, "empty", 600, 10);
    inv_event *ev = NULL;
    ASSERT_EQ_INT(inventory_add_event(inv, &spec, &ev), TIX_RC_OK);
    ASSERT_EQ_INT(ev->seat_count, 0);
    ASSERT_EQ_INT(find(ev, "A1"), -1);
    inv_counts c = inv_event_counts(ev, 0);
    ASSERT_EQ_INT(c.total, 0);
    cJSON *map = seat_map(ev, -1, 0);
    ASSERT_NOT_NULL(map);
    ASSERT_EQ_INT(cJSON_GetArraySize(seats_of(map)), 0);
    ASSERT_EQ_INT(num(map, "total_seats"), 0);
    cJSON_Delete(map);
    inventory_destroy(inv);
}

TEST(seat_ids_are_row_label_then_number_in_creation_order)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "e");
    ASSERT_NOT_NULL(ev);
    static const struct {
        uint32_t index;
        const char *id;
    } cases[] = {{0, "A1"}, {9, "A10"}, {10, "B1"}, {19, "B10"}, {20, "C1"}, {24, "C5"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char id[TIX_SEAT_ID_LEN_MAX];
        size_t len = inv_event_seat_id(ev, cases[i].index, id);
        ASSERT_EQ_STR(id, cases[i].id);
        ASSERT_EQ_INT(len, strlen(cases[i].id));
        ASSERT_EQ_INT(find(ev, cases[i].id), cases[i].index);
    }
    /* rows know their section */
    ASSERT_EQ_INT(ev->rows[ev->seats[20].row_index].section_index, 1);
    ASSERT_EQ_INT(ev->seats[24].number, 5);
    inventory_destroy(inv);
}

TEST(seat_find_rejects_unknown_ids)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "e");
    ASSERT_NOT_NULL(ev);
    static const char *const unknown[] = {"A0",  "A11", "C6",  "D1",  "a1",  "A",    "1",
                                          "A01", " A1", "A1 ", "B-1", "AA1", "C1C1", NULL};
    for (size_t i = 0; unknown[i]; i++) {
        if (find(ev, unknown[i]) != -1) {
            test_fail(__FILE__, __LINE__, "\"%s\" found", unknown[i]);
            return;
        }
    }
    ASSERT_EQ_INT(inv_event_seat_find(ev, "", 0), -1);
    ASSERT_EQ_INT(inv_event_seat_find(ev, "A1\0", 3), -1);
    ASSERT_EQ_INT(inv_event_seat_find(ev, "A12", 2), 0); /* the slice "A1" */
    char long_id[64];
    memset(long_id, 'A', sizeof(long_id));
    ASSERT_EQ_INT(inv_event_seat_find(ev, long_id, TIX_SEAT_ID_LEN_MAX), -1);
    ASSERT_EQ_INT(inv_event_seat_find(ev, long_id, sizeof(long_id)), -1);
    inventory_destroy(inv);
}

TEST(seat_find_finds_every_seat_of_a_200000_seat_event)
{
    inventory *inv = inventory_create();
    event_spec spec;
    fx_spec_init(&spec, "big", 600, 10);
    fx_spec_add_rows(&spec, "Lower", 100, 1000, 0, 100);
    fx_spec_add_rows(&spec, "Upper", 50, 1000, 100, 100);
    inv_event *ev = NULL;
    ASSERT_EQ_INT(inventory_add_event(inv, &spec, &ev), TIX_RC_OK);
    ASSERT_EQ_INT(ev->seat_count, 200000);
    for (uint32_t i = 0; i < ev->seat_count; i++) {
        char id[TIX_SEAT_ID_LEN_MAX];
        size_t len = inv_event_seat_id(ev, i, id);
        int64_t found = inv_event_seat_find(ev, id, len);
        if (found != (int64_t)i) {
            test_fail(__FILE__, __LINE__, "seat %u (%s) found at %lld", i, id, (long long)found);
            inventory_destroy(inv);
            return;
        }
    }
    /* Ids of the right shape that are not seats: past the row's end, seat 0, unknown rows. */
    char label[TIX_ROW_LABEL_LEN_MAX + 1], id[64];
    for (uint32_t r = 0; r < 200; r++) {
        fx_row_label(r, label);
        snprintf(id, sizeof(id), "%s1001", label);
        ASSERT_EQ_INT(find(ev, id), -1);
        snprintf(id, sizeof(id), "%s0", label);
        ASSERT_EQ_INT(find(ev, id), -1);
    }
    fx_row_label(200, label);
    snprintf(id, sizeof(id), "%s1", label);
    ASSERT_EQ_INT(find(ev, id), -1);
    ASSERT_EQ_INT(find(ev, "ZZZZ1"), -1);
    inventory_destroy(inv);
}

TEST(apply_hold_makes_seats_held_by_the_hold_until_it_expires)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "e");
    ASSERT_NOT_NULL(ev);
    uint64_t v0 = ev->version;
    const uint32_t seats[] = {0, 5, 20};
    inv_event_apply_hold(ev, seats, 3, 7, 10000, SEAT_HELD, ++inv_test_version);
    ASSERT_GT(ev->version, v0);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(status_at(ev, seats[i], 9999), SEAT_HELD);
        ASSERT_EQ_INT(ev->seats[seats[i]].hold_seq, 7);
        ASSERT_EQ_INT(ev->seats[seats[i]].hold_expires_ms, 10000);
    }
    ASSERT_EQ_INT(status_at(ev, 1, 9999), SEAT_AVAILABLE);
    inv_counts c = inv_event_counts(ev, 9999);
    ASSERT_EQ_INT(c.total, 25);
    ASSERT_EQ_INT(c.held, 3);
    ASSERT_EQ_INT(c.available, 22);
    ASSERT_EQ_INT(c.sold, 0);
    const uint32_t asked[] = {1, 0, 24, 5};
    uint32_t taken[4];
    ASSERT_EQ_INT(inv_event_find_taken(ev, asked, 4, 9999, taken), 2);
    ASSERT_EQ_INT(taken[0], 0);
    ASSERT_EQ_INT(taken[1], 5);
    inventory_destroy(inv);
}

TEST(held_seat_whose_hold_has_lapsed_reads_available)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "e");
    ASSERT_NOT_NULL(ev);
    const uint32_t seats[] = {3, 4};
    inv_event_apply_hold(ev, seats, 2, 9, 10000, SEAT_HELD, ++inv_test_version);
    ASSERT_EQ_INT(status_at(ev, 3, 9999), SEAT_HELD);
    ASSERT_EQ_INT(status_at(ev, 3, 10000), SEAT_AVAILABLE); /* expires_ms <= now */
    ASSERT_EQ_INT(status_at(ev, 3, 10001), SEAT_AVAILABLE);
    uint32_t taken[2];
    ASSERT_EQ_INT(inv_event_find_taken(ev, seats, 2, 10000, taken), 0);
    ASSERT_EQ_INT(inv_event_find_taken(ev, seats, 2, 9999, taken), 2);
    inv_counts c = inv_event_counts(ev, 10000);
    ASSERT_EQ_INT(c.available, 25);
    ASSERT_EQ_INT(c.held, 0);
    /* the stored state is untouched until the writer frees the seats */
    ASSERT_EQ_INT(ev->seats[3].status, SEAT_HELD);
    ASSERT_EQ_INT(ev->seats[3].hold_seq, 9);
    inventory_destroy(inv);
}

TEST(sold_seats_never_lapse)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "e");
    ASSERT_NOT_NULL(ev);
    const uint32_t seats[] = {24};
    inv_event_apply_hold(ev, seats, 1, 3, 10000, SEAT_SOLD, ++inv_test_version);
    ASSERT_EQ_INT(status_at(ev, 24, 10000), SEAT_SOLD);
    ASSERT_EQ_INT(status_at(ev, 24, INT64_MAX - 1), SEAT_SOLD);
    inv_counts c = inv_event_counts(ev, INT64_MAX - 1);
    ASSERT_EQ_INT(c.sold, 1);
    ASSERT_EQ_INT(c.available, 24);
    inventory_destroy(inv);
}

TEST(apply_free_frees_only_the_seats_still_held_by_that_hold)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "e");
    ASSERT_NOT_NULL(ev);
    const uint32_t first[] = {0, 1, 2};
    inv_event_apply_hold(ev, first, 3, 1, 1000, SEAT_HELD, ++inv_test_version);
    /* hold 1 lapsed; hold 2 took seat 1 over */
    const uint32_t second[] = {1};
    inv_event_apply_hold(ev, second, 1, 2, 50000, SEAT_HELD, ++inv_test_version);
    uint64_t v = ev->version;
    inv_event_apply_free(ev, first, 3, 1, ++inv_test_version);
    ASSERT_GT(ev->version, v);
    ASSERT_EQ_INT(status_at(ev, 0, 0), SEAT_AVAILABLE);
    ASSERT_EQ_INT(ev->seats[0].hold_seq, 0);
    ASSERT_EQ_INT(status_at(ev, 2, 0), SEAT_AVAILABLE);
    ASSERT_EQ_INT(status_at(ev, 1, 2000), SEAT_HELD);
    ASSERT_EQ_INT(ev->seats[1].hold_seq, 2);
    ASSERT_EQ_INT(ev->seats[1].hold_expires_ms, 50000);
    /* freeing with a hold that holds nothing changes nothing */
    inv_event_apply_free(ev, second, 1, 99, ++inv_test_version);
    ASSERT_EQ_INT(ev->seats[1].hold_seq, 2);
    ASSERT_EQ_INT(status_at(ev, 1, 2000), SEAT_HELD);
    inv_event_apply_free(ev, second, 1, 2, ++inv_test_version);
    inv_counts c = inv_event_counts(ev, 0);
    ASSERT_EQ_INT(c.available, 25);
    inventory_destroy(inv);
}

TEST(seat_map_json_lists_every_seat_with_its_section_row_price_and_status)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "evt-map");
    ASSERT_NOT_NULL(ev);
    cJSON *map = seat_map(ev, -1, 0);
    ASSERT_NOT_NULL(map);
    ASSERT_EQ_STR(str(map, "event_id"), "evt-map");
    ASSERT_EQ_INT(num(map, "total_seats"), 25);
    ASSERT_EQ_INT(num(map, "available_seats"), 25);
    const cJSON *seats = seats_of(map);
    ASSERT_EQ_INT(cJSON_GetArraySize(seats), 25);
    const cJSON *a1 = cJSON_GetArrayItem(seats, 0), *c5 = cJSON_GetArrayItem(seats, 24);
    ASSERT_EQ_STR(str(a1, "id"), "A1");
    ASSERT_EQ_STR(str(a1, "section"), "Floor");
    ASSERT_EQ_STR(str(a1, "row"), "A");
    ASSERT_EQ_INT(num(a1, "number"), 1);
    ASSERT_EQ_INT(num(a1, "price_cents"), 5000);
    ASSERT_EQ_STR(str(a1, "status"), "available");
    ASSERT_EQ_STR(str(c5, "id"), "C5");
    ASSERT_EQ_STR(str(c5, "section"), "Balcony");
    ASSERT_EQ_STR(str(c5, "row"), "C");
    ASSERT_EQ_INT(num(c5, "number"), 5);
    ASSERT_EQ_INT(num(c5, "price_cents"), 2500);
    for (int i = 0; i < 25; i++) {
        char id[TIX_SEAT_ID_LEN_MAX];
        inv_event_seat_id(ev, (uint32_t)i, id);
        ASSERT_EQ_STR(str(cJSON_GetArrayItem(seats, i), "id"), id);
    }
    cJSON_Delete(map);
    inventory_destroy(inv);
}

TEST(seat_map_json_filters_by_the_status_seats_read_as_now)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "e");
    ASSERT_NOT_NULL(ev);
    const uint32_t held[] = {0, 5}, sold[] = {24}, lapsing[] = {10};
    inv_event_apply_hold(ev, held, 2, 1, 100000, SEAT_HELD, ++inv_test_version);
    inv_event_apply_hold(ev, sold, 1, 2, 0, SEAT_SOLD, ++inv_test_version);
    inv_event_apply_hold(ev, lapsing, 1, 3, 5000, SEAT_HELD, ++inv_test_version);
    int64_t now = 4000;

    cJSON *map = seat_map(ev, SEAT_HELD, now);
    ASSERT_NOT_NULL(map);
    ASSERT_EQ_INT(num(map, "total_seats"), 25);
    ASSERT_EQ_INT(num(map, "available_seats"), 21);
    const cJSON *seats = seats_of(map);
    ASSERT_EQ_INT(cJSON_GetArraySize(seats), 3);
    ASSERT_EQ_STR(str(cJSON_GetArrayItem(seats, 0), "id"), "A1");
    ASSERT_EQ_STR(str(cJSON_GetArrayItem(seats, 1), "id"), "A6");
    ASSERT_EQ_STR(str(cJSON_GetArrayItem(seats, 2), "id"), "B1");
    ASSERT_EQ_STR(str(cJSON_GetArrayItem(seats, 2), "status"), "held");
    cJSON_Delete(map);

    map = seat_map(ev, SEAT_SOLD, now);
    ASSERT_NOT_NULL(map);
    ASSERT_EQ_INT(cJSON_GetArraySize(seats_of(map)), 1);
    ASSERT_EQ_STR(str(cJSON_GetArrayItem(seats_of(map), 0), "id"), "C5");
    ASSERT_EQ_STR(str(cJSON_GetArrayItem(seats_of(map), 0), "status"), "sold");
    cJSON_Delete(map);

    map = seat_map(ev, SEAT_AVAILABLE, now);
    ASSERT_NOT_NULL(map);
    ASSERT_EQ_INT(cJSON_GetArraySize(seats_of(map)), 21);
    cJSON_Delete(map);

    /* once hold 3 lapses, B1 reads available in the map and in its counts */
    map = seat_map(ev, SEAT_AVAILABLE, 5000);
    ASSERT_NOT_NULL(map);
    ASSERT_EQ_INT(num(map, "available_seats"), 22);
    ASSERT_EQ_INT(cJSON_GetArraySize(seats_of(map)), 22);
    cJSON_Delete(map);
    map = seat_map(ev, SEAT_HELD, 5000);
    ASSERT_EQ_INT(cJSON_GetArraySize(seats_of(map)), 2);
    cJSON_Delete(map);
    inventory_destroy(inv);
}

TEST(seat_map_json_escapes_section_names)
{
    inventory *inv = inventory_create();
    event_spec spec;
    fx_spec_init(&spec, "esc", 600, 10);
    static const char *const rows[] = {"A"};
    const char *name = "Main \"Hall\" \\ caf\xc3\xa9 </script>";
    fx_spec_add_section(&spec, name, 1, 2, rows, 1);
    inv_event *ev = NULL;
    ASSERT_EQ_INT(inventory_add_event(inv, &spec, &ev), TIX_RC_OK);
    cJSON *map = seat_map(ev, -1, 0);
    ASSERT_NOT_NULL(map);
    ASSERT_EQ_STR(str(cJSON_GetArrayItem(seats_of(map), 1), "section"), name);
    cJSON_Delete(map);
    inventory_destroy(inv);
}

TEST(seat_map_json_past_the_buffer_cap_fails)
{
    inventory *inv = inventory_create();
    inv_event *ev = add_small_event(inv, "e");
    ASSERT_NOT_NULL(ev);
    buf b;
    buf_init(&b, 300);
    ASSERT_EQ_INT(inv_event_write_seat_map(ev, -1, 0, 0, &b, NULL), -1);
    ASSERT_TRUE(b.failed);
    buf_free(&b);
    inventory_destroy(inv);
}

/* Readers and one writer at once: counts always add up (and TSan sees the locking). */
/* Bounded work on both sides: glibc's rwlock prefers readers, so readers that never stop
 * could keep the writer waiting for a long time. */
enum { RACE_READS = 500, RACE_APPLIES = 500 };

typedef struct race_ctx {
    inv_event *ev;
    atomic_int bad;
} race_ctx;

static void *race_reader(void *arg)
{
    race_ctx *r = arg;
    buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < RACE_READS; i++) {
        inv_counts c = inv_event_counts(r->ev, 0);
        if (c.available + c.held + c.sold != c.total) atomic_fetch_add(&r->bad, 1);
        const uint32_t asked[] = {0, 1, 2, 3};
        uint32_t taken[4];
        inv_event_find_taken(r->ev, asked, 4, 0, taken);
        buf_reset(&b);
        if (inv_event_write_seat_map(r->ev, SEAT_HELD, 0, 0, &b, NULL) != 0)
            atomic_fetch_add(&r->bad, 1);
    }
    buf_free(&b);
    return NULL;
}

TEST(inventory_reads_and_applies_from_many_threads_are_consistent)
{
    inventory *inv = inventory_create();
    race_ctx r = {.ev = add_small_event(inv, "race")};
    ASSERT_NOT_NULL(r.ev);
    pthread_t readers[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&readers[i], NULL, race_reader, &r);
    for (int64_t seq = 1; seq <= RACE_APPLIES; seq++) {
        uint32_t seats[2] = {(uint32_t)(seq % 25), (uint32_t)((seq * 7) % 25)};
        uint32_t n = seats[0] == seats[1] ? 1 : 2;
        inv_event_apply_hold(r.ev, seats, n, seq, INT64_MAX, SEAT_HELD, ++inv_test_version);
        if (seq % 3) inv_event_apply_free(r.ev, seats, n, seq, ++inv_test_version);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(readers[i], NULL);
    ASSERT_EQ_INT(atomic_load(&r.bad), 0);
    inventory_destroy(inv);
}

TEST(inventory_memory_per_seat_for_a_1000000_seat_event)
{
    inventory *inv = inventory_create();
    event_spec spec;
    fx_spec_init(&spec, "million", 600, 10);
    fx_spec_add_rows(&spec, "Everything", 100, TIX_SEATS_PER_ROW_MAX, 0, 100);
    ASSERT_EQ_UINT(model_event_seat_count(&spec), TIX_EVENT_SEATS_MAX);
    inv_event *ev = NULL;
    int64_t started = clock_mono_ms();
    ASSERT_EQ_INT(inventory_add_event(inv, &spec, &ev), TIX_RC_OK);
    int64_t build_ms = clock_mono_ms() - started;
    ASSERT_EQ_INT(ev->seat_count, 1000000);
    size_t labels = 0;
    for (uint32_t r = 0; r < ev->row_count; r++)
        labels += ev->rows[r].label_len + 1;
    size_t seats = (size_t)ev->seat_count * sizeof(inv_seat);
    size_t slots = ((size_t)ev->slot_mask + 1) * sizeof(uint32_t);
    size_t rows = (size_t)ev->row_count * sizeof(inv_row) + labels;
    size_t total = sizeof(inv_event) + seats + slots + rows;
    test_note("1000000 seats: %zu bytes (seats %zu, id table %zu, rows %zu) = %.1f bytes/seat; "
              "built in %lld ms",
              total, seats, slots, rows, (double)total / ev->seat_count, (long long)build_ms);
    /* a spot check that the index works at this size */
    ASSERT_EQ_INT(find(ev, "A1"), 0);
    ASSERT_EQ_INT(find(ev, "CV10000"), 999999);
    inventory_destroy(inv);
}

/* The inventory locks its event list, so adding events from several threads is meant to be
 * safe; the same id added at once by several threads must still end up there only once. */
typedef struct add_race {
    inventory *inv;
    pthread_barrier_t *start;
    tix_rc rc;
} add_race;

static void *add_race_run(void *arg)
{
    add_race *a = arg;
    event_spec spec;
    fx_spec_init(&spec, "same", 600, 10);
    fx_spec_add_rows(&spec, "Main", 1, 1000, 0, 20); /* 20,000 seats: building takes a while */
    pthread_barrier_wait(a->start);
    a->rc = inventory_add_event(a->inv, &spec, NULL);
    if (a->rc != TIX_RC_OK) model_event_spec_free(&spec);
    return NULL;
}

TEST(inventory_add_event_from_several_threads_adds_an_id_only_once)
{
    enum { N = 4 };
    inventory *inv = inventory_create();
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    add_race races[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++) {
        races[i] = (add_race){.inv = inv, .start = &start};
        pthread_create(&threads[i], NULL, add_race_run, &races[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);
    int added = 0, exists = 0;
    for (int i = 0; i < N; i++) {
        added += races[i].rc == TIX_RC_OK;
        exists += races[i].rc == TIX_RC_EVENT_EXISTS;
    }
    inv_event *list[N];
    uint32_t listed = inventory_list(inv, list, N);
    inventory_destroy(inv);
    ASSERT_EQ_INT(listed, 1);
    ASSERT_EQ_INT(added, 1);
    ASSERT_EQ_INT(exists, N - 1);
}

/* The commit writer applies every committed change under an event's write lock; if readers
 * (seat maps, counts) could keep overtaking a waiting writer, a steady flow of reads would
 * stall every write of the server. So once the writer waits, new readers must wait too. */
typedef struct starve_ctx {
    inv_event *ev;
    atomic_bool applied;
    atomic_bool reader_refused;
    atomic_bool stop_probing;
} starve_ctx;

static void *starve_writer(void *arg)
{
    starve_ctx *s = arg;
    const uint32_t seat = 0;
    inv_event_apply_hold(s->ev, &seat, 1, 1, INT64_MAX, SEAT_HELD, ++inv_test_version);
    atomic_store(&s->applied, true);
    return NULL;
}

static void *starve_prober(void *arg) /* a stream of new readers */
{
    starve_ctx *s = arg;
    while (!atomic_load(&s->stop_probing)) {
        if (pthread_rwlock_tryrdlock(&s->ev->lock) != 0) {
            atomic_store(&s->reader_refused, true);
            break;
        }
        pthread_rwlock_unlock(&s->ev->lock);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

TEST(inventory_waiting_writer_is_not_overtaken_by_new_readers)
{
    inventory *inv = inventory_create();
    starve_ctx s = {.ev = add_small_event(inv, "e")};
    ASSERT_NOT_NULL(s.ev);
    pthread_rwlock_rdlock(&s.ev->lock); /* a long read in progress */
    pthread_t writer, prober;
    pthread_create(&writer, NULL, starve_writer, &s);
    pthread_create(&prober, NULL, starve_prober, &s);
    for (int i = 0; i < 2000 && !atomic_load(&s.reader_refused); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&s.stop_probing, true);
    pthread_join(prober, NULL);
    bool applied_during_read = atomic_load(&s.applied);
    pthread_rwlock_unlock(&s.ev->lock);
    pthread_join(writer, NULL);
    bool refused = atomic_load(&s.reader_refused);
    inventory_destroy(inv);
    ASSERT_FALSE(applied_during_read);
    ASSERT_TRUE(refused);
}
