/*
 * cocoeval.c — COCOeval (see cocoeval.h). The unit of work is a "cell": one
 * image and one category (or one image and all categories when use_cats is
 * 0), holding the ground truths in pycocotools' order and the detections
 * sorted by score (stable) and cut at the largest maxDets. Evaluating a cell
 * computes its IoU/OKS matrix once and, for every area range and IoU
 * threshold, the greedy matching of evaluateImg; its outputs (one flag per
 * detection: true positive, false positive or ignored, and the count of
 * non-ignored ground truths) go to fixed places, so threads only split the
 * cells. Accumulation then follows COCOeval.accumulate exactly, and the means
 * of the summary use numpy's pairwise summation so that the numbers are the
 * same to the last bit or nearly so.
 */
#include "eval/cocoeval.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

enum { FL_FP = 0, FL_TP = 1, FL_IG = 2 };

static const char *const DET_NAMES[12] = {"AP", "AP50", "AP75", "APs", "APm", "APl",
                                          "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
static const char *const KP_NAMES[10] = {"AP", "AP50", "AP75", "APm", "APl",
                                         "AR", "AR50", "AR75", "ARm", "ARl"};

/* numpy's linspace(start, stop, num) */
static void linspace(double *y, double start, double stop, int num)
{
    double step = (stop - start) / (num - 1);
    for (int i = 0; i < num; i++) y[i] = (double)i * step + start;
    y[num - 1] = stop;
}

void mr_eval_params_default(mr_eval_params *p, int iou_type)
{
    memset(p, 0, sizeof *p);
    p->iou_type = iou_type;
    p->T = 10;
    linspace(p->iou_thrs, .5, 0.95, 10);
    p->R = 101;
    linspace(p->rec_thrs, 0.0, 1.00, 101);
    p->use_cats = 1;
    p->threads = 1;
    if (iou_type == MR_IOU_KEYPOINTS) {
        p->M = 1; p->max_dets[0] = 20;
        p->A = 3;
        double r[3][2] = {{0, 1e10}, {1024, 9216}, {9216, 1e10}};
        const char *l[3] = {"all", "medium", "large"};
        for (int i = 0; i < 3; i++) { p->area_rng[i][0] = r[i][0]; p->area_rng[i][1] = r[i][1]; strcpy(p->area_lbl[i], l[i]); }
    } else {
        p->M = 3; p->max_dets[0] = 1; p->max_dets[1] = 10; p->max_dets[2] = 100;
        p->A = 4;
        double r[4][2] = {{0, 1e10}, {0, 1024}, {1024, 9216}, {9216, 1e10}};
        const char *l[4] = {"all", "small", "medium", "large"};
        for (int i = 0; i < 4; i++) { p->area_rng[i][0] = r[i][0]; p->area_rng[i][1] = r[i][1]; strcpy(p->area_lbl[i], l[i]); }
    }
}

int mr_eval_iou_type(const char *name)
{
    if (!strcmp(name, "bbox")) return MR_IOU_BBOX;
    if (!strcmp(name, "segm")) return MR_IOU_SEGM;
    if (!strcmp(name, "keypoints")) return MR_IOU_KEYPOINTS;
    return -1;
}

int mr_eval_valid_metric(double x) { return (x >= 0 && x <= 1) || x == -1; }

/* numpy's pairwise summation (pairwise_sum for float64, block 128) */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* ---- the evaluation context ---- */

typedef struct cell {
    int32_t img, k;      /* image position, category position */
    int32_t ng, nd;      /* ground truths; detections after the maxDets cut */
    int32_t nd_all;      /* detections before the cut */
    size_t g0, d0;       /* offsets into ctx.gidx / ctx.didx */
} cell;

/* dscore, npig and flags of nd detections in ncells cells, in bytes */
#define BLK2_BYTES(nd, ncells, A, T) \
    (((size_t)(nd) + 1) * sizeof(double) + ((size_t)(ncells) * (size_t)(A) + 1) * sizeof(int32_t) + \
     (size_t)(nd) * (size_t)(A) * (size_t)(T) + 32)

typedef struct ctx {
    const mr_coco *gt, *dt;
    const mr_eval_params *p;
    int A, T, maxdet;
    int32_t *kpos;       /* gt category index -> category position or -1 */
    const double **sig;  /* per gt category index: OKS sigmas */
    int32_t *nsig;
    cell *cells; size_t ncells;
    int32_t *npig;       /* per cell and area: the ground truths not ignored */
    size_t *gidx, *didx;
    uint8_t *flags;      /* per detection (cell's d0 + d): its A*T flags at (d0 + d)*A*T + a*T + t */
    double *dscore;      /* didx order */
    void *blk1;          /* the block of gidx, didx, cells, dscore, npig and flags */
    size_t blk1_cap;
    /* threads */
    size_t next;
    pthread_mutex_t mu;
    int err_code; size_t err_cell; mr_err err;
} ctx;

typedef struct seg_mask {
    size_t off, n;       /* runs[off .. off + 2n) */
    uint32_t h, w;
    uint64_t area;
} seg_mask;

typedef struct scratch {
    double *iou; size_t cap_iou;
    double *buf; size_t cap_buf;
    uint8_t *crowd, *ig, *gtig, *gtm, *gz, *dout; int32_t *gpos; size_t cap_g;
    int32_t *coff, *cand; size_t cap_coff, cap_cand;
    size_t cap_d;
    double *garea, *darea;
    /* segm: the masks of a cell as runs of 1s (mr_rle_runs) */
    uint32_t *runs; size_t cap_runs;
    seg_mask *masks; size_t cap_masks;
    uint64_t *span; size_t cap_span;
    /* polygons' buffers (mr_rle_runs_from_polys), made at the first one */
    mr_poly_scratch *poly;
    size_t *plen; size_t cap_plen;
} scratch;

static int ensure(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < n) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q; *cap = c;
    return 0;
}

static void scratch_free(scratch *s)
{
    free(s->iou); free(s->buf); free(s->crowd); free(s->ig); free(s->gtig);
    free(s->gtm); free(s->gz); free(s->dout); free(s->gpos); free(s->coff); free(s->cand); free(s->garea); free(s->darea);
    free(s->runs); free(s->masks); free(s->span);
    if (s->poly) { mr_poly_scratch_free(s->poly); free(s->poly); }
    free(s->plen);
}

static int scratch_g(scratch *s, size_t ng, size_t nd)
{
    size_t cg = s->cap_g, cd = s->cap_d;
    if (ng > cg) {
        size_t c = cg;
        if (ensure((void **)&s->crowd, &c, ng, 1)) return -1;
        c = cg; if (ensure((void **)&s->ig, &c, ng, 1)) return -1;
        c = cg; if (ensure((void **)&s->gtig, &c, ng, 1)) return -1;
        c = cg; if (ensure((void **)&s->gtm, &c, ng, 1)) return -1;
        c = cg; if (ensure((void **)&s->gz, &c, ng, 1)) return -1;
        c = cg; if (ensure((void **)&s->gpos, &c, ng, sizeof(int32_t))) return -1;
        c = cg; if (ensure((void **)&s->garea, &c, ng, sizeof(double))) return -1;
        s->cap_g = c;
    }
    if (nd > cd) {
        size_t c = cd;
        if (ensure((void **)&s->dout, &c, nd, 1)) return -1;
        c = cd; if (ensure((void **)&s->darea, &c, nd, sizeof(double))) return -1;
        s->cap_d = c;
    }
    return 0;
}

/* computeOks' squared distance of detection keypoint q (d: x, y, v
 * triplets, or x, y pairs: ds 3 or 2) to the ground truth: to its keypoint
 * when the ground truth has visible ones (k1 > 0; a keypoint it does not
 * see is not counted: 0), else to its box enlarged by its size on each
 * side (bx: x0, x1, y0, y1) */
static inline int oks_d2(const mr_coco_ann *g, int k1, const double bx[4], const double *d, int ds, int q, double *d2)
{
    double xd = d[ds * q], yd = d[ds * q + 1], dx, dy;
    if (k1 > 0) {
        if (!(g->keypoints[3 * q + 2] > 0)) return 0;
        dx = xd - g->keypoints[3 * q];
        dy = yd - g->keypoints[3 * q + 1];
    } else {
        double a0 = bx[0] - xd, a1 = xd - bx[1], b0 = bx[2] - yd, b1 = yd - bx[3];
        dx = (a0 > 0 ? a0 : 0) + (a1 > 0 ? a1 : 0);
        dy = (b0 > 0 ? b0 : 0) + (b1 > 0 ? b1 : 0);
    }
    *d2 = dx * dx + dy * dy;
    return 1;
}

/* OKS of detections dts (nd) against ground truths gts (ng), computeOks;
 * ebuf: scratch of 3 doubles per keypoint of the largest category */
