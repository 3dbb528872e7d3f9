/*
 * cmd_train.c — `mrcnn train --config C.json --data DIR --out RUN/`: one
 * training run (harness/train_run.h) with progress on stderr; the run
 * directory's files are described in docs/run_layout.md. The inputs are
 * checked against each other first (harness/precheck.h).
 */
#include "cli/cli.h"
#include "core/dist.h"
#include "harness/precheck.h"
#include "harness/store.h"
#include "harness/train_run.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("usage: mrcnn train --config C.json --data DIR --out RUN/ [options]\n\n"
           "Train a detector as the config describes on DIR (train.json, val.json and their\n"
           "images), then evaluate it on the val split. Writes RUN/config.json (resolved),\n"
           "train_log.jsonl, checkpoint_NNNNNNN.safetensors, model_final.safetensors,\n"
           "results_val.json, metrics.json, speed.json and record.json.\n"
           "Checked first, before any work: keypoints asked of a dataset without them, masks\n"
           "asked of annotations without segmentation, a --store line that does not parse.\n\n"
           "options:\n"
           "  --config C.json   the run's config (variants/configs/*.json)\n"
           "  --data DIR        dataset directory\n"
           "  --out RUN/        run directory (created)\n"
           "  --resume          continue from the newest checkpoint in RUN/ (same final weights\n"
           "                    as an uninterrupted run); a finished run is not redone: its\n"
           "                    record is added to --store if missing (one record per run)\n"
           "  --threads N       OpenBLAS/OpenMP threads (default 1)\n"
           "  --iters N         override the schedule length (steps scale with it)\n"
           "  --seed S          override the config's seed\n"
           "  --store FILE      append the run's record to this results store (all or nothing,\n"
           "                    once per run; see mrcnn store --help)\n"
           "  --name NAME       config name recorded (default: the config's)\n"
           "  --set KEY=VALUE   override one config field (repeatable, applied in order over the\n"
           "                    file and its bases), e.g. --set schedule.lr=0.01 --set\n"
           "                    roi.extractor=roipool --set anchors.sizes=8,16,32,64,128; typed by\n"
           "                    the config schema (mrcnn train --set help lists the keys); recorded\n"
           "                    in RUN/config.json (\"overrides\") and the record\n"
           "  --init W.safetensors  start from W's tensors whose name and shape match (a\n"
           "                    converted torchvision checkpoint, an ImageNet backbone with\n"
           "                    backbone.body.* only, or a run's model_final / checkpoint; a\n"
           "                    torchvision ResNet's bare names conv1.*, layer1.*: read under\n"
           "                    backbone.body., fc.* unused); the rest is initialised as\n"
           "                    usual; nothing to load is an error. What was loaded, missing,\n"
           "                    unexpected or of another shape: printed and in RUN/init.json.\n"
           "                    The same as --set init.weights=W (config field init.weights)\n"
           "  --init-strict     missing, unexpected or mismatched tensors are an error\n"
           "                    (--set init.strict=true)\n"
           "  --quiet           no progress display\n\n"
           "Data-parallel: `mpirun -np K mrcnn train ...` (or srun) trains one model on K\n"
           "processes: each takes its share of every batch (batch_size images, K <= batch_size),\n"
           "the gradients are summed in rank order, every rank steps the same weights; rank 0\n"
           "writes RUN/. Bitwise reproducible for a fixed K and --threads (per rank); --resume\n"
           "needs the K the checkpoint was written with. See docs/distributed.md.\n");
}

int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"data", required_argument, 0, 'd'},
        {"out", required_argument, 0, 'o'},    {"resume", no_argument, 0, 'r'},
        {"threads", required_argument, 0, 't'}, {"iters", required_argument, 0, 'i'},
        {"seed", required_argument, 0, 's'},   {"store", required_argument, 0, 'S'},
        {"name", required_argument, 0, 'n'},   {"quiet", no_argument, 0, 'q'},
        {"set", required_argument, 0, 'x'},    {"init", required_argument, 0, 'I'},
        {"init-strict", no_argument, 0, 'X'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *config = NULL, *data = NULL, *out = NULL;
    cli_sets sets;
    cli_sets_init(&sets);
    mr_train_opts o;
    memset(&o, 0, sizeof o);
    o.seed = -1;
    o.threads = 1;
    int c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'r': o.resume = 1; break;
        case 'q': o.quiet = 1; break;
        case 'S': o.store = optarg; break;
        case 'n': o.config_name = optarg; break;
        case 't':
            if (cli_long_arg("train", "threads", optarg, 1, 256, &v)) return MR_EXIT_USAGE;
            o.threads = (int)v;
            break;
        case 'i':
            if (cli_long_arg("train", "iters", optarg, 1, LONG_MAX, &o.max_iters)) return MR_EXIT_USAGE;
            break;
        case 's':
            if (cli_long_arg("train", "seed", optarg, 0, LONG_MAX, &o.seed)) return MR_EXIT_USAGE;
            break;
        case 'x':
            if (cli_sets_add(&sets, "train", optarg)) return cli_sets_fail(&sets, "train", optarg);
            break;
        case 'I':
            if (cli_sets_addf(&sets, "init.weights=%s", optarg)) return cli_sets_fail(&sets, "train", optarg);
            break;
        case 'X':
            if (cli_sets_addf(&sets, "init.strict=true")) return cli_sets_fail(&sets, "train", "--init-strict");
            break;
        case 'h': help(); return MR_EXIT_OK;
        default: return cli_opt_error("train", c, argv, opts);
        }
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (sets.help) return cli_sets_help();
    if (!config || !data || !out) return cli_usage_error("train", "--config, --data and --out are required");
    o.sets = (const char *const *)sets.v;
    o.nsets = sets.n;
    o.note = cli_note;
    o.note_ctx = "train";
    mr_err e;
    mr_err_clear(&e);
    /* under mpirun (or srun): one rank of data-parallel training */
    mr_dist dist;
    int rc = mr_dist_init(&dist, mr_dist_launched(), &e);
    if (rc) return cli_fail("train", &e);
    const int K = mr_dist_size(&dist), lead = mr_dist_rank(&dist) == 0;
    o.dist = &dist;
    /* the dataset against the config, and the store, before any work */
    if (lead && o.store) rc = mr_store_recover(o.store, NULL, &e);   /* a torn append of a killed writer */
    if (!rc) rc = mr_precheck_train_set(config, o.sets, o.nsets, data, o.store, &e);
    if (K > 1) rc = mr_dist_agree(&dist, rc, &e);
    if (!rc) rc = mr_train_run(config, data, out, &o, &e);
    if (rc && K > 1 && !dist.agreed) {
        /* this rank alone failed, the others wait in a sum: end them all */
        fprintf(stderr, "mrcnn train: rank %d of %d: %s\n", mr_dist_rank(&dist), K, e.msg[0] ? e.msg : "failed");
        mr_dist_abort(&dist, cli_exit_code(e.code));
    }
    /* a failure every rank agreed on: rank 0 says it before any rank exits
     * (mpirun ends the job at the first non-zero exit, which could cut rank
     * 0 off before its message) */
    int code = MR_EXIT_OK;
    if (rc) code = lead ? cli_fail("train", &e) : cli_exit_code(e.code);
    if (rc && K > 1) {
        mr_err be;
        fflush(stderr);
        mr_dist_barrier(&dist, &be);
    }
    mr_dist_finish(&dist);
    if (rc) return code;
    if (lead) fprintf(stderr, "mrcnn train: done, results in %s%s\n", out, K > 1 ? " (rank 0 of a data-parallel run)" : "");
    return MR_EXIT_OK;
}
