/*
 * coco.h — a COCO-format file in memory: images, categories, annotations
 * (ground truth) or detections (a results file prepared against a ground
 * truth as pycocotools' COCO.loadRes does). This is the one place in mrcnn
 * that parses COCO JSON; the dataset loader, the synthetic generator, `infer`
 * and the evaluator all use it.
 *
 * Files are read with a dedicated streaming JSON reader (coco/json_fast.c;
 * see docs/eval.md for why not cJSON): numbers are converted exactly as
 * Python's json does (correctly rounded doubles), unknown keys are skipped,
 * and every error names the file, the record (e.g. "annotations[12]") and the
 * field, and what was expected.
 *
 * What is checked on load (MR_EUSER otherwise): the top level is an object
 * (GT) or an array (results); ids are integers; image ids, category ids and
 * annotation ids are unique; every annotation's image_id and category_id
 * exist; widths and heights are positive; bbox is 4 finite numbers with
 * non-negative width and height; area is finite and non-negative; keypoints
 * are a multiple of 3 long (results: exactly 3 x the category's keypoint
 * count when the category names its keypoints); an RLE's counts sum to h*w;
 * polygons have an even number of coordinates. Numbers that are NaN/Inf
 * cannot occur in JSON text; "NaN"/"Infinity" literals are rejected.
 *
 * Storage: all strings, arrays and polygons live in one arena owned by the
 * mr_coco (mr_coco_free releases everything). Annotations keep file order;
 * per-image and per-category index lists (in file order) are built on load.
 *
 * defines: mr_coco, mr_coco_image, mr_coco_cat, mr_coco_ann, mr_coco_seg,
 *          MR_SEG_NONE, MR_SEG_POLY, MR_SEG_RLE, mr_coco_ann_seg_kind, mr_coco_seg_is_boxes,
 *          mr_coco_init, mr_coco_free,
 *          mr_coco_load, mr_coco_load_opts, MR_COCO_SKIP_SEGM, MR_COCO_RES_XY, MR_COCO_POLY_Q5,
 *          MR_COCO_RES_DEFER_MASKS,
 *          mr_coco_parse,
 *          mr_coco_load_results, mr_coco_load_both,
 *          mr_coco_parse_results, mr_coco_image_index, mr_coco_cat_index,
 *          mr_coco_ann_rle, mr_coco_add_image, mr_coco_add_category,
 *          mr_coco_add_ann, mr_coco_finish, mr_coco_save,
 *          mr_coco_save_results, MR_COCO_KPT_SIGMAS
 */
#ifndef MR_COCO_H
#define MR_COCO_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "coco/rle.h"

/* COCO's 17 person keypoint OKS sigmas (the values pycocotools divides by
 * 10: .26, .25, ...; stored here as .26/10.0 etc. exactly as it computes). */
extern const double MR_COCO_KPT_SIGMAS[17];

typedef struct mr_coco_image {
    int64_t id;
    int32_t width, height;
    const char *file_name;   /* "" when absent */
} mr_coco_image;

typedef struct mr_coco_cat {
    int64_t id;
    const char *name;            /* "" when absent */
    const char *supercategory;   /* "" when absent */
    int32_t num_keypoints;       /* length of `keypoints` (names); 0 if none */
    const char *const *keypoint_names;
    int32_t num_skeleton;        /* pairs of 1-based keypoint indices */
    const int32_t *skeleton;     /* 2 * num_skeleton */
    int32_t num_sigmas;          /* our extension `keypoint_sigmas`; 0 if absent */
    const double *keypoint_sigmas; /* OKS sigmas as used (e.g. 0.026, not .26) */
} mr_coco_cat;

enum { MR_SEG_NONE = 0, MR_SEG_POLY = 1, MR_SEG_RLE = 2 };

/* A segmentation as written in the file. Polygons: npoly parts, part i has
 * poly_len[i] coordinates (x,y pairs) at poly[i]. RLE: the size given in the
 * RLE itself (rle.h, rle.w) and the counts: decoded in rle.cnts (rle.m of
 * them), except for compressed strings in results files read with
 * mr_coco_load_results, which keep the string (rle_str, rle_str_len; then
 * rle.cnts is NULL and rle.m 0) and are decoded when needed: use
 * mr_coco_ann_rle to get the counts in every case. An annotation points at
 * its segmentation (mr_coco_ann.seg, in the arena) only when it has one, so
 * box and keypoint records carry none of these bytes. */
