/*
 * cmd_store.c — `mrcnn store check [--repair] FILE`: verify the results
 * store (every line a valid record, one record per run, a final newline)
 * and, with --repair, rewrite it with what was found set aside in
 * FILE.rejected (harness/store.h mr_store_check).
 */
#include "cli/cli.h"
#include "harness/store.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void help(void)
{
    printf("usage: mrcnn store check [--repair] FILE\n\n"
           "Verify a results store (results/store.jsonl): every line a JSON record with the\n"
           "required fields and finite numbers, one record per run (run identity: config\n"
           "name, seed, commit, dirty, run directory and resolved config), a newline at the\n"
           "end. Prints one line per finding and a summary; exit 0 when valid (or repaired),\n"
           "1 when something was found and --repair was not given.\n\n"
           "options:\n"
           "  --repair   keep the first record of each run, in file order; append every other\n"
           "             line (bad, duplicate, torn) to FILE.rejected; rewrite FILE atomically\n"
           "             under its lock (appenders wait)\n");
}

int cmd_store(int argc, char **argv)
{
    static const struct option opts[] = {
        {"repair", no_argument, 0, 'r'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int repair = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': repair = 1; break;
        case 'h': help(); return MR_EXIT_OK;
        default: return cli_opt_error("store", c, argv, opts);
        }
    }
    if (optind >= argc) return cli_usage_error("store", "expected an action: check");
    if (strcmp(argv[optind], "check")) return cli_usage_error("store", "unknown action '%s' (known: check)", argv[optind]);
    optind++;
    if (optind + 1 != argc) return cli_usage_error("store", "check: expected one FILE");
    const char *path = argv[optind];
    mr_err e;
    mr_err_clear(&e);
    mr_store_report r;
    int rc = mr_store_check(path, repair, &r, &e);
    if (rc) return cli_fail("store", &e);
    if (r.text) fputs(r.text, stdout);
    int problems = r.bad + r.empty + r.duplicates + (r.tail != 0);
    mr_store_report_free(&r);
    if (problems && !repair) {
        fprintf(stderr, "mrcnn store: %s: %d problem%s found; mrcnn store check --repair %s fixes them\n", path,
                problems, problems == 1 ? "" : "s", path);
        return MR_EXIT_USER;
    }
    return MR_EXIT_OK;
}
