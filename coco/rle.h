/*
 * rle.h — run-length encoded (RLE) binary masks with pycocotools' maskApi
 * semantics, bit for bit: an RLE of an h x w mask is a list of m counts of
 * alternating runs of 0s and 1s over the pixels in column-major order
 * (x-major: pixel (x, y) is at x*h + y), always starting with a run of 0s
 * (possibly of length 0). The compressed string form is pycocotools'
 * LEB128-like text (6 bits per char, ASCII 48..111, deltas against the count
 * two places back from the fourth count on).
 *
 * Everything here works on RLE without decoding to full masks, except
 * encode/decode themselves. Polygons are rasterised exactly as maskApi's
 * rleFrPoly (upsampling by 5, rounding with (int)(v + .5), y-boundary points,
 * downsampling); boxes are turned into the 4-point polygon as rleFrBbox does.
 * IoU uses the bounding-box prefilter and crowd semantics of rleIou/bbIou:
 * for a crowd ground truth the union is the detection's area.
 *
 * Functions that allocate return MR_OK or MR_ENOMEM/MR_EUSER and fill mr_err;
 * an mr_rle owns its counts (free with mr_rle_free). A zero-initialised
 * mr_rle (or MR_RLE_INIT) is an empty 0x0 mask.
 *
 * defines: mr_rle, MR_RLE_INIT, mr_rle_free, mr_rle_set, mr_rle_copy,
 *          mr_rle_encode, mr_rle_encode_rowmajor, mr_rle_decode,
 *          mr_rle_decode_rowmajor, mr_rle_to_string, mr_rle_from_string,
 *          mr_rle_counts_from_string,
 *          mr_rle_check, mr_rle_from_poly, mr_rle_from_polys,
 *          mr_rle_from_bbox, mr_rle_area, mr_rle_bbox, mr_rle_merge,
 *          mr_rle_iou, mr_rle_iou_bb, mr_bbox_iou,
 *          mr_rle_runs, mr_rle_runs_from_string, mr_rle_string_stats,
 *          mr_runs_inter, mr_poly_scratch, mr_poly_scratch_init,
 *          mr_poly_scratch_free, mr_rle_runs_from_polys, mr_poly_quantise,
 *          mr_rle_from_polys_q, mr_rle_runs_from_polys_q
 */
#ifndef MR_RLE_H
#define MR_RLE_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

typedef struct mr_rle {
    uint32_t h, w;   /* mask height and width */
    size_t m;        /* number of counts */
    uint32_t *cnts;  /* m run lengths: 0s, 1s, 0s, ... (column-major) */
} mr_rle;

#define MR_RLE_INIT {0, 0, 0, NULL}

void mr_rle_free(mr_rle *r);
/* r = a copy of the m counts cnts (h x w); r's old counts are freed. */
int mr_rle_set(mr_rle *r, uint32_t h, uint32_t w, const uint32_t *cnts, size_t m, mr_err *e);
int mr_rle_copy(mr_rle *dst, const mr_rle *src, mr_err *e);

/* Encode an h x w mask of 0/non-0 bytes. mr_rle_encode reads it column-major
 * (mask[x*h + y], as pycocotools' Fortran-order masks), _rowmajor reads
 * mask[y*w + x] (the layout of images and mask heads). */
int mr_rle_encode(mr_rle *r, const uint8_t *mask, uint32_t h, uint32_t w, mr_err *e);
int mr_rle_encode_rowmajor(mr_rle *r, const uint8_t *mask, uint32_t h, uint32_t w, mr_err *e);
/* Decode into h*w bytes (0/1) that the caller provides; the counts must sum
 * to h*w (see mr_rle_check). */
void mr_rle_decode(const mr_rle *r, uint8_t *mask);
void mr_rle_decode_rowmajor(const mr_rle *r, uint8_t *mask);

/* Compressed string form (pycocotools rleToString / rleFrString). to_string
 * returns a malloc'd NUL-terminated string in *out. from_string reads len
 * chars of s (no NUL needed); a truncated or out-of-alphabet string is
 * MR_EUSER (message says which char). */
int mr_rle_to_string(const mr_rle *r, char **out, mr_err *e);
int mr_rle_from_string(mr_rle *r, const char *s, size_t len, uint32_t h, uint32_t w, mr_err *e);
/* The same into caller memory: cnts must hold len entries; *m = count. */
int mr_rle_counts_from_string(const char *s, size_t len, uint32_t *cnts, size_t *m, mr_err *e);
/* MR_OK iff the counts sum to exactly h*w; else MR_EUSER with the sum. */
int mr_rle_check(const mr_rle *r, mr_err *e);

/* One polygon of k points xy[2k] = x0,y0,x1,y1,... (rleFrPoly exactly).
 * Limits where pycocotools' C would overflow int or allocate without bound:
 * every coordinate finite and within +-MR_POLY_MAX_COORD pixels, and the
 * outline traced at 5x resolution at most MR_POLY_MAX_TRACE points; beyond
 * them MR_EUSER naming the value (no polygon within them changes). */
#define MR_POLY_MAX_COORD 1e6
/* The most pixels (height x width) a mask may have: pycocotools' rleFrPoly
 * indexes pixels as x * h + y in int; images and RLE sizes beyond it are
 * refused when read. */
#define MR_MASK_MAX_PIXELS 2147483647LL
#define MR_POLY_MAX_TRACE ((size_t)1 << 27)
int mr_rle_from_poly(mr_rle *r, const double *xy, size_t k, uint32_t h, uint32_t w, mr_err *e);
/* Several polygons (parts of one object) merged by union, as pycocotools'
 * annToRLE does: xy[i] has k[i] points. n == 0 gives an all-zero mask. */
