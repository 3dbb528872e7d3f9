/*
 * main.c — the core's main (build/mrcnn-core, the full tool): `mrcnn
 * <subcommand> [options]` finds the subcommand in the table (cli.h's
 * MR_COMMANDS) and runs it. The front (cli/front.c, build/mrcnn) runs the
 * light commands itself and executes this binary, argv unchanged, for the
 * others; run directly, it runs every command. The helpers both share are
 * in cli/util.c, the --set ones in cli/sets.c.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* libgomp's wait policy (cli/util.c): set it and re-execute once, unless
 * the front already set it or the user chose one. `mrcnn eval` runs no
 * OpenMP region (its threads are its own), so it skips the second start
 * (half its start-up time: the libraries' loading, about 10 ms). */
static void set_omp_wait_policy(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "eval")) return;
    if (!cli_set_omp_wait_policy()) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with libgomp's defaults */
}

int main(int argc, char **argv)
{
    set_omp_wait_policy(argc, argv);
    if (argc < 2) { cli_usage(stderr); return MR_EXIT_USAGE; }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        cli_usage(stdout);
        return MR_EXIT_OK;
    }
    if (!strcmp(sub, "--version")) sub = "version";
#define X(name, light, help) if (!strcmp(sub, #name) && cmd_##name) return cmd_##name(argc - 1, argv + 1);
    MR_COMMANDS(X)
#undef X
    fprintf(stderr, "mrcnn: unknown subcommand '%s'\ntry 'mrcnn --help'\n", sub);
    return MR_EXIT_USAGE;
}
