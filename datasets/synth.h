/*
 * synth.h — the synthetic Mask R-CNN benchmark: small RGB images of textured,
 * overlapping shapes and articulated figures, with COCO-format ground truth
 * (polygons, compressed RLE for occluded instances, iscrowd regions, and
 * COCO-like keypoints on the figure category). See docs/synthetic.md.
 *
 * Promises: every random choice comes from core/pcg32.h; image i of a split
 * depends only on (seed, split, i, params), so the same parameters give
 * byte-identical files, and a split of N images is a prefix of one of N+k.
 * Every annotation's mask is exactly the set of pixels where that instance is
 * visible in the image (drawn pixels = rasterised polygon, minus what later
 * objects cover); area = that mask's pixel count; bbox = its tight box.
 *
 * defines: mr_synth_params, mr_synth_defaults, mr_synth_preset,
 *          mr_synth_stats, mr_synth_write, mr_synth_stats_format,
 *          mr_synth_image, mr_synth_inst, mr_synth_image_free,
 *          MR_SYNTH_NCAT, MR_SYNTH_NKP, mr_synth_cat_names,
 *          mr_synth_kp_names, mr_synth_kp_sigmas, mr_synth_skeleton,
 *          MR_SYNTH_NSKEL
 */
#ifndef MR_SYNTH_H
#define MR_SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

/* Categories (ids 1..MR_SYNTH_NCAT in this order): ring, cross, crescent,
 * striped_ellipse, checkered_ellipse, worm, figure (keypointed). */
#define MR_SYNTH_NCAT 7
#define MR_SYNTH_NKP 13
#define MR_SYNTH_NSKEL 13
extern const char *const mr_synth_cat_names[MR_SYNTH_NCAT];
extern const char *const mr_synth_kp_names[MR_SYNTH_NKP];
extern const double mr_synth_kp_sigmas[MR_SYNTH_NKP];
extern const int mr_synth_skeleton[MR_SYNTH_NSKEL][2];   /* 1-based, as COCO */

/* The generator's knobs (the difficulty parameters). All sizes in pixels of
 * the S x S image unless said otherwise. */
typedef struct mr_synth_params {
    int size;               /* S: images are S x S RGB */
    int n_train, n_val;     /* images per split */
    uint64_t seed;
    int min_objects, max_objects;  /* objects attempted per image (uniform) */
    double min_obj_size;    /* smallest object extent (longer side), px */
    double max_obj_frac;    /* largest extent as a fraction of S */
    double max_aspect;      /* aspect ratios drawn log-uniform in [1/a, a] */
    double min_visible_frac;/* an object may not be covered beyond this: a
                               placement that leaves an earlier instance with
                               less than this fraction visible is redrawn */
    double max_outside_frac;/* how far (fraction of its extent) an object may
                               stick out of the image (clipped; figures get
                               keypoints outside -> v = 0) */
    double figure_prob;     /* probability that an object is a figure */
    double min_figure_size; /* smallest figure height, px */
    double worm_width_min, worm_width_max; /* worm thickness, px */
    double crowd_prob;      /* probability that an image gets a crowd region */
    int min_distractors, max_distractors;  /* non-object clutter per image */
    double bg_noise;        /* amplitude of per-pixel background noise (0..255) */
    double obj_noise;       /* amplitude of per-pixel object noise */
    double bg_texture;      /* contrast of the background pattern (0..1) */
    double min_contrast;    /* minimum mean |RGB difference| between an
                               object's colour and the background under it */
    unsigned shape_cats;    /* non-figure categories drawn: bit c for category
                               id c (1..6); 0 = all six. Every category stays
                               in the JSON's list either way */
} mr_synth_params;

/* The defaults (= preset "bench"). */
void mr_synth_defaults(mr_synth_params *p);
/* Fill p from a preset name: "tiny" (64x64, 300/60) or "bench" (128x128,
 * 2000/300). Unknown name: MR_EUSAGE naming it. */
int mr_synth_preset(const char *name, mr_synth_params *p, mr_err *e);

/* One generated instance (annotation), in image coordinates. */
typedef struct mr_synth_inst {
    int category;            /* 1..MR_SYNTH_NCAT */
    int iscrowd;
    int use_rle;             /* occluded (or crowd): written as RLE */
    int npoly;               /* polygons (when !use_rle) */
    int *poly_len;           /* coordinates per polygon (2 x points) */
    double **poly;           /* x0,y0,x1,y1,... rounded to 1/100 px */
    uint8_t *mask;           /* S x S row-major visible mask (0/1) */
    long area;               /* pixels in mask */
    double bbox[4];          /* x, y, w, h of mask */
    double kp[3 * MR_SYNTH_NKP]; /* figure only: x, y, v */
    int num_keypoints;       /* v > 0 */
} mr_synth_inst;

typedef struct mr_synth_image_t {
    int S;
    uint8_t *rgb;            /* S x S x 3 */
    int ninst;
    mr_synth_inst *inst;
} mr_synth_image_t;

/* Generate image `index` (0-based) of split 0 (train) or 1 (val). */
int mr_synth_image(const mr_synth_params *p, int split, int index, mr_synth_image_t *out,
                   mr_err *e);
void mr_synth_image_free(mr_synth_image_t *im);

/* What --stats prints, accumulated over the written splits. */
typedef struct mr_synth_stats {
    long images[2], instances[2], crowd[2], rle[2], poly[2];
    long per_image_hist[2][16];        /* annotated instances per image, 15+ last */
    long per_cat[2][MR_SYNTH_NCAT];
    long coco_area[2][3];              /* small <32^2, medium <96^2, large */
    long rel_size[2][4];               /* sqrt(area)/S: <.1, <.25, <.5, >=.5 */
    long kp_vis[2][3];                 /* keypoints with v = 0, 1, 2 */
    long min_area[2], max_area[2];
} mr_synth_stats;

/* Write OUT/images/{train,val}_NNNNNN.png, OUT/train.json, OUT/val.json.
 * st (may be NULL) receives the statistics. threads >= 1 generates images
 * in parallel; the files do not depend on it. */
int mr_synth_write(const mr_synth_params *p, const char *outdir, int threads,
                   mr_synth_stats *st, mr_err *e);
/* The statistics as a human-readable table into buf (always NUL-terminated). */
void mr_synth_stats_format(const mr_synth_params *p, const mr_synth_stats *st, char *buf,
                           size_t n);

#endif
