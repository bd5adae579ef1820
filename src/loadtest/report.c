/* report: see report.h. Plain fixed-width text, one fact per line, so that people read it and
 * scripts (the system test) can grep it. */
#include "loadtest/report.h"

#include <inttypes.h>

#define REPORT_CLIENT_BUSY_MAX 0.8

static const char *const report__step_names[LOADTEST_STEPS] = {"seat map", "hold", "checkout",
                                                               "booking until final"};

const char *loadtest_report_step_name(loadtest_step step)
{
    return step < LOADTEST_STEPS ? report__step_names[step] : "?";
}

static double report__ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void report__run(FILE *out, const loadtest_session *s)
{
    const loadtest_config *c = s->config;
    const loadtest_stats *st = &s->stats;
    double elapsed_s = (double)(st->end_us - st->start_us) / 1e6;
    if (elapsed_s <= 0) elapsed_s = 1e-6;
    const char *how = s->drained_by_force ? "stopped; buyers in flight were aborted"
                      : s->interrupted    ? "interrupted (Ctrl-C); buyers in flight finished"
                      : st->buyers_started < c->buyers
                          ? "--duration reached; buyers in flight finished"
                          : "every buyer done";
    fprintf(out, "tix loadtest: event %s at %s\n", c->event_id, c->url);
    fprintf(out,
            "  %u buyers, concurrency %u, 1-%u seats each, payment token %s, seed %u, "
            "run id %s\n\n",
            c->buyers, c->concurrency, s->seats_per_buyer, c->payment_token, c->seed, s->run_id);
    fprintf(out, "run\n");
    fprintf(out, "  duration              %.2f s (%s)\n", elapsed_s, how);
    fprintf(out, "  buyers done           %" PRIu64 " of %u started %" PRIu64 " (%.1f buyers/s)\n",
            st->buyers_done, c->buyers, st->buyers_started, (double)st->buyers_done / elapsed_s);
    fprintf(out, "  requests              %" PRIu64 " (%.1f requests/s)\n", s->client.requests_done,
            (double)s->client.requests_done / elapsed_s);
    fprintf(out,
            "  holds                 %" PRIu64 " created (%.1f/s), %" PRIu64
            " refused with 409 seat_unavailable\n",
            st->holds_created, (double)st->holds_created / elapsed_s, st->hold_conflicts);
    double busy = (double)st->cpu_us / 1e6 / elapsed_s;
    fprintf(out, "  load tester CPU       %.0f%% of one core%s\n\n", busy * 100,
            busy > REPORT_CLIENT_BUSY_MAX ? " - SATURATED: latencies include time waiting for the "
                                            "load tester itself (lower --concurrency, or use a "
                                            "smaller event: every buyer parses its seat map)"
                                          : "");
}

static void report__latency(FILE *out, const loadtest_stats *st)
{
    fprintf(out, "latency (ms)                count       p50       p90       p99       max\n");
    for (int i = 0; i < LOADTEST_STEPS; i++) {
        const loadtest_histogram *h = &st->latency[i];
        fprintf(out, "  %-22s %9" PRIu64, report__step_names[i], h->count);
        if (h->count == 0) {
            fprintf(out, "         -         -         -         -\n");
            continue;
        }
        fprintf(out, " %9.2f %9.2f %9.2f %9.2f\n",
                report__ms(loadtest_histogram_percentile(h, 0.50)),
                report__ms(loadtest_histogram_percentile(h, 0.90)),
                report__ms(loadtest_histogram_percentile(h, 0.99)), report__ms(h->value_max));
    }
    fprintf(out, "  (seat map, hold, checkout: per request; booking until final: from the "
                 "checkout's 202 to confirmed, payment_failed or cancelled)\n\n");
}