static inline __attribute__((always_inline)) void
compute_oks_ds(const ctx *c, const mr_coco_ann *const *gts, int ng, const mr_coco_ann *const *dts, int nd, double *o,
               double *ebuf, double tmin, const int ds)
{
    const double eps = 2.220446049250313e-16;   /* np.spacing(1) */
    for (int j = 0; j < ng; j++) {
        const mr_coco_ann *g = gts[j];
        int ci = g->category_index;
        const double *sig = c->sig[ci];
        int k = c->nsig[ci];
        int k1 = 0;
        for (int i = 0; i < k; i++) k1 += g->keypoints && g->keypoints[3 * i + 2] > 0;
        const double *bb = g->bbox;
        const double bx[4] = {bb[0] - bb[2], bb[0] + bb[2] * 2, bb[1] - bb[3], bb[1] + bb[3] * 2};
        /* a pair whose OKS is surely below the lowest threshold (tmin > 0)
         * gets 0 without its exps: matching never looks at values below
         * tmin. The bound: exp(-e) <= 1 where e is under 3 (a little more
         * for the rounding of the product below), else < 0.05; only where
         * e is a positive multiple of the distance (area + eps > 0) */
        double ca = g->area + eps;
        int may_skip = tmin > 0 && ca > 0 && isfinite(ca) && k <= 64;
        double inv[64];
        if (may_skip)
            for (int q = 0; q < k; q++) inv[q] = 1.0 / (((sig[q] * 2) * (sig[q] * 2)) * ca * 2);
        for (int i = 0; i < nd; i++) {
            const double *d = dts[i]->keypoints;
            int n = 0;
            if (may_skip) {
                int near = 0, cnt = 0;
                for (int q = 0; q < k; q++) {
                    double dd;
                    if (!oks_d2(g, k1, bx, d, ds, q, &dd)) continue;
                    cnt++;
                    near += !(dd * inv[q] >= 3.0001);
                }
                if (cnt && (near + 0.05 * (cnt - near)) / cnt < tmin - 1e-9) {
                    o[(size_t)i * ng + j] = 0;
                    continue;
                }
            }
            /* the squared distances of the counted keypoints, in order,
             * then e = d2 / var / (area + eps) / 2 for all of them in one
             * loop the compiler vectorises (IEEE division: the same
             * doubles; the last / 2 is the exact * 0.5) */
            double *d2 = ebuf + k, *vq = ebuf + 2 * (size_t)k;
            for (int q = 0; q < k; q++) {
                if (!oks_d2(g, k1, bx, d, ds, q, &d2[n])) continue;
                vq[n] = (sig[q] * 2) * (sig[q] * 2);
                n++;
            }
            for (int q = 0; q < n; q++) ebuf[q] = d2[q] / vq[q] / ca * 0.5;
            /* exp(-e) is exactly 0 below -745.14: skip libm's slow
             * underflow path */
            for (int q = 0; q < n; q++) ebuf[q] = ebuf[q] > 746 ? 0.0 : exp(-ebuf[q]);
            o[(size_t)i * ng + j] = n ? pairwise_sum(ebuf, (size_t)n) / n : 0;
        }
    }
}

/* compute_oks_ds for the detections' stride (x, y, v triplets or x, y
 * pairs: MR_COCO_RES_XY), each with its own constant */
static void compute_oks(const ctx *c, const mr_coco_ann *const *gts, int ng,
                        const mr_coco_ann *const *dts, int nd, double *o, double *ebuf, double tmin)
{
    if (c->dt->kpt_xy) compute_oks_ds(c, gts, ng, dts, nd, o, ebuf, tmin, 2);
    else compute_oks_ds(c, gts, ng, dts, nd, o, ebuf, tmin, 3);
}

/* one mask of a cell into the runs buffer at *used */
static int seg_runs(scratch *s, const mr_coco_ann *a, const mr_coco_image *img, seg_mask *M, size_t *used, mr_err *e)
{
    M->off = *used;
    if (mr_coco_ann_seg_kind(a) == MR_SEG_RLE && a->seg->rle_str && !a->seg->rle.cnts) {
        if (ensure((void **)&s->runs, &s->cap_runs, *used + a->seg->rle_str_len + 2, sizeof(uint32_t)))
            return mr_errf(e, MR_ENOMEM, "out of memory");
        uint64_t total;
        int rc = mr_rle_runs_from_string(a->seg->rle_str, a->seg->rle_str_len, s->runs + *used, &M->n, &M->area, &total, e);
        if (rc) return rc;
        /* the load's check, for strings it left to the evaluator
         * (MR_COCO_RES_DEFER_MASKS) */
        if (total != (uint64_t)a->seg->rle.h * a->seg->rle.w)
            return mr_errf(e, MR_EUSER, "RLE counts sum to %llu, expected h*w = %u*%u = %llu", (unsigned long long)total,
                           a->seg->rle.h, a->seg->rle.w, (unsigned long long)a->seg->rle.h * a->seg->rle.w);
        M->h = a->seg->rle.h; M->w = a->seg->rle.w;
    } else if (mr_coco_ann_seg_kind(a) == MR_SEG_RLE) {
        if (ensure((void **)&s->runs, &s->cap_runs, *used + a->seg->rle.m + 2, sizeof(uint32_t)))
            return mr_errf(e, MR_ENOMEM, "out of memory");
        M->n = mr_rle_runs(a->seg->rle.cnts, a->seg->rle.m, s->runs + *used);
        M->h = a->seg->rle.h; M->w = a->seg->rle.w;
    } else if (mr_coco_ann_seg_kind(a) == MR_SEG_POLY && !mr_coco_seg_is_boxes(a->seg)) {
        /* mr_coco_ann_rle's polygons (mr_rle_from_polys), straight to runs */
        size_t n = a->seg->npoly > 0 ? (size_t)a->seg->npoly : 0;
        if (!s->poly) {
            if (!(s->poly = malloc(sizeof *s->poly))) return mr_errf(e, MR_ENOMEM, "out of memory");
            mr_poly_scratch_init(s->poly);
        }
        if (ensure((void **)&s->plen, &s->cap_plen, n + 1, sizeof(size_t))) return mr_errf(e, MR_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) s->plen[i] = (size_t)a->seg->poly_len[i] / 2;
        uint32_t h = (uint32_t)img->height, w = (uint32_t)img->width;
        const uint32_t *pr;
        size_t nr;
        int rc = a->seg->poly_q ? mr_rle_runs_from_polys_q(a->seg->polyq, s->plen, n, h, w, s->poly, &pr, &nr, e)
                                : mr_rle_runs_from_polys(a->seg->poly, s->plen, n, h, w, s->poly, &pr, &nr, e);
        if (rc) return rc;
        if (ensure((void **)&s->runs, &s->cap_runs, *used + 2 * nr + 2, sizeof(uint32_t)))
            return mr_errf(e, MR_ENOMEM, "out of memory");
        if (nr) memcpy(s->runs + *used, pr, 2 * nr * sizeof *pr);
        M->n = nr;
        M->h = h; M->w = w;
    } else {
        mr_rle r = MR_RLE_INIT;
        int rc = mr_coco_ann_rle(a, img, &r, e);
        if (rc) return rc;
        if (ensure((void **)&s->runs, &s->cap_runs, *used + r.m + 2, sizeof(uint32_t))) {
            mr_rle_free(&r);
            return mr_errf(e, MR_ENOMEM, "out of memory");
        }
        M->n = mr_rle_runs(r.cnts, r.m, s->runs + *used);
        M->h = r.h; M->w = r.w;
        mr_rle_free(&r);
    }
    if (mr_coco_ann_seg_kind(a) != MR_SEG_RLE || a->seg->rle.cnts) {
        uint64_t ar = 0;
        const uint32_t *q = s->runs + *used;
        for (size_t i = 0; i < M->n; i++) ar += q[2 * i + 1] - q[2 * i];
        M->area = ar;
    }
    *used += 2 * M->n;
    return MR_OK;
}

/* rleToBbox of an annotation's mask (for masks of different sizes only) */
static int seg_box(const mr_coco_ann *a, const mr_coco_image *img, double bb[4], mr_err *e)
{
    if (mr_coco_ann_seg_kind(a) == MR_SEG_RLE && a->seg->has_mask_bbox) { memcpy(bb, a->seg->mask_bbox, 4 * sizeof(double)); return MR_OK; }
    mr_rle r = MR_RLE_INIT;
    int rc = mr_coco_ann_rle(a, img, &r, e);
    if (rc) return rc;
    mr_rle_bbox(&r, bb);
    mr_rle_free(&r);
    return MR_OK;
}

/* A ground-truth polygon's span: positions [*lo, *hi) (column-major, mask
 * height h) that hold every 1 of its mask (rleFrPoly's boundary points lie
 * in the columns floor(min x) - 1 .. ceil(max x) + 1; two more either side
 * for margin). 1 when known: a polygon (not the 4-number box form) that
 * rasterises without error (mr_rle_from_poly's limits checked here), so
 * that leaving it unrasterised hides nothing; else 0. */
