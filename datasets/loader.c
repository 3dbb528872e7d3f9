/*
 * loader.c — batches and the prefetching loader; see loader.h.
 *
 * Two batch slots: the caller reads one while the prefetch thread (pthreads)
 * fills the other with the next iteration. Within a slot, images are
 * prepared in parallel (OpenMP, `workers` threads) into disjoint parts of
 * the slot's buffers, so the content does not depend on the thread count.
 *
 * Images are decoded on demand, by whoever fills the slot (the prefetch
 * thread in training): the resized pixels go into a cache while it is
 * under cfg.cache_bytes, else into the slot's per-position scratch buffer.
 * Nothing is evicted (any policy gives the same batches; this one keeps
 * the first images met), so memory stays under the cache budget plus two
 * slots' scratch, whatever the dataset's size. mr_loader_open only checks
 * every image's header (exists, readable, size as in the JSON).
 */
#include "datasets/loader.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/pcg32.h"
#include "datasets/image.h"
#include "coco/rle.h"

void mr_loader_cfg_default(mr_loader_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->min_size = 800;
    c->max_size = 1333;
    c->size_div = 32;
    c->flip = 1;
    c->mean[0] = 0.485f; c->mean[1] = 0.456f; c->mean[2] = 0.406f;
    c->std[0] = 0.229f; c->std[1] = 0.224f; c->std[2] = 0.225f;
    c->batch = 2;
    c->seed = 1;
    c->workers = 1;
    c->shuffle = 1;
}

void mr_loader_iteration(uint64_t seed, long it, int B, int n, int flip_on, int *idx, int *flip,
                         int *perm)
{
    long first = it * B, cur_epoch = -1;
    for (int k = 0; k < B; k++) {
        long g = first + k, epoch = g / n;
        if (epoch != cur_epoch) {
            mr_pcg32 r;
            mr_pcg32_seed(&r, seed, 1000 + (uint64_t)epoch);
            for (int i = 0; i < n; i++) perm[i] = i;
            for (int i = n - 1; i > 0; i--) {
                int j = (int)mr_pcg32_bounded(&r, (uint32_t)(i + 1));
                int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
            }
            cur_epoch = epoch;
        }
        idx[k] = perm[g % n];
        mr_pcg32 fr;
        mr_pcg32_seed(&fr, seed, 0x666c6970 + (uint64_t)g);
        flip[k] = flip_on ? (int)(mr_pcg32_next(&fr) & 1) : 0;
    }
}

/* ---- mask targets ---- */

typedef struct mctx {
    const mr_dataset *d;
    int first, ninst;     /* the image's instances in d->inst */
    float scale;
    int rw;               /* resized width (flip axis) */
    int flip;
} mctx;

/* bilinear sample of a 0/1 mask (row-major H x W) at index-space (x, y),
 * with RoIAlign's border rules */
static float mask_bilinear(const uint8_t *m, int H, int W, float x, float y)
{
    if (y < -1.0f || y > H || x < -1.0f || x > W) return 0;
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int y0 = (int)y, x0 = (int)x, y1, x1;
    if (y0 >= H - 1) { y0 = y1 = H - 1; y = (float)y0; } else y1 = y0 + 1;
    if (x0 >= W - 1) { x0 = x1 = W - 1; x = (float)x0; } else x1 = x0 + 1;
    float ly = y - y0, lx = x - x0, hy = 1 - ly, hx = 1 - lx;
    return hy * hx * m[y0 * W + x0] + hy * lx * m[y0 * W + x1] + ly * hx * m[y1 * W + x0] + ly * lx * m[y1 * W + x1];
}

