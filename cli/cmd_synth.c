/*
 * cmd_synth.c — `mrcnn synth`: write the synthetic dataset (PNG images and
 * COCO-format train.json / val.json) and optionally print its statistics.
 * Thin driver over datasets/synth.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "datasets/synth.h"

static const char *USAGE =
    "usage: mrcnn synth --out DIR [--preset tiny|ci|bench] [options]\n"
    "\n"
    "Writes DIR/images/{train,val}_NNNNNN.png and DIR/train.json, DIR/val.json\n"
    "(COCO format: polygons, RLE for occluded instances, iscrowd regions, and\n"
    "13 keypoints on the 'figure' category). Same arguments => identical files.\n"
    "\n"
    "  --out DIR            output directory (created)\n"
    "  --preset NAME        tiny (64x64, 300/60 images), ci (64x64, 400/100, four\n"
    "                       blob-like categories: the regression gate's) or bench\n"
    "                       (128x128, 2000/300; the default)\n"
    "  --train N            training images (overrides the preset)\n"
    "  --val M              validation images\n"
    "  --size S             image side in pixels (16..4096)\n"
    "  --seed K             random seed (default 1)\n"
    "  --threads T          generate with T threads (same files; default 2)\n"
    "  --stats              print instances per image, size histograms,\n"
    "                       keypoint visibility counts\n"
    "\n"
    "Generator parameters are documented in docs/synthetic.md.\n"
    "Exit codes: 0 ok, 1 error (message names the file), 2 usage.\n";

int cmd_synth(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},   {"preset", required_argument, 0, 'p'},
        {"train", required_argument, 0, 't'}, {"val", required_argument, 0, 'v'},
        {"size", required_argument, 0, 's'},  {"seed", required_argument, 0, 'k'},
        {"threads", required_argument, 0, 'j'}, {"stats", no_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *out = NULL, *preset = "bench";
    long ntrain = -1, nval = -1, size = -1, seed = -1, threads = 2;
    int stats = 0, o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'p': preset = optarg; break;
        case 't':
            if (cli_long_arg("synth", "train", optarg, 0, 10000000, &ntrain)) return MR_EXIT_USAGE;
            break;
        case 'v':
            if (cli_long_arg("synth", "val", optarg, 0, 10000000, &nval)) return MR_EXIT_USAGE;
            break;
        case 's':
            if (cli_long_arg("synth", "size", optarg, 16, 4096, &size)) return MR_EXIT_USAGE;
            break;
        case 'k':
            if (cli_long_arg("synth", "seed", optarg, 0, 2147483647L, &seed)) return MR_EXIT_USAGE;
            break;
        case 'j':
            if (cli_long_arg("synth", "threads", optarg, 1, 64, &threads)) return MR_EXIT_USAGE;
            break;
        case 'S': stats = 1; break;
        case 'h': fputs(USAGE, stdout); return MR_EXIT_OK;
        default: return cli_opt_error("synth", o, argv, opts);
        }
    }
    if (optind < argc) return cli_usage_error("synth", "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error("synth", "--out DIR is required");
    mr_synth_params p;
    mr_err e;
    mr_err_clear(&e);
    if (mr_synth_preset(preset, &p, &e)) return cli_usage_error("synth", "--preset: %s", e.msg);
    if (ntrain >= 0) p.n_train = (int)ntrain;
    if (nval >= 0) p.n_val = (int)nval;
    if (size > 0) p.size = (int)size;
    if (seed >= 0) p.seed = (uint64_t)seed;
    mr_synth_stats st;
    int rc = mr_synth_write(&p, out, (int)threads, &st, &e);
    if (rc) return cli_fail("synth", &e);
    if (stats) {
        char buf[8192];
        mr_synth_stats_format(&p, &st, buf, sizeof buf);
        fputs(buf, stdout);
    }
    return MR_EXIT_OK;
}