static int poly_span(const mr_coco_ann *a, uint32_t h, uint64_t *lo, uint64_t *hi)
{
    if (mr_coco_ann_seg_kind(a) != MR_SEG_POLY || a->seg->npoly <= 0 || mr_coco_seg_is_boxes(a->seg)) return 0;
    int32_t n = a->seg->npoly;
    double mn = INFINITY, mx = -INFINITY;
    if (a->seg->poly_q) {
        /* quantised points q = (int)(5 x + .5) (checked on load): x lies in
         * ((q - 1.5) / 5, (q + .5) / 5), so these bounds hold the span */
        for (int32_t i = 0; i < n; i++) {
            size_t k = (size_t)a->seg->poly_len[i] / 2;
            const int32_t *q = a->seg->polyq[i];
            if (k == 0) return 0;
            size_t m = 0;
            for (size_t j = 0; j < k; j++) {
                size_t j1 = j + 1 < k ? j + 1 : 0;
                int dx = abs(q[2 * j] - q[2 * j1]), dy = abs(q[2 * j + 1] - q[2 * j1 + 1]);
                m += (size_t)(dx > dy ? dx : dy) + 1;
                double lo = (q[2 * j] - 1.5) / 5, hi = (q[2 * j] + .5) / 5;
                if (lo < mn) mn = lo;
                if (hi > mx) mx = hi;
            }
            if (m > MR_POLY_MAX_TRACE) return 0;
        }
    }
    for (int32_t i = 0; i < n && !a->seg->poly_q; i++) {
        size_t k = (size_t)a->seg->poly_len[i] / 2;
        const double *xy = a->seg->poly[i];
        if (k == 0) return 0;
        for (size_t j = 0; j < 2 * k; j++)
            if (!(fabs(xy[j]) <= MR_POLY_MAX_COORD)) return 0;
        size_t m = 0;
        for (size_t j = 0; j < k; j++) {
            size_t j1 = j + 1 < k ? j + 1 : 0;
            int x0 = (int)(5 * xy[2 * j] + .5), x1 = (int)(5 * xy[2 * j1] + .5);
            int y0 = (int)(5 * xy[2 * j + 1] + .5), y1 = (int)(5 * xy[2 * j1 + 1] + .5);
            int dx = abs(x0 - x1), dy = abs(y0 - y1);
            m += (size_t)(dx > dy ? dx : dy) + 1;
            if (xy[2 * j] < mn) mn = xy[2 * j];
            if (xy[2 * j] > mx) mx = xy[2 * j];
        }
        if (m > MR_POLY_MAX_TRACE) return 0;
    }
    double c0 = floor(mn) - 3, c1 = ceil(mx) + 3;
    if (c0 < 0) c0 = 0;
    if (c1 < 0) c1 = 0;
    *lo = (uint64_t)c0 * h;
    *hi = ((uint64_t)c1 + 1) * h;
    return 1;
}

/* segm IoU of a cell (rleIou) on runs of 1s: no masks decoded, no boxes.
 * Where both masks have one size the box prefilter of rleIou changes no
 * value (boxes that do not overlap mean an empty intersection, IoU 0), so
 * only the intersection is counted, from the first run that can meet; the
 * union is the sum of the areas less it (the detection's area for a crowd).
 * Masks of different sizes get -1 where their rleToBbox boxes overlap,
 * else 0, as rleIou. */
static int segm_iou(ctx *c, const cell *cl, const mr_coco_ann *const *gts, int ng,
                    const mr_coco_ann *const *dts, int nd, int have_iou, scratch *s, double *iou, mr_err *e)
{
    const mr_coco *gt = c->gt, *dt = c->dt;
    const mr_eval_params *p = c->p;
    size_t nm = (size_t)(ng + nd);
    if (ensure((void **)&s->masks, &s->cap_masks, nm + 1, sizeof(seg_mask))) return mr_errf(e, MR_ENOMEM, "out of memory");
    seg_mask *G = s->masks, *D = s->masks + ng;
    size_t used = 0;
    int rc;
    /* polygons whose span is known are rasterised only if a detection
     * reaches it (below); the others now, in order, as their errors come
     * first */
    if (ensure((void **)&s->span, &s->cap_span, 2 * (size_t)ng + 2, sizeof(uint64_t)))
        return mr_errf(e, MR_ENOMEM, "out of memory");
    uint8_t *later = s->gz;   /* free until matching */
    for (int i = 0; i < ng && have_iou; i++) {
        const mr_coco_image *img = &gt->images[gts[i]->image_index];
        later[i] = (uint8_t)poly_span(gts[i], (uint32_t)img->height, &s->span[2 * i], &s->span[2 * i + 1]);
        if (!later[i] && (rc = seg_runs(s, gts[i], img, &G[i], &used, e)))
            return mr_err_prefix(e, "%s: annotations[%zu]: field 'segmentation'", gt->path, c->gidx[cl->g0 + (size_t)i]);
    }
    for (int i = 0; i < nd; i++) {
        if ((rc = seg_runs(s, dts[i], &gt->images[dts[i]->image_index], &D[i], &used, e)))
            return mr_err_prefix(e, "%s: [%zu]: field 'segmentation'", dt->path, c->didx[cl->d0 + (size_t)i]);
        if (p->strict) s->darea[i] = (double)D[i].area;
    }
    if (!have_iou) return MR_OK;
    for (int i = 0; i < ng; i++) {
        if (!later[i]) continue;
        const mr_coco_image *img = &gt->images[gts[i]->image_index];
        uint32_t h = (uint32_t)img->height, w = (uint32_t)img->width;
        uint64_t lo = s->span[2 * i], hi = s->span[2 * i + 1];
        int need = 0;
        for (int d = 0; d < nd && !need; d++) {
            const seg_mask *A = &D[d];
            if (A->h != h || A->w != w) need = 1;
            else if (A->n && s->runs[A->off] < hi && s->runs[A->off + 2 * A->n - 1] > lo) need = 1;
        }
        if (need) {
            if ((rc = seg_runs(s, gts[i], img, &G[i], &used, e)))
                return mr_err_prefix(e, "%s: annotations[%zu]: field 'segmentation'", gt->path, c->gidx[cl->g0 + (size_t)i]);
        } else {
            /* no detection reaches it: every IoU is 0, the mask is not needed */
            G[i].off = used; G[i].n = 0; G[i].h = h; G[i].w = w; G[i].area = 0;
        }
    }
    const uint32_t *R = s->runs;
    for (int d = 0; d < nd; d++) {
        const seg_mask *A = &D[d];
        for (int g = 0; g < ng; g++) {
            const seg_mask *B = &G[g];
            double *o = &iou[(size_t)d * ng + g];
            if (A->h != B->h || A->w != B->w) {
                double db[4], gb[4], v;
                if ((rc = seg_box(dts[d], &gt->images[dts[d]->image_index], db, e)))
                    return mr_err_prefix(e, "%s: [%zu]: field 'segmentation'", dt->path, c->didx[cl->d0 + (size_t)d]);
                if ((rc = seg_box(gts[g], &gt->images[gts[g]->image_index], gb, e)))
                    return mr_err_prefix(e, "%s: annotations[%zu]: field 'segmentation'", gt->path, c->gidx[cl->g0 + (size_t)g]);
                mr_bbox_iou(db, 1, gb, 1, &s->crowd[g], &v);
                *o = v > 0 ? -1 : 0;
                continue;
            }
            uint64_t in = mr_runs_inter(R + A->off, A->n, R + B->off, B->n);
            if (!in) { *o = 0; continue; }
            uint64_t un = s->crowd[g] ? A->area : A->area + B->area - in;
            *o = (double)(uint32_t)in / (double)(uint32_t)un;
        }
    }
    return MR_OK;
}