int mr_mask_target(const void *ctx, int inst, const float box[4], int M, float *out)
{
    const mctx *c = ctx;
    if (!c || inst < 0 || inst >= c->ninst || M <= 0) return MR_EINTERNAL;
    const mr_dataset *d = c->d;
    const mr_dataset_inst *in = &d->inst[c->first + inst];
    const mr_coco_ann *a = &d->coco.anns[in->ann];
    const mr_coco_image *ci = &d->coco.images[a->image_index];
    mr_err e;
    if (mr_coco_ann_seg_kind(a) == MR_SEG_POLY) {
        double bw = box[2] - box[0], bh = box[3] - box[1];
        double rx = M / (bw > 0.1 ? bw : 0.1), ry = M / (bh > 0.1 ? bh : 0.1);
        int np = a->seg->npoly;
        size_t tot = 0;
        for (int p = 0; p < np; p++) tot += (size_t)a->seg->poly_len[p];
        double *buf = malloc(sizeof(double) * (tot ? tot : 1));
        const double **xy = malloc(sizeof(double *) * (size_t)(np ? np : 1));
        size_t *k = malloc(sizeof(size_t) * (size_t)(np ? np : 1));
        uint8_t *m = malloc((size_t)M * M);
        if (!buf || !xy || !k || !m) { free(buf); free(xy); free(k); free(m); return MR_ENOMEM; }
        size_t o = 0;
        for (int p = 0; p < np; p++) {
            const double *src = a->seg->poly[p];
            xy[p] = buf + o;
            k[p] = (size_t)a->seg->poly_len[p] / 2;
            for (size_t q = 0; q < k[p]; q++) {
                double x = src[2 * q] * c->scale, y = src[2 * q + 1] * c->scale;
                if (c->flip) x = c->rw - x;
                buf[o + 2 * q] = (x - box[0]) * rx;
                buf[o + 2 * q + 1] = (y - box[1]) * ry;
            }
            o += 2 * k[p];
        }
        mr_rle r = MR_RLE_INIT;
        int rc = mr_rle_from_polys(&r, xy, k, (size_t)np, (uint32_t)M, (uint32_t)M, &e);
        if (!rc) {
            mr_rle_decode_rowmajor(&r, m);
            for (int i = 0; i < M * M; i++) out[i] = m[i] ? 1.0f : 0.0f;
        }
        mr_rle_free(&r);
        free(buf); free(xy); free(k); free(m);
        return rc;
    }
    /* RLE (or a box when there is no segmentation): RoIAlign over the mask */
    mr_rle r = MR_RLE_INIT;
    int rc = mr_coco_ann_rle(a, ci, &r, &e);
    if (rc) return rc;
    int H = (int)r.h, W = (int)r.w;
    uint8_t *m = malloc((size_t)H * W + 1);
    if (!m) { mr_rle_free(&r); return MR_ENOMEM; }
    mr_rle_decode_rowmajor(&r, m);
    mr_rle_free(&r);
    float bw = (box[2] - box[0]) / M, bh = (box[3] - box[1]) / M;
    int gx = (int)ceilf((box[2] - box[0]) / M), gy = (int)ceilf((box[3] - box[1]) / M);
    if (gx < 1) gx = 1;
    if (gy < 1) gy = 1;
    float inv = 1.0f / c->scale;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            float acc = 0;
            for (int sy = 0; sy < gy; sy++)
                for (int sx = 0; sx < gx; sx++) {
                    float xc = box[0] + (j + (sx + 0.5f) / gx) * bw;
                    float yc = box[1] + (i + (sy + 0.5f) / gy) * bh;
                    if (c->flip) xc = c->rw - xc;
                    acc += mask_bilinear(m, H, W, xc * inv - 0.5f, yc * inv - 0.5f);
                }
            out[i * M + j] = acc / (gx * gy) >= 0.5f ? 1.0f : 0.0f;
        }
    free(m);
    return MR_OK;
}

/* ---- slots ---- */

typedef struct slot {
    mr_batch b;
    mr_batch_image *img;
    mctx *mc;
    int cap_n;
    size_t cap_px, cap_inst;
    float *boxes, *kps;
    int *labels;
    uint8_t *crowd;
    uint8_t **tmp;        /* per batch position: scratch pixels of an uncached image */
    size_t *tmp_cap;
    int tmp_n;
    long it;
    int valid, rc;
    mr_err err;
} slot;

