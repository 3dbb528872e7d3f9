/*
 * boxes.h — box operations of the detector, with torchvision's semantics:
 * box coding (BoxCoder), clipping, small-box removal, IoU (box_iou), NMS and
 * per-class NMS (ops.nms / ops.batched_nms), the proposal matcher (Matcher),
 * the balanced positive/negative sampler (BalancedPositiveNegativeSampler,
 * drawing from an mr_pcg32) and the FPN level mapper (LevelMapper).
 *
 * Boxes are float x1, y1, x2, y2 (4 floats per box, contiguous), in pixels,
 * areas (x2 - x1) * (y2 - y1) with no +1. Nothing here allocates: functions
 * that need scratch take it from the caller, sized by a *_workspace function.
 * Everything is deterministic; ties are broken by the lower index.
 *
 * defines: MR_BBOX_XFORM_CLIP, mr_box_coder, mr_box_coder_make, mr_box_encode,
 *   mr_box_decode, mr_boxes_clip, mr_boxes_remove_small, mr_box_area, mr_box_iou,
 *   mr_argsort_desc, mr_nms_workspace, mr_nms, mr_batched_nms,
 *   MR_MATCH_BELOW_LOW, MR_MATCH_BETWEEN, mr_match, mr_sample_balanced,
 *   mr_sample_balanced_counts,
 *   mr_fpn_levels, mr_fpn_partition
 */
#ifndef MR_BOXES_H
#define MR_BOXES_H

#include <stddef.h>
#include <stdint.h>
#include "core/pcg32.h"

/* ---- box coding (torchvision BoxCoder) ----
 * weights (wx, wy, ww, wh): (1, 1, 1, 1) for the RPN, (10, 10, 5, 5) for the
 * box head; decoding clamps dw, dh (after dividing by the weights) at
 * clip = log(1000 / 16). */
#define MR_BBOX_XFORM_CLIP 4.135166556742356f  /* logf(1000.f / 16.f) */

typedef struct mr_box_coder { float wx, wy, ww, wh, clip; } mr_box_coder;

mr_box_coder mr_box_coder_make(float wx, float wy, float ww, float wh);
/* deltas[i] = encode(target gt[i] relative to reference ref[i]), n boxes:
 * dx = wx (gx - rx) / rw, dy likewise, dw = ww log(gw / rw), dh likewise,
 * with centres x1 + 0.5 w. (torchvision encode_single(gt, proposals)). */
void mr_box_encode(const mr_box_coder *c, int n, const float *gt, const float *ref,
                   float *deltas);
/* out (n x k x 4) = decode(deltas (n x k x 4), ref (n x 4)): k sets of
 * deltas per reference box (k = 1 for the RPN, the class count for the box
 * head's class-specific regression). out may not alias deltas. */
void mr_box_decode(const mr_box_coder *c, int n, int k, const float *deltas,
                   const float *ref, float *out);

/* clamp x to [0, width], y to [0, height], in place (n boxes) */
void mr_boxes_clip(int n, float *boxes, int height, int width);
/* Writes the indices (ascending) of boxes whose width AND height are
 * >= min_size into keep; returns how many. */
int mr_boxes_remove_small(int n, const float *boxes, float min_size, int *keep);
static inline float mr_box_area(const float *b) { return (b[2] - b[0]) * (b[3] - b[1]); }
/* iou (M x N) between a (M boxes) and b (N boxes), torchvision box_iou;
 * a pair whose union is not positive (two empty boxes) gets 0, not NaN. */
void mr_box_iou(int M, const float *a, int N, const float *b, float *iou);

/* ---- sorting and NMS ---- */

/* order[0..n) = indices sorted by score descending, ties by ascending
 * index (a stable sort), NaN scores last. tmp: n ints of scratch. */
void mr_argsort_desc(int n, const float *scores, int *order, int *tmp);