int mr_rle_from_polys(mr_rle *r, const double *const *xy, const size_t *k, size_t n,
                      uint32_t h, uint32_t w, mr_err *e);
/* Box [x, y, width, height] (rleFrBbox: the 4-point polygon). */
int mr_rle_from_bbox(mr_rle *r, const double bb[4], uint32_t h, uint32_t w, mr_err *e);

/* Number of 1 pixels (sum of the odd counts; rleArea). */
uint64_t mr_rle_area(const mr_rle *r);
/* Tight box [x, y, w, h] of the 1 pixels (rleToBbox, including its quirk:
 * a run of 1s that wraps to the next column widens the box to the full
 * height); all zero for an empty mask. */
void mr_rle_bbox(const mr_rle *r, double bb[4]);
/* Union (intersect = 0) or intersection (1) of n masks of one size
 * (rleMerge); masks of different sizes give MR_EUSER. */
int mr_rle_merge(mr_rle *out, const mr_rle *rs, size_t n, int intersect, mr_err *e);

/* IoU matrix o[d*n + g] (m detections by n ground truths, row-major) as
 * rleIou: 0 where the boxes do not overlap or the intersection is empty, -1
 * where sizes differ; for iscrowd[g] != 0 (iscrowd may be NULL) the union is
 * the detection's area. */
void mr_rle_iou(const mr_rle *dt, size_t m, const mr_rle *gt, size_t n,
                const uint8_t *iscrowd, double *o);
/* The same with the masks' boxes (mr_rle_bbox of each) given: dtbb[4m],
 * gtbb[4n] — saves recomputing boxes known from loading. */
void mr_rle_iou_bb(const mr_rle *dt, size_t m, const double *dtbb, const mr_rle *gt, size_t n,
                   const double *gtbb, const uint8_t *iscrowd, double *o);
/* The same for boxes [x, y, w, h] (bbIou): dt[4m], gt[4n]. */
void mr_bbox_iou(const double *dt, size_t m, const double *gt, size_t n,
                 const uint8_t *iscrowd, double *o);

/* Runs form, for IoU without decoding: the runs of 1s as [start, end)
 * pixel positions (column-major), runs[2i], runs[2i+1], ascending, none
 * empty. From counts (m counts; runs needs m entries, m/2 runs are at most
 * written): returns the number of runs. */
size_t mr_rle_runs(const uint32_t *cnts, size_t m, uint32_t *runs);
/* The same straight from a compressed string of len chars (runs must hold
 * len + 1 entries); MR_EUSER as mr_rle_counts_from_string for a bad one.
 * *n = the number of runs, *area = the 1 pixels, *total = the sum of all
 * counts (h*w for a valid mask). */
int mr_rle_runs_from_string(const char *s, size_t len, uint32_t *runs, size_t *n,
                            uint64_t *area, uint64_t *total, mr_err *e);
/* One pass over a compressed string, nothing stored: the sum of its
 * counts (*total), its area and rleToBbox's box (as mr_rle_bbox of the
 * decoded mask of height h; bb may be NULL). MR_EUSER for a bad string. */
int mr_rle_string_stats(const char *s, size_t len, uint32_t h, uint64_t *total, uint64_t *area,
                        double bb[4], mr_err *e);
/* Pixels in both of two runs lists of one mask size. */
uint64_t mr_runs_inter(const uint32_t *a, size_t na, const uint32_t *b, size_t nb);

/* Buffers for rasterising polygons, kept from one call to the next: the
 * embedded ones serve small polygons, larger ones grow on the heap. Not
 * movable once initialised (it points into itself). */
typedef struct mr_poly_scratch {
    int *x, *y;
    uint32_t *a, *col, *tmp, *cnt, *runs, *runs2;
    size_t cap_x, cap_y, cap_a, cap_col, cap_tmp, cap_cnt, cap_runs, cap_runs2;
    int xb[256], yb[256];
    uint32_t ab[2048], cb[2048], tb[1024], nb[1024];
} mr_poly_scratch;
void mr_poly_scratch_init(mr_poly_scratch *s);
void mr_poly_scratch_free(mr_poly_scratch *s);
/* The runs form (as mr_rle_runs) of mr_rle_from_polys' mask, without its
 * counts: the same pixels, the same runs, the same errors. *runs points
 * into s (valid until its next use), *n runs. */
int mr_rle_runs_from_polys(const double *const *xy, const size_t *k, size_t n, uint32_t h, uint32_t w,
                           mr_poly_scratch *s, const uint32_t **runs, size_t *nruns, mr_err *e);

/* Quantised polygons: rleFrPoly's first step, (int)(5 v + .5) of each of
 * the n coordinates into q (MR_EUSER, naming the point, for one beyond
 * +-MR_POLY_MAX_COORD, as mr_rle_from_poly). Half the memory of the
 * doubles, and all that rasterising reads: the _q functions below give
 * the same masks, runs and errors from them as their double forms from
 * the doubles. */
int mr_poly_quantise(const double *xy, size_t n, int32_t *q, mr_err *e);
int mr_rle_from_polys_q(mr_rle *r, const int32_t *const *q, const size_t *k, size_t n,
                        uint32_t h, uint32_t w, mr_err *e);
int mr_rle_runs_from_polys_q(const int32_t *const *q, const size_t *k, size_t n, uint32_t h, uint32_t w,
                             mr_poly_scratch *s, const uint32_t **runs, size_t *nruns, mr_err *e);

#endif
