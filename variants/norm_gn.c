/*
 * norm_gn.c — GroupNorm (registry name "gn"): 32 groups (the config's
 * gn_groups, reduced until they divide a narrow layer's channels), trained
 * affine weight and bias; for training from scratch. Keeps each sample's
 * group mean and 1/std for backward. The arithmetic is core/layers.h's
 * mr_groupnorm_*.
 */
#include "core/layers.h"
#include "core/resnet.h"

#include <stdio.h>

#define GN_EPS 1e-5f

/* the largest divisor of C not above want (at least 1) */
static int gn_groups(int C, int want)
{
    int g = want < C ? want : C;
    while (g > 1 && C % g) g--;
    return g > 0 ? g : 1;
}

static void gn_declare(mr_normp *n, mr_param_table *t, const char *prefix, int C, int groups,
                       int trainable)
{
    char nm[MR_PARAM_NAME_MAX];
    int cd[1] = {C};
    n->C = C;
    n->G = gn_groups(C, groups);
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    mr_params_add(t, nm, 1, cd, MR_INIT_ONE, 0, trainable, &n->weight, &n->dweight);
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    mr_params_add(t, nm, 1, cd, MR_INIT_ZERO, 0, trainable, &n->bias, &n->dbias);
}

/* mean (N x G), then rstd (N x G) */
static size_t gn_stats_size(const mr_normp *n, int N)
{
    return 2 * (size_t)N * n->G;
}

static void gn_forward(const mr_normp *n, int N, int HW, const float *y, float *z, float *stats)
{
    mr_groupnorm_forward(N, n->C, HW, n->G, GN_EPS, y, n->weight, n->bias, z, stats,
                         stats + (size_t)N * n->G);
}

static void gn_backward(const mr_normp *n, int N, int HW, const float *y, const float *stats,
                        const float *dz, float *dy)
{
    mr_groupnorm_backward(N, n->C, HW, n->G, y, n->weight, stats, stats + (size_t)N * n->G, dz, dy,
                          n->dweight, n->dbias);
}

const struct mr_norm mr_norm_gn = {
    .name = "gn",
    .summary = "GroupNorm (32 groups, trained affine; training from scratch)",
    .default_freeze_at = 0,
    .uses_groups = 1,
    .declare = gn_declare,
    .stats_size = gn_stats_size,
    .forward = gn_forward,
    .backward = gn_backward,
};