/* bytes of scratch mr_nms / mr_batched_nms need for n boxes */
size_t mr_nms_workspace(int n);
/* Greedy NMS (torchvision ops.nms): visit boxes by score descending (ties:
 * lower index first), keep a box unless its IoU with an already kept box is
 * > iou_threshold. Writes kept indices, in visiting order, into keep and
 * returns their count; stops after max_keep (<= 0: no limit), which leaves
 * the first max_keep of the full result unchanged. ws: mr_nms_workspace(n)
 * bytes. */
int mr_nms(int n, const float *boxes, const float *scores, float iou_threshold,
           int max_keep, int *keep, void *ws);
/* Per-class NMS (torchvision ops.batched_nms): boxes of different classes
 * never suppress each other. The result is sorted by score descending (ties
 * by index), as torchvision's; computed by an exact per-class loop rather
 * than the coordinate-offset trick (equal up to that trick's float rounding). */
int mr_batched_nms(int n, const float *boxes, const float *scores, const int *classes,
                   float iou_threshold, int max_keep, int *keep, void *ws);

/* ---- matching (torchvision Matcher) ---- */
#define MR_MATCH_BELOW_LOW (-1)
#define MR_MATCH_BETWEEN (-2)
/* quality (M x N), M ground truths by N predictions (IoUs). matches[n] =
 * the gt with the highest quality for prediction n (first on ties), or
 * MR_MATCH_BELOW_LOW when that quality < low, MR_MATCH_BETWEEN when in
 * [low, high). allow_low_quality: predictions that are some gt's best match
 * (ties included) keep their argmax gt whatever its quality. M == 0: every
 * prediction is MR_MATCH_BELOW_LOW (torchvision raises; we let an image
 * without objects train as all-background). ws: M floats (only read when
 * allow_low_quality; may be NULL otherwise). */
void mr_match(int M, int N, const float *quality, float high, float low,
              int allow_low_quality, int *matches, float *ws);

/* ---- balanced sampling (torchvision BalancedPositiveNegativeSampler) ----
 * labels (n): >= 1 positive, 0 negative, < 0 ignored. Picks
 * npos = min(#positives, (int)(batch * positive_fraction)) positives and
 * nneg = min(#negatives, batch - npos) negatives uniformly at random without
 * replacement (selection sampling, one mr_pcg32_bounded draw per candidate
 * visited), writing their indices in ascending order into pos_idx and
 * neg_idx (each needs room for batch ints). Same rng state => same choice. */
void mr_sample_balanced(int n, const int *labels, int batch, float positive_fraction,
                        mr_pcg32 *rng, int *pos_idx, int *npos, int *neg_idx, int *nneg);
/* mr_sample_balanced's draws (the same rng advance) and counts for an image
 * with P positive and Q negative candidates, without their labels: a rank
 * of data-parallel training replays the other ranks' images with it, so that
 * its own images see the rng state one process would give them. */
void mr_sample_balanced_counts(int P, int Q, int batch, float positive_fraction, mr_pcg32 *rng, int *npos,
                               int *nneg);

/* ---- FPN level mapping (torchvision LevelMapper, FPN paper eq. 1) ----
 * level[i] = clamp(floor(k0 + log2(sqrt(area_i) / canonical_scale) + 1e-6),
 * k_min, k_max), computed in float as torchvision; ABSOLUTE levels (2..5
 * for P2-P5), not level - k_min. boxes: n boxes, box i at boxes + i*stride
 * (stride 4 for plain boxes; for (R, 5) RoIs pass rois + 1 and stride 5).
 * The paper's values: k_min 2, k_max 5, canonical_scale 224, k0 4. */
void mr_fpn_levels(int n, const float *boxes, int stride, int k_min, int k_max,
                   int canonical_scale, int canonical_level, int *level);
/* Group indices by level, stably: order[] lists the indices of level k_min
 * first (ascending), then k_min + 1, ...; count[k - k_min] how many. */
void mr_fpn_partition(int n, const int *level, int k_min, int k_max, int *order, int *count);

#endif
