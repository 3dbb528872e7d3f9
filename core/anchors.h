/*
 * anchors.h — RPN anchors exactly as torchvision's AnchorGenerator.
 *
 * Cell anchors for one feature map: for each aspect ratio r (height/width)
 * and each size s, h_ratio = sqrt(r), w_ratio = 1 / h_ratio, w = w_ratio * s,
 * h = h_ratio * s, anchor = round([-w, -h, w, h] / 2) (round half to even,
 * as torch.round), ordered ratio-major: index = ri * nsizes + si.
 * Grid anchors: every location (y, x) of a gh x gw map, row-major, shifted
 * by (x * stride_w, y * stride_h), anchors location-major then cell anchor:
 * index = (y * gw + x) * A + a. torchvision's stride is image_size // grid
 * (integer division of the padded image size by the map size).
 * FPN: one size per level (32, 64, 128, 256, 512 on P2-P6) and 3 ratios
 * (0.5, 1, 2); C4/C5: one map with 5 sizes (32..512) x 3 ratios.
 *
 * defines: mr_cell_anchors, mr_grid_anchors, mr_anchors_for_map
 */
#ifndef MR_ANCHORS_H
#define MR_ANCHORS_H

#include "core/err.h"

/* out: nratios * nsizes anchors (4 floats each) centred on (0, 0) */
void mr_cell_anchors(int nsizes, const float *sizes, int nratios, const float *ratios,
                     float *out);
/* out: gh * gw * A anchors (4 floats each) from A cell anchors */
void mr_grid_anchors(int A, const float *cell, int gh, int gw, int stride_h, int stride_w,
                     float *out);
/* Both steps for one feature map of gh x gw on a padded image of
 * img_h x img_w (stride = img // grid, torchvision's rule); out holds
 * gh * gw * nsizes * nratios * 4 floats. MR_EUSER on non-positive sizes,
 * ratios or grid, or a grid larger than the image. */
int mr_anchors_for_map(int nsizes, const float *sizes, int nratios, const float *ratios,
                       int img_h, int img_w, int gh, int gw, float *out, mr_err *e);

#endif
