/* loadtest: `tix loadtest`, the flash-sale simulator (src/loadtest/). This file only reads and
 * checks the options; the run is loadtest_run. */
#include "cli/cli.h"
#include "cli/options.h"

#include "loadtest/loadtest.h"

#include <stdio.h>
#include <string.h>

/* Usage errors the option table cannot express. Returns 0, or -1 after printing why. */
static int cli__loadtest_validate(const loadtest_config *c)
{
    const char *missing = !c->url[0]        ? "--url"
                          : !c->event_id[0] ? "--event"
                          : !c->buyers      ? "--buyers"
                                            : NULL;
    if (missing) {
        fprintf(stderr, "tix loadtest: %s is required (see tix loadtest --help)\n", missing);
        return -1;
    }
    if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0) {
        fprintf(stderr, "tix loadtest: --url: '%s' is not an http:// or https:// URL\n", c->url);
        return -1;
    }
    size_t event_len = strlen(c->event_id);
    if (strspn(c->event_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
        event_len) {
        fprintf(stderr, "tix loadtest: --event: '%s' is not an event id ([A-Za-z0-9_-])\n",
                c->event_id);
        return -1;
    }
    if (!c->payment_token[0]) {
        fprintf(stderr, "tix loadtest: --token must not be empty\n");
        return -1;
    }
    return 0;
}

int cli_loadtest(int argc, char **argv)
{
    loadtest_config c = {
        .payment_token = "tok_visa",
        .concurrency = LOADTEST_CONCURRENCY_DEFAULT,
        .seats_per_buyer = LOADTEST_SEATS_PER_BUYER_DEFAULT,
        .seed = 1,
    };
    const cli_option options[] = {
        {"url", "TIX_LOADTEST_URL", "URL",
         "base URL of the tix server (required), e.g. "
         "http://127.0.0.1:8080",
         CLI_STRING, c.url, sizeof(c.url), 0, 0},
        {"buyers", "TIX_LOADTEST_BUYERS", "N",
         "virtual buyers to run (required, at most "
         "10000000)",
         CLI_UINT, &c.buyers, 0, 1, LOADTEST_BUYERS_MAX},
        {"event", "TIX_LOADTEST_EVENT", "ID", "event whose seats are sold (required)", CLI_STRING,
         c.event_id, sizeof(c.event_id), 0, 0},
        {"duration", "TIX_LOADTEST_DURATION", "S",
         "stop starting buyers after S seconds "
         "(default 0: when N are done)",
         CLI_UINT, &c.duration_s, 0, 0, 86400},
        {"concurrency", "TIX_LOADTEST_CONCURRENCY", "C",
         "buyers in flight at once (default 64, "
         "at most 4096)",
         CLI_UINT, &c.concurrency, 0, 1, LOADTEST_CONCURRENCY_MAX},
        {"seats-per-buyer", "TIX_LOADTEST_SEATS_PER_BUYER", "K",
         "each buyer holds 1..K seats "
         "(default 2)",
         CLI_UINT, &c.seats_per_buyer, 0, 1, TIX_HOLD_SEATS_MAX},
        {"token", "TIX_LOADTEST_TOKEN", "TOK",
         "payment token of every checkout (default "
         "tok_visa; tok_chargeDeclined declines)",
         CLI_STRING, c.payment_token, sizeof(c.payment_token), 0, 0},
        {"report", "TIX_LOADTEST_REPORT", "FILE.svg",
         "also write an SVG report: latency "
         "histograms and throughput",
         CLI_STRING, c.report_path, sizeof(c.report_path), 0, 0},
        {"seed", "TIX_LOADTEST_SEED", "N", "seed of the buyers' seat choices (default 1)", CLI_UINT,
         &c.seed, 0, 0, 4294967295u},
    };
    cli_result r = cli_parse(
        "loadtest",
        "Simulate a flash sale against a running tix server: N virtual buyers each read the\n"
        "seat map, hold 1..K available seats (retrying other seats after 409), check out and\n"
        "poll the booking until it is decided. Prints live progress on stderr, a summary on\n"
        "stdout, then checks over the API that no seat was sold twice and that the sold seats\n"
        "are those of the confirmed bookings. Exit status: 0 the run completed and the\n"
        "invariants hold, 1 an invariant is violated or the server was unreachable, 2 usage.",
        options, sizeof(options) / sizeof(options[0]), argc, argv, 2);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (cli__loadtest_validate(&c) != 0) return CLI_EXIT_USAGE;
    return loadtest_run(&c) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
