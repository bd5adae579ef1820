/* conformance: the tests every store backend must pass, written against store/store.h only.
 *
 * A backend runs them through a descriptor: how to make a fresh database and open handles on it
 * (two handles on one database are two writers: two nodes), and hooks for the faults a backend
 * must turn into typed outcomes. tests/unit/store/conformance_sqlite_test.c runs every case on
 * the embedded store; the next backend adds its own file that runs the same cases.
 *
 * Commands take the time from their batch: the cases use a clock of their own (from
 * CONFORMANCE_T0_MS), so expiries are tested without sleeping. */
#ifndef TIX_TEST_CONFORMANCE_H
#define TIX_TEST_CONFORMANCE_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct conformance_backend {
    const char *name;
    void *ctx;
    /* A fresh, empty database for the running test, named in where (cap bytes). 0 or -1. */
    int (*fresh)(void *ctx, char *where, size_t cap);
    /* A handle on the database `where` (a new one per call); NULL after test_fail. */
    store *(*open)(void *ctx, const char *where, unsigned busy_timeout_ms);
    /* Another writer holds the database's write lock (a long transaction) until unlock. */
    int (*lock_writes)(void *ctx, const char *where);
    int (*unlock_writes)(void *ctx, const char *where);
    /* Writes fail as on a full or broken disk (on) or work again (off). */
    int (*fail_writes)(void *ctx, const char *where, bool on);
    /* Make the row of hold_id unreadable (what corruption or a foreign writer could leave). */
    int (*corrupt_hold)(void *ctx, const char *where, const char *hold_id);
} conformance_backend;

/* Every case: X(name) for each. A backend's test file defines X to register a test that calls
 * conformance_<name>(&its_backend). */
#define CONFORMANCE_CASES(X)                                                                       \
    X(hold_commits_the_hold_its_seats_its_outbox_row_and_its_change)                               \
    X(conflicting_holds_in_one_batch_are_decided_in_order)                                         \
    X(a_multi_seat_hold_is_all_or_nothing)                                                         \
    X(hold_limits_are_outcomes_and_write_nothing)                                                  \
    X(release_frees_the_seats_once_and_only_for_its_buyer)                                         \
    X(the_sweep_expires_lapsed_holds)                                                              \
    X(a_hold_on_a_lapsed_seat_expires_the_old_hold_first)                                          \
    X(checkout_prices_the_booking_from_the_store_and_freezes_the_hold)                             \
    X(a_paid_booking_sells_its_seats_and_a_repeated_result_changes_nothing)                        \
    X(a_declined_payment_frees_the_seats)                                                          \
    X(a_late_payment_takes_free_seats_again_or_is_refunded)                                        \
    X(cancel_frees_the_seats_and_refunds_what_was_paid)                                            \
    X(events_are_created_once_and_read_back_whole)                                                 \
    X(a_subscriber_added_by_one_writer_is_routed_by_every_writer)                                  \
    X(claims_lease_deliveries_to_the_node_and_record_their_outcomes)                               \
    X(reclaim_frees_only_the_nodes_own_leases)                                                     \
    X(idempotency_keys_are_decided_in_the_transaction)                                             \
    X(the_feed_is_dense_and_in_commit_order_across_writers)                                        \
    X(the_feed_of_one_event_is_read_in_bounded_scans)                                              \
    X(the_sweep_trims_the_feed_to_what_the_rules_keep)                                             \
    X(a_snapshot_is_the_state_at_its_feed_position)                                                \
    X(event_stats_count_what_is_committed)                                                         \
    X(event_stats_are_one_snapshot_while_another_writer_commits)                                   \
    X(conditional_writes_hold_under_contention_from_two_writers)                                   \
    X(a_busy_store_asks_for_a_retry_and_keeps_nothing)                                             \
    X(an_unavailable_store_keeps_nothing_and_recovers)                                             \
    X(a_corrupt_row_is_fatal_to_its_command_only)                                                  \
    X(reopening_keeps_the_data_and_the_store_id)

#define CONFORMANCE_DECLARE(name) void conformance_##name(const conformance_backend *b);
CONFORMANCE_CASES(CONFORMANCE_DECLARE)
#undef CONFORMANCE_DECLARE

#endif
