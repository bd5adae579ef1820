/* inventory: the in-memory seat index; see inventory.h for the contract and layout. */
#include "core/inventory.h"

#include "util/buf.h"
#include "util/hash.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inventory {
    pthread_rwlock_t lock; /* guards event_count and events[] */
    uint32_t event_count;
    inv_event *events[TIX_EVENTS_MAX];
};

inventory *inventory_create(void)
{
    inventory *inv = calloc(1, sizeof(*inv));
    if (!inv) return NULL;
    if (pthread_rwlock_init(&inv->lock, NULL) != 0) {
        free(inv);
        return NULL;
    }
    return inv;
}

static void inv__event_free(inv_event *ev)
{
    if (!ev) return;
    pthread_rwlock_destroy(&ev->lock);
    free(ev->seats);
    free(ev->rows);
    free(ev->slots);
    model_event_spec_free(&ev->spec);
    free(ev);
}

void inventory_destroy(inventory *inv)
{
    if (!inv) return;
    for (uint32_t i = 0; i < inv->event_count; i++)
        inv__event_free(inv->events[i]);
    pthread_rwlock_destroy(&inv->lock);
    free(inv);
}

size_t inv_event_seat_id(const inv_event *ev, uint32_t index, char *out)
{
    assert(index < ev->seat_count);
    const inv_seat *seat = &ev->seats[index];
    const inv_row *row = &ev->rows[seat->row_index];
    /* label then number, without printf: this runs for every seat lookup */
    char digits[BUF_U32_LEN_MAX];
    size_t n_digits = buf_format_u32(digits, seat->number);
    size_t len = row->label_len + n_digits;
    assert(len < TIX_SEAT_ID_LEN_MAX);
    memcpy(out, row->label, row->label_len);
    memcpy(out + row->label_len, digits, n_digits);
    out[len] = '\0';
    return len;
}

int64_t inv_event_seat_find(const inv_event *ev, const char *seat_id, size_t len)
{
    if (len == 0 || len >= TIX_SEAT_ID_LEN_MAX) return -1;
    uint32_t slot = hash_fnv1a32(seat_id, len) & ev->slot_mask;
    for (uint32_t probes = 0; probes <= ev->slot_mask; probes++) {
        uint32_t entry = ev->slots[slot];
        if (entry == 0) return -1;
        char id[TIX_SEAT_ID_LEN_MAX];
        size_t id_len = inv_event_seat_id(ev, entry - 1, id);
        if (id_len == len && memcmp(id, seat_id, len) == 0) return (int64_t)entry - 1;
        slot = (slot + 1) & ev->slot_mask;
    }
    return -1;
}

/* Lay out rows and seats from the spec and fill the id table. Returns 0, -1 out of memory,
 * -2 when two seats would share an id (the spec is then invalid). */
static int inv__event_build(inv_event *ev)
{
    const event_spec *spec = &ev->spec;
    uint64_t seat_count = model_event_seat_count(spec);
    assert(seat_count <= TIX_EVENT_SEATS_MAX);
    uint32_t row_count = 0;
    for (uint32_t s = 0; s < spec->section_count; s++)
        row_count += spec->sections[s].row_count;
    uint32_t slot_count = 16;
    while (slot_count < seat_count * 2)
        slot_count *= 2;
    ev->seats = calloc(seat_count ? seat_count : 1, sizeof(inv_seat));
    ev->rows = calloc(row_count ? row_count : 1, sizeof(inv_row));
    ev->slots = calloc(slot_count, sizeof(uint32_t));
    if (!ev->seats || !ev->rows || !ev->slots) return -1;
    ev->slot_mask = slot_count - 1;
    uint32_t r = 0, i = 0;
    for (uint32_t s = 0; s < spec->section_count; s++) {
        const section_spec *sec = &spec->sections[s];
        for (uint32_t k = 0; k < sec->row_count; k++, r++) {
            ev->rows[r] = (inv_row){sec->rows[k], (uint32_t)strlen(sec->rows[k]), s};
            for (uint32_t number = 1; number <= sec->seats_per_row; number++, i++) {
                ev->seats[i] = (inv_seat){.row_index = r, .number = (uint16_t)number};
                ev->seat_count = i + 1;
                char id[TIX_SEAT_ID_LEN_MAX];
                size_t len = inv_event_seat_id(ev, i, id);
                ev->seat_count = i; /* look up among the seats placed before this one */
                if (inv_event_seat_find(ev, id, len) >= 0) return -2;
                ev->seat_count = i + 1;
                uint32_t slot = hash_fnv1a32(id, len) & ev->slot_mask;
                while (ev->slots[slot] != 0)
                    slot = (slot + 1) & ev->slot_mask;
                ev->slots[slot] = i + 1;
            }
        }
    }
    ev->row_count = row_count;
    assert(ev->seat_count == seat_count);
    return 0;
}

/* The event with this id; the caller holds inv->lock. */
static inv_event *inv__find_locked(inventory *inv, const char *event_id, size_t len)
{
    for (uint32_t i = 0; i < inv->event_count; i++) {
        const char *id = inv->events[i]->spec.id;
        if (strlen(id) == len && memcmp(id, event_id, len) == 0) return inv->events[i];
    }
    return NULL;
}