struct mr_loader {
    const mr_dataset *d;
    mr_loader_cfg cfg;
    uint8_t **pix;
    int *rw, *rh;
    float *scale;
    int *perm, *idx, *flip;
    size_t cache_used, cache_cap;  /* bytes of resized pixels in pix[] */
    slot s[2];
    int cur;
    int has_thread, stop, pending, job_slot;
    long job_it;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void slot_free(slot *s)
{
    free(s->b.images);
    free(s->img);
    free(s->mc);
    free(s->boxes);
    free(s->kps);
    free(s->labels);
    free(s->crowd);
    for (int i = 0; i < s->tmp_n; i++) free(s->tmp[i]);
    free(s->tmp);
    free(s->tmp_cap);
    memset(s, 0, sizeof *s);
}

static int round_up(int x, int d) { return d > 1 ? (x + d - 1) / d * d : x; }

/* bytes of image ii's cached pixels: resized (mrcnn), decoded (torchvision) */
static size_t pix_bytes(const mr_loader *L, int ii)
{
    if (L->cfg.resize == MR_RESIZE_TORCHVISION) return (size_t)L->d->img[ii].width * L->d->img[ii].height * 3;
    return (size_t)L->rw[ii] * L->rh[ii] * 3;
}

/* Make the resized pixels of images idx[0..n) available in src[i]: from the
 * cache, else decoded now, into the cache while it has room, else into the
 * slot's scratch buffer of position i. Decoding runs over the batch's images
 * in parallel (nt threads); errors name the image. */
static int slot_images(mr_loader *L, slot *s, const int *idx, int n, int nt, const uint8_t **src,
                       mr_err *e)
{
    if (n > s->tmp_n) {
        uint8_t **t = realloc(s->tmp, sizeof *t * (size_t)n);
        if (t) s->tmp = t;
        size_t *c = t ? realloc(s->tmp_cap, sizeof *c * (size_t)n) : NULL;
        if (c) s->tmp_cap = c;
        if (!t || !c) return mr_errf(e, MR_ENOMEM, "loader: out of memory");
        for (int i = s->tmp_n; i < n; i++) { s->tmp[i] = NULL; s->tmp_cap[i] = 0; }
        s->tmp_n = n;
    }
    uint8_t **dst = calloc((size_t)n, sizeof *dst);
    int *dec = calloc((size_t)n, sizeof *dec), *rcs = calloc((size_t)n, sizeof *rcs);
    mr_err *errs = calloc((size_t)n, sizeof *errs);
    int rc = MR_OK;
    if (!dst || !dec || !rcs || !errs) rc = mr_errf(e, MR_ENOMEM, "loader: out of memory");
    for (int i = 0; i < n && !rc; i++) {
        int ii = idx[i];
        src[i] = L->pix[ii];
        if (src[i]) continue;  /* cached (or decoded into the cache by an earlier position) */
        size_t bytes = pix_bytes(L, ii);
        if (L->cache_used + bytes <= L->cache_cap && (L->pix[ii] = malloc(bytes))) {
            L->cache_used += bytes;
            dst[i] = L->pix[ii];
            dec[i] = 2;
        } else {
            if (s->tmp_cap[i] < bytes) {
                free(s->tmp[i]);
                s->tmp[i] = malloc(bytes);
                s->tmp_cap[i] = s->tmp[i] ? bytes : 0;
                if (!s->tmp[i]) { rc = mr_errf(e, MR_ENOMEM, "loader: out of memory (image %dx%d)", L->rw[ii], L->rh[ii]); break; }
            }
            dst[i] = s->tmp[i];
            dec[i] = 1;
        }
        src[i] = dst[i];
    }
    if (!rc) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1 && n > 1)
        for (int i = 0; i < n; i++) {
            if (!dec[i]) continue;
            mr_image im;
            rcs[i] = mr_dataset_load_image(L->d, idx[i], &im, &errs[i]);
            if (rcs[i]) continue;
            /* (mr_dataset_load_image checked the size against the JSON's) */
            if (L->cfg.resize == MR_RESIZE_TORCHVISION)
                memcpy(dst[i], im.rgb, (size_t)im.width * im.height * 3);
            else
                mr_image_resize_bilinear(im.rgb, im.width, im.height, dst[i], L->rw[idx[i]], L->rh[idx[i]]);
            mr_image_free(&im);
        }
        for (int i = 0; i < n; i++) {
            if (!rcs[i]) continue;
            if (!rc) { rc = rcs[i]; *e = errs[i]; }
            if (dec[i] == 2 && L->pix[idx[i]]) {
                free(L->pix[idx[i]]);
                L->pix[idx[i]] = NULL;
                L->cache_used -= pix_bytes(L, idx[i]);
            }
        }
    }
    free(dst);
    free(dec);
    free(rcs);
    free(errs);
    return rc;
}

