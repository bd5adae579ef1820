/* fixtures: see fixtures.h. */
#include "fixtures.h"

#include "util/clock.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *fx__check(void *p)
{
    if (!p) {
        fprintf(stderr, "fixtures: out of memory\n");
        abort();
    }
    return p;
}

void fx_spec_init(event_spec *spec, const char *id, int32_t hold_ttl_s, int32_t max_seats_per_hold)
{
    memset(spec, 0, sizeof(*spec));
    snprintf(spec->id, sizeof(spec->id), "%s", id);
    char name[128];
    snprintf(name, sizeof(name), "Event %s", id);
    spec->name = fx__check(strdup(name));
    spec->venue = fx__check(strdup("Venue"));
    const char *starts = "2027-06-01T19:30:00Z";
    if (clock_parse_rfc3339(starts, strlen(starts), &spec->starts_at_ms) != 0) abort();
    spec->hold_ttl_s = hold_ttl_s;
    spec->max_seats_per_hold = max_seats_per_hold;
    spec->created_at_ms = 1700000000000;
}

static section_spec *fx__section_push(event_spec *spec, const char *name, int64_t price_cents,
                                      uint32_t seats_per_row, uint32_t row_count)
{
    spec->sections =
        fx__check(realloc(spec->sections, (spec->section_count + 1) * sizeof(section_spec)));
    section_spec *sec = &spec->sections[spec->section_count++];
    memset(sec, 0, sizeof(*sec));
    sec->name = fx__check(strdup(name));
    sec->price_cents = price_cents;
    sec->seats_per_row = seats_per_row;
    sec->rows = fx__check(calloc(row_count ? row_count : 1, sizeof(char *)));
    return sec;
}

void fx_spec_add_section(event_spec *spec, const char *name, int64_t price_cents,
                         uint32_t seats_per_row, const char *const *rows, uint32_t row_count)
{
    section_spec *sec = fx__section_push(spec, name, price_cents, seats_per_row, row_count);
    for (uint32_t r = 0; r < row_count; r++) {
        sec->rows[r] = fx__check(strdup(rows[r]));
        sec->row_count = r + 1;
    }
}

void fx_row_label(uint32_t i, char *out)
{
    char tmp[TIX_ROW_LABEL_LEN_MAX];
    size_t n = 0;
    for (uint64_t v = (uint64_t)i + 1; v > 0 && n < sizeof(tmp); v = (v - 1) / 26)
        tmp[n++] = (char)('A' + (v - 1) % 26);
    for (size_t k = 0; k < n; k++)
        out[k] = tmp[n - 1 - k];
    out[n] = '\0';
}

void fx_spec_add_rows(event_spec *spec, const char *name, int64_t price_cents,
                      uint32_t seats_per_row, uint32_t first_row, uint32_t row_count)
{
    section_spec *sec = fx__section_push(spec, name, price_cents, seats_per_row, row_count);
    for (uint32_t r = 0; r < row_count; r++) {
        char label[TIX_ROW_LABEL_LEN_MAX + 1];
        fx_row_label(first_row + r, label);
        sec->rows[r] = fx__check(strdup(label));
        sec->row_count = r + 1;
    }
}

/* Run the query and hand its first row to `take`. */
static void fx__query(const char *dir, const char *fmt, va_list ap,
                      void (*take)(sqlite3_stmt *st, void *out), void *out)
{
    char path[4200], sql[4096];
    snprintf(path, sizeof(path), "%s/tix.db", dir);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) goto fail;
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) goto fail;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        take(st, out);
    else if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return;
fail:
    fprintf(stderr, "fixtures: %s: %s\n", sql, db ? sqlite3_errmsg(db) : "cannot open");
    abort();
}

static void fx__take_int(sqlite3_stmt *st, void *out)
{
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) *(int64_t *)out = sqlite3_column_int64(st, 0);
}

static void fx__take_text(sqlite3_stmt *st, void *out)
{
    const unsigned char *text = sqlite3_column_text(st, 0);
    if (text) *(char **)out = fx__check(strdup((const char *)text));
}

int64_t fx_sql_int(const char *dir, int64_t missing, const char *fmt, ...)
{
    int64_t value = missing;
    va_list ap;
    va_start(ap, fmt);
    fx__query(dir, fmt, ap, fx__take_int, &value);
    va_end(ap);
    return value;
}

char *fx_sql_text(const char *dir, const char *fmt, ...)
{
    char *value = NULL;
    va_list ap;
    va_start(ap, fmt);
    fx__query(dir, fmt, ap, fx__take_text, &value);
    va_end(ap);
    return value;
}

int fx_sql_exec(const char *dir, const char *fmt, ...)
{
    char path[4200], sql[4096];
    snprintf(path, sizeof(path), "%s/tix.db", dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK) fprintf(stderr, "fixtures: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

int fx_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int rc = in && out ? 0 : -1;
    char chunk[65536];
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        if (fwrite(chunk, 1, n, out) != n) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    return rc;
}

/* Whether a row of `prefix sql` on DIR/tix.db has `text` in column `col` (exactly when whole). */
static bool fx__explain_has(const char *dir, const char *prefix, const char *sql, int col,
                            const char *text, bool whole)
{
    char path[4200], explain[4096];
    snprintf(path, sizeof(path), "%s/tix.db", dir);
    snprintf(explain, sizeof(explain), "%s %s", prefix, sql);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool found = false;
    int rc;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, explain, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "fixtures: %s: %s\n", explain, db ? sqlite3_errmsg(db) : "cannot open");
        abort();
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *got = (const char *)sqlite3_column_text(st, col);
        if (got && (whole ? strcmp(got, text) == 0 : strstr(got, text) != NULL)) found = true;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "fixtures: %s: %s\n", explain, sqlite3_errmsg(db));
        abort();
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

bool fx_sql_explain_has(const char *dir, const char *sql, const char *opcode)
{
    return fx__explain_has(dir, "EXPLAIN", sql, 1, opcode, true); /* addr, opcode, p1, ... */
}

bool fx_sql_plan_has(const char *dir, const char *sql, const char *text)
{
    return fx__explain_has(dir, "EXPLAIN QUERY PLAN", sql, 3, text,
                           false); /* id, parent, _, detail */
}
