/*
 * sets.c — the --set KEY=VALUE options of the core's commands (train,
 * infer, ablate; cli.h's cli_sets): collected in order, malformed ones
 * reported as usage errors, `--set help` listing the config keys. Not in
 * the front (cli/front.c): eval has no --set.
 */
#include "cli/cli.h"
#include "variants/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cli_sets_init(cli_sets *s)
{
    memset(s, 0, sizeof *s);
}

int cli_sets_addf(cli_sets *s, const char *fmt, ...)
{
    if (s->n >= (int)(sizeof s->v / sizeof s->v[0])) { s->too_many = 1; return -1; }
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->buf[s->n], sizeof s->buf[0], fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof s->buf[0]) return -1;
    s->v[s->n] = s->buf[s->n];
    s->n++;
    return 0;
}

int cli_sets_add(cli_sets *s, const char *cmd, const char *kv)
{
    (void)cmd;
    if (!strcmp(kv, "help")) { s->help = 1; return 0; }
    if (!strchr(kv, '=') || kv[0] == '=') return -1;
    return cli_sets_addf(s, "%s", kv);
}

int cli_sets_fail(const cli_sets *s, const char *cmd, const char *kv)
{
    if (s->too_many)
        return cli_usage_error(cmd, "--set: more than %d overrides", (int)(sizeof s->v / sizeof s->v[0]));
    if (strlen(kv) >= sizeof s->buf[0]) return cli_usage_error(cmd, "--set %.60s...: too long", kv);
    return cli_usage_error(cmd, "--set '%s': expected KEY=VALUE, e.g. --set schedule.lr=0.01 (--set help lists the keys)",
                           kv);
}

int cli_sets_help(void)
{
    char keys[4096];
    printf("config keys for --set KEY=VALUE (sections of a config file, docs in variants/config.h):\n  %s\n",
           mr_config_known_keys(keys, sizeof keys));
    return MR_EXIT_OK;
}