/* images idx[0..n) padded to the largest of pad_idx[0..pad_n) */
static int slot_fill_pad(mr_loader *L, slot *s, const int *idx, const int *flip, int n, const int *pad_idx,
                         int pad_n, mr_err *e)
{
    const mr_dataset *d = L->d;
    const mr_loader_cfg *c = &L->cfg;
    int H = 0, W = 0;
    size_t ninst = 0;
    for (int i = 0; i < pad_n; i++) {
        if (L->rh[pad_idx[i]] > H) H = L->rh[pad_idx[i]];
        if (L->rw[pad_idx[i]] > W) W = L->rw[pad_idx[i]];
    }
    for (int i = 0; i < n; i++) ninst += (size_t)d->img[idx[i]].ninst;
    H = round_up(H, c->size_div);
    W = round_up(W, c->size_div);
    size_t px = (size_t)n * 3 * H * W;
    if (n > s->cap_n) {
        free(s->img); free(s->mc);
        s->img = calloc((size_t)n, sizeof *s->img);
        s->mc = calloc((size_t)n, sizeof *s->mc);
        s->cap_n = n;
        if (!s->img || !s->mc) { s->cap_n = 0; return mr_errf(e, MR_ENOMEM, "loader: out of memory"); }
    }
    if (px > s->cap_px) {
        free(s->b.images);
        s->b.images = malloc(sizeof(float) * px);
        s->cap_px = px;
        if (!s->b.images) { s->cap_px = 0; return mr_errf(e, MR_ENOMEM, "loader: out of memory (batch %dx%d)", H, W); }
    }
    if (ninst + 1 > s->cap_inst) {
        free(s->boxes); free(s->kps); free(s->labels); free(s->crowd);
        size_t ci = ninst + 1, nk = (size_t)(d->nkp ? d->nkp : 1);
        s->boxes = malloc(sizeof(float) * 4 * ci);
        s->kps = malloc(sizeof(float) * 3 * nk * ci);
        s->labels = malloc(sizeof(int) * ci);
        s->crowd = malloc(ci);
        s->cap_inst = ci;
        if (!s->boxes || !s->kps || !s->labels || !s->crowd) { s->cap_inst = 0; return mr_errf(e, MR_ENOMEM, "loader: out of memory"); }
    }
    s->b.n = n;
    s->b.H = H;
    s->b.W = W;
    s->b.img = s->img;
    int nt = c->workers > 1 ? c->workers : 1;
    size_t *off = malloc(sizeof(size_t) * (size_t)(n + 1));
    const uint8_t **src = calloc((size_t)(n ? n : 1), sizeof *src);
    if (!off || !src) { free(off); free(src); return mr_errf(e, MR_ENOMEM, "loader: out of memory"); }
    int irc = slot_images(L, s, idx, n, nt, src, e);
    if (irc) { free(off); free(src); return irc; }
    off[0] = 0;
    for (int i = 0; i < n; i++) off[i + 1] = off[i] + (size_t)d->img[idx[i]].ninst;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && n > 1)
    for (int i = 0; i < n; i++) {
        int ii = idx[i], fl = flip[i], rw = L->rw[ii], rh = L->rh[ii];
        float sc = L->scale[ii];
        float *im = s->b.images + (size_t)i * 3 * H * W;
        memset(im, 0, sizeof(float) * 3 * (size_t)H * W);
        const uint8_t *pix = src[i];
        if (c->resize == MR_RESIZE_TORCHVISION)
            mr_image_normalize_resize_tv(pix, d->img[ii].width, d->img[ii].height, c->mean, c->std, im, rw, rh,
                                         (size_t)W, (size_t)H * W, fl);
        else {
            for (int y = 0; y < rh; y++)
                for (int x = 0; x < rw; x++) {
                    int sx = fl ? rw - 1 - x : x;
                    const uint8_t *p = pix + ((size_t)y * rw + sx) * 3;
                    for (int ch = 0; ch < 3; ch++)
                        im[(size_t)ch * H * W + (size_t)y * W + x] = (p[ch] / 255.0f - c->mean[ch]) / c->std[ch];
                }
        }
        const mr_dataset_img *di = &d->img[ii];
        mr_batch_image *bi = &s->img[i];
        memset(bi, 0, sizeof *bi);
        bi->image_id = (long)di->id;
        bi->orig_height = di->height;
        bi->orig_width = di->width;
        bi->height = rh;
        bi->width = rw;
        bi->scale = sc;
        bi->flipped = fl;
        bi->ninst = di->ninst;
        bi->boxes = s->boxes + 4 * off[i];
        bi->labels = s->labels + off[i];
        bi->iscrowd = s->crowd + off[i];
        int nk = d->nkp;
        float *kp = s->kps + 3 * (size_t)(nk ? nk : 1) * off[i];
        int any_mask = 0;
        for (int k = 0; k < di->ninst; k++) {
            const mr_dataset_inst *in = &d->inst[di->first + k];
            const mr_coco_ann *a = &d->coco.anns[in->ann];
            float b0 = (float)(a->bbox[0] * sc), b1 = (float)(a->bbox[1] * sc);
            float b2 = (float)((a->bbox[0] + a->bbox[2]) * sc), b3 = (float)((a->bbox[1] + a->bbox[3]) * sc);
            float *db = bi->boxes + 4 * k;
            if (fl) { db[0] = rw - b2; db[1] = b1; db[2] = rw - b0; db[3] = b3; }
            else { db[0] = b0; db[1] = b1; db[2] = b2; db[3] = b3; }
            bi->labels[k] = in->label;
            bi->iscrowd[k] = in->iscrowd;
            any_mask |= in->has_mask;
            if (nk) {
                float *dk = kp + (size_t)k * nk * 3;
                if (a->num_kpt == nk) {
                    for (int q = 0; q < nk; q++) {
                        float x = (float)(a->keypoints[3 * q] * sc), y = (float)(a->keypoints[3 * q + 1] * sc);
                        float *t = dk + 3 * (fl ? d->flip_map[q] : q);
                        t[0] = fl ? rw - x : x;
                        t[1] = y;
                        t[2] = (float)a->keypoints[3 * q + 2];
                    }
                } else {
                    memset(dk, 0, sizeof(float) * 3 * nk);
                }
            }
        }
        if (nk) { bi->nkp = nk; bi->keypoints = kp; }
        mctx *mc = &s->mc[i];
        mc->d = d;
        mc->first = di->first;
        mc->ninst = di->ninst;
        mc->scale = sc;
        mc->rw = rw;
        mc->flip = fl;
        if (any_mask) { bi->mask_target = mr_mask_target; bi->mask_ctx = mc; }
    }
    free(off);
    free(src);
    return MR_OK;
}

