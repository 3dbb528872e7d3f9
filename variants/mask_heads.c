/*
 * mask_heads.c — the mask head variants for the registry (paper, Table 2e):
 * "fcn" (the FPN head: four 3x3 convs, deconv, 1x1; see core/mask_head.h)
 * and "mlp" (fc 1024, fc 1024, fc K*28*28; cfg.nfc = 2 hidden layers). Each descriptor is a PROTOTYPE
 * head: its cfg holds the paper's defaults and no tensors are bound; the
 * detector copies cfg, overrides in_ch / in_size / num_classes / widths
 * from its config, and binds its own parameter block.
 */
#include "core/mask_head.h"

const struct mr_mask_head mr_mask_head_fcn = {
    .cfg = {.kind = MR_MASK_HEAD_FCN, .in_ch = 256, .in_size = 14, .num_classes = 81,
            .nconv = 4, .conv_ch = 256, .dilation = 1, .deconv_ch = 256, .out_size = 28}};

const struct mr_mask_head mr_mask_head_mlp = {
    .cfg = {.kind = MR_MASK_HEAD_MLP, .in_ch = 256, .in_size = 14, .num_classes = 81,
            .fc_dim = 1024, .nfc = 2, .out_size = 28}};
