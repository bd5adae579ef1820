/* cli: the tix command line. Each command returns its exit status: 0 success, 1 runtime
 * error, 2 usage error. */
#ifndef TIX_CLI_H
#define TIX_CLI_H

#include "commit/commit.h"
#include "core/inventory.h"
#include "store/store.h"

#define TIX_VERSION "0.1.0"

enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2, CLI_PATH_MAX = 1024 };

int cli_serve(int argc, char **argv);
int cli_seed(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_loadtest(int argc, char **argv);

/* The store, its in-memory index and the writer, opened together. */
typedef struct cli_core {
    store *st;
    inventory *inv;
    commit *writer;
} cli_core;

/* Open the store in data_dir, load the inventory and start the writer. Returns 0 or -1
 * (after logging why). */
int cli_core_open(const char *data_dir, unsigned readers, const commit_config *config,
                  cli_core *core);

/* Commit what is queued, stop the writer, close the store. */
void cli_core_close(cli_core *core);

#endif
