/* options: table-driven parsing of a command's flags, each also read from an environment
 * variable (flags win). Usage errors name the offending flag and exit with status 2. */
#ifndef TIX_CLI_OPTIONS_H
#define TIX_CLI_OPTIONS_H

#include <stddef.h>

typedef enum cli_kind { CLI_STRING, CLI_UINT } cli_kind;

typedef struct cli_option {
    const char *name;    /* "listen" for --listen */
    const char *env;     /* "TIX_LISTEN", or NULL */
    const char *metavar; /* "HOST:PORT" */
    const char *help;
    cli_kind kind;
    void *target; /* char[target_size] or unsigned */
    size_t target_size;
    unsigned min, max; /* CLI_UINT bounds */
} cli_option;

typedef enum cli_result { CLI_OK, CLI_HELP, CLI_USAGE_ERROR } cli_result;

/* Apply environment variables, then argv[first..argc). On --help prints usage (with
 * `summary`) to stdout and returns CLI_HELP; on a bad flag prints why to stderr. */
cli_result cli_parse(const char *command, const char *summary, const cli_option *options,
                     size_t count, int argc, char **argv, int first);

#endif
