/* cli: the tix command line. Each command returns its exit status: 0 success, 1 runtime
 * error, 2 usage error. */
#ifndef TIX_CLI_H
#define TIX_CLI_H

#include "commit/commit.h"
#include "core/inventory.h"
#include "feed/feed.h"
#include "store/store.h"

#define TIX_VERSION "0.1.0"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_RUNTIME = 1,
    CLI_EXIT_USAGE = 2,
    CLI_PATH_MAX = 1024,
    CLI_STORE_URL_LEN_MAX = 2048,
};

/* The --store option of every command that opens a store (target: char[CLI_STORE_URL_LEN_MAX]). */
#define CLI_STORE_OPTION(target)                                                                   \
    {                                                                                              \
        "store", "TIX_STORE", "URL",                                                               \
            "a PostgreSQL database (postgresql://USER@HOST:PORT/DB, any libpq URI) instead of "    \
            "the "                                                                                 \
            "embedded store in the data directory",                                                \
            CLI_STRING, target, CLI_STORE_URL_LEN_MAX, 0, 0                                        \
    }

int cli_serve(int argc, char **argv);
int cli_seed(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_loadtest(int argc, char **argv);
int cli_migrate(int argc, char **argv);

/* The store, its in-memory index, the feed that keeps it and the writer, opened together. */
typedef struct cli_core {
    store *st;
    inventory *inv;
    feed *follower;
    commit *writer;
} cli_core;

typedef struct cli_core_options {
    const char *data_dir;  /* the embedded store's directory (and the node's files) */
    const char *store_url; /* a database server instead, or NULL */
    unsigned readers;      /* threads that read from the store */
    commit_config commit;
    feed_config feed;
} cli_core_options;

/* Every default, on data_dir. */
cli_core_options cli_core_options_default(const char *data_dir);

/* Open the store, build the inventory from it, start the writer and the feed. Returns 0 or -1
 * (after logging why). */
int cli_core_open(const cli_core_options *o, cli_core *core);

/* Commit what is queued, stop the writer and the feed, close the store. */
void cli_core_close(cli_core *core);

/* A name for the store in logs: DATA_DIR/tix.db, or the URL without its password. */
void cli_store_name(const char *data_dir, const char *url, char *out, size_t cap);

/* This node's id: `given` when not empty (checked: 1 to TIX_NODE_ID_LEN_MAX of [A-Za-z0-9._-]),
 * else the one kept in DATA_DIR/node-id, made there on the first start. The file is locked
 * while the process runs: a second process on the same data directory gets an id of its own
 * (logged), so that two processes never share one lease owner. *lock_fd is the lock to keep
 * (-1 when none). Returns 0, -1 (logged) when the id is invalid or cannot be kept. */
int cli_node_id(const char *data_dir, const char *given, char *out, size_t cap, int *lock_fd);

/* Is id a valid node id (1 to TIX_NODE_ID_LEN_MAX of [A-Za-z0-9._-])? */
bool cli_node_id_valid(const char *id);

#endif
