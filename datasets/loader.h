/*
 * loader.h — training/inference batches from an mr_dataset (core/batch.h):
 * resize (shorter side to min_size, longer side at most max_size, bilinear),
 * optional horizontal flip (boxes, keypoints with the left/right swap of the
 * dataset's flip map, masks through the callback), per-channel mean/std
 * normalisation of [0,1] pixels, zero padding to a multiple of size_div;
 * and a prefetching loader that prepares batch it+1 on a worker thread while
 * the caller runs iteration it.
 *
 * Determinism: which images and flips make up iteration `it` is a pure
 * function of (seed, it) (mr_loader_iteration: epoch-wise shuffles), and a
 * batch's content is a pure function of those, whatever the number of
 * workers and the cache budget.
 *
 * Mask targets (mr_batch_image.mask_target): polygons are shifted to the
 * RoI, scaled to M x M and rasterised with pycocotools' polygon rasteriser
 * (detectron2's rasterize_polygons_within_box); RLE masks are sampled with
 * RoIAlign (aligned, adaptive sampling) over the full-size mask and
 * thresholded at 0.5 (detectron2's BitMasks.crop_and_resize). Both work in
 * the batch's (resized, flipped) coordinates. Keypoint heatmap targets are
 * core/keypoint_head.h's mr_keypoints_to_heatmap (not duplicated here).
 *
 * defines: mr_loader_cfg, mr_loader_cfg_default, mr_loader_iteration,
 *          mr_loader, mr_loader_open, mr_loader_get, mr_loader_batch,
 *          mr_loader_close, mr_loader_cache_used, mr_mask_target
 */
#ifndef MR_LOADER_H
#define MR_LOADER_H

#include <stdint.h>
#include "core/batch.h"
#include "core/err.h"
#include "datasets/dataset.h"
#include "datasets/image.h"

typedef struct mr_loader_cfg {
    float min_size, max_size;  /* resize rule (mr_resized_size_kind) */
    mr_resize_kind resize;     /* MR_RESIZE_MRCNN [default]: 8-bit resize, then
                                  normalise; MR_RESIZE_TORCHVISION: torchvision's
                                  transform (datasets/image.h); the cache then
                                  keeps the decoded, not the resized, pixels */
    int size_div;              /* pad H and W to a multiple (32 for FPN; 1 = none) */
    int flip;                  /* random horizontal flips (training) */
    float mean[3], std[3];     /* on pixels / 255 (ImageNet defaults) */
    int batch;                 /* images per batch */
    uint64_t seed;
    int workers;               /* 0: prepare batches in the caller; >= 1: a
                                  prefetch thread using this many threads */
    int shuffle;               /* 1: epoch-wise shuffles; 0: images in order
                                  (inference), no flips */
    int shard_lo, shard_n;     /* shard_n > 0 (data-parallel training, with
                                  shuffle): a batch holds only images
                                  [shard_lo, shard_lo + shard_n) of the
                                  iteration's `batch`, padded to the size
                                  the whole batch pads to */
    size_t cache_bytes;        /* resized images kept decoded, at most this
                                  many bytes (0: 1 GiB); beyond, decoded per
                                  batch into scratch buffers */
} mr_loader_cfg;

/* min 800, max 1333, div 32, flip on, ImageNet mean/std, batch 2, seed 1,
 * 1 worker, shuffle on, cache 1 GiB */
void mr_loader_cfg_default(mr_loader_cfg *c);

/* Images idx[0..B) and flips of iteration it over n images: the epoch
 * e = (it*B + k) / n is shuffled with mr_pcg32 seeded (seed, 1000 + e); the
 * flip of global position g is bit 0 of the first draw of (seed,
 * 0x666c6970 + g). perm: n ints of scratch. */
void mr_loader_iteration(uint64_t seed, long it, int B, int n, int flip_on, int *idx, int *flip,
                         int *perm);

typedef struct mr_loader mr_loader;

/* Open a loader over d (which must outlive it). Checks every image's header
 * (exists, readable JPEG/PNG, size as in the JSON; errors name the file);
 * the pixels are decoded and resized on demand, when a batch first needs
 * them (by the prefetch thread when there is one), and kept while the cache
 * budget allows. A body that fails to decode (e.g. a truncated file) is
 * reported by mr_loader_get / mr_loader_batch, naming the file. */
int mr_loader_open(mr_loader **L, const mr_dataset *d, const mr_loader_cfg *cfg, mr_err *e);
/* The batch of iteration it (valid until the next mr_loader_get or close);
 * with workers >= 1 the batch of it + 1 is then prepared in the background.
 * With shuffle off, iteration it holds images it*B .. (it+1)*B - 1 (the last
 * batch may be shorter; n = 0 past the end). */
int mr_loader_get(mr_loader *L, long it, const mr_batch **out, mr_err *e);
/* Fill a batch from explicit images and flips (no threads); the batch and
 * its buffers belong to L. */
int mr_loader_batch(mr_loader *L, const int *idx, const int *flip, int n, const mr_batch **out,
                    mr_err *e);
void mr_loader_close(mr_loader *L);
/* bytes of resized pixels held in the cache (at most cfg.cache_bytes);
 * waits for a batch being prefetched */
size_t mr_loader_cache_used(mr_loader *L);

/* The mask-target callback used in the batches (exposed for tests). */
int mr_mask_target(const void *ctx, int inst, const float box[4], int M, float *out);

#endif