static int slot_fill(mr_loader *L, slot *s, const int *idx, const int *flip, int n, mr_err *e)
{
    return slot_fill_pad(L, s, idx, flip, n, idx, n, e);
}

static void fill_it(mr_loader *L, slot *s, long it)
{
    /* the prefetch thread has its own index arrays */
    int B = L->cfg.batch;
    int *idx = malloc(sizeof(int) * (size_t)B * 2 + sizeof(int) * (size_t)L->d->nimg);
    mr_err_clear(&s->err);
    if (!idx) { s->rc = mr_errf(&s->err, MR_ENOMEM, "loader: out of memory"); s->valid = 1; s->it = it; return; }
    int *flip = idx + B, *perm = flip + B, n;
    if (L->cfg.shuffle) {
        mr_loader_iteration(L->cfg.seed, it, B, L->d->nimg, L->cfg.flip, idx, flip, perm);
        n = B;
        if (L->cfg.shard_n > 0) {
            /* this rank's images, padded as the whole batch is */
            int lo = L->cfg.shard_lo;
            s->rc = slot_fill_pad(L, s, idx + lo, flip + lo, L->cfg.shard_n, idx, B, &s->err);
            s->it = it;
            s->valid = 1;
            free(idx);
            return;
        }
    } else {
        n = 0;
        for (long g = it * B; g < (it + 1) * B && g < L->d->nimg; g++, n++) { idx[n] = (int)g; flip[n] = 0; }
    }
    s->rc = slot_fill(L, s, idx, flip, n, &s->err);
    s->it = it;
    s->valid = 1;
    free(idx);
}

