/* node_id: the id of this node, which the event bus's leases carry (see cli.h).
 *
 * Kept in DATA_DIR/node-id so that a node that restarts has the same id and takes back its own
 * leases at once (the bus's RECLAIM). The file is locked (flock) for as long as the process
 * runs: a second process started on the same data directory must not take that id, or its
 * start would free the leases of the first one's deliveries still being worked on. */
#include "cli/cli.h"

#include "util/ids.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

bool cli_node_id_valid(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > TIX_NODE_ID_LEN_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

/* A new random id: "n-" and 16 hex digits. */
static void cli__node_id_make(char *out, size_t cap)
{
    char hex[IDS_HEX_LEN + 1];
    ids_random_hex(hex);
    snprintf(out, cap, "n-%.16s", hex);
}

/* Read the id kept in fd's file, or write a new one there. Returns 0 or -1. */
static int cli__node_id_keep(int fd, const char *path, char *out, size_t cap)
{
    char kept[TIX_NODE_ID_LEN_MAX + 2] = "";
    ssize_t n = pread(fd, kept, sizeof(kept) - 1, 0);
    if (n > 0) {
        kept[n] = '\0';
        kept[strcspn(kept, "\r\n")] = '\0';
        if (cli_node_id_valid(kept)) return snprintf(out, cap, "%s", kept), 0;
        log_warn("%s does not hold a valid node id: making a new one", path);
    }
    cli__node_id_make(out, cap);
    size_t len = strlen(out);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, out, len, 0) != (ssize_t)len ||
        pwrite(fd, "\n", 1, (off_t)len) != 1 || fsync(fd) != 0)
        return log_error("cannot write %s: %s", path, strerror(errno)), -1;
    log_info("node id %s made and kept in %s", out, path);
    return 0;
}

int cli_node_id(const char *data_dir, const char *given, char *out, size_t cap, int *lock_fd)
{
    *lock_fd = -1;
    if (given && given[0]) {
        if (!cli_node_id_valid(given))
            return log_error("--node-id '%s': 1 to %d letters, digits, '.', '_' or '-'", given,
                             TIX_NODE_ID_LEN_MAX),
                   -1;
        return snprintf(out, cap, "%s", given), 0;
    }
    char path[CLI_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/node-id", data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return log_error("cannot open %s: %s", path, strerror(errno)), -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        cli__node_id_make(out, cap);
        log_warn("%s is in use by another tix process on this data directory: this one is node "
                 "%s (give each process its own --node-id)",
                 path, out);
        return 0;
    }
    if (cli__node_id_keep(fd, path, out, cap) != 0) {
        close(fd);
        return -1;
    }
    *lock_fd = fd;
    return 0;
}
