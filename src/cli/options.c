/* options: see options.h. */
#include "cli/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cli__usage(const char *command, const char *summary, const cli_option *options,
                       size_t count)
{
    printf("Usage: tix %s [OPTIONS]\n\n%s\n\nOptions:\n", command, summary);
    for (size_t i = 0; i < count; i++) {
        const cli_option *o = &options[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s %s", o->name, o->metavar);
        printf("  %-28s %s", flag, o->help);
        if (o->env) printf(" [env %s]", o->env);
        printf("\n");
    }
    printf("  %-28s %s\n", "--help", "show this help");
}

/* Store value into option o. Returns 0, or -1 after printing why. */
static int cli__set(const cli_option *o, const char *value, const char *source)
{
    if (o->kind == CLI_STRING) {
        if (strlen(value) >= o->target_size) {
            fprintf(stderr, "tix: %s: value too long (at most %zu characters)\n", source,
                    o->target_size - 1);
            return -1;
        }
        strcpy(o->target, value);
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || !end || *end || end == value || value[0] == '-' || v < o->min || v > o->max) {
        fprintf(stderr, "tix: %s: '%s' is not a whole number from %u to %u\n", source, value,
                o->min, o->max);
        return -1;
    }
    *(unsigned *)o->target = (unsigned)v;
    return 0;
}

cli_result cli_parse(const char *command, const char *summary, const cli_option *options,
                     size_t count, int argc, char **argv, int first)
{
    for (size_t i = 0; i < count; i++) {
        const char *value = options[i].env ? getenv(options[i].env) : NULL;
        if (value && *value && cli__set(&options[i], value, options[i].env) != 0)
            return CLI_USAGE_ERROR;
    }
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cli__usage(command, summary, options, count);
            return CLI_HELP;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "tix %s: unexpected argument '%s' (see tix %s --help)\n", command, arg,
                    command);
            return CLI_USAGE_ERROR;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_option *o = NULL;
        for (size_t k = 0; k < count && !o; k++)
            if (strlen(options[k].name) == name_len &&
                strncmp(options[k].name, name, name_len) == 0)
                o = &options[k];
        if (!o) {
            fprintf(stderr, "tix %s: unknown option '%.*s' (see tix %s --help)\n", command,
                    (int)(name_len + 2), arg, command);
            return CLI_USAGE_ERROR;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            fprintf(stderr, "tix %s: option '--%s' needs a value (%s)\n", command, o->name,
                    o->metavar);
            return CLI_USAGE_ERROR;
        }
        char source[80];
        snprintf(source, sizeof(source), "--%s", o->name);
        if (cli__set(o, value, source) != 0) return CLI_USAGE_ERROR;
    }
    return CLI_OK;
}
