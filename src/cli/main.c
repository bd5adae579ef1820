/* tix: a high-concurrency event ticketing server. This file only dispatches commands.
 *
 *   request -> http/server.c -> api/ (router, handlers) -> core/inventory.c (reject early)
 *           -> commit/commit.c (group commit) -> store/ (sqlite/ or pg/: transaction + outbox)
 *           -> inventory updated -> response */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void main__usage(FILE *out)
{
    fprintf(out,
            "tix %s: sell every seat exactly once.\n\n"
            "Usage: tix COMMAND [OPTIONS]\n\n"
            "Commands:\n"
            "  serve     serve the HTTP API (see tix serve --help)\n"
            "  seed      create the demo events (see tix seed --help)\n"
            "  check     check the invariants of a store, read-only (see tix check --help)\n"
            "  migrate   create or migrate a store's schema, and exit (see tix migrate --help)\n"
            "  loadtest  simulate a flash sale against a server (see tix loadtest --help)\n"
            "  version   print the version\n"
            "  help      show this help\n\n"
            "Exit status: 0 success, 1 runtime error, 2 usage error.\n",
            TIX_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main__usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "serve") == 0) return cli_serve(argc, argv);
    if (strcmp(command, "seed") == 0) return cli_seed(argc, argv);
    if (strcmp(command, "check") == 0) return cli_check(argc, argv);
    if (strcmp(command, "migrate") == 0) return cli_migrate(argc, argv);
    if (strcmp(command, "loadtest") == 0) return cli_loadtest(argc, argv);
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("tix %s\n", TIX_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 ||
        strcmp(command, "-h") == 0) {
        main__usage(stdout);
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "tix: unknown command '%s' (see tix --help)\n", command);
    return CLI_EXIT_USAGE;
}
