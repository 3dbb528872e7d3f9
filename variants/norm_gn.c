/*
 * norm_gn.c — GroupNorm (registry name "gn"): 32 groups (fewer when a
 * narrow layer has fewer channels), trained affine; for training from
 * scratch. The computation is core/layers.h's mr_groupnorm_*, used by
 * core/resnet.c.
 */
#include "core/resnet.h"

const struct mr_norm mr_norm_gn = {
    .name = "gn",
    .summary = "GroupNorm (32 groups, trained affine; training from scratch)",
    .kind = MR_NORM_GN,
};