static void *worker(void *arg)
{
    mr_loader *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->pending && !L->stop) pthread_cond_wait(&L->cv, &L->mu);
        if (L->stop) break;
        slot *s = &L->s[L->job_slot];
        long it = L->job_it;
        pthread_mutex_unlock(&L->mu);
        fill_it(L, s, it);
        pthread_mutex_lock(&L->mu);
        L->pending = 0;
        pthread_cond_broadcast(&L->cv);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

int mr_loader_open(mr_loader **out, const mr_dataset *d, const mr_loader_cfg *cfg, mr_err *e)
{
    *out = NULL;
    if (cfg->batch < 1 || cfg->batch > 4096) return mr_errf(e, MR_EUSAGE, "loader: batch %d (expected 1..4096)", cfg->batch);
    if (cfg->shard_n < 0 || cfg->shard_lo < 0 || (cfg->shard_n > 0 && cfg->shard_lo + cfg->shard_n > cfg->batch))
        return mr_errf(e, MR_EUSAGE, "loader: shard [%d, %d) outside the batch of %d", cfg->shard_lo,
                       cfg->shard_lo + cfg->shard_n, cfg->batch);
    if (d->nimg < 1) return mr_errf(e, MR_EUSER, "%s: no images", d->json_path ? d->json_path : "dataset");
    if (!(cfg->min_size > 0) || !(cfg->max_size >= cfg->min_size))
        return mr_errf(e, MR_EUSAGE, "loader: sizes min %g max %g (expected 0 < min <= max)", cfg->min_size, cfg->max_size);
    for (int k = 0; k < 3; k++)
        if (!(cfg->std[k] > 0)) return mr_errf(e, MR_EUSAGE, "loader: std[%d] = %g (expected > 0)", k, cfg->std[k]);
    mr_loader *L = calloc(1, sizeof *L);
    if (!L) return mr_errf(e, MR_ENOMEM, "loader: out of memory");
    L->d = d;
    L->cfg = *cfg;
    if (L->cfg.size_div < 1) L->cfg.size_div = 1;
    int n = d->nimg;
    L->pix = calloc((size_t)n, sizeof *L->pix);
    L->rw = calloc((size_t)n, sizeof(int));
    L->rh = calloc((size_t)n, sizeof(int));
    L->scale = calloc((size_t)n, sizeof(float));
    L->perm = calloc((size_t)n, sizeof(int));
    L->idx = calloc((size_t)cfg->batch, sizeof(int));
    L->flip = calloc((size_t)cfg->batch, sizeof(int));
    L->cur = -1;
    if (!L->pix || !L->rw || !L->rh || !L->scale || !L->perm || !L->idx || !L->flip) {
        mr_loader_close(L);
        return mr_errf(e, MR_ENOMEM, "loader: out of memory");
    }
    L->cache_cap = cfg->cache_bytes ? cfg->cache_bytes : (size_t)1 << 30;
    int rc = MR_OK, nt = cfg->workers > 1 ? cfg->workers : 1;
    int *rcs = calloc((size_t)n, sizeof(int));
    mr_err *errs = calloc((size_t)n, sizeof(mr_err));
    if (!rcs || !errs) { free(rcs); free(errs); mr_loader_close(L); return mr_errf(e, MR_ENOMEM, "loader: out of memory"); }
    /* headers only: the pixels are decoded when a batch first needs them */
#pragma omp parallel for schedule(dynamic, 16) num_threads(nt) if (nt > 1)
    for (int i = 0; i < n; i++) {
        rcs[i] = mr_dataset_check_image(d, i, &errs[i]);
        if (!rcs[i])
            mr_resized_size_kind(cfg->resize, d->img[i].width, d->img[i].height, cfg->min_size, cfg->max_size,
                                 &L->rw[i], &L->rh[i], &L->scale[i]);
    }
    for (int i = 0; i < n; i++)
        if (rcs[i]) { rc = rcs[i]; *e = errs[i]; break; }
    free(rcs);
    free(errs);
    if (rc) { mr_loader_close(L); return rc; }
    if (cfg->workers >= 1) {
        pthread_mutex_init(&L->mu, NULL);
        pthread_cond_init(&L->cv, NULL);
        if (pthread_create(&L->th, NULL, worker, L)) {
            pthread_mutex_destroy(&L->mu);
            pthread_cond_destroy(&L->cv);
            mr_loader_close(L);
            return mr_errf(e, MR_EINTERNAL, "loader: cannot start the prefetch thread");
        }
        L->has_thread = 1;
    }
    *out = L;
    return MR_OK;
}

