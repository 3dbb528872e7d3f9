/*
 * model.c — the COCO annotation model in memory (coco.h): the arena that
 * owns every string and array, id lookups, the per-image and per-category
 * index lists, mr_coco_finish's checks and derived fields, the masks of
 * annotations (annToRLE) and the builder API. Reading files is read.c,
 * writing them write.c; their shared private state is coco_impl.h.
 */
#include "coco/coco_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

const double MR_COCO_KPT_SIGMAS[17] = {
    .26 / 10.0, .25 / 10.0, .25 / 10.0, .35 / 10.0, .35 / 10.0, .79 / 10.0, .79 / 10.0,
    .72 / 10.0, .72 / 10.0, .62 / 10.0, .62 / 10.0, 1.07 / 10.0, 1.07 / 10.0, .87 / 10.0,
    .87 / 10.0, .89 / 10.0, .89 / 10.0};

void *coco_arena_alloc(coco_impl *im, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!im->blk || im->blk->used + n > im->blk->cap) {
        /* blocks grow with the data: under 1 MB (4 KB pages, touched as
         * used: small files stay small), then 8 MB huge-page blocks; from
         * an input of 4 MB on, 8 MB blocks from the start */
        size_t big = ((size_t)8 << 20) - sizeof(arena_blk);
        size_t base = im->blk || im->arena_hint >= ((size_t)4 << 20) ? big : ((size_t)1 << 20) - sizeof(arena_blk) - 64;
        size_t cap = n > base ? n : base;
        arena_blk *b = mr_big_alloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = im->blk; b->used = 0; b->cap = cap;
        im->blk = b;
    }
    void *p = im->blk->data + im->blk->used;
    im->blk->used += n;
    return p;
}

void *coco_arena_tail(coco_impl *im, size_t min, size_t *avail)
{
    min = (min + 7) & ~(size_t)7;
    if (!im->blk || im->blk->used + min > im->blk->cap) {
        /* a new block as coco_arena_alloc makes one; the old one's rest
         * (under min) stays unused */
        if (!coco_arena_alloc(im, min)) return NULL;
        im->blk->used -= min;
    }
    *avail = im->blk->cap - im->blk->used;
    return im->blk->data + im->blk->used;
}

void coco_arena_commit(coco_impl *im, size_t n)
{
    im->blk->used += (n + 7) & ~(size_t)7;
}

void coco_arena_trim(coco_impl *im, void *p, size_t n, size_t keep)
{
    n = (n + 7) & ~(size_t)7;
    keep = (keep + 7) & ~(size_t)7;
    if (im->blk && (char *)p + n == im->blk->data + im->blk->used && keep <= n) im->blk->used -= n - keep;
}

