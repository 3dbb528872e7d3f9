/*
 * cmd_flops.c — `mrcnn flops --config C.json [--size HxW] [--dets N]
 * [--rois N] [--classes K] [--json OUT.json]`: parameters and multiply-adds
 * per stage of the config's detector at one padded input size
 * (harness/flops.h; counting rules in docs/flops.md).
 */
#include "cli/cli.h"
#include "core/json.h"
#include "harness/flops.h"
#include "variants/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("usage: mrcnn flops --config C.json [--size HxW] [--dets N] [--rois N] [--classes K]\n"
           "                   [--json OUT.json]\n\n"
           "Parameters and multiply-adds (MACs; GFLOPs = 2 x GMACs) per stage (backbone, FPN, RPN,\n"
           "box head, mask head, keypoint head) and layer type (conv, linear, deconv) of the\n"
           "config's detector at inference on one image padded to HxW (default: min_size x\n"
           "4/3 min_size, rounded up to the size divisibility: 800x1088), with --rois box-head\n"
           "RoIs (default: the config's rpn.post_nms_test) and --dets detections in the mask and\n"
           "keypoint heads (default 100); --classes K (default: the config's num_classes, else 80).\n"
           "Counting rules: docs/flops.md.\n");
}

/* "HxW" with both in 1..100000 */
static int parse_size(const char *s, int *h, int *w)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (end == q || *end || a < 1 || b < 1 || a > 100000 || b > 100000) return -1;
    *h = (int)a;
    *w = (int)b;
    return 0;
}

int cmd_flops(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"size", required_argument, 0, 's'},
        {"dets", required_argument, 0, 'd'},   {"rois", required_argument, 0, 'r'},
        {"classes", required_argument, 0, 'k'}, {"json", required_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *config = NULL, *json = NULL, *size = NULL;
    int H = 0, W = 0, dets = 100, rois = 0, classes = -1;
    long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 's':
            size = optarg;
            if (parse_size(optarg, &H, &W))
                return cli_usage_error("flops", "--size '%s': expected HxW, two positive integers (e.g. 800x1088)",
                                       optarg);
            break;
        case 'd':
            if (cli_long_arg("flops", "dets", optarg, 0, 100000, &v)) return MR_EXIT_USAGE;
            dets = (int)v;
            break;
        case 'r':
            if (cli_long_arg("flops", "rois", optarg, 1, 1000000, &v)) return MR_EXIT_USAGE;
            rois = (int)v;
            break;
        case 'k':
            if (cli_long_arg("flops", "classes", optarg, 1, 100000, &v)) return MR_EXIT_USAGE;
            classes = (int)v;
            break;
        case 'j': json = optarg; break;
        case 'h': help(); return MR_EXIT_OK;
        default: return cli_opt_error("flops", c, argv, opts);
        }
    }
    if (optind < argc) return cli_usage_error("flops", "unexpected argument '%s'", argv[optind]);
    if (!config) return cli_usage_error("flops", "--config is required");
    mr_err e;
    mr_err_clear(&e);
    mr_config cf;
    if (mr_config_load(&cf, config, &e)) return cli_fail("flops", &e);
    if (classes > 0) cf.num_classes = classes;
    if (!size) {
        H = cf.min_size;
        W = (cf.min_size * 4 + 2) / 3;
    }
    mr_flops f;
    if (mr_flops_count(&cf, H, W, rois, dets, &f, &e)) return cli_fail("flops", &e);
    printf("%s: input %dx%d (padded), %d box-head RoIs, %d detections, %d class%s\n", cf.name, f.H, f.W, f.rois,
           f.dets, f.num_classes, f.num_classes == 1 ? "" : "es");
    printf("%-14s %12s %10s %10s %10s %10s\n", "stage", "params", "GMACs", "conv", "linear", "deconv");
    for (int i = 0; i < MR_FLOPS_NSTAGES; i++) {
        const mr_flops_stage *s = &f.st[i];
        printf("%-14s %12.0f %10.3f %10.3f %10.3f %10.3f\n", s->name, s->params,
               (s->macs[0] + s->macs[1] + s->macs[2]) * 1e-9, s->macs[0] * 1e-9, s->macs[1] * 1e-9,
               s->macs[2] * 1e-9);
    }
    printf("%-14s %12.0f %10.3f %10.3f %10.3f %10.3f\n", "total", f.params, f.macs * 1e-9, f.macs_type[0] * 1e-9,
           f.macs_type[1] * 1e-9, f.macs_type[2] * 1e-9);
    printf("GFLOPs (2 x GMACs): %.1f; norm tensors (not counted as parameters): %.0f values\n", 2e-9 * f.macs,
           f.norm_params);
    if (json) {
        cJSON *j = mr_flops_to_json(&f);
        int rc = mr_json_write_file(json, j, &e);
        cJSON_Delete(j);
        if (rc) return cli_fail("flops", &e);
    }
    return MR_EXIT_OK;
}