typedef struct mr_coco_seg {
    uint8_t kind;                /* MR_SEG_POLY or MR_SEG_RLE */
    uint8_t rle_compressed;      /* the file gave a compressed string */
    /* for RLE segmentations: the mask's box (rleToBbox), computed on load */
    uint8_t has_mask_bbox;
    /* polygons read under MR_COCO_POLY_Q5: polyq, not poly (box-form
     * segmentations, mr_coco_seg_is_boxes, always keep their doubles) */
    uint8_t poly_q;
    int32_t npoly;
    union {                      /* by kind (88 bytes in all on LP64) */
        struct {                 /* MR_SEG_POLY */
            const int32_t *poly_len;
            union {
                const double *const *poly;
                /* poly_q: each part's (int)(5 v + .5) (mr_poly_quantise) */
                const int32_t *const *polyq;
            };
        };
        struct {                 /* MR_SEG_RLE: the compressed string, */
            const char *rle_str; /* when kept undecoded (rle.cnts NULL); */
            size_t rle_str_len;  /* else rle_str is not meaningful. Also,
                                  * while loading (kind MR_SEG_NONE), the
                                  * text of a segmentation skipped under
                                  * MR_COCO_SKIP_SEGM that finish reads */
        };
    };
    mr_rle rle;                  /* counts point into the arena: never free */
    /* the mask area, set with the mask box and, in results, for every
     * segmentation (the corrected area `--strict` uses); -1 when not set */
    double segm_area;
    double mask_bbox[4];
} mr_coco_seg;

typedef struct mr_coco_ann {
    int64_t id;                  /* results: index + 1, as loadRes */
    int64_t image_id, category_id;
    int32_t image_index, category_index;  /* into mr_coco.images / cats */
    double bbox[4];              /* x, y, w, h */
    double area;
    double score;                /* results only */
    int32_t iscrowd;             /* 0 when the key is absent */
    int32_t ignore;              /* the `ignore` key; 0 when absent */
    int32_t num_keypoints;       /* GT: the field, or the count of v > 0 when absent */
    int32_t num_kpt;             /* keypoint triplets in `keypoints` (0 if none) */
    const double *keypoints;     /* 3 * num_kpt: x, y, v (results read
                                  * with MR_COCO_RES_XY: 2 * num_kpt, x, y;
                                  * see mr_coco.kpt_xy) */
    /* the segmentation, or NULL when the record has none (also when it was
     * skipped under MR_COCO_SKIP_SEGM); see mr_coco_ann_seg_kind */
    mr_coco_seg *seg;
    /* which keys the record had (has_* flags) */
    uint8_t has_bbox, has_area, has_iscrowd, has_ignore, has_num_keypoints, has_score;
    uint8_t seg_skipped;         /* loaded with MR_COCO_SKIP_SEGM: not read */
    /* results: area and bbox are as loadRes set them (see mr_coco_load_results) */
} mr_coco_ann;

/* 120 bytes on LP64 (224 when the segmentation was inline): detection
 * files hold up to ~10^5 of these, most without a segmentation */
_Static_assert(sizeof(void *) != 8 || sizeof(mr_coco_ann) <= 120, "mr_coco_ann grew");
_Static_assert(sizeof(void *) != 8 || sizeof(mr_coco_seg) <= 88, "mr_coco_seg grew");

/* pycocotools frPyObjects' box form: a polygon segmentation whose parts all
 * have exactly 4 numbers is a list of boxes [x, y, w, h], not polygons. */
static inline int mr_coco_seg_is_boxes(const mr_coco_seg *sg)
{
    if (!sg || sg->kind != MR_SEG_POLY || sg->npoly <= 0) return 0;
    for (int32_t i = 0; i < sg->npoly; i++)
        if (sg->poly_len[i] != 4) return 0;
    return 1;
}

/* The kind of an annotation's segmentation: MR_SEG_NONE when it has none. */
static inline int mr_coco_ann_seg_kind(const mr_coco_ann *a)
{
    return a->seg ? a->seg->kind : MR_SEG_NONE;
}

typedef struct mr_coco {
    char *path;                  /* the file read (for messages); "" for built */
    int is_results;
    mr_coco_image *images; size_t num_images;
    mr_coco_cat *cats;     size_t num_cats;
    mr_coco_ann *anns;     size_t num_anns;
    /* anns of image i: img_anns[img_off[i] .. img_off[i+1]) (indices into
     * anns, file order); likewise per category. */
    size_t *img_off, *img_anns;
    size_t *cat_off, *cat_anns;
    /* results only: which loadRes branch the first record chose: "bbox",
     * "segmentation" or "keypoints" ("" for an empty results file) */
    const char *res_kind;
    /* results only: how many records have an RLE mask whose size is not
     * their image's, and the first one's index. pycocotools gives such a
     * mask IoU -1 with every ground truth (never matched), and so does the
     * evaluator; the command line warns (an error under --strict), since it
     * is almost always masks left at the network's input resolution. */
    size_t mask_size_mismatch, first_mask_size_mismatch;
    /* results read with MR_COCO_RES_XY: keypoints hold x, y pairs only
     * (the evaluator's OKS reads no third value: a third less memory);
     * such results cannot be saved */
    int kpt_xy;
    int poly_q;                  /* read under MR_COCO_POLY_Q5 */
    void *impl;                  /* arena, id lookup tables (private) */
} mr_coco;

/* A zeroed, empty dataset (also what mr_coco_free leaves behind). */
void mr_coco_init(mr_coco *c);
void mr_coco_free(mr_coco *c);