tix_rc inventory_add_event(inventory *inv, event_spec *spec, inv_event **out)
{
    if (inventory_find(inv, spec->id, strlen(spec->id))) return TIX_RC_EVENT_EXISTS;
    inv_event *ev = calloc(1, sizeof(*ev));
    if (!ev) return TIX_RC_STORE_ERROR;
    /* Prefer the writer: a flood of seat-map reads must never starve the commit writer,
     * which every write of the server waits on. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc_init = pthread_rwlock_init(&ev->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc_init != 0) {
        free(ev);
        return TIX_RC_STORE_ERROR;
    }
    ev->spec = *spec;
    if (inv__event_build(ev) != 0) {
        memset(&ev->spec, 0, sizeof(ev->spec)); /* ownership stays with the caller */
        inv__event_free(ev);
        return TIX_RC_STORE_ERROR;
    }
    pthread_rwlock_wrlock(&inv->lock);
    tix_rc rc = TIX_RC_OK;
    if (inv__find_locked(inv, spec->id, strlen(spec->id)))
        rc = TIX_RC_EVENT_EXISTS; /* raced */
    else if (inv->event_count == TIX_EVENTS_MAX)
        rc = TIX_RC_TOO_MANY_EVENTS;
    else {
        ev->index = inv->event_count;
        inv->events[inv->event_count++] = ev;
    }
    pthread_rwlock_unlock(&inv->lock);
    if (rc != TIX_RC_OK) {
        memset(&ev->spec, 0, sizeof(ev->spec));
        inv__event_free(ev);
        return rc;
    }
    memset(spec, 0, sizeof(*spec));
    if (out) *out = ev;
    return TIX_RC_OK;
}

inv_event *inventory_find(inventory *inv, const char *event_id, size_t len)
{
    pthread_rwlock_rdlock(&inv->lock);
    inv_event *found = inv__find_locked(inv, event_id, len);
    pthread_rwlock_unlock(&inv->lock);
    return found;
}

uint32_t inventory_list(inventory *inv, inv_event **out, uint32_t max)
{
    pthread_rwlock_rdlock(&inv->lock);
    uint32_t n = inv->event_count;
    for (uint32_t i = 0; i < n && i < max; i++)
        out[i] = inv->events[i];
    pthread_rwlock_unlock(&inv->lock);
    return n;
}

seat_status inv_event_seat_status(const inv_event *ev, uint32_t index, int64_t now_ms)
{
    assert(index < ev->seat_count);
    const inv_seat *seat = &ev->seats[index];
    if (seat->status == SEAT_HELD && seat->hold_expires_ms <= now_ms) return SEAT_AVAILABLE;
    return (seat_status)seat->status;
}

uint32_t inv_event_find_taken(inv_event *ev, const uint32_t *seat_index, uint32_t n, int64_t now_ms,
                              uint32_t *taken)
{
    uint32_t count = 0;
    pthread_rwlock_rdlock(&ev->lock);
    for (uint32_t i = 0; i < n; i++)
        if (inv_event_seat_status(ev, seat_index[i], now_ms) != SEAT_AVAILABLE)
            taken[count++] = seat_index[i];
    pthread_rwlock_unlock(&ev->lock);
    return count;
}

/* Counts at now_ms; the caller holds the lock. */
static inv_counts inv__counts_locked(const inv_event *ev, int64_t now_ms)
{
    inv_counts c = {.total = ev->seat_count};
    for (uint32_t i = 0; i < ev->seat_count; i++) {
        switch (inv_event_seat_status(ev, i, now_ms)) {
        case SEAT_AVAILABLE:
            c.available++;
            break;
        case SEAT_HELD:
            c.held++;
            break;
        case SEAT_SOLD:
            c.sold++;
            break;
        }
    }
    return c;
}

inv_counts inv_event_counts(inv_event *ev, int64_t now_ms)
{
    pthread_rwlock_rdlock(&ev->lock);
    inv_counts c = inv__counts_locked(ev, now_ms);
    pthread_rwlock_unlock(&ev->lock);
    return c;
}

void inv_event_apply_hold(inv_event *ev, const uint32_t *seat_index, uint32_t n, int64_t hold_seq,
                          int64_t expires_ms, seat_status status, uint64_t version)
{
    assert(hold_seq > 0);
    assert(status == SEAT_HELD || status == SEAT_SOLD);
    pthread_rwlock_wrlock(&ev->lock);
    for (uint32_t i = 0; i < n; i++) {
        assert(seat_index[i] < ev->seat_count);
        inv_seat *seat = &ev->seats[seat_index[i]];
        seat->status = (uint8_t)status;
        seat->hold_seq = hold_seq;
        seat->hold_expires_ms = status == SEAT_SOLD ? INT64_MAX : expires_ms;
    }
    __atomic_store_n(&ev->version, version, __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&ev->lock);
}

