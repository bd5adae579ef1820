/* fixtures: what several test files share: building event specs, and reading the store's
 * database directly with plain SQLite (so that tests check the store, not its own reads). */
#ifndef TIX_TEST_FIXTURES_H
#define TIX_TEST_FIXTURES_H

#include "core/model.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/* Start a spec with no sections (name "Event <id>", venue "Venue", starts 2027-06-01). */
void fx_spec_init(event_spec *spec, const char *id, int32_t hold_ttl_s, int32_t max_seats_per_hold);

/* Add a section with the given row labels. */
void fx_spec_add_section(event_spec *spec, const char *name, int64_t price_cents,
                         uint32_t seats_per_row, const char *const *rows, uint32_t row_count);

/* Add a section of row_count rows labelled like the seed does: row i (from first_row) is
 * A..Z, AA..AZ, BA.. (letters only, so seat ids are unique across rows). */
void fx_spec_add_rows(event_spec *spec, const char *name, int64_t price_cents,
                      uint32_t seats_per_row, uint32_t first_row, uint32_t row_count);

/* Label of row i in the scheme above (out >= TIX_ROW_LABEL_LEN_MAX + 1 bytes). */
void fx_row_label(uint32_t i, char *out);

/* First column of the first row of a query on DIR/tix.db (opened without creating it), as an
 * integer; `missing` when there is no row. Aborts the process on an SQL error (a broken test). */
int64_t fx_sql_int(const char *dir, int64_t missing, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same as text: a malloc'd copy, or NULL when there is no row or the value is NULL. */
char *fx_sql_text(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Run statements on DIR/tix.db from a connection of its own (for fault injection: a trigger
 * that makes the store's next write fail). Returns 0, or -1 (with a message on stderr). */
int fx_sql_exec(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when SQLite's program for sql on DIR/tix.db (EXPLAIN) has an instruction `opcode`.
 * Aborts the process on an SQL error (a broken test). */
bool fx_sql_explain_has(const char *dir, const char *sql, const char *opcode);

/* True when SQLite's query plan for sql on DIR/tix.db (EXPLAIN QUERY PLAN) has a step whose
 * text contains `text` ("SCAN feed"). Aborts the process on an SQL error (a broken test). */
bool fx_sql_plan_has(const char *dir, const char *sql, const char *text);

/* Copy file from -> to byte for byte. Returns 0 or -1. */
int fx_copy_file(const char *from, const char *to);

#endif
