/* core: opening and closing the store, the inventory, the feed and the writer as one; see
 * cli.h. Start-up order: store, then the inventory built from a snapshot of it (feed_open),
 * then the writer, whose committed batches the feed applies; then the feed's poller, which
 * brings other writers' changes. Closing goes the other way. */
#include "cli/cli.h"

#include "util/clock.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

int cli_core_open(const cli_core_options *o, cli_core *core)
{
    memset(core, 0, sizeof(*core));
    char err[512];
    int64_t started_ms = clock_mono_ms();
    store_options so = {.data_dir = o->data_dir,
                        .url = o->store_url,
                        .readers = o->readers + 1, /* + the feed's poller */
                        .busy_timeout_ms = 0};
    char name[CLI_STORE_URL_LEN_MAX];
    cli_store_name(o->data_dir, o->store_url, name, sizeof(name));
    if (store_open(&so, &core->st, err, sizeof(err)) != 0) {
        log_error("cannot open the store %s: %s", name, err);
        return -1;
    }
    if (!(core->inv = inventory_create()) ||
        !(core->follower = feed_open(core->st, core->inv, &o->feed))) {
        log_error("cannot load events from the store %s", name);
        goto fail;
    }
    if (!(core->writer = commit_start(core->st, &o->commit))) goto fail;
    commit_on_changes(core->writer, feed_apply_committed, core->follower);
    if (feed_start(core->follower) != 0) goto fail;
    log_info("store %s opened and loaded in %lld ms (feed position %lld, node %s)", name,
             (long long)(clock_mono_ms() - started_ms), (long long)feed_position(core->follower),
             o->commit.node_id);
    return 0;
fail:
    cli_core_close(core);
    return -1;
}

void cli_core_close(cli_core *core)
{
    commit_destroy(core->writer); /* commits what is queued; its changes reach the feed */
    feed_close(core->follower);
    inventory_destroy(core->inv);
    store_close(core->st);
    memset(core, 0, sizeof(*core));
}

cli_core_options cli_core_options_default(const char *data_dir)
{
    cli_core_options o = {
        .data_dir = data_dir,
        .store_url = NULL,
        .readers = 1,
        .commit = commit_config_default(),
        .feed = {.poll_ms = FEED_POLL_MS_DEFAULT, .page_max = FEED_PAGE_MAX_DEFAULT},
    };
    return o;
}

/* Copy n bytes of from into out at *len (bounded by cap). */
static void cli__put(char *out, size_t cap, size_t *len, const char *from, size_t n)
{
    for (size_t i = 0; i < n && *len + 1 < cap; i++)
        out[(*len)++] = from[i];
    out[*len] = '\0';
}

void cli_store_name(const char *data_dir, const char *url, char *out, size_t cap)
{
    if (!url || !url[0]) {
        snprintf(out, cap, "%s/tix.db", data_dir);
        return;
    }
    /* scheme://user:PASSWORD@host/db?...&password=PASSWORD&...: the passwords become *** */
    size_t len = 0;
    out[0] = '\0';
    const char *p = url, *scheme = strstr(url, "://");
    if (scheme) {
        const char *authority = scheme + 3, *end = authority + strcspn(authority, "/?");
        const char *at = memchr(authority, '@', (size_t)(end - authority));
        const char *colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
        if (colon) {
            cli__put(out, cap, &len, url, (size_t)(colon + 1 - url));
            cli__put(out, cap, &len, "***", 3);
            p = at;
        }
    }
    while (*p) {
        const char *key = strstr(p, "password=");
        if (!key || (key != url && key[-1] != '?' && key[-1] != '&' && key[-1] != ' ')) {
            cli__put(out, cap, &len, p, key ? (size_t)(key + 9 - p) : strlen(p));
            p = key ? key + 9 : p + strlen(p);
            continue;
        }
        cli__put(out, cap, &len, p, (size_t)(key + 9 - p));
        cli__put(out, cap, &len, "***", 3);
        p = key + 9 + strcspn(key + 9, "& ");
    }
}