void inv_event_apply_free(inv_event *ev, const uint32_t *seat_index, uint32_t n, int64_t hold_seq,
                          uint64_t version)
{
    pthread_rwlock_wrlock(&ev->lock);
    for (uint32_t i = 0; i < n; i++) {
        assert(seat_index[i] < ev->seat_count);
        inv_seat *seat = &ev->seats[seat_index[i]];
        if (seat->hold_seq != hold_seq) continue; /* already taken by a newer hold */
        seat->status = SEAT_AVAILABLE;
        seat->hold_seq = 0;
        seat->hold_expires_ms = 0;
    }
    __atomic_store_n(&ev->version, version, __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&ev->lock);
}

void inv_event_restore(inv_event *ev, const inv_seat_state *seats, uint32_t n, uint64_t version)
{
    pthread_rwlock_wrlock(&ev->lock);
    for (uint32_t i = 0; i < ev->seat_count; i++) {
        inv_seat *seat = &ev->seats[i];
        seat->status = SEAT_AVAILABLE;
        seat->hold_seq = 0;
        seat->hold_expires_ms = 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        assert(seats[i].index < ev->seat_count && seats[i].status != SEAT_AVAILABLE);
        inv_seat *seat = &ev->seats[seats[i].index];
        seat->status = (uint8_t)seats[i].status;
        seat->hold_seq = seats[i].hold_seq;
        seat->hold_expires_ms = seats[i].status == SEAT_SOLD ? INT64_MAX : seats[i].hold_expires_ms;
    }
    __atomic_store_n(&ev->version, version, __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&ev->lock);
}

uint64_t inv_event_version(const inv_event *ev)
{
    return __atomic_load_n(&ev->version, __ATOMIC_ACQUIRE);
}

/* Per section, the constant parts of a seat's JSON around its row label and number. */
typedef struct inv__section_json {
    char head[TIX_EVENT_NAME_LEN_MAX * 6 + 64]; /* "\",\"section\":\"<name>\",\"row\":\"" */
    size_t head_len;
    char tail[64]; /* "\",\"number\":" is separate; this is ",\"price_cents\":N,\"status\":\"" */
    size_t tail_len;
} inv__section_json;

static void inv__section_json_make(const section_spec *sec, inv__section_json *out)
{
    buf b;
    buf_init(&b, sizeof(out->head) - 1);
    buf_append_str(&b, "\",\"section\":");
    buf_append_json_str(&b, sec->name);
    buf_append_str(&b, ",\"row\":\"");
    out->head_len = b.failed ? 0 : b.len;
    if (!b.failed) memcpy(out->head, b.data, b.len);
    buf_free(&b);
    out->tail_len =
        (size_t)snprintf(out->tail, sizeof(out->tail), ",\"price_cents\":%lld,\"status\":\"",
                         (long long)sec->price_cents);
}

int inv_event_write_seat_map(inv_event *ev, int filter, int64_t now_ms, int64_t position, buf *out,
                             inv_snapshot *snap)
{
    static const char *const statuses[] = {"available\"}", "held\"}", "sold\"}"};
    static const size_t status_len[] = {11, 6, 6};
    const event_spec *spec = &ev->spec;
    inv__section_json *sections =
        calloc(spec->section_count ? spec->section_count : 1, sizeof(*sections));
    if (!sections) return -1;
    for (uint32_t s = 0; s < spec->section_count; s++)
        inv__section_json_make(&spec->sections[s], &sections[s]);
    pthread_rwlock_rdlock(&ev->lock);
    inv_counts counts = inv__counts_locked(ev, now_ms);
    int64_t valid_until_ms = INT64_MAX;
    buf_append_str(out, "{\"event_id\":");
    buf_append_json_str(out, spec->id);
    buf_appendf(out, ",\"position\":%lld", (long long)position);
    buf_appendf(out, ",\"total_seats\":%u,\"available_seats\":%u,\"seats\":[", counts.total,
                counts.available);
    bool first = true;
    for (uint32_t i = 0; i < ev->seat_count && !out->failed; i++) {
        const inv_seat *seat = &ev->seats[i];
        seat_status status = inv_event_seat_status(ev, i, now_ms);
        if (status == SEAT_HELD && seat->hold_expires_ms < valid_until_ms)
            valid_until_ms = seat->hold_expires_ms;
        if (filter >= 0 && (int)status != filter) continue;
        const inv_row *row = &ev->rows[seat->row_index];
        const inv__section_json *sj = &sections[row->section_index];
        buf_append(out, first ? "{\"id\":\"" : ",{\"id\":\"", first ? 7 : 8);
        first = false;
        buf_append(out, row->label, row->label_len);
        buf_append_u32(out, seat->number);
        buf_append(out, sj->head, sj->head_len);
        buf_append(out, row->label, row->label_len);
        buf_append(out, "\",\"number\":", 11);
        buf_append_u32(out, seat->number);
        buf_append(out, sj->tail, sj->tail_len);
        buf_append(out, statuses[status], status_len[status]);
    }
    if (snap) *snap = (inv_snapshot){inv_event_version(ev), valid_until_ms};
    pthread_rwlock_unlock(&ev->lock);
    free(sections);
    buf_append_str(out, "]}");
    return out->failed ? -1 : 0;
}
