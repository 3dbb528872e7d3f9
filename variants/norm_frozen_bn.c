/*
 * norm_frozen_bn.c — frozen BatchNorm (registry name "frozen_bn"):
 * torchvision's FrozenBatchNorm2d, an affine map from fixed running
 * statistics; for pretrained weights (from scratch it is the identity).
 * The computation is core/layers.h's mr_frozenbn_*, used by core/resnet.c.
 */
#include "core/resnet.h"

const struct mr_norm mr_norm_frozen_bn = {
    .name = "frozen_bn",
    .summary = "frozen BatchNorm (fixed statistics and affine; pretrained weights)",
    .kind = MR_NORM_FROZEN_BN,
};
