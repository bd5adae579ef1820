/* seed: `tix seed`, the demo events. Safe to run twice: an event that exists is left as it is.
 * Events are created through the commit writer, the same path as POST /events. */
#include "cli/cli.h"
#include "cli/options.h"

#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seed_section {
    const char *name;
    int64_t price_cents;
    uint32_t seats_per_row;
    uint32_t first_row; /* row labels are A, B, ..., Z, AA, AB, ... from this index */
    uint32_t row_count;
} seed_section;

typedef struct seed_event {
    const char *id, *name, *venue, *starts_at;
    uint32_t section_count;
    seed_section sections[3];
} seed_event;

static const seed_event seed__events[] = {
    {"nba-finals",
     "NBA Finals - Game 7",
     "Crypto.com Arena, Los Angeles",
     "2027-06-20T00:30:00Z",
     3,
     {{"Courtside", 250000, 10, 0, 1},
      {"Lower Bowl", 45000, 10, 1, 3},
      {"Upper Bowl", 12000, 10, 4, 6}}},
    {"tech-conference",
     "Tech Conference 2027",
     "Moscone Center, San Francisco",
     "2027-09-14T16:00:00Z",
     2,
     {{"VIP", 99900, 50, 0, 2}, {"General", 29900, 50, 2, 18}}},
    {"stadium-tour",
     "Stadium Tour",
     "Wembley Stadium, London",
     "2027-07-03T18:00:00Z",
     3,
     {{"Floor", 15000, 100, 0, 20},
      {"Lower Tier", 9500, 150, 20, 160},
      {"Upper Tier", 5500, 150, 180, 160}}},
};

/* Row label of index i: A..Z, AA..AZ, BA.. (bijective base 26). */
static void seed__row_label(uint32_t i, char *out)
{
    char tmp[TIX_ROW_LABEL_LEN_MAX];
    size_t n = 0;
    for (uint64_t v = (uint64_t)i + 1; v > 0 && n < sizeof(tmp); v = (v - 1) / 26)
        tmp[n++] = (char)('A' + (v - 1) % 26);
    for (size_t k = 0; k < n; k++)
        out[k] = tmp[n - 1 - k];
    out[n] = '\0';
}

/* Build the spec of a demo event. Returns 0 or -1 (out of memory). */
static int seed__spec(const seed_event *e, event_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    snprintf(spec->id, sizeof(spec->id), "%s", e->id);
    spec->name = strdup(e->name);
    spec->venue = strdup(e->venue);
    spec->hold_ttl_s = TIX_HOLD_TTL_S_DEFAULT;
    spec->max_seats_per_hold = TIX_HOLD_SEATS_DEFAULT;
    spec->sections = calloc(e->section_count, sizeof(section_spec));
    if (!spec->name || !spec->venue || !spec->sections ||
        clock_parse_rfc3339(e->starts_at, strlen(e->starts_at), &spec->starts_at_ms) != 0)
        return -1;
    for (uint32_t s = 0; s < e->section_count; s++) {
        const seed_section *from = &e->sections[s];
        section_spec *sec = &spec->sections[s];
        spec->section_count = s + 1;
        sec->name = strdup(from->name);
        sec->price_cents = from->price_cents;
        sec->seats_per_row = from->seats_per_row;
        sec->rows = calloc(from->row_count, sizeof(char *));
        if (!sec->name || !sec->rows) return -1;
        for (uint32_t r = 0; r < from->row_count; r++) {
            char label[TIX_ROW_LABEL_LEN_MAX + 1];
            seed__row_label(from->first_row + r, label);
            if (!(sec->rows[r] = strdup(label))) return -1;
            sec->row_count = r + 1;
        }
    }
    return 0;
}

/* Create event e through the writer unless it is there. Returns an exit status. */
static int seed__create(cli_core *core, const seed_event *e)
{
    if (inventory_find(core->inv, e->id, strlen(e->id))) {
        printf("%-16s already there\n", e->id);
        return CLI_EXIT_OK;
    }
    commit_cmd *cmd = commit_cmd_new(core->writer, STORE_CMD_EVENT_CREATE);
    event_spec *spec = cmd ? &cmd->op.u.event_create.spec : NULL;
    if (spec) memset(spec, 0, sizeof(*spec));
    if (!cmd || seed__spec(e, spec) != 0) {
        log_error("seed: out of memory");
        if (spec) model_event_spec_free(spec);
        commit_cmd_free(core->writer, cmd);
        return CLI_EXIT_RUNTIME;
    }
    uint64_t seats = model_event_seat_count(spec);
    tix_rc rc = commit_submit_wait(core->writer, cmd);
    int status = CLI_EXIT_OK;
    if (rc == TIX_RC_OK)
        printf("%-16s created, %llu seats\n", e->id, (unsigned long long)seats);
    else if (rc == TIX_RC_EVENT_EXISTS)
        printf("%-16s already there\n", e->id);
    else {
        log_error("seed: cannot create %s (the store failed; see above)", e->id);
        status = CLI_EXIT_RUNTIME;
    }
    model_event_spec_free(spec);
    commit_cmd_free(core->writer, cmd);
    return status;
}

int cli_seed(int argc, char **argv)
{
    char data_dir[CLI_PATH_MAX] = "./tix-data";
    char store_url[CLI_STORE_URL_LEN_MAX] = "";
    const cli_option options[] = {
        {"data", "TIX_DATA", "DIR", "data directory of the embedded store (default ./tix-data)",
         CLI_STRING, data_dir, sizeof(data_dir), 0, 0},
        CLI_STORE_OPTION(store_url),
    };
    cli_result r = cli_parse("seed",
                             "Create the demo events (NBA Finals, Tech Conference, Stadium Tour).\n"
                             "Safe to run twice, and while a server runs on the same data: it\n"
                             "sees the new events within its feed's poll interval.",
                             options, sizeof(options) / sizeof(options[0]), argc, argv, 2);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (ids_init() != 0) return log_error("cannot initialise libsodium"), CLI_EXIT_RUNTIME;
    cli_core_options co = cli_core_options_default(data_dir);
    co.store_url = store_url;
    co.commit.sweep_interval_ms = 60000;
    snprintf(co.commit.node_id, sizeof(co.commit.node_id), "seed");
    cli_core core;
    if (cli_core_open(&co, &core) != 0) return CLI_EXIT_RUNTIME;
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < sizeof(seed__events) / sizeof(seed__events[0]) && status == 0; i++)
        status = seed__create(&core, &seed__events[i]);
    cli_core_close(&core);
    return status;
}