/* evaluate one cell: IoU matrix, then matching for every area and threshold */
static int eval_cell(ctx *c, size_t ci, scratch *s, mr_err *e)
{
    cell *cl = &c->cells[ci];
    const mr_eval_params *p = c->p;
    int ng = cl->ng, nd = cl->nd, T = c->T, A = c->A;
    const mr_coco *gt = c->gt, *dt = c->dt;
    const mr_coco_ann *gts[ng ? ng : 1];
    const mr_coco_ann *dts[nd ? nd : 1];
    for (int i = 0; i < ng; i++) gts[i] = &gt->anns[c->gidx[cl->g0 + (size_t)i]];
    for (int i = 0; i < nd; i++) dts[i] = &dt->anns[c->didx[cl->d0 + (size_t)i]];
    if (scratch_g(s, (size_t)ng, (size_t)nd)) return mr_errf(e, MR_ENOMEM, "out of memory");
    size_t nio = (size_t)ng * (size_t)nd;
    if (ensure((void **)&s->iou, &s->cap_iou, nio ? nio : 1, sizeof(double))) return mr_errf(e, MR_ENOMEM, "out of memory");
    double *iou = s->iou;
    int have_iou = ng > 0 && nd > 0;
    for (int i = 0; i < ng; i++) {
        s->crowd[i] = gts[i]->iscrowd != 0;
        s->garea[i] = gts[i]->area;
        int ov = p->gt_ignore ? p->gt_ignore[c->gidx[cl->g0 + (size_t)i]] : 0;
        if (ov == 2) s->crowd[i] = 1;
        int ig = gts[i]->iscrowd != 0 || ov != 0;
        if (p->strict) ig = ig || gts[i]->ignore != 0;
        if (p->iou_type == MR_IOU_KEYPOINTS) ig = gts[i]->num_keypoints == 0 || ig;
        s->ig[i] = (uint8_t)ig;
    }
    for (int i = 0; i < nd; i++) s->darea[i] = dts[i]->area;
    if (p->iou_type == MR_IOU_BBOX) {
        if (have_iou) {
            if (ensure((void **)&s->buf, &s->cap_buf, 4 * (size_t)(ng + nd), sizeof(double))) return mr_errf(e, MR_ENOMEM, "out of memory");
            double *gb = s->buf, *db = s->buf + 4 * ng;
            for (int i = 0; i < ng; i++) memcpy(gb + 4 * i, gts[i]->bbox, 4 * sizeof(double));
            for (int i = 0; i < nd; i++) memcpy(db + 4 * i, dts[i]->bbox, 4 * sizeof(double));
            mr_bbox_iou(db, (size_t)nd, gb, (size_t)ng, s->crowd, iou);
        }
    } else if (p->iou_type == MR_IOU_SEGM) {
        /* strict needs the detections' mask areas even without ground truth */
        int need = have_iou || (p->strict && nd > 0);
        if (need) {
            int rc = segm_iou(c, cl, gts, ng, dts, nd, have_iou, s, iou, e);
            if (rc) return rc;
        }
    } else {
        /* pycocotools computeOks looks up (image, -1) when use_cats is 0 and
         * finds nothing: no detection ever matches (strict: all pairs) */
        if (!p->use_cats && !p->strict) have_iou = 0;
        if (have_iou) {
            int maxk = 1;
            for (int i = 0; i < ng; i++) if (c->nsig[gts[i]->category_index] > maxk) maxk = c->nsig[gts[i]->category_index];
            /* compute_oks: e, d2 and var of up to maxk keypoints */
            if (ensure((void **)&s->buf, &s->cap_buf, 3 * (size_t)maxk, sizeof(double))) return mr_errf(e, MR_ENOMEM, "out of memory");
            double tmin = INFINITY;
            for (int t = 0; t < T; t++) tmin = fmin(tmin, fmin(p->iou_thrs[t], 1 - 1e-10));
            compute_oks(c, gts, ng, dts, nd, iou, s->buf, tmin);
        }
    }
    uint8_t *fl = c->flags + cl->d0 * (size_t)A * (size_t)T;
    /* the candidates of each detection: the ground truths it can match at
     * some threshold (IoU not below the lowest), in index order. Skipping
     * the others changes no match: such a one is passed over by the IoU
     * test at every threshold, and the one test before it that can end the
     * search (an ignored one after a match to a kept one) ends it as well
     * at the next ignored candidate, since the ignored come last. */
    double tmin = INFINITY;
    for (int t = 0; t < T; t++) tmin = fmin(tmin, fmin(p->iou_thrs[t], 1 - 1e-10));
    if (ensure((void **)&s->coff, &s->cap_coff, (size_t)nd + 1, sizeof(int32_t)))
        return mr_errf(e, MR_ENOMEM, "out of memory");
    int32_t nc = 0;
    s->coff[0] = 0;
    for (int d = 0; d < nd; d++) {
        if (have_iou) {
            const double *row = iou + (size_t)d * ng;
            for (int g = 0; g < ng; g++) nc += !(row[g] < tmin);
        }
        s->coff[d + 1] = nc;
    }
    if (ensure((void **)&s->cand, &s->cap_cand, 2 * (size_t)nc + 1, sizeof(int32_t)))
        return mr_errf(e, MR_ENOMEM, "out of memory");
    int32_t *cand = s->cand, *cord = s->cand + nc;
    if (nc)
        for (int d = 0, q = 0; d < nd; d++) {
            const double *row = iou + (size_t)d * ng;
            for (int g = 0; g < ng; g++) if (!(row[g] < tmin)) cand[q++] = g;
        }
    for (int g = 0; g < ng; g++) s->gz[g] = !p->strict && gts[g]->id == 0;
    for (int a = 0; a < A; a++) {
        double lo = p->area_rng[a][0], hi = p->area_rng[a][1];
        /* ground truths: not ignored first (stable) */
        int n0 = 0, npig = 0;
        for (int g = 0; g < ng; g++) {
            s->gtig[g] = s->ig[g] || s->garea[g] < lo || s->garea[g] > hi;
            if (!s->gtig[g]) { s->gpos[g] = n0++; npig++; }
        }
        for (int g = 0; g < ng; g++) if (s->gtig[g]) s->gpos[g] = n0++;
        c->npig[ci * (size_t)A + (size_t)a] = npig;
        /* each detection's candidates in that order */
        for (int d = 0; d < nd; d++) {
            int32_t q0 = s->coff[d], q1 = s->coff[d + 1];
            for (int32_t q = q0; q < q1; q++) {
                int32_t g = cand[q], k = q;
                while (k > q0 && s->gpos[cord[k - 1]] > s->gpos[g]) { cord[k] = cord[k - 1]; k--; }
                cord[k] = g;
            }
        }
        for (int d = 0; d < nd; d++) s->dout[d] = s->darea[d] < lo || s->darea[d] > hi;
        for (int t = 0; t < T; t++) {
            uint8_t *ft = fl + (size_t)a * T + t;
            if (ng) memset(s->gtm, 0, (size_t)ng);
            double best0 = fmin(p->iou_thrs[t], 1 - 1e-10);
            for (int d = 0; d < nd; d++) {
                int m = -1;
                double best = best0;
                const double *row = iou + (size_t)d * ng;
                for (int32_t q = s->coff[d]; q < s->coff[d + 1]; q++) {
                    int g = cord[q];
                    if (s->gtm[g] && !s->crowd[g]) continue;
                    if (m > -1 && !s->gtig[m] && s->gtig[g]) break;
                    if (row[g] < best) continue;
                    best = row[g];
                    m = g;
                }
                int matched = m >= 0, dig = 0;
                if (matched) {
                    dig = s->gtig[m];
                    s->gtm[m] = 1;
                    /* a match to ground-truth id 0 reads as "unmatched" in
                     * pycocotools (dtMatches holds the id) */
                    if (s->gz[m]) matched = 0;
                }
                if (!matched && s->dout[d]) dig = 1;
                ft[(size_t)d * A * T] = dig ? FL_IG : matched ? FL_TP : FL_FP;
            }
        }
    }
    return MR_OK;
}

static void *worker(void *arg)
{
    ctx *c = arg;
    scratch s;
    memset(&s, 0, sizeof s);
    mr_err e;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        size_t i = c->next++;
        int stop = c->err_code && c->err_cell < i;
        pthread_mutex_unlock(&c->mu);
        if (i >= c->ncells || stop) break;
        mr_err_clear(&e);
        int rc = eval_cell(c, i, &s, &e);
        if (rc) {
            pthread_mutex_lock(&c->mu);
            if (!c->err_code || i < c->err_cell) { c->err_code = rc; c->err_cell = i; c->err = e; }
            pthread_mutex_unlock(&c->mu);
        }
    }
    scratch_free(&s);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t sort_unique(int64_t *v, size_t n)
{
    if (!n) return 0;
    size_t i = 1;
    while (i < n && v[i - 1] <= v[i]) i++;   /* ids usually come sorted */
    if (i < n) qsort(v, n, sizeof *v, cmp_i64);
    size_t m = 1;
    for (i = 1; i < n; i++) if (v[i] != v[m - 1]) v[m++] = v[i];
    return m;
}

/* sort keys for a stable descending sort by score: (score descending,
 * then pos ascending) is a total order on finite scores (-0 and 0 equal),
 * so every correct sort gives the order numpy's stable mergesort gives */
typedef struct skey { double s; size_t pos; } skey;
static int skey_before(const skey *x, const skey *y)
{
    return x->s > y->s || (x->s == y->s && x->pos < y->pos);
}

/* the key's rank as an unsigned integer: larger scores smaller, -0 as 0 */
static uint64_t skey_bits(double s)
{
    uint64_t u;
    s += 0.0;   /* -0 becomes +0 */
    memcpy(&u, &s, 8);
    u = (u >> 63) ? ~u : u | 0x8000000000000000ULL;   /* ascending in s */
    return ~u;                                         /* descending */
}

/* sk[0..n) in skey order. Short runs (an image's detections) by insertion;
 * long ones (a category's) by a stable LSD radix sort on the score's bits
 * over 8-bit digits (11-bit from 4096 keys), skipping digits all keys share: their input is in
 * pos order, so stability gives pos order among equal scores. work holds
 * SORT_WORK(n) bytes (NULL: insertion only). */
#define SORT_WORK(n) ((size_t)(n) * (sizeof(skey) + 2 * sizeof(uint64_t)))
static void sort_skeys(skey *sk, size_t n, void *work)
{
    /* the radix sort is stable, so it needs pos ascending in the input (as
     * the evaluator's callers give it); else, and for short runs, insertion */
    int asc = n > 32 && work;
    for (size_t i = 1; i < n && asc; i++) asc = sk[i - 1].pos < sk[i].pos;
    if (!asc) {
        for (size_t i = 1; i < n; i++) {
            skey v = sk[i];
            size_t j = i;
            while (j > 0 && skey_before(&v, &sk[j - 1])) { sk[j] = sk[j - 1]; j--; }
            sk[j] = v;
        }
        return;
    }
    skey *tmp = work;
    uint64_t *bits = (uint64_t *)(tmp + n), all_or = 0, all_and = ~(uint64_t)0;
    for (size_t i = 0; i < n; i++) { bits[i] = skey_bits(sk[i].s); all_or |= bits[i]; all_and &= bits[i]; }
    uint64_t varies = all_or ^ all_and;
    skey *src = sk, *dst = tmp;
    uint64_t *bsrc = bits, *bdst = bits + n;
    /* digits of 11 bits for long runs, of 8 for shorter ones (whose
     * passes would otherwise be mostly clearing and summing 2048 counts) */
    const int db = n >= 4096 ? 11 : 8;
    const uint64_t dmask = ((uint64_t)1 << db) - 1;
    for (int sh = 0; sh < 64; sh += db) {
        if (!((varies >> sh) & dmask)) continue;
        size_t cnt[2048];
        memset(cnt, 0, (dmask + 1) * sizeof cnt[0]);
        for (size_t i = 0; i < n; i++) cnt[(bsrc[i] >> sh) & dmask]++;
        size_t sum = 0;
        for (size_t d = 0; d <= dmask; d++) { size_t c = cnt[d]; cnt[d] = sum; sum += c; }
        for (size_t i = 0; i < n; i++) {
            size_t o = cnt[(bsrc[i] >> sh) & dmask]++;
            dst[o] = src[i];
            bdst[o] = bsrc[i];
        }
        skey *t = src; src = dst; dst = t;
        uint64_t *tb = bsrc; bsrc = bdst; bdst = tb;
    }
    if (src != sk) memcpy(sk, src, n * sizeof *sk);
}

