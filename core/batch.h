/*
 * batch.h — what the data side hands the detector for one training or
 * inference step: padded, normalised images and, per image, its ground truth
 * in the coordinates of the resized image. datasets/ fills it; core/ reads it
 * (core never includes datasets/, so mask targets come through a callback).
 *
 * defines: mr_batch, mr_batch_image, mr_mask_target_fn, mr_resize_kind
 */
#ifndef MR_BATCH_H
#define MR_BATCH_H

#include <stdint.h>

/* Rasterise ground-truth instance `inst` of one image into an M x M target
 * for the RoI `box` (x1, y1, x2, y2 in resized-image coordinates), as the
 * paper's implementation does; out is M*M floats in {0, 1}. */
typedef int (*mr_mask_target_fn)(const void *ctx, int inst, const float box[4], int M,
                                 float *out);

/* How an image became the batch's pixels (config input.resize; datasets/
 * image.h's mr_resized_size_kind and mr_image_normalize_resize_tv do it):
 *   MR_RESIZE_MRCNN        the 8-bit image resized (mr_image_resize_bilinear)
 *                          to round(s * side), then normalised;
 *   MR_RESIZE_TORCHVISION  torchvision 0.14's GeneralizedRCNNTransform: the
 *                          image / 255 normalised in float, then resized with
 *                          F.interpolate(scale_factor=s, bilinear,
 *                          align_corners=False, recompute_scale_factor=True):
 *                          the float32 scale s = min(min_size / short side,
 *                          max_size / long side), sides floor(double(side) * s),
 *                          ATen's source indices and weights. */
typedef enum mr_resize_kind { MR_RESIZE_MRCNN = 0, MR_RESIZE_TORCHVISION = 1 } mr_resize_kind;

typedef struct mr_batch_image {
    long image_id;            /* the dataset's image id, for results files */
    int orig_height, orig_width;
    int height, width;        /* after resizing, before padding */
    float scale;              /* resized / original */
    int flipped;              /* horizontally flipped (training) */
    int ninst;
    float *boxes;             /* ninst x 4: x1 y1 x2 y2, resized coordinates */
    int *labels;              /* ninst: contiguous 1..K (0 is background) */
    uint8_t *iscrowd;         /* ninst: 1 = crowd region, ignored in training */
    int nkp;                  /* keypoints per instance, 0 when none */
    float *keypoints;         /* ninst x nkp x 3: x, y, v (resized coordinates) */
    mr_mask_target_fn mask_target;  /* NULL when the dataset has no masks */
    const void *mask_ctx;
} mr_batch_image;

typedef struct mr_batch {
    int n, H, W;              /* images and the padded size (a multiple of the
                                 configured divisor, e.g. 32 for FPN) */
    float *images;            /* n x 3 x H x W, normalised (mean/std), zero padded */
    mr_batch_image *img;      /* n entries */
} mr_batch;

#endif
