/*
 * norm_frozen_bn.c — frozen BatchNorm (registry name "frozen_bn"):
 * torchvision's FrozenBatchNorm2d, an affine map from fixed running
 * statistics; for pretrained weights (from scratch it is the identity).
 * Tensors: weight, bias, running_mean, running_var, none trained. The
 * arithmetic is core/layers.h's mr_frozenbn_*.
 */
#include "core/layers.h"
#include "core/resnet.h"

#include <stdio.h>

#define BN_EPS 1e-5f   /* torchvision FrozenBatchNorm2d eps */

static void fbn_declare(mr_normp *n, mr_param_table *t, const char *prefix, int C, int groups,
                        int trainable)
{
    (void)groups;
    (void)trainable;   /* frozen: never trained */
    char nm[MR_PARAM_NAME_MAX];
    int cd[1] = {C};
    n->C = C;
    n->G = 1;
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    mr_params_add(t, nm, 1, cd, MR_INIT_ONE, 0, 0, &n->weight, &n->dweight);
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    mr_params_add(t, nm, 1, cd, MR_INIT_ZERO, 0, 0, &n->bias, &n->dbias);
    snprintf(nm, sizeof nm, "%s.running_mean", prefix);
    mr_params_add(t, nm, 1, cd, MR_INIT_ZERO, 0, 0, &n->rmean, NULL);
    snprintf(nm, sizeof nm, "%s.running_var", prefix);
    mr_params_add(t, nm, 1, cd, MR_INIT_ONE, 0, 0, &n->rvar, NULL);
}

static size_t fbn_stats_size(const mr_normp *n, int N)
{
    (void)n;
    (void)N;
    return 0;
}

static void fbn_forward(const mr_normp *n, int N, int HW, const float *y, float *z, float *stats)
{
    (void)stats;
    mr_frozenbn_forward(N, n->C, HW, BN_EPS, y, n->weight, n->bias, n->rmean, n->rvar, z);
}

static void fbn_backward(const mr_normp *n, int N, int HW, const float *y, const float *stats,
                         const float *dz, float *dy)
{
    (void)y;
    (void)stats;
    mr_frozenbn_backward(N, n->C, HW, BN_EPS, n->weight, n->rvar, dz, dy);
}

const struct mr_norm mr_norm_frozen_bn = {
    .name = "frozen_bn",
    .summary = "frozen BatchNorm (fixed statistics and affine; pretrained weights)",
    .default_freeze_at = 2,
    .declare = fbn_declare,
    .stats_size = fbn_stats_size,
    .forward = fbn_forward,
    .backward = fbn_backward,
};