typedef struct kv { int32_t k; size_t pos; size_t ann; } kv;

/* an image's ground truths or detections by (category, pos): insertion
 * for the usual few, else qsort */
static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    if (x->k != y->k) return x->k < y->k ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void sort_kv(kv *v, size_t n)
{
    if (n > 32) { qsort(v, n, sizeof *v, cmp_kv); return; }
    for (size_t i = 1; i < n; i++) {
        kv t = v[i];
        size_t j = i;
        while (j > 0 && (t.k < v[j - 1].k || (t.k == v[j - 1].k && t.pos < v[j - 1].pos))) { v[j] = v[j - 1]; j--; }
        v[j] = t;
    }
}

/* resolve the sigmas of every category and check the keypoint arrays */
static int setup_sigmas(ctx *c, mr_err *e)
{
    const mr_coco *gt = c->gt, *dt = c->dt;
    const mr_eval_params *p = c->p;
    for (size_t k = 0; k < gt->num_cats; k++) {
        const mr_coco_cat *cat = &gt->cats[k];
        if (p->kpt_sigmas) { c->sig[k] = p->kpt_sigmas; c->nsig[k] = p->num_kpt_sigmas; }
        else if (cat->num_sigmas) { c->sig[k] = cat->keypoint_sigmas; c->nsig[k] = cat->num_sigmas; }
        else { c->sig[k] = MR_COCO_KPT_SIGMAS; c->nsig[k] = 17; }
    }
    for (size_t i = 0; i < gt->num_anns; i++) {
        const mr_coco_ann *a = &gt->anns[i];
        if (c->kpos[a->category_index] < 0) continue;
        int want = c->nsig[a->category_index];
        if (a->keypoints && a->num_kpt != want)
            return mr_errf(e, MR_EUSER, "%s: annotations[%zu]: field 'keypoints': %d keypoints, but category %lld has %d OKS sigmas%s",
                           gt->path, i, a->num_kpt, (long long)a->category_id, want,
                           p->kpt_sigmas ? " (--kpt-sigmas)" : gt->cats[a->category_index].num_sigmas ? " (keypoint_sigmas)" : " (COCO's 17; give keypoint_sigmas or --kpt-sigmas)");
    }
    for (size_t i = 0; i < dt->num_anns; i++) {
        const mr_coco_ann *a = &dt->anns[i];
        if (c->kpos[a->category_index] < 0) continue;
        int want = c->nsig[a->category_index];
        if (!a->keypoints)
            return mr_errf(e, MR_EUSER, "%s: [%zu]: field 'keypoints': missing (keypoint evaluation)", dt->path, i);
        if (a->num_kpt != want)
            return mr_errf(e, MR_EUSER, "%s: [%zu]: field 'keypoints': %d keypoints, but category %lld has %d OKS sigmas",
                           dt->path, i, a->num_kpt, (long long)a->category_id, want);
    }
    return MR_OK;
}

/* carve n bytes (8-aligned) off a block */
static void *take(char **q, size_t n)
{
    void *p = *q;
    *q += (n + 7) & ~(size_t)7;
    return p;
}

/* build the cells: per evaluated image, its ground truths and detections by
 * category (pycocotools' order), detections sorted by score and cut */
static int build_cells(ctx *c, mr_eval *ev, mr_err *e)
{
    const mr_coco *gt = c->gt, *dt = c->dt;
    const mr_eval_params *p = c->p;
    /* scratch sized by the largest image */
    size_t mg = 1, md = 1;
    for (size_t i = 0; i < gt->num_images; i++) {
        size_t ng = gt->img_off ? gt->img_off[i + 1] - gt->img_off[i] : 0;
        size_t nd = dt->img_off ? dt->img_off[i + 1] - dt->img_off[i] : 0;
        if (ng > mg) mg = ng;
        if (nd > md) md = nd;
    }
    /* both index lists, the cells and then (mr_eval_run) the scores,
     * ground-truth counts and flags in one block (huge pages from 1 MB,
     * not sets of 4 KB pages), each sized by its bound: only the part
     * used is touched, and it is contiguous */
    size_t cap = gt->num_anns + dt->num_anns + 1;
    c->blk1_cap = cap * sizeof(cell) + (gt->num_anns + dt->num_anns + 2) * sizeof(size_t) + 32 +
                  BLK2_BYTES(dt->num_anns, cap, c->A, c->T);
    char *q = c->blk1 = mr_big_alloc(c->blk1_cap);
    if (q) {
        c->gidx = take(&q, (gt->num_anns + 1) * sizeof(size_t));
        c->didx = take(&q, (dt->num_anns + 1) * sizeof(size_t));
        c->cells = (cell *)(void *)q;
    }
    kv *gk = malloc(mg * sizeof(kv)), *dk = malloc(md * sizeof(kv));
    skey *sk = malloc(md * sizeof(skey));
    void *work = malloc(SORT_WORK(md));
    if (!c->gidx || !c->didx || !gk || !dk || !sk || !work) { free(gk); free(dk); free(sk); free(work); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    size_t gused = 0, dused = 0;
    int rc = MR_OK;
    for (size_t ip = 0; ip < ev->I; ip++) {
        long gi = mr_coco_image_index(gt, ev->img_ids[ip]);
        if (gi < 0) continue;
        size_t ng = 0, nd = 0;
        for (size_t q = gt->img_off[gi]; q < gt->img_off[gi + 1]; q++) {
            size_t a = gt->img_anns[q];
            int32_t gc = p->gt_cat ? p->gt_cat[a] : gt->anns[a].category_index;
            int32_t k = gc >= 0 ? c->kpos[gc] : -1;
            if (k >= 0) { gk[ng].k = p->use_cats ? k : 0; gk[ng].pos = p->gt_order ? (size_t)p->gt_order[a] : q; gk[ng].ann = a; ng++; if (!p->use_cats) gk[ng - 1].k = k; }
        }
        if (dt->img_off)
            for (size_t q = dt->img_off[gi]; q < dt->img_off[gi + 1]; q++) {
                size_t a = dt->img_anns[q];
                int32_t k = c->kpos[dt->anns[a].category_index];
                if (k >= 0) { dk[nd].k = k; dk[nd].pos = q; dk[nd].ann = a; nd++; }
            }
        if (!ng && !nd) continue;
        sort_kv(gk, ng);
        sort_kv(dk, nd);
        size_t ga = 0, da = 0;
        while (ga < ng || da < nd) {
            int32_t k;
            size_t gb = ga, db = da;
            if (p->use_cats) {
                k = ga < ng && (da >= nd || gk[ga].k <= dk[da].k) ? gk[ga].k : dk[da].k;
                while (gb < ng && gk[gb].k == k) gb++;
                while (db < nd && dk[db].k == k) db++;
            } else {
                k = 0; gb = ng; db = nd;
            }
            if (!c->cells || c->ncells >= cap) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto out; }
            cell *cl = &c->cells[c->ncells++];
            memset(cl, 0, sizeof *cl);
            cl->img = (int32_t)ip; cl->k = k;
            cl->g0 = gused; cl->ng = (int32_t)(gb - ga);
            for (size_t q = ga; q < gb; q++) c->gidx[gused++] = gk[q].ann;
            size_t n = db - da;
            for (size_t q = 0; q < n; q++) { sk[q].s = dt->anns[dk[da + q].ann].score; sk[q].pos = q; }
            sort_skeys(sk, n, work);
            size_t keep = n < (size_t)c->maxdet ? n : (size_t)c->maxdet;
            cl->d0 = dused; cl->nd = (int32_t)keep; cl->nd_all = (int32_t)n;
            for (size_t q = 0; q < keep; q++) c->didx[dused++] = dk[da + sk[q].pos].ann;
            ga = gb; da = db;
        }
    }
out:
    free(gk); free(dk); free(sk); free(work);
    return rc;
}

static double mean_sel(const double *v, size_t n, double *tmp)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) if (v[i] > -1) tmp[m++] = v[i];
    if (!m) return -1;
    return pairwise_sum(tmp, m) / (double)m;
}

/* a stat's selection of precision or recall values, in pycocotools' order
 * (threshold, recall, category, area, maxDets), read one at a time: the
 * offset of (threshold, recall, category) kept and stepped, the chosen
 * (area, maxDets) pairs added from a table */
