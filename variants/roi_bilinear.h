/*
 * roi_bilinear.h — internal to variants/: the bilinear-sampling RoI kernel
 * behind the RoIAlign and RoIWarp extractors (variants/roi_bilinear.c has
 * the geometry). The two differ only in `quantise`: 0 samples the RoI as
 * given (RoIAlign, honouring p->aligned), 1 first rounds its scaled corners
 * to the feature grid (RoIWarp = RoIAlign(aligned = False) on the rounded
 * box). Each function has the contract of the matching mr_roi_extractor
 * member (core/roi_extractor.h): forward overwrites out and, for agg max,
 * writes the argmax into aux; backward adds into dfeat in one fixed order
 * whatever the thread count.
 *
 * defines: mr_roi_bilinear_aux_size, mr_roi_bilinear_forward,
 *          mr_roi_bilinear_backward
 */
#ifndef MR_VARIANTS_ROI_BILINEAR_H
#define MR_VARIANTS_ROI_BILINEAR_H

#include "core/roi_extractor.h"

/* int32 aux elements for R RoIs of C channels: one per output for agg max,
 * none for avg */
size_t mr_roi_bilinear_aux_size(const mr_roi_params *p, int R, int C);

/* forward of R RoIs; `name` (the extractor's) prefixes RoI-check errors */
int mr_roi_bilinear_forward(const char *name, int quantise, const mr_roi_params *p, int N, int C,
                            int H, int W, const float *feat, int R, const float *rois, float *out,
                            int32_t *aux, mr_err *e);

/* dfeat += the gradient of R RoIs' outputs, given the aux forward wrote */
void mr_roi_bilinear_backward(int quantise, const mr_roi_params *p, int N, int C, int H, int W,
                              int R, const float *rois, const float *dout, const int32_t *aux,
                              float *dfeat);

#endif
