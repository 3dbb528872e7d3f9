/*
 * batch.h — what the data side hands the detector for one training or
 * inference step: padded, normalised images and, per image, its ground truth
 * in the coordinates of the resized image. datasets/ fills it; core/ reads it
 * (core never includes datasets/, so mask targets come through a callback).
 *
 * defines: mr_batch, mr_batch_image, mr_mask_target_fn
 */
#ifndef MR_BATCH_H
#define MR_BATCH_H

#include <stdint.h>

/* Rasterise ground-truth instance `inst` of one image into an M x M target
 * for the RoI `box` (x1, y1, x2, y2 in resized-image coordinates), as the
 * paper's implementation does; out is M*M floats in {0, 1}. */
typedef int (*mr_mask_target_fn)(const void *ctx, int inst, const float box[4], int M,
                                 float *out);

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