typedef struct sel_iter {
    const double *arr;
    size_t st, sr, sk;           /* strides of threshold, recall, category */
    const int *tsel;
    int nt, nr, K, nio;
    size_t io[MR_EVAL_MAX_A * MR_EVAL_MAX_M];   /* (area, maxDets) offsets */
    int ti, r, k, j;             /* the next position */
    size_t base;                 /* offset of (tsel[ti], r, k) */
} sel_iter;

/* the next selected value that is > -1; 0 at the end */
static inline int sel_next(sel_iter *it, double *v)
{
    while (it->ti < it->nt) {
        double x = it->arr[it->base + it->io[it->j]];
        if (++it->j == it->nio) {
            it->j = 0;
            it->base += it->sk;
            if (++it->k == it->K) {
                it->k = 0;
                if (++it->r == it->nr) { it->r = 0; it->ti++; }
                if (it->ti < it->nt) it->base = (size_t)it->tsel[it->ti] * it->st + (size_t)it->r * it->sr;
            }
        }
        if (x > -1) { *v = x; return 1; }
    }
    return 0;
}

/* pairwise_sum of the next n values of the selection, with the same
 * splits (so the same result) as on them gathered in an array: the leaves
 * (at most 128 values) are read in order into a small buffer */
static double sel_pairwise(sel_iter *it, size_t n)
{
    if (n <= 128) {
        double buf[128];
        for (size_t i = 0; i < n; i++) sel_next(it, &buf[i]);
        return pairwise_sum(buf, n);
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    double a = sel_pairwise(it, n2);
    return a + sel_pairwise(it, n - n2);
}

/* the mean of the selected values > -1 (numpy's mean of s[s > -1]) of
 * precision (ap) or recall at thresholds tsel, areas asel and maxDets
 * msel, without gathering them: one pass counts, the second sums */
static double sel_mean(const mr_eval *ev, int ap, const int *tsel, int nt, const int *asel, int na, const int *msel,
                       int nm)
{
    const mr_eval_params *p = &ev->p;
    int R = p->R, A = p->A, M = p->M, K = ev->K;
    if (!nt || !na || !nm || K <= 0) return -1;
    sel_iter it0;
    memset(&it0, 0, sizeof it0);
    it0.arr = ap ? ev->precision : ev->recall;
    it0.sk = (size_t)A * M;
    it0.sr = ap ? (size_t)K * A * M : 0;
    it0.st = ap ? (size_t)R * K * A * M : (size_t)K * A * M;
    it0.tsel = tsel; it0.nt = nt; it0.nr = ap ? R : 1; it0.K = K;
    for (int ai = 0; ai < na; ai++)
        for (int mi = 0; mi < nm; mi++) it0.io[it0.nio++] = (size_t)asel[ai] * M + (size_t)msel[mi];
    it0.base = (size_t)tsel[0] * it0.st;
    sel_iter it = it0;
    size_t m = 0;
    double v;
    while (sel_next(&it, &v)) m++;
    if (!m) return -1;
    it = it0;
    return sel_pairwise(&it, m) / (double)m;
}

double mr_eval_ap_at(const mr_eval *ev, int t)
{
    const mr_eval_params *p = &ev->p;
    if (t < 0 || t >= p->T) return -1;
    int a0 = 0, mlast = p->M - 1;
    return sel_mean(ev, 1, &t, 1, &a0, 1, &mlast, 1);
}

/* pycocotools _summarize: ap (1) or ar (0); iou < 0 = all thresholds */
static double summarize1(const mr_eval *ev, int ap, double iou, const char *area, int maxdet)
{
    const mr_eval_params *p = &ev->p;
    int tsel[MR_EVAL_MAX_T], nt = 0, asel[MR_EVAL_MAX_A], na = 0, msel[MR_EVAL_MAX_M], nm = 0;
    for (int t = 0; t < p->T; t++) if (iou < 0 || p->iou_thrs[t] == iou) tsel[nt++] = t;
    for (int a = 0; a < p->A; a++) if (!strcmp(p->area_lbl[a], area)) asel[na++] = a;
    for (int m = 0; m < p->M; m++) if (p->max_dets[m] == maxdet) msel[nm++] = m;
    return sel_mean(ev, ap, tsel, nt, asel, na, msel, nm);
}

/* a stat's line of the summary */
static void summary_line(const mr_eval *ev, int ap, double iou, const char *area, int maxdet, double res,
                         char *line, size_t ln)
{
    const mr_eval_params *p = &ev->p;
    char iouStr[32];
    if (iou < 0) snprintf(iouStr, sizeof iouStr, "%0.2f:%0.2f", p->iou_thrs[0], p->iou_thrs[p->T - 1]);
    else snprintf(iouStr, sizeof iouStr, "%0.2f", iou);
    snprintf(line, ln, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
             ap ? "Average Precision" : "Average Recall", ap ? "(AP)" : "(AR)", iouStr, area, maxdet, res);
}

/* the stats (compute: into stats; else stats are given) and their lines
 * (lines may be NULL) */
static void summarize(const mr_eval *ev, double *stats, int compute, char *lines, size_t ln)
{
    const mr_eval_params *p = &ev->p;
    char line[256];
    size_t used = 0;
    if (lines && ln) lines[0] = 0;
#define S(i, ap, iou, area, md) do { \
        if (compute) stats[i] = summarize1(ev, ap, iou, area, md); \
        if (lines) { \
            summary_line(ev, ap, iou, area, md, stats[i], line, sizeof line); \
            size_t l = strlen(line); \
            if (used + l < ln) { memcpy(lines + used, line, l + 1); used += l; } \
        } } while (0)
    if (p->iou_type == MR_IOU_KEYPOINTS) {
        S(0, 1, -1, "all", 20); S(1, 1, .5, "all", 20); S(2, 1, .75, "all", 20);
        S(3, 1, -1, "medium", 20); S(4, 1, -1, "large", 20);
        S(5, 0, -1, "all", 20); S(6, 0, .5, "all", 20); S(7, 0, .75, "all", 20);
        S(8, 0, -1, "medium", 20); S(9, 0, -1, "large", 20);
    } else {
        int M = p->M;
        int m0 = p->max_dets[0], m1 = p->max_dets[M > 1 ? 1 : M - 1], m2 = p->max_dets[M > 2 ? 2 : M - 1];
        S(0, 1, -1, "all", 100); S(1, 1, .5, "all", m2); S(2, 1, .75, "all", m2);
        S(3, 1, -1, "small", m2); S(4, 1, -1, "medium", m2); S(5, 1, -1, "large", m2);
        S(6, 0, -1, "all", m0); S(7, 0, -1, "all", m1); S(8, 0, -1, "all", m2);
        S(9, 0, -1, "small", m2); S(10, 0, -1, "medium", m2); S(11, 0, -1, "large", m2);
    }
#undef S
}

char *mr_eval_summary(const mr_eval *ev)
{
    size_t n = 4096;
    char *s = malloc(n);
    if (!s) return NULL;
    /* the lines of the stats mr_eval_run computed */
    double st[12];
    memcpy(st, ev->stats, sizeof st);
    summarize(ev, st, 0, s, n - 200);
    if (ev->p.strict)
        strcat(s, "strict: pycocotools' bug-compatible quirks corrected (see docs/eval_quirks.md); numbers may differ from pycocotools\n");
    return s;
}

/* accumulate: precision, recall, scores; per-category F1. For each
 * category, the detections of all its cells are sorted once (score
 * descending, then image order, then rank: numpy's stable mergesort of the
 * concatenation), their flags gathered per (area, threshold) into
 * contiguous rows, and each maxDets keeps the entries of rank < maxDets
 * (a subsequence of a stable order is that subset's stable order).
 * Categories are independent (each writes its own slices), so threads
 * share them out; the result does not depend on the thread count. */
typedef struct acc_ctx {
    ctx *c;
    mr_eval *ev;
    size_t *koff, *kcells, maxn;
    int next, failed;
    pthread_mutex_t mu;
} acc_ctx;

/* one category's scratch (one huge-page block) */
typedef struct acc_scratch {
    char *blk;
    skey *sk; size_t *base, *sbase; int32_t *ndc, *rank, *snd, *srank;
    double *sc, *tp, *fp, *rc, *pr, *ss, *ssrt;
    uint8_t *sf;
    void *work;   /* sort_skeys' */
} acc_scratch;

static int acc_scratch_init(acc_scratch *s, size_t maxn, size_t AT)
{
    size_t N = maxn + 1;
    size_t need = N * (sizeof(skey) + 2 * sizeof(size_t) + 11 * sizeof(double) + 4 * sizeof(int32_t) + AT) + SORT_WORK(N) + 64;
    char *q = s->blk = mr_big_alloc(need);
    if (!q) return -1;
    s->sk = take(&q, N * sizeof(skey)); s->base = take(&q, N * sizeof(size_t)); s->sbase = take(&q, N * sizeof(size_t));
    s->ndc = take(&q, N * 4); s->rank = take(&q, N * 4); s->snd = take(&q, N * 4); s->srank = take(&q, N * 4);
    s->sc = take(&q, N * 8); s->tp = take(&q, N * 8); s->fp = take(&q, N * 8); s->rc = take(&q, N * 8);
    s->pr = take(&q, N * 8); s->ss = take(&q, N * 8); s->ssrt = take(&q, N * 8);
    s->sf = take(&q, N * AT);
    s->work = take(&q, SORT_WORK(N));
    return 0;
}