char *coco_arena_strdup(coco_impl *im, const char *s, size_t n)
{
    char *d = coco_arena_alloc(im, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static uint64_t hash64(int64_t k)
{
    uint64_t x = (uint64_t)k;
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

/* build a map of n keys; returns the index of a duplicate key, -1 if none,
 * -2 when out of memory */
static long idmap_build(idmap *m, const int64_t *keys, size_t stride, size_t n)
{
    free(m->keys); free(m->vals);
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    m->keys = malloc(cap * sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    m->cap = cap;
    if (!m->keys || !m->vals) return -2;
    for (size_t i = 0; i < cap; i++) m->vals[i] = -1;
    for (size_t i = 0; i < n; i++) {
        int64_t k = *(const int64_t *)((const char *)keys + i * stride);
        size_t h = hash64(k) & (cap - 1);
        while (m->vals[h] >= 0) {
            if (m->keys[h] == k) return (long)i;
            h = (h + 1) & (cap - 1);
        }
        m->keys[h] = k; m->vals[h] = (int32_t)i;
    }
    return -1;
}

/* the index of an annotation whose id an earlier one has, -1 if none, -2
 * when out of memory. Ids in increasing order (most files) need no table;
 * else an open-addressing set of the ids, in scratch when it is large
 * enough */
static long dup_ann_id(const mr_coco_ann *a, size_t n, void *scratch, size_t scratch_len)
{
    size_t i = 1;
    while (i < n && a[i].id > a[i - 1].id) i++;
    if (i >= n) return -1;
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    /* slots hold index + 1 (0: empty) */
    uint32_t *slot = cap * sizeof *slot <= scratch_len ? scratch : malloc(cap * sizeof *slot);
    if (!slot) return -2;
    memset(slot, 0, cap * sizeof *slot);
    long d = -1;
    for (i = 0; i < n && d < 0; i++) {
        size_t h = hash64(a[i].id) & (cap - 1);
        while (slot[h]) {
            if (a[slot[h] - 1].id == a[i].id) { d = (long)i; break; }
            h = (h + 1) & (cap - 1);
        }
        slot[h] = (uint32_t)i + 1;
    }
    if (slot != scratch) free(slot);
    return d;
}

static long idmap_get(const idmap *m, int64_t k)
{
    if (!m->cap) return -1;
    size_t h = hash64(k) & (m->cap - 1);
    while (m->vals[h] >= 0) {
        if (m->keys[h] == k) return m->vals[h];
        h = (h + 1) & (m->cap - 1);
    }
    return -1;
}

void mr_coco_init(mr_coco *c)
{
    memset(c, 0, sizeof *c);
    c->res_kind = "";
}

coco_impl *coco_impl_of(mr_coco *c)
{
    if (!c->impl) c->impl = calloc(1, sizeof(coco_impl));
    return c->impl;
}

void mr_coco_free(mr_coco *c)
{
    if (!c) return;
    coco_impl *im = c->impl;
    if (im) {
        for (arena_blk *b = im->blk, *n; b; b = n) { n = b->next; free(b); }
        if (!im->borrowed) {
            free(im->imgs.keys); free(im->imgs.vals);
            free(im->cats.keys); free(im->cats.vals);
            free(c->images); free(c->cats);
        }
        free(im);
    }
    free(c->anns);      /* the lists (coco_build_lists) are the arena's */
    free(c->path);
    mr_coco_init(c);
}

/* a failed parse leaves c empty; the code is e's when e was given */
int coco_fail_free(mr_coco *c, int rc, const mr_err *e)
{
    int code = e ? e->code : rc;
    mr_coco_free(c);
    return code ? code : MR_EUSER;
}

long mr_coco_image_index(const mr_coco *c, int64_t id)
{
    return c->impl ? idmap_get(&((coco_impl *)c->impl)->imgs, id) : -1;
}

long mr_coco_cat_index(const mr_coco *c, int64_t id)
{
    return c->impl ? idmap_get(&((coco_impl *)c->impl)->cats, id) : -1;
}

int coco_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, nc * elem);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* count v > 0 */
static int32_t visible(const mr_coco_ann *a)
{
    int32_t n = 0;
    for (int32_t i = 0; i < a->num_kpt; i++) n += a->keypoints[3 * i + 2] > 0;
    return n;
}

/* build the per-image and per-category index lists (counting sort keeps
 * file order) */
int coco_build_lists(mr_coco *c, mr_err *e)
{
    /* the four lists in one block of the arena (its huge pages, often the
     * rest of a block already there, not pages of their own; a rebuild
     * leaves the old lists to the arena) */
    c->img_off = c->img_anns = c->cat_off = c->cat_anns = NULL;
    size_t n = (c->num_images + 1) + (c->num_cats + 1) + 2 * (c->num_anns + 1);
    coco_impl *im = coco_impl_of(c);
    size_t *blk = im ? coco_arena_alloc(im, n * sizeof(size_t)) : NULL;
    if (!blk) return mr_errf(e, MR_ENOMEM, "%s: out of memory", c->path);
    c->img_off = blk;
    c->cat_off = c->img_off + c->num_images + 1;
    c->img_anns = c->cat_off + c->num_cats + 1;
    c->cat_anns = c->img_anns + c->num_anns + 1;
    memset(c->img_off, 0, (c->num_images + 1) * sizeof(size_t));
    memset(c->cat_off, 0, (c->num_cats + 1) * sizeof(size_t));
    for (size_t i = 0; i < c->num_anns; i++) {
        c->img_off[c->anns[i].image_index + 1]++;
        c->cat_off[c->anns[i].category_index + 1]++;
    }
    for (size_t i = 0; i < c->num_images; i++) c->img_off[i + 1] += c->img_off[i];
    for (size_t i = 0; i < c->num_cats; i++) c->cat_off[i + 1] += c->cat_off[i];
    size_t *fi = malloc((c->num_images + 1) * sizeof(size_t)), *fc = malloc((c->num_cats + 1) * sizeof(size_t));
    if (!fi || !fc) { free(fi); free(fc); return mr_errf(e, MR_ENOMEM, "%s: out of memory", c->path); }
    memcpy(fi, c->img_off, (c->num_images + 1) * sizeof(size_t));
    memcpy(fc, c->cat_off, (c->num_cats + 1) * sizeof(size_t));
    for (size_t i = 0; i < c->num_anns; i++) {
        c->img_anns[fi[c->anns[i].image_index]++] = i;
        c->cat_anns[fc[c->anns[i].category_index]++] = i;
    }
    free(fi); free(fc);
    return MR_OK;
}

/* mask area and box of a segmentation (for missing GT fields and results) */
int coco_seg_area_box(const mr_coco_ann *a, const mr_coco_image *img, double *area, double bb[4], mr_err *e)
{
    if (a->seg && a->seg->kind == MR_SEG_RLE && a->seg->has_mask_bbox) {
        if (area) *area = a->seg->segm_area;
        if (bb) memcpy(bb, a->seg->mask_bbox, 4 * sizeof(double));
        return MR_OK;
    }
    mr_rle r = MR_RLE_INIT;
    int rc = mr_coco_ann_rle(a, img, &r, e);
    if (rc) return rc;
    if (area) *area = (double)mr_rle_area(&r);
    if (bb) mr_rle_bbox(&r, bb);
    mr_rle_free(&r);
    return MR_OK;
}

int mr_coco_finish(mr_coco *c, mr_err *e)
{
    coco_impl *im = coco_impl_of(c);
    const char *f = c->path ? c->path : "";
    if (!im) return mr_errf(e, MR_ENOMEM, "out of memory");
    long d = idmap_build(&im->imgs, c->num_images ? &c->images[0].id : NULL, sizeof(mr_coco_image), c->num_images);
    if (d == -2) return mr_errf(e, MR_ENOMEM, "%s: out of memory", f);
    if (d >= 0) return mr_errf(e, MR_EUSER, "%s: images[%ld]: field 'id': duplicate image id %lld", f, d,
                               (long long)c->images[d].id);
    d = idmap_build(&im->cats, c->num_cats ? &c->cats[0].id : NULL, sizeof(mr_coco_cat), c->num_cats);
    if (d == -2) return mr_errf(e, MR_ENOMEM, "%s: out of memory", f);
    if (d >= 0) return mr_errf(e, MR_EUSER, "%s: categories[%ld]: field 'id': duplicate category id %lld", f, d,
                               (long long)c->cats[d].id);
    d = dup_ann_id(c->anns, c->num_anns, im->scratch, im->scratch_len);
    if (d == -2) return mr_errf(e, MR_ENOMEM, "%s: out of memory", f);
    if (d >= 0) return mr_errf(e, MR_EUSER, "%s: annotations[%ld]: field 'id': duplicate annotation id %lld", f, d,
                               (long long)c->anns[d].id);
    for (size_t i = 0; i < c->num_anns; i++) {
        mr_coco_ann *a = &c->anns[i];
        long ii = mr_coco_image_index(c, a->image_id);
        if (ii < 0) return mr_errf(e, MR_EUSER, "%s: annotations[%zu]: field 'image_id': image %lld is not in images",
                                   f, i, (long long)a->image_id);
        long ci = mr_coco_cat_index(c, a->category_id);
        if (ci < 0) return mr_errf(e, MR_EUSER, "%s: annotations[%zu]: field 'category_id': category %lld is not in categories",
                                   f, i, (long long)a->category_id);
        a->image_index = (int32_t)ii;
        a->category_index = (int32_t)ci;
        const mr_coco_cat *cat = &c->cats[ci];
        int32_t want = cat->num_keypoints ? cat->num_keypoints : cat->num_sigmas;
        if (a->keypoints && want && a->num_kpt != want)
            return mr_errf(e, MR_EUSER, "%s: annotations[%zu]: field 'keypoints': expected %d values (%d keypoints of category %lld), got %d",
                           f, i, 3 * want, want, (long long)a->category_id, 3 * a->num_kpt);
        if (!a->has_num_keypoints) a->num_keypoints = visible(a);
        if (a->seg_skipped && (!a->has_bbox || !a->has_area) && coco_read_skipped_segm(c, a, i, e))
            return MR_EUSER;
        if (!a->has_bbox || !a->has_area) {
            double area = 0, bb[4] = {0, 0, 0, 0};
            if (mr_coco_ann_seg_kind(a) != MR_SEG_NONE) {
                int rc = coco_seg_area_box(a, &c->images[ii], &area, bb, e);
                if (rc) return mr_err_prefix(e, "%s: annotations[%zu]: field 'segmentation'", f, i);
            } else if (a->has_bbox) {
                area = a->bbox[2] * a->bbox[3];
            } else if (a->num_kpt) {
                double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
                for (int32_t k = 0; k < a->num_kpt; k++) {
                    if (!(a->keypoints[3 * k + 2] > 0)) continue;
                    double x = a->keypoints[3 * k], y = a->keypoints[3 * k + 1];
                    x0 = fmin(x0, x); x1 = fmax(x1, x); y0 = fmin(y0, y); y1 = fmax(y1, y);
                }
                if (x0 <= x1) { bb[0] = x0; bb[1] = y0; bb[2] = x1 - x0; bb[3] = y1 - y0; }
                area = bb[2] * bb[3];
            } else {
                return mr_errf(e, MR_EUSER, "%s: annotations[%zu]: field 'bbox': missing (and no segmentation or keypoints to derive it from)", f, i);
            }
            if (!a->has_bbox) { memcpy(a->bbox, bb, sizeof bb); a->has_bbox = 1; }
            if (!a->has_area) { a->area = area; a->has_area = 1; }
        }
    }
    return coco_build_lists(c, e);
}

int mr_coco_ann_rle(const mr_coco_ann *a, const mr_coco_image *img, mr_rle *out, mr_err *e)
{
    uint32_t h = (uint32_t)img->height, w = (uint32_t)img->width;
    const mr_coco_seg *sg = a->seg;
    if (sg && sg->kind == MR_SEG_RLE) {
        if (sg->rle_str && !sg->rle.cnts)
            return mr_rle_from_string(out, sg->rle_str, sg->rle_str_len, sg->rle.h, sg->rle.w, e);
        return mr_rle_copy(out, &sg->rle, e);
    }
    if (sg && sg->kind == MR_SEG_POLY) {
        int32_t n = sg->npoly;
        if (mr_coco_seg_is_boxes(sg)) {   /* frPyObjects: every part a box [x, y, w, h] */
            mr_rle parts[64], *pp = n <= 64 ? parts : calloc((size_t)n, sizeof *pp);
            if (!pp) return mr_errf(e, MR_ENOMEM, "out of memory");
            memset(pp, 0, sizeof(mr_rle) * (size_t)(n <= 64 ? 64 : n));
            int rc = MR_OK;
            for (int32_t i = 0; i < n && !rc; i++) rc = mr_rle_from_bbox(&pp[i], sg->poly[i], h, w, e);
            if (!rc) rc = mr_rle_merge(out, pp, (size_t)n, 0, e);
            for (int32_t i = 0; i < n; i++) mr_rle_free(&pp[i]);
            if (pp != parts) free(pp);
            return rc;
        }
        size_t *kp = malloc(sizeof(size_t) * (size_t)(n + 1));
        if (!kp) return mr_errf(e, MR_ENOMEM, "out of memory");
        for (int32_t i = 0; i < n; i++) kp[i] = (size_t)sg->poly_len[i] / 2;
        int rc = sg->poly_q ? mr_rle_from_polys_q(out, sg->polyq, kp, (size_t)n, h, w, e)
                            : mr_rle_from_polys(out, sg->poly, kp, (size_t)n, h, w, e);
        free(kp);
        return rc;
    }
    /* no segmentation: the box as a polygon (loadRes for box results) */
    double x1 = a->bbox[0], x2 = a->bbox[0] + a->bbox[2], y1 = a->bbox[1], y2 = a->bbox[1] + a->bbox[3];
    double xy[8] = {x1, y1, x1, y2, x2, y2, x2, y1};
    return mr_rle_from_poly(out, xy, 4, h, w, e);
}

/* ---- builder ---- */

int mr_coco_add_image(mr_coco *c, int64_t id, int32_t width, int32_t height,
                      const char *file_name, mr_err *e)
{
    coco_impl *im = coco_impl_of(c);
    if (!im) return mr_errf(e, MR_ENOMEM, "out of memory");
    if (!c->path) c->path = strdup("");
    if (width <= 0 || height <= 0) return mr_errf(e, MR_EUSER, "image %lld: width and height must be positive", (long long)id);
    if ((int64_t)width * height > MR_MASK_MAX_PIXELS)
        return mr_errf(e, MR_EUSER, "image %lld: %d x %d is more than the %lld pixels an image may have",
                       (long long)id, width, height, MR_MASK_MAX_PIXELS);
    if (coco_grow((void **)&c->images, &im->cap_images, c->num_images + 1, sizeof(mr_coco_image)))
        return mr_errf(e, MR_ENOMEM, "out of memory");
    mr_coco_image *img = &c->images[c->num_images];
    img->id = id; img->width = width; img->height = height;
    img->file_name = coco_arena_strdup(im, file_name ? file_name : "", file_name ? strlen(file_name) : 0);
    if (!img->file_name) return mr_errf(e, MR_ENOMEM, "out of memory");
    c->num_images++;
    return MR_OK;
}

static void *arena_copy(coco_impl *im, const void *src, size_t n)
{
    void *d = coco_arena_alloc(im, n ? n : 1);
    if (d && n) memcpy(d, src, n);
    return d;
}

int mr_coco_add_category(mr_coco *c, const mr_coco_cat *cat, mr_err *e)
{
    coco_impl *im = coco_impl_of(c);
    if (!im) return mr_errf(e, MR_ENOMEM, "out of memory");
    if (!c->path) c->path = strdup("");
    if (coco_grow((void **)&c->cats, &im->cap_cats, c->num_cats + 1, sizeof(mr_coco_cat)))
        return mr_errf(e, MR_ENOMEM, "out of memory");
    mr_coco_cat *d = &c->cats[c->num_cats];
    *d = *cat;
    d->name = coco_arena_strdup(im, cat->name ? cat->name : "", cat->name ? strlen(cat->name) : 0);
    d->supercategory = coco_arena_strdup(im, cat->supercategory ? cat->supercategory : "",
                                    cat->supercategory ? strlen(cat->supercategory) : 0);
    if (cat->num_keypoints) {
        const char **nm = coco_arena_alloc(im, sizeof(char *) * (size_t)cat->num_keypoints);
        if (!nm) return mr_errf(e, MR_ENOMEM, "out of memory");
        for (int32_t i = 0; i < cat->num_keypoints; i++) {
            const char *s = cat->keypoint_names ? cat->keypoint_names[i] : "";
            nm[i] = coco_arena_strdup(im, s, strlen(s));
        }
        d->keypoint_names = (const char *const *)nm;
    }
    d->skeleton = arena_copy(im, cat->skeleton, sizeof(int32_t) * 2 * (size_t)cat->num_skeleton);
    d->keypoint_sigmas = arena_copy(im, cat->keypoint_sigmas, sizeof(double) * (size_t)cat->num_sigmas);
    if (!d->name || !d->supercategory || !d->skeleton || !d->keypoint_sigmas) return mr_errf(e, MR_ENOMEM, "out of memory");
    c->num_cats++;
    return MR_OK;
}

int mr_coco_add_ann(mr_coco *c, const mr_coco_ann *a, mr_err *e)
{
    coco_impl *im = coco_impl_of(c);
    if (!im) return mr_errf(e, MR_ENOMEM, "out of memory");
    if (coco_grow((void **)&c->anns, &im->cap_anns, c->num_anns + 1, sizeof(mr_coco_ann)))
        return mr_errf(e, MR_ENOMEM, "out of memory");
    mr_coco_ann *d = &c->anns[c->num_anns];
    *d = *a;
    d->seg = NULL;
    if (a->keypoints) {
        d->keypoints = arena_copy(im, a->keypoints, sizeof(double) * 3 * (size_t)a->num_kpt);
        if (!d->keypoints) return mr_errf(e, MR_ENOMEM, "out of memory");
    }
    const mr_coco_seg *as = a->seg;
    if (as && as->kind != MR_SEG_NONE) {
        mr_coco_seg *ds = coco_arena_alloc(im, sizeof *ds);
        if (!ds) return mr_errf(e, MR_ENOMEM, "out of memory");
        *ds = *as;
        d->seg = ds;
    }
    if (d->seg && as->kind == MR_SEG_POLY) {
        mr_coco_seg *ds = d->seg;
        double **pp = coco_arena_alloc(im, sizeof(double *) * (size_t)(as->npoly + 1));
        int32_t *pl = arena_copy(im, as->poly_len, sizeof(int32_t) * (size_t)as->npoly);
        if (!pp || !pl) return mr_errf(e, MR_ENOMEM, "out of memory");
        for (int32_t i = 0; i < as->npoly; i++) {
            pp[i] = arena_copy(im, as->poly[i], sizeof(double) * (size_t)as->poly_len[i]);
            if (!pp[i]) return mr_errf(e, MR_ENOMEM, "out of memory");
        }
        ds->poly = (const double *const *)pp;
        ds->poly_len = pl;
    } else if (d->seg && as->kind == MR_SEG_RLE) {
        mr_coco_seg *ds = d->seg;
        if (as->rle_str && !as->rle.cnts) {
            ds->rle_str = coco_arena_strdup(im, as->rle_str, as->rle_str_len);
            if (!ds->rle_str) return mr_errf(e, MR_ENOMEM, "out of memory");
        } else {
            ds->rle.cnts = arena_copy(im, as->rle.cnts, sizeof(uint32_t) * as->rle.m);
            if (!ds->rle.cnts) return mr_errf(e, MR_ENOMEM, "out of memory");
            if (!ds->has_mask_bbox) {
                ds->segm_area = (double)mr_rle_area(&ds->rle);
                mr_rle_bbox(&ds->rle, ds->mask_bbox);
                ds->has_mask_bbox = 1;
            }
        }
    }
    c->num_anns++;
    return MR_OK;
}
