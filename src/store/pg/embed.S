/* embed: the SQL of the PostgreSQL backend (the files of sql/) built into the binary, each file a
 * NUL-terminated string (the assembler's .incbin copies it as it is; the byte after it is the
 * NUL). The migrations (schema.c) run them. The Makefile rebuilds this object when a file of
 * sql/ changes. */
#define PG_SQL(sym, path)                                                                          \
    .global sym;                                                                                   \
    .balign 16;                                                                                    \
    sym:;                                                                                          \
    .incbin path;                                                                                  \
    .byte 0

    .section .rodata
PG_SQL(pg_store_sql_v1_tables, "src/store/pg/sql/v1_tables.sql")
PG_SQL(pg_store_sql_v1_common, "src/store/pg/sql/v1_common.sql")
PG_SQL(pg_store_sql_v1_holds, "src/store/pg/sql/v1_holds.sql")
PG_SQL(pg_store_sql_v1_bookings, "src/store/pg/sql/v1_bookings.sql")
PG_SQL(pg_store_sql_v1_bus, "src/store/pg/sql/v1_bus.sql")
PG_SQL(pg_store_sql_v2_plans, "src/store/pg/sql/v2_plans.sql")
PG_SQL(pg_store_sql_v3_claim, "src/store/pg/sql/v3_claim.sql")
PG_SQL(pg_store_sql_v4_bookings_by_event, "src/store/pg/sql/v4_bookings_by_event.sql")

    .section .note.GNU-stack, "", @progbits