static void report__outcomes(FILE *out, const loadtest_stats *st)
{
    const uint64_t *o = st->outcomes;
    fprintf(out, "outcomes (buyers)\n");
    fprintf(out, "  confirmed             %" PRIu64 " (%" PRIu64 " seats)\n",
            o[LOADTEST_OUTCOME_CONFIRMED], st->seats_confirmed);
    fprintf(out, "  payment failed        %" PRIu64 "\n", o[LOADTEST_OUTCOME_PAYMENT_FAILED]);
    fprintf(out, "  cancelled             %" PRIu64 "\n", o[LOADTEST_OUTCOME_CANCELLED]);
    fprintf(out,
            "  gave up: no seats     %" PRIu64 " (seat map empty: %" PRIu64
            ", %d holds refused: %" PRIu64 ")\n",
            o[LOADTEST_OUTCOME_NO_SEATS] + o[LOADTEST_OUTCOME_CONFLICTS],
            o[LOADTEST_OUTCOME_NO_SEATS], LOADTEST_HOLD_ATTEMPTS_MAX,
            o[LOADTEST_OUTCOME_CONFLICTS]);
    fprintf(out, "  still pending         %" PRIu64 " (payment undecided after %d s of polling)\n",
            o[LOADTEST_OUTCOME_PENDING], LOADTEST_POLL_DURATION_MS_MAX / 1000);
    fprintf(out, "  errors                %" PRIu64 "\n", o[LOADTEST_OUTCOME_ERROR]);
    if (o[LOADTEST_OUTCOME_ABORTED])
        fprintf(out, "  aborted               %" PRIu64 "\n", o[LOADTEST_OUTCOME_ABORTED]);
    fprintf(out, "errors by HTTP status  ");
    if (st->errors == 0) fprintf(out, " none");
    for (int status = 0; status < LOADTEST_HTTP_STATUS_MAX; status++) {
        if (!st->errors_by_status[status]) continue;
        if (status == 0)
            fprintf(out, " no answer: %" PRIu64 ";", st->errors_by_status[0]);
        else
            fprintf(out, " %d: %" PRIu64 ";", status, st->errors_by_status[status]);
    }
    if (st->errors_invalid) fprintf(out, " other: %" PRIu64 ";", st->errors_invalid);
    fprintf(out, "\n");
    if (st->errors) fprintf(out, "  last error: %s\n", st->last_error);
    fprintf(out, "\n");
}

static const char *report__verdict(const loadtest_check_result *r, loadtest_check_kind kind)
{
    if (!r->complete) return "not checked";
    return r->violations_by_kind[kind] ? "VIOLATED" : "ok";
}

static void report__check(FILE *out, const loadtest_session *s, const loadtest_check_result *r)
{
    fprintf(out,
            "invariant check (over the API: the full seat map and every booking of the run)\n");
    fprintf(out,
            "  seat map              %" PRIu64 " seats: %" PRIu64 " sold, %" PRIu64
            " held, %" PRIu64 " available\n",
            r->seats_total, r->seats_sold, r->seats_held, r->seats_available);
    fprintf(out,
            "  bookings of the run   %" PRIu64 " read: %" PRIu64 " confirmed (%" PRIu64
            " seats), %" PRIu64 " payment_failed, %" PRIu64 " cancelled, %" PRIu64 " pending\n",
            r->bookings_read, r->confirmed, r->confirmed_seats, r->payment_failed, r->cancelled,
            r->pending);
    if (r->bookings_found_late)
        fprintf(out,
                "                        (%" PRIu64 " found through GET /users/{id}/bookings "
                "after their checkout got no answer)\n",
                r->bookings_found_late);
    if (s->sold_before_count == 0) {
        fprintf(out, "  before the run        no seat was sold\n");
    } else {
        fprintf(out,
                "  before the run        %" PRIu64 " seats were ALREADY SOLD: only \"no seat "
                "sold twice\" and \"every confirmed booking's seats are sold\" are checked\n",
                s->sold_before_count);
    }
    fprintf(out, "  no seat sold twice                                   %s\n",
            report__verdict(r, LOADTEST_CHECK_SOLD_TWICE));
    fprintf(out, "  every confirmed booking's seats are sold             %s\n",
            report__verdict(r, LOADTEST_CHECK_NOT_SOLD));
    if (r->equality_checked)
        fprintf(out,
                "  sold seats == seats of the run's confirmed bookings  %s (%" PRIu64
                " sold, %" PRIu64 " booked)\n",
                report__verdict(r, LOADTEST_CHECK_EXTRA_SOLD), r->seats_sold, r->confirmed_seats);
    if (r->violations_by_kind[LOADTEST_CHECK_API])
        fprintf(out, "  answers of the API consistent                        VIOLATED\n");
    for (uint32_t i = 0; i < r->message_count; i++)
        fprintf(out, "    - %s\n", r->messages[i]);
    if (r->violations > r->message_count)
        fprintf(out, "    - ... %" PRIu64 " violations in all\n", r->violations);
    if (!r->complete) fprintf(out, "  check incomplete: %s\n", r->incomplete_reason);
}

void loadtest_report_print(FILE *out, const loadtest_session *s, const loadtest_check_result *r)
{
    report__run(out, s);
    report__latency(out, &s->stats);
    report__outcomes(out, &s->stats);
    report__check(out, s, r);
    bool completed = !s->interrupted && !s->drained_by_force;
    if (r->complete && r->violations == 0)
        fprintf(out, "\nresult: invariants hold%s\n",
                completed ? "" : ", but the run did not complete");
    else if (!r->complete)
        fprintf(out, "\nresult: INVARIANTS NOT CHECKED (%s)\n", r->incomplete_reason);
    else
        fprintf(out, "\nresult: INVARIANT VIOLATED (%" PRIu64 " violations)\n", r->violations);
}