/* One precision-recall curve (a category, area, maxDets, threshold) from
 * its flags in score order, as accumulate() computes it, touching only the
 * true positives: recall changes only at them, and so does the envelope
 * (precision falls at every other entry), so the envelope at any entry is
 * the larger of that entry's precision and the precisions at the true
 * positives after it. The same doubles as the full arrays give: each
 * precision by the same expression, maxima of the same values. Scratch:
 * etp, efp, es, em (doubles) and eidx, n entries each. */
static void curve_events(mr_eval *ev, const mr_eval_params *p, const uint8_t *row, size_t n,
                         const int32_t *srank, const double *ssrt, int maxdet, long npig,
                         int t, int k, int a, int m, double *etp, double *efp, double *es, double *em, int32_t *eidx)
{
    const double eps = 2.220446049250313e-16;
    size_t nd = 0, ne = 0;
    double ctp = 0, cfp = 0, s0 = 0;
    int first_tp = 0;
    for (size_t i = 0; i < n; i++) {
        if (srank[i] >= maxdet) continue;
        uint8_t f = row[i];
        if (nd == 0) { s0 = ssrt[i]; first_tp = f == FL_TP; }
        if (f == FL_TP) {
            ctp += 1;
            etp[ne] = ctp; efp[ne] = cfp; es[ne] = ssrt[i]; eidx[ne] = (int32_t)nd;
            ne++;
        } else if (f == FL_FP) cfp += 1;
        nd++;
    }
    ev->recall[mr_eval_rec_at(ev, t, k, a, m)] = nd ? ctp / (double)npig : 0;
    /* suffix maxima of the precisions at the true positives */
    double run = 0;
    for (size_t j = ne; j-- > 0;) {
        double pj = etp[j] / (efp[j] + etp[j] + eps);
        if (j == ne - 1 || pj > run) run = pj;
        em[j] = run;
    }
    size_t j = 0;
    int R = p->R;
    for (int r = 0; r < R; r++) {
        size_t o = mr_eval_pr_at(ev, t, r, k, a, m);
        double thr = p->rec_thrs[r];
        if (nd && !(0.0 / (double)npig < thr)) {
            /* the first entry: recall 0 (or its own true positive) */
            double v = first_tp ? em[0] : ne ? (em[0] > 0 ? em[0] : 0) : 0;
            ev->precision[o] = v;
            if (ev->scores) ev->scores[o] = s0;
            continue;
        }
        while (j < ne && etp[j] / (double)npig < thr) j++;
        ev->precision[o] = j < ne ? em[j] : 0;
        if (ev->scores) ev->scores[o] = j < ne ? es[j] : 0;
        (void)eidx;
    }
}

static void accumulate_k(const acc_ctx *ac, int k, acc_scratch *S)
{
    const ctx *c = ac->c;
    mr_eval *ev = ac->ev;
    const mr_eval_params *p = c->p;
    int T = p->T, R = p->R, A = p->A, M = p->M;
    size_t AT = (size_t)A * T;
    const size_t *koff = ac->koff, *kcells = ac->kcells;
    skey *sk = S->sk; size_t *base = S->base, *sbase = S->sbase;
    int32_t *ndc = S->ndc, *rank = S->rank, *snd = S->snd, *srank = S->srank;
    double *sc = S->sc, *tp = S->tp, *fp = S->fp, *rc = S->rc, *pr = S->pr, *ss = S->ss, *ssrt = S->ssrt;
    uint8_t *sf = S->sf;
    int t50 = 0;
    for (int t = 0; t < T; t++) if (p->iou_thrs[t] == .5) { t50 = t; break; }
    const double eps = 2.220446049250313e-16;
    if (koff[k + 1] == koff[k]) return;   /* no cell: -1 everywhere */
    size_t n = 0;
    for (size_t q = koff[k]; q < koff[k + 1]; q++) {
        const cell *cl = &c->cells[kcells[q]];
        for (int d = 0; d < cl->nd; d++) {
            sc[n] = c->dscore[cl->d0 + (size_t)d];
            base[n] = (cl->d0 + (size_t)d) * AT;
            ndc[n] = cl->nd;
            rank[n] = d;
            sk[n].s = sc[n]; sk[n].pos = n;
            n++;
        }
    }
    sort_skeys(sk, n, S->work);
    for (size_t i = 0; i < n; i++) {
        size_t o = sk[i].pos;
        ssrt[i] = sc[o]; sbase[i] = base[o]; snd[i] = ndc[o]; srank[i] = rank[o];
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = c->flags + sbase[i];
        for (size_t at = 0; at < AT; at++) sf[at * n + i] = f[at];
    }
    for (int a = 0; a < A; a++) {
        long npig = 0;
        for (size_t q = koff[k]; q < koff[k + 1]; q++) npig += c->npig[kcells[q] * (size_t)A + (size_t)a];
        if (npig == 0) continue;
        for (int m = 0; m < M; m++) {
            int maxdet = p->max_dets[m];
            for (int t = 0; t < T; t++) {
                const uint8_t *row = sf + ((size_t)a * T + t) * n;
                if (!(t == t50 && a == 0 && m == M - 1 && p->use_cats)) {
                    curve_events(ev, p, row, n, srank, ssrt, maxdet, npig, t, k, a, m, tp, fp, ss, pr, ndc);
                    continue;
                }
                size_t nd = 0;
                double ctp = 0, cfp = 0;
                for (size_t i = 0; i < n; i++) {
                    if (srank[i] >= maxdet) continue;
                    uint8_t f = row[i];
                    ctp += f == FL_TP;
                    cfp += f == FL_FP;
                    tp[nd] = ctp; fp[nd] = cfp; ss[nd] = ssrt[i];
                    nd++;
                }
                for (size_t i = 0; i < nd; i++) {
                    rc[i] = tp[i] / (double)npig;
                    pr[i] = tp[i] / (fp[i] + tp[i] + eps);
                }
                ev->recall[mr_eval_rec_at(ev, t, k, a, m)] = nd ? rc[nd - 1] : 0;
                /* F1-optimal threshold at IoU .5, area index 0, last maxDets */
                if (t == t50 && a == 0 && m == M - 1 && p->use_cats) {
                    double best = 0, bscore = -1;
                    for (size_t i = 0; i < nd; i++) {
                        if (i + 1 < nd && ss[i + 1] == ss[i]) continue;
                        double P = tp[i] + fp[i] > 0 ? tp[i] / (tp[i] + fp[i]) : 0, Rr = tp[i] / (double)npig;
                        double f1 = P + Rr > 0 ? 2 * P * Rr / (P + Rr) : 0;
                        if (f1 > best) { best = f1; bscore = ss[i]; }
                    }
                    ev->cats[k].f1_best = best;
                    ev->cats[k].f1_best_score = bscore;
                }
                for (size_t i = nd; i-- > 1;)
                    if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
                size_t pi = 0;
                for (int r = 0; r < R; r++) {
                    while (pi < nd && rc[pi] < p->rec_thrs[r]) pi++;
                    size_t o = mr_eval_pr_at(ev, t, r, k, a, m);
                    ev->precision[o] = pi < nd ? pr[pi] : 0;
                    if (ev->scores) ev->scores[o] = pi < nd ? ss[pi] : 0;
                }
            }
        }
    }
}

static void *acc_worker(void *arg)
{
    acc_ctx *ac = arg;
    acc_scratch S;
    if (acc_scratch_init(&S, ac->maxn, (size_t)ac->c->p->A * ac->c->p->T)) {
        pthread_mutex_lock(&ac->mu); ac->failed = 1; pthread_mutex_unlock(&ac->mu);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&ac->mu);
        int k = ac->next++;
        pthread_mutex_unlock(&ac->mu);
        if (k >= ac->ev->K) break;
        accumulate_k(ac, k, &S);
    }
    free(S.blk);
    return NULL;
}

