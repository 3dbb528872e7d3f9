/*
 * cmd_infer.c — `mrcnn infer --config C.json --weights W.safetensors
 * --data DIR|--image IMG --out results.json [--vis DIR]`: run a trained
 * detector and write a COCO results file (harness/infer_run.h).
 */
#include "cli/cli.h"
#include "harness/infer_run.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("usage: mrcnn infer --config C.json --weights W.safetensors (--data DIR | --image IMG)\n"
           "                   --out results.json [--vis DIR] [--threads N] [--score-thresh S]\n\n"
           "Run the detector on DIR's val split (val.json and its images) or on one image and\n"
           "write a COCO results file (bbox, category_id, score; original image coordinates).\n"
           "--vis writes PNGs of the resized images with boxes (score >= 0.3) drawn.\n"
           "--set KEY=VALUE overrides one config field (repeatable; as mrcnn train --set;\n"
           "`--set help` lists the keys), e.g. --set box_head.score_thresh=0.3.\n");
}

int cmd_infer(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"weights", required_argument, 0, 'w'},
        {"data", required_argument, 0, 'd'},   {"image", required_argument, 0, 'i'},
        {"out", required_argument, 0, 'o'},    {"vis", required_argument, 0, 'v'},
        {"threads", required_argument, 0, 't'}, {"score-thresh", required_argument, 0, 's'},
        {"set", required_argument, 0, 'x'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *config = NULL, *weights = NULL, *data = NULL, *image = NULL, *out = NULL;
    mr_infer_opts o = {1, NULL, -1.0f, NULL, 0, NULL, 0, NULL, 0};
    cli_sets sets;
    cli_sets_init(&sets);
    int c;
    long v;
    double d;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'w': weights = optarg; break;
        case 'd': data = optarg; break;
        case 'i': image = optarg; break;
        case 'o': out = optarg; break;
        case 'v': o.vis_dir = optarg; break;
        case 't':
            if (cli_long_arg("infer", "threads", optarg, 1, 256, &v)) return MR_EXIT_USAGE;
            o.threads = (int)v;
            break;
        case 's':
            if (cli_double_arg("infer", "score-thresh", optarg, 0, 1, &d)) return MR_EXIT_USAGE;
            o.score_thresh = (float)d;
            break;
        case 'x':
            if (cli_sets_add(&sets, "infer", optarg)) return cli_sets_fail(&sets, "infer", optarg);
            break;
        case 'h': help(); return MR_EXIT_OK;
        default: return cli_opt_error("infer", c, argv, opts);
        }
    }
    if (optind < argc) return cli_usage_error("infer", "unexpected argument '%s'", argv[optind]);
    if (sets.help) return cli_sets_help();
    if (!config || !weights || !out) return cli_usage_error("infer", "--config, --weights and --out are required");
    o.sets = (const char *const *)sets.v;
    o.nsets = sets.n;
    if (!data == !image) return cli_usage_error("infer", "give exactly one of --data and --image");
    mr_err e;
    mr_err_clear(&e);
    char changed[1024] = "", changed_set[1024] = "";
    o.changed = changed;
    o.changed_n = sizeof changed;
    o.changed_set = changed_set;
    o.changed_set_n = sizeof changed_set;
    int rc = mr_infer_run(config, weights, data, image, out, &o, &e);
    if (rc) return cli_fail("infer", &e);
    /* allowed (a train/test mismatch can be the experiment), but said */
    if (changed[0])
        fprintf(stderr, "mrcnn infer: note: %s was trained with settings that the config file %s changes: %s\n",
                weights, config, changed);
    if (changed_set[0])
        fprintf(stderr, "mrcnn infer: note: %s was trained with settings that --set changes: %s\n", weights,
                changed_set);
    return MR_EXIT_OK;
}
