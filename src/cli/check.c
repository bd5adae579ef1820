/* check: `tix check`, the offline integrity checker (see check/check.h for what it checks).
 *
 * Output, one line each, stable and meant for both people and scripts:
 *     VIOLATION <kind>: key=value key=value ...
 *     tix check: <kind>: N more violations not shown        (past --limit, on stdout too)
 *     tix check: N violations in M checks    |    tix check: clean (M checks)
 * Exit status: 0 clean, 1 violations found or the store cannot be opened, 2 usage error. */
#include "cli/cli.h"
#include "cli/options.h"

#include "check/check.h"
#include "util/clock.h"

#include <inttypes.h>
#include <stdio.h>

static void check__print_violation(void *ctx, const char *kind, const char *details)
{
    (void)ctx;
    printf("VIOLATION %s: %s\n", kind, details);
}

static void check__print_truncated(void *ctx, const char *kind, uint64_t unreported)
{
    (void)ctx;
    printf("tix check: %s: %" PRIu64 " more violations not shown (see --limit)\n", kind,
           unreported);
}

int cli_check(int argc, char **argv)
{
    char data_dir[CLI_PATH_MAX] = "./tix-data";
    char store_url[CLI_STORE_URL_LEN_MAX] = "";
    unsigned sweep_grace_ms = CHECK_SWEEP_GRACE_MS_DEFAULT;
    unsigned max_attempts = CHECK_MAX_ATTEMPTS_DEFAULT;
    unsigned limit = CHECK_REPORT_MAX_DEFAULT;
    const cli_option options[] = {
        {"data", "TIX_DATA", "DIR", "data directory of the store to check (default ./tix-data)",
         CLI_STRING, data_dir, sizeof(data_dir), 0, 0},
        CLI_STORE_OPTION(store_url),
        {"sweep-grace-ms", NULL, "MS",
         "a hold may stay active this long past its expiry before "
         "it counts as stale (default 5000)",
         CLI_UINT, &sweep_grace_ms, 0, 0, 86400000},
        {"max-attempts", "TIX_MAX_ATTEMPTS", "N",
         "the server's --max-attempts: a pending "
         "delivery with this many attempts should be dead (default 8)",
         CLI_UINT, &max_attempts, 0, 1, 100},
        {"limit", NULL, "N", "violations printed per check; the rest are counted (default 1000)",
         CLI_UINT, &limit, 0, 1, 100000000},
    };
    cli_result r = cli_parse("check",
                             "Check the invariants of a tix store, read-only (the server may be\n"
                             "running). Prints one 'VIOLATION <kind>: ...' line per violation and\n"
                             "a summary; exits 0 when clean, 1 when not (or when the store cannot\n"
                             "be opened), 2 on a usage error.",
                             options, sizeof(options) / sizeof(options[0]), argc, argv, 2);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    check_config config = {.now_ms = clock_now_ms(),
                           .sweep_grace_ms = sweep_grace_ms,
                           .max_attempts = max_attempts,
                           .report_max = limit};
    check_sink sink = {.on_violation = check__print_violation,
                       .on_truncated = check__print_truncated};
    check_summary summary;
    char err[CLI_PATH_MAX + 256];
    int rc = store_url[0] ? check_store_pg(store_url, &config, &sink, &summary, err, sizeof(err))
                          : check_store(data_dir, &config, &sink, &summary, err, sizeof(err));
    if (rc != 0) {
        fflush(stdout);
        fprintf(stderr, "tix check: %s\n", err);
        return CLI_EXIT_RUNTIME;
    }
    if (summary.violations == 0) {
        printf("tix check: clean (%u checks)\n", summary.checks_run);
        return CLI_EXIT_OK;
    }
    printf("tix check: %" PRIu64 " violations in %u checks\n", summary.violations,
           summary.checks_run);
    return CLI_EXIT_RUNTIME;
}
