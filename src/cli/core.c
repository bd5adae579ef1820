/* core: opening and closing the store, the inventory and the writer as one; see cli.h. */
#include "cli/cli.h"

#include "util/clock.h"
#include "util/log.h"

#include <string.h>

int cli_core_open(const char *data_dir, unsigned readers, const commit_config *config,
                  cli_core *core)
{
    memset(core, 0, sizeof(*core));
    char err[512];
    int64_t started_ms = clock_mono_ms();
    if (store_sqlite_open(data_dir, readers, &core->st, err, sizeof(err)) != 0) {
        log_error("cannot open the store in %s: %s", data_dir, err);
        return -1;
    }
    if (!(core->inv = inventory_create()) || commit_load_inventory(core->st, core->inv) != 0) {
        log_error("cannot load events from the store in %s", data_dir);
        goto fail;
    }
    if (!(core->writer = commit_start(core->st, core->inv, config))) goto fail;
    log_info("store %s/tix.db opened and loaded in %lld ms", data_dir,
             (long long)(clock_mono_ms() - started_ms));
    return 0;
fail:
    inventory_destroy(core->inv);
    store_close(core->st);
    memset(core, 0, sizeof(*core));
    return -1;
}

void cli_core_close(cli_core *core)
{
    commit_destroy(core->writer);
    inventory_destroy(core->inv);
    store_close(core->st);
    memset(core, 0, sizeof(*core));
}