int mr_loader_get(mr_loader *L, long it, const mr_batch **out, mr_err *e)
{
    *out = NULL;
    if (it < 0) return mr_errf(e, MR_EUSAGE, "loader: iteration %ld", it);
    int use = -1;
    if (L->has_thread) {
        pthread_mutex_lock(&L->mu);
        while (L->pending) pthread_cond_wait(&L->cv, &L->mu);
        pthread_mutex_unlock(&L->mu);
        for (int k = 0; k < 2; k++)
            if (L->s[k].valid && L->s[k].it == it && k != L->cur) use = k;
    }
    if (use < 0) {
        use = L->cur == 0 ? 1 : 0;
        fill_it(L, &L->s[use], it);
    }
    L->cur = use;
    slot *s = &L->s[use];
    s->valid = 0;   /* handed out: not reusable as a prefetched batch */
    int rc = s->rc;
    if (rc) { *e = s->err; return rc; }
    if (L->has_thread) {
        pthread_mutex_lock(&L->mu);
        L->job_slot = 1 - use;
        L->job_it = it + 1;
        L->s[1 - use].valid = 0;
        L->pending = 1;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
    }
    *out = &s->b;
    return MR_OK;
}

int mr_loader_batch(mr_loader *L, const int *idx, const int *flip, int n, const mr_batch **out,
                    mr_err *e)
{
    *out = NULL;
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= L->d->nimg) return mr_errf(e, MR_EUSAGE, "loader: image index %d of %d", idx[i], L->d->nimg);
    if (L->has_thread) {
        pthread_mutex_lock(&L->mu);
        while (L->pending) pthread_cond_wait(&L->cv, &L->mu);
        pthread_mutex_unlock(&L->mu);
    }
    int use = L->cur == 0 ? 1 : 0;
    slot *s = &L->s[use];
    int rc = slot_fill(L, s, idx, flip, n, e);
    s->valid = 0;
    L->cur = use;
    if (!rc) *out = &s->b;
    return rc;
}

size_t mr_loader_cache_used(mr_loader *L)
{
    if (!L) return 0;
    if (!L->has_thread) return L->cache_used;
    /* the prefetch thread may be filling the cache: wait for it */
    pthread_mutex_lock(&L->mu);
    while (L->pending) pthread_cond_wait(&L->cv, &L->mu);
    size_t n = L->cache_used;
    pthread_mutex_unlock(&L->mu);
    return n;
}

void mr_loader_close(mr_loader *L)
{
    if (!L) return;
    if (L->has_thread) {
        pthread_mutex_lock(&L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->th, NULL);
        pthread_mutex_destroy(&L->mu);
        pthread_cond_destroy(&L->cv);
    }
    if (L->pix)
        for (int i = 0; i < L->d->nimg; i++) free(L->pix[i]);
    free(L->pix);
    free(L->rw);
    free(L->rh);
    free(L->scale);
    free(L->perm);
    free(L->idx);
    free(L->flip);
    slot_free(&L->s[0]);
    slot_free(&L->s[1]);
    free(L);
}
