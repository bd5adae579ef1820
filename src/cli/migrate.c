/* migrate: `tix migrate`, the store's schema brought to this tix's version and nothing else.
 * `tix serve` does the same when it starts (on PostgreSQL under an advisory lock, so nodes
 * starting together take turns); this command lets an operator do it on its own, before
 * starting the nodes of a new version. */
#include "cli/cli.h"
#include "cli/options.h"

#include "util/log.h"

#include <stdio.h>

int cli_migrate(int argc, char **argv)
{
    char data_dir[CLI_PATH_MAX] = "./tix-data";
    char store_url[CLI_STORE_URL_LEN_MAX] = "";
    const cli_option options[] = {
        {"data", "TIX_DATA", "DIR", "data directory of the embedded store (default ./tix-data)",
         CLI_STRING, data_dir, sizeof(data_dir), 0, 0},
        CLI_STORE_OPTION(store_url),
    };
    cli_result r = cli_parse("migrate",
                             "Create the store's schema or migrate it to this tix's version, and\n"
                             "exit. Safe to run twice, and while servers run on the store.",
                             options, sizeof(options) / sizeof(options[0]), argc, argv, 2);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    char name[CLI_STORE_URL_LEN_MAX], err[512];
    cli_store_name(data_dir, store_url, name, sizeof(name));
    store_options so = {.data_dir = data_dir, .url = store_url, .readers = 1};
    store *st = NULL;
    if (store_open(&so, &st, err, sizeof(err)) != 0) {
        log_error("cannot migrate the store %s: %s", name, err);
        return CLI_EXIT_RUNTIME;
    }
    store_close(st);
    printf("tix migrate: %s is at this tix's schema\n", name);
    return CLI_EXIT_OK;
}
