/*
 * front.c — the main of build/mrcnn, the light front of the tool: `mrcnn
 * <subcommand> [options]` finds the subcommand in the table (cli.h's
 * MR_COMMANDS). A light command (eval) runs here, in a binary that links
 * only libc, libm and cJSON, so that it starts in ~2 ms instead of the
 * ~9 ms that loading OpenBLAS, libgomp, Open MPI and libjpeg costs every
 * process. Every other command (and --version, which reports the core's
 * BLAS and MPI) executes mrcnn-core, the full tool, found in this binary's
 * own folder (/proc/self/exe), with argv unchanged: the same process (pid,
 * environment, open files), so `mpirun -np K mrcnn train` and Slurm's
 * srun see no difference. Without mrcnn-core there, such a command fails
 * with exit 1 naming the path it expected; eval still works.
 */
#include "cli/cli.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CORE_NAME "mrcnn-core"

/* "<this binary's folder>/mrcnn-core" into buf; -1 when the folder is
 * unknown (no /proc and argv[0] without a '/') */
static int core_path(char *buf, size_t n, const char *argv0)
{
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k > 0) {
        self[k] = 0;
    } else if (argv0 && strchr(argv0, '/') && strlen(argv0) < sizeof self) {
        snprintf(self, sizeof self, "%s", argv0);
    } else {
        return -1;
    }
    int w = snprintf(buf, n, "%s/" CORE_NAME, dirname(self));
    return w > 0 && (size_t)w < n ? 0 : -1;
}

static int run_core(const char *sub, char **argv)
{
    char path[PATH_MAX + 16];
    if (core_path(path, sizeof path, argv[0])) {
        fprintf(stderr, "mrcnn: cannot run '%s': cannot find this program's folder (/proc/self/exe) to run "
                CORE_NAME " from\n", sub);
        return MR_EXIT_USER;
    }
    /* libgomp's wait policy for the core's OpenMP (cli/util.c): set here,
     * the core starts once, with it */
    cli_set_omp_wait_policy();
    fflush(NULL);
    execv(path, argv);
    int err = errno;
    if (err == ENOENT)
        fprintf(stderr, "mrcnn: cannot run '%s': %s not found (the full tool, built beside mrcnn by make; "
                "only eval runs without it)\n", sub, path);
    else
        fprintf(stderr, "mrcnn: cannot run '%s': %s: %s\n", sub, path, strerror(err));
    return MR_EXIT_USER;
}

int main(int argc, char **argv)
{
    if (argc < 2) { cli_usage(stderr); return MR_EXIT_USAGE; }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        cli_usage(stdout);
        return MR_EXIT_OK;
    }
    if (!strcmp(sub, "--version")) return run_core("version", argv);
#define X(name, light, help)                                                     \
    if (!strcmp(sub, #name)) {                                                   \
        if (light && cmd_##name) return cmd_##name(argc - 1, argv + 1);          \
        return run_core(sub, argv);                                              \
    }
    MR_COMMANDS(X)
#undef X
    fprintf(stderr, "mrcnn: unknown subcommand '%s'\ntry 'mrcnn --help'\n", sub);
    return MR_EXIT_USAGE;
}