static int accumulate(ctx *c, mr_eval *ev, mr_err *e)
{
    const mr_eval_params *p = c->p;
    int T = p->T, R = p->R, K = ev->K, A = p->A, M = p->M;
    size_t np = (size_t)T * R * K * A * M, nr = (size_t)T * K * A * M;
    ev->precision = mr_big_alloc(np * sizeof(double));
    ev->scores = p->no_scores ? NULL : mr_big_alloc(np * sizeof(double));
    ev->recall = mr_big_alloc(nr * sizeof(double));
    if (!ev->precision || (!ev->scores && !p->no_scores) || !ev->recall) return mr_errf(e, MR_ENOMEM, "out of memory");
    for (size_t i = 0; i < np; i++) ev->precision[i] = -1;
    if (ev->scores) for (size_t i = 0; i < np; i++) ev->scores[i] = -1;
    for (size_t i = 0; i < nr; i++) ev->recall[i] = -1;
    /* cells by category, in image order (cells are built in image order) */
    acc_ctx ac;
    memset(&ac, 0, sizeof ac);
    ac.c = c; ac.ev = ev;
    ac.koff = calloc((size_t)K + 1, sizeof(size_t));
    ac.kcells = malloc((c->ncells + 1) * sizeof(size_t));
    size_t *fill = malloc(((size_t)K + 1) * sizeof(size_t));
    if (!ac.koff || !ac.kcells || !fill) { free(ac.koff); free(ac.kcells); free(fill); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    for (size_t i = 0; i < c->ncells; i++) ac.koff[c->cells[i].k + 1]++;
    for (int k = 0; k < K; k++) ac.koff[k + 1] += ac.koff[k];
    memcpy(fill, ac.koff, ((size_t)K + 1) * sizeof(size_t));
    for (size_t i = 0; i < c->ncells; i++) ac.kcells[fill[c->cells[i].k]++] = i;
    free(fill);
    for (int k = 0; k < K; k++) {
        size_t n = 0;
        for (size_t q = ac.koff[k]; q < ac.koff[k + 1]; q++) n += (size_t)c->cells[ac.kcells[q]].nd;
        if (n > ac.maxn) ac.maxn = n;
    }
    pthread_mutex_init(&ac.mu, NULL);
    int nth = p->threads > 1 ? p->threads : 1;
    if (nth > K) nth = K > 0 ? K : 1;
    if (nth > 64) nth = 64;
    if (nth == 1) acc_worker(&ac);
    else {
        pthread_t th[64];
        int started = 0;
        for (int i = 0; i < nth; i++) { if (pthread_create(&th[i], NULL, acc_worker, &ac) == 0) started++; else break; }
        if (!started) acc_worker(&ac);
        for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    }
    pthread_mutex_destroy(&ac.mu);
    free(ac.koff);
    free(ac.kcells);
    if (ac.failed) return mr_errf(e, MR_ENOMEM, "out of memory");
    return MR_OK;
}

/* per-category AP/AP50/AP75/AR over area index 0 at maxDets 100 (else the
 * last), as expected.json's per_category_ap */
static void per_category(mr_eval *ev)
{
    const mr_eval_params *p = &ev->p;
    int T = p->T, R = p->R, M = p->M;
    int m = M - 1;
    for (int i = 0; i < M; i++) if (p->max_dets[i] == 100) m = i;
    double *tmp = malloc(sizeof(double) * 2 * (size_t)T * R + 2);
    if (!tmp) return;
    double *buf = tmp + (size_t)T * R;
    for (size_t k = 0; k < ev->ncats; k++) {
        mr_cat_result *cr = &ev->cats[k];
        double thr[3] = {-1, .5, .75}, *dst[3] = {&cr->ap, &cr->ap50, &cr->ap75};
        for (int w = 0; w < 3; w++) {
            size_t n = 0;
            for (int t = 0; t < T; t++) {
                if (thr[w] >= 0 && p->iou_thrs[t] != thr[w]) continue;
                for (int r = 0; r < R; r++) tmp[n++] = ev->precision[mr_eval_pr_at(ev, t, r, (int)k, 0, m)];
            }
            *dst[w] = mean_sel(tmp, n, buf);
        }
        size_t n = 0;
        for (int t = 0; t < T; t++) tmp[n++] = ev->recall[mr_eval_rec_at(ev, t, (int)k, 0, m)];
        cr->ar = mean_sel(tmp, n, buf);
        if (cr->ap < 0) { cr->f1_best = -1; cr->f1_best_score = -1; }
    }
    free(tmp);
}

int mr_eval_run(mr_eval *ev, const mr_coco *gt, const mr_coco *dt, const mr_eval_params *pin, mr_err *e)
{
    memset(ev, 0, sizeof *ev);
    ev->p = *pin;
    mr_eval_params *p = &ev->p;
    if (p->T < 1 || p->R < 1 || p->M < 1 || p->A < 1)
        return mr_errf(e, MR_EUSAGE, "evaluation needs at least one IoU threshold, recall threshold, maxDets and area range");
    /* maxDets sorted (evaluate() sorts them) */
    for (int i = 1; i < p->M; i++)
        for (int j = i; j > 0 && p->max_dets[j] < p->max_dets[j - 1]; j--) {
            int t = p->max_dets[j]; p->max_dets[j] = p->max_dets[j - 1]; p->max_dets[j - 1] = t;
        }
    /* images: given or all, sorted unique */
    size_t ni = pin->img_ids ? pin->num_img_ids : gt->num_images;
    ev->img_ids = malloc((ni + 1) * sizeof(int64_t));
    size_t nk = pin->cat_ids ? pin->num_cat_ids : gt->num_cats;
    ev->cat_ids = malloc((nk + 1) * sizeof(int64_t));
    if (!ev->img_ids || !ev->cat_ids) { mr_eval_free(ev); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    for (size_t i = 0; i < ni; i++) ev->img_ids[i] = pin->img_ids ? pin->img_ids[i] : gt->images[i].id;
    for (size_t i = 0; i < nk; i++) ev->cat_ids[i] = pin->cat_ids ? pin->cat_ids[i] : gt->cats[i].id;
    ev->I = sort_unique(ev->img_ids, ni);
    ev->K0 = sort_unique(ev->cat_ids, nk);
    p->img_ids = ev->img_ids; p->num_img_ids = ev->I;
    p->cat_ids = ev->cat_ids; p->num_cat_ids = ev->K0;
    ev->K = p->use_cats ? (int)ev->K0 : 1;
    ev->nstats = p->iou_type == MR_IOU_KEYPOINTS ? 10 : 12;
    ev->stats_names = p->iou_type == MR_IOU_KEYPOINTS ? KP_NAMES : DET_NAMES;
    if (p->use_cats) {
        ev->ncats = ev->K0;
        ev->cats = calloc(ev->K0 + 1, sizeof(mr_cat_result));
        if (!ev->cats) { mr_eval_free(ev); return mr_errf(e, MR_ENOMEM, "out of memory"); }
        for (size_t k = 0; k < ev->K0; k++) {
            long ci = mr_coco_cat_index(gt, ev->cat_ids[k]);
            ev->cats[k].id = ev->cat_ids[k];
            ev->cats[k].name = ci >= 0 ? gt->cats[ci].name : "";
            ev->cats[k].f1_best = 0; ev->cats[k].f1_best_score = -1;
        }
    }
    ctx C, *c = &C;
    memset(c, 0, sizeof *c);
    c->gt = gt; c->dt = dt; c->p = p;
    c->A = p->A; c->T = p->T; c->maxdet = p->max_dets[p->M - 1];
    c->kpos = malloc((gt->num_cats + 1) * sizeof(int32_t));
    c->sig = malloc((gt->num_cats + 1) * sizeof(double *));
    c->nsig = malloc((gt->num_cats + 1) * sizeof(int32_t));
    int rc = MR_OK;
    if (!c->kpos || !c->sig || !c->nsig) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < gt->num_cats; i++) {
        int64_t id = gt->cats[i].id;
        int32_t kp = -1;
        size_t lo = 0, hi = ev->K0;
        while (lo < hi) { size_t mid = (lo + hi) / 2; if (ev->cat_ids[mid] < id) lo = mid + 1; else hi = mid; }
        if (lo < ev->K0 && ev->cat_ids[lo] == id) kp = (int32_t)lo;
        c->kpos[i] = kp;
    }
    if (p->iou_type == MR_IOU_KEYPOINTS && (rc = setup_sigmas(c, e))) goto out;
    if ((rc = build_cells(c, ev, e))) goto out;
    {
        size_t nd = 0;
        for (size_t i = 0; i < c->ncells; i++) nd += (size_t)c->cells[i].nd;
        /* scores, ground-truth counts and flags after the cells used, in
         * their block (build_cells sized it for every detection and cell) */
        char *q = (char *)(c->cells + c->ncells);
        q += (8 - (uintptr_t)q % 8) % 8;
        if ((size_t)(q - (char *)c->blk1) + BLK2_BYTES(nd, c->ncells, p->A, p->T) > c->blk1_cap) {
            rc = mr_errf(e, MR_ENOMEM, "out of memory");
            goto out;
        }
        c->dscore = take(&q, (nd + 1) * sizeof(double));
        c->npig = take(&q, (c->ncells * (size_t)p->A + 1) * sizeof(int32_t));
        c->flags = take(&q, nd * (size_t)p->A * (size_t)p->T + 1);
        for (size_t i = 0; i < nd; i++) c->dscore[i] = dt->anns[c->didx[i]].score;
    }
    /* evaluate the cells */
    pthread_mutex_init(&c->mu, NULL);
    int nth = p->threads > 1 ? p->threads : 1;
    if (nth > 64) nth = 64;
    if ((size_t)nth > c->ncells) nth = c->ncells ? (int)c->ncells : 1;
    if (nth == 1) worker(c);
    else {
        pthread_t th[64];
        int started = 0;
        for (int i = 0; i < nth; i++) if (pthread_create(&th[i], NULL, worker, c) == 0) started++; else break;
        if (!started) worker(c);
        for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    }
    pthread_mutex_destroy(&c->mu);
    if (c->err_code) { rc = c->err_code; if (e) *e = c->err; goto out; }
    if ((rc = accumulate(c, ev, e))) goto out;
    summarize(ev, ev->stats, 1, NULL, 0);
    per_category(ev);
out:
    free(c->kpos); free(c->sig); free(c->nsig); free(c->blk1);   /* gidx, didx, cells, dscore, npig, flags */
    if (rc) mr_eval_free(ev);
    return rc;
}

void mr_eval_free(mr_eval *ev)
{
    if (!ev) return;
    free(ev->precision); free(ev->recall); free(ev->scores);
    free(ev->cat_ids); free(ev->img_ids); free(ev->cats);
    memset(ev, 0, sizeof *ev);
}
