/*
 * postprocess.h — from head outputs to image-space results, exactly as
 * torchvision 0.14 does it (roi_heads.py and transform.py):
 *  - masks: paste_masks_in_image — the M x M probability map is padded by one
 *    zero pixel on each side, the box is expanded by (M + 2) / M about its
 *    centre and truncated to integers, the padded map is resized bilinearly
 *    (F.interpolate, align_corners = False) to the integer box (w = x2 - x1
 *    + 1, h = y2 - y1 + 1) and written into a zero image; pixels above the
 *    threshold (0.5, strictly greater) form the binary mask.
 *  - keypoints: heatmaps_to_keypoints — each heatmap is resized bicubically
 *    (F.interpolate, A = -0.75, align_corners = False) to ceil(roi w) x
 *    ceil(roi h), the argmax (first on ties) gives the integer position, and
 *    x = (ix + 0.5) * w / ceil(w) + x1 (likewise y); the score is the resized
 *    map's value there.
 * Boxes are (x1, y1, x2, y2) in the coordinates of the output image (the
 * original image, after the detector scaled its boxes back). Float32
 * arithmetic in torchvision's order, so results match bit for bit where the
 * CPU kernels allow.
 *
 * defines: mr_expand_box, mr_paste_mask_prob, mr_paste_mask, mr_sigmoid_map,
 *   mr_kp_decode_workspace, mr_heatmaps_to_keypoints, mr_aten_linear
 */
#ifndef MR_POSTPROCESS_H
#define MR_POSTPROCESS_H

#include <stddef.h>
#include <stdint.h>

/* ATen's bilinear (align_corners = False) source taps and weights of output
 * index i when resizing in -> out samples (torch 1.13's CPU kernel, checked
 * weight for weight against F.interpolate): scale = (float)in / out, the
 * source index r = scale * (i + 0.5) - 0.5 in DOUBLE, clamped at 0, i0 =
 * trunc(r), i1 = i0 + 1 (i0 at the border), l1 = (float)(r - i0), l0 = 1 -
 * l1; in == out is the identity. The pasted masks and the torchvision input
 * transform (datasets/image.c) both use it. */
void mr_aten_linear(int in, int out, int i, int *i0, int *i1, float *l0, float *l1);

/* torchvision expand_boxes: half sizes scaled by `scale` about the centre */
void mr_expand_box(const float box[4], float scale, float out[4]);

/* Paste probabilities prob (M x M) for box into out (H x W floats; every
 * pixel written, zero outside the box): torchvision's pasted mask. */
void mr_paste_mask_prob(const float *prob, int M, const float box[4], int H, int W, float *out);
/* As above, thresholded: out[i] = prob > thresh (1) else 0; H x W bytes. */
void mr_paste_mask(const float *prob, int M, const float box[4], int H, int W, float thresh,
                   uint8_t *out);

/* out[i] = 1 / (1 + exp(-logits[i])) over n values (torchvision's
 * maskrcnn_inference before pasting) */
void mr_sigmoid_map(size_t n, const float *logits, float *out);

/* floats of scratch mr_heatmaps_to_keypoints needs for a heatmap side S and
 * this roi */
size_t mr_kp_decode_workspace(int S, const float roi[4]);
/* maps (NK, S, S) heatmap logits of one RoI -> xy (NK x 3: x, y, 1) and
 * scores (NK) in the roi's coordinates. */
void mr_heatmaps_to_keypoints(const float *maps, int NK, int S, const float roi[4], float *xy,
                              float *scores, float *ws);

#endif