/* Load a ground-truth file (instances_*.json or person_keypoints_*.json).
 * `name` in mr_coco_parse is the file name used in messages. */
int mr_coco_load(mr_coco *c, const char *path, mr_err *e);
int mr_coco_parse(mr_coco *c, const char *json, size_t len, const char *name, mr_err *e);
/* mr_coco_load with flags. MR_COCO_SKIP_SEGM: segmentations are not read
 * (seg stays NULL; their text is checked only for balanced
 * brackets and strings) unless an annotation's area or bbox must be derived
 * from its segmentation — for box and keypoint evaluation, where the
 * polygons are most of the file. MR_COCO_POLY_Q5: polygons are kept only
 * as rleFrPoly's quantised points (mr_coco_seg.poly_q; half the memory,
 * coordinates checked on load), for mask evaluation; such a dataset
 * cannot be saved. */
enum { MR_COCO_SKIP_SEGM = 1, MR_COCO_RES_XY = 2, MR_COCO_POLY_Q5 = 4, MR_COCO_RES_DEFER_MASKS = 8 };
int mr_coco_load_opts(mr_coco *c, const char *path, unsigned flags, mr_err *e);

/* Load a results file (a JSON array of detections with image_id,
 * category_id, score and bbox / segmentation / keypoints) against gt, as
 * COCO.loadRes: images and categories are gt's; ids are 1..n; the branch is
 * chosen by the first record (bbox present and non-empty -> area = w*h,
 * iscrowd 0; else segmentation -> area = mask area, bbox = mask box when
 * absent; else keypoints -> bbox = the keypoints' min/max box, area its
 * w*h). Unlike pycocotools: an empty array is a valid empty result; every
 * record must carry the chosen branch's field; image and category ids must
 * exist in gt; polygons and uncompressed RLE are accepted as segmentation. */
int mr_coco_load_results(mr_coco *res, const mr_coco *gt, const char *path, mr_err *e);
int mr_coco_parse_results(mr_coco *res, const mr_coco *gt, const char *json, size_t len,
                          const char *name, mr_err *e);

/* Both at once: the ground truth (mr_coco_load_opts with flags) and the
 * results against it; with threads > 1 the two files are read concurrently.
 * MR_COCO_RES_XY in flags applies to the results (their keypoints stored
 * as x, y pairs); MR_COCO_SKIP_SEGM to the ground truth; MR_COCO_POLY_Q5
 * to both. MR_COCO_RES_DEFER_MASKS (results): compressed RLE strings are
 * kept unchecked and unmeasured on load (has_mask_bbox 0) unless loadRes
 * needs their area (its segmentation branch, which checks them then);
 * whoever decodes them checks them (the evaluator does, with the file,
 * record and field in its message): for mask evaluation, which decodes
 * every one it uses once anyway.
 * The result and the error reported (ground truth first) do not depend on
 * threads. On error both are left empty. */
int mr_coco_load_both(mr_coco *gt, const char *gt_path, unsigned flags, mr_coco *dt,
                      const char *dt_path, int threads, mr_err *e);

/* Index of the image / category with this id, or -1. O(1) average. */
long mr_coco_image_index(const mr_coco *c, int64_t id);
long mr_coco_cat_index(const mr_coco *c, int64_t id);

/* The annotation's mask as pycocotools' annToRLE: polygons rasterised at the
 * image's size and merged, RLE copied; a segmentation-less annotation gives
 * its box as a polygon (loadRes's default for box results). img is the image
 * record the annotation belongs to (from gt for results). The caller frees. */
int mr_coco_ann_rle(const mr_coco_ann *a, const mr_coco_image *img, mr_rle *out, mr_err *e);

/* Building a dataset or results in memory (generator, inference): add
 * records, then mr_coco_finish to build the indexes and check ids. Strings
 * and arrays are copied into the arena. For add_ann, pass a filled
 * mr_coco_ann whose pointers (seg and the segmentation's arrays included)
 * may point at caller memory (they are copied; a seg of kind MR_SEG_NONE is
 * dropped);
 * image_index/category_index are filled by finish. */
int mr_coco_add_image(mr_coco *c, int64_t id, int32_t width, int32_t height,
                      const char *file_name, mr_err *e);
int mr_coco_add_category(mr_coco *c, const mr_coco_cat *cat, mr_err *e);
int mr_coco_add_ann(mr_coco *c, const mr_coco_ann *a, mr_err *e);
int mr_coco_finish(mr_coco *c, mr_err *e);

/* Write as a COCO ground-truth file (object with images, annotations,
 * categories) or a results file (array; each record has image_id,
 * category_id, score and whichever of bbox / segmentation (RLE written
 * compressed) / keypoints it has). Atomic (core/fileio.h). Numbers are
 * written with %.17g so they read back identical. */
int mr_coco_save(const mr_coco *c, const char *path, mr_err *e);
int mr_coco_save_results(const mr_coco *c, const char *path, mr_err *e);

#endif
